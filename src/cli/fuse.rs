//! `avaloc fuse`: choose the classes the arm branch improves on one split (`select`), fuse
//! them into the action model's scores on another (`apply`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::data::read_detections;
use crate::data::{LabelMap, read_ava_csv, read_exclusions, write_ava_csv};
use crate::infer::fusion::{
    Choice, Fusion, FusionMode, Groundtruth, chosen_maps, gain_table, select,
};

#[derive(Debug, Subcommand)]
pub enum FuseCommand {
    /// Per-class AP of the body scores and of the body scores fused with the arm scores (on a
    /// labelled split, e.g. val), the classes whose AP rises most chosen and written as a
    /// fusion config.
    Select(SelectArgs),
    /// Fuse the arm scores into the body scores of the classes a fusion config names.
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub struct SelectArgs {
    /// The action model's detections CSV (`avaloc actions`).
    #[arg(long)]
    pub base: PathBuf,
    /// The arm branch's detections CSV at the same person boxes (`avaloc actions --keypoints`).
    #[arg(long)]
    pub arm: PathBuf,
    /// Ground-truth CSV of the same keyframes.
    #[arg(long)]
    pub groundtruth: PathBuf,
    /// Label map of the evaluated classes.
    #[arg(long)]
    pub labelmap: PathBuf,
    /// Excluded timestamps CSV.
    #[arg(long)]
    pub exclusions: Option<PathBuf>,
    /// Keep the N classes whose AP rises most (the seed system: 15).
    #[arg(long, default_value_t = 15, conflicts_with = "min_gain")]
    pub top: usize,
    /// Instead of --top: keep every class whose AP rises by at least this much.
    #[arg(long, allow_negative_numbers = true)]
    pub min_gain: Option<f64>,
    /// How the scores of a fused class combine.
    #[arg(long, value_enum, default_value = "mean")]
    pub mode: FusionMode,
    /// The arm score's weight (mean: (1 − w)·body + w·arm; max: max(body, w·arm)).
    #[arg(long, default_value_t = 0.5)]
    pub weight: f64,
    /// The fusion config to write.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A fusion config (`avaloc fuse select`).
    #[arg(long)]
    pub fusion: PathBuf,
    /// The action model's detections CSV.
    #[arg(long)]
    pub base: PathBuf,
    /// The arm branch's detections CSV at the same person boxes.
    #[arg(long)]
    pub arm: PathBuf,
    /// The fused detections CSV to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(command: FuseCommand) -> Result<()> {
    match command {
        FuseCommand::Select(args) => run_select(args),
        FuseCommand::Apply(args) => run_apply(args),
    }
}

fn run_select(args: SelectArgs) -> Result<()> {
    crate::fs::check_writable(&args.out)?;
    let probe = Fusion {
        mode: args.mode,
        weight: args.weight,
        classes: Vec::new(),
    };
    probe.validate().map_err(anyhow::Error::msg)?;
    let base = read_detections(&args.base)?;
    let arm = read_detections(&args.arm)?;
    let rows = read_ava_csv(&args.groundtruth)?;
    let labels = LabelMap::read(&args.labelmap)?;
    let excluded = match &args.exclusions {
        Some(path) => read_exclusions(path)?,
        None => Default::default(),
    };
    let truth = Groundtruth {
        rows: &rows,
        labels: &labels,
        excluded: &excluded,
    };
    let choice = match args.min_gain {
        Some(x) => Choice::MinGain(x),
        None => Choice::Top(args.top),
    };
    let (fusion, table) = select(&base, &arm, &truth, args.mode, args.weight, choice);
    let (_, stats) = fusion.apply(&base, &arm);
    let (before, after) = chosen_maps(&table);
    let table = gain_table(&table);
    let summary = format!(
        "{} classes chosen; frame-mAP {before:.4} → {after:.4} ({:+.4}); {} of {} person boxes \
         have arm scores",
        fusion.classes.len(),
        after - before,
        stats.with_arm,
        stats.people
    );
    print!("{table}");
    println!("{summary}");
    let header = format!(
        "avaloc fuse select --base {} --arm {} --groundtruth {}\n\n{table}{summary}\n",
        args.base.display(),
        args.arm.display(),
        args.groundtruth.display()
    );
    fusion
        .write(&args.out, &header)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("{}: the fusion config", args.out.display());
    Ok(())
}

fn run_apply(args: ApplyArgs) -> Result<()> {
    crate::fs::check_writable(&args.out)?;
    let fusion = Fusion::read(&args.fusion)?;
    let base = read_detections(&args.base)?;
    let arm = read_detections(&args.arm)?;
    let (fused, stats) = fusion.apply(&base, &arm);
    write_ava_csv(&args.out, &fused).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {} classes fused ({:?}, weight {}) for {} of {} person boxes",
        args.out.display(),
        fusion.classes.len(),
        fusion.mode,
        fusion.weight,
        stats.with_arm,
        stats.people
    );
    Ok(())
}
