//! `avaloc eval`: AVA frame-mAP of a detections CSV, official protocol.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::eval::{EvalOptions, evaluate_files, per_class_table, write_json, write_plot};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Ground-truth CSV (e.g. ava_val_v2.2.csv).
    #[arg(long)]
    pub groundtruth: PathBuf,
    /// Detections CSV: video_id, timestamp, x1, y1, x2, y2, action_id, score.
    #[arg(long)]
    pub detections: PathBuf,
    /// Label map of the evaluated classes (e.g. ava_action_list_v2.2_for_activitynet_2019.pbtxt).
    #[arg(long)]
    pub labelmap: PathBuf,
    /// Excluded timestamps CSV (e.g. ava_val_excluded_timestamps_v2.2.csv).
    #[arg(long)]
    pub exclusions: Option<PathBuf>,
    /// Write {"mAP", "per_class"} here as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Detections kept per keyframe (official: 50); 0 keeps all.
    #[arg(long, default_value_t = 50)]
    pub max_per_frame: usize,
    /// Write a PNG: per-class AP bars, and precision/recall curves of --pr-classes.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Class ids whose precision/recall curves go in the plot (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub pr_classes: Vec<i64>,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let options = EvalOptions {
        max_detections_per_frame: args.max_per_frame,
        pr_curve_classes: args.pr_classes.clone(),
    };
    let result = evaluate_files(
        &args.groundtruth,
        &args.detections,
        &args.labelmap,
        args.exclusions.as_deref(),
        &options,
    )?;
    print!("{}", per_class_table(&result));
    if let Some(path) = &args.json {
        write_json(&result, path).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        write_plot(&result, path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
