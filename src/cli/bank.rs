//! `avaloc bank`: build a long-term feature bank with a trained action model, and inspect one.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use super::dataset::DatasetArgs;
use crate::backend::{self, BackendChoice};
use crate::data::bank::{BankDtype, BankManifest, bank_stats};
use crate::data::shard::Shard;
use crate::infer::bank::{BankRequest, Split};

#[derive(Debug, Subcommand)]
pub enum BankCommand {
    /// Features of every person box at every second of a split's videos, one file per video.
    Build(Box<BuildArgs>),
    /// Videos, seconds, features, width, storage and manifest of a bank.
    Inspect {
        /// The bank folder.
        bank: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The baseline action model's configuration (its features are what the bank stores).
    #[arg(long)]
    pub config: PathBuf,
    /// The baseline model's weights.
    #[arg(long)]
    pub weights: PathBuf,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Whose videos: the training split (ground-truth boxes unless --boxes) or the validation
    /// split (detected boxes: --boxes, default <data>/annotations/
    /// ava_detection_val_boxes_and_labels.csv).
    #[arg(long, value_enum)]
    pub split: Split,
    /// Person boxes to extract features for (PySlowFast's CSV), instead of the default.
    #[arg(long)]
    pub boxes: Option<PathBuf>,
    /// Minimum score of detected boxes (FAIR builds its banks at 0.9).
    #[arg(long, default_value_t = 0.9)]
    pub box_threshold: f64,
    /// Short side of the clips (default: the config's first test.short_sides).
    #[arg(long)]
    pub short_side: Option<u32>,
    /// Extract from flipped clips (FAIR builds one bank per test view).
    #[arg(long)]
    pub flip: bool,
    /// Storage of the features.
    #[arg(long, value_enum, default_value = "f16")]
    pub dtype: BankDtype,
    /// Build share I of N of the videos (e.g. 0/4): N machines fill one folder.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// The bank folder (both splits of a dataset may share one).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(command: BankCommand, backend_choice: BackendChoice) -> Result<()> {
    match command {
        BankCommand::Build(args) => build(*args, backend_choice),
        BankCommand::Inspect { bank } => inspect(bank),
    }
}

fn build(args: BuildArgs, backend_choice: BackendChoice) -> Result<()> {
    let request = BankRequest {
        config: args.config,
        weights: args.weights,
        dataset: args.dataset.files(),
        split: args.split,
        boxes: args.boxes,
        box_threshold: args.box_threshold,
        short_side: args.short_side,
        flip: args.flip,
        dtype: args.dtype,
        shard: args.shard,
        out: args.out,
    };
    let job = request.job()?;
    let count = job.videos.len();
    let summary = backend::run(backend_choice, job)?;
    println!(
        "{}: {} of {count} videos written ({} features), {} already there",
        request.out.display(),
        summary.written,
        summary.features,
        summary.skipped
    );
    Ok(())
}

fn inspect(bank: PathBuf) -> Result<()> {
    let Some(manifest) = BankManifest::read(&bank)? else {
        bail!("{}: no manifest.json: not a bank folder", bank.display());
    };
    let stats = bank_stats(&bank)?;
    println!(
        "{}: {} videos, {} seconds, {} features of {} {:?} values, {:.1} MB",
        bank.display(),
        stats.videos,
        stats.seconds,
        stats.features,
        manifest.dim,
        manifest.dtype,
        stats.bytes as f64 / 1e6
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&manifest).expect("a manifest serialises")
    );
    Ok(())
}
