//! `avaloc bank`: build a long-term feature bank with a trained action model, and inspect one.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use super::dataset::DatasetArgs;
use crate::backend::{self, BackendChoice};
use crate::bank::{
    BankBuild, BankDtype, BankManifest, BankView, BoxSource, bank_stats, feature_dim, file_digest,
    shard,
};
use crate::config::ActionFile;
use crate::data::{
    KeyframeSample, PersonAnnotation, annotated_people, keyframe_samples, read_person_boxes,
    unlabelled_people,
};
use crate::weights::Checkpoint;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Split {
    Train,
    Val,
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
    pub shard: Option<String>,
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

fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)));
    match parsed {
        Some((i, n)) if i < n => Ok((i, n)),
        _ => bail!("--shard {text}: expected I/N with 0 ≤ I < N, e.g. 0/4"),
    }
}

fn build(args: BuildArgs, backend_choice: BackendChoice) -> Result<()> {
    let config = ActionFile::load(&args.config)?;
    let dtype = args.dtype;
    let shard_of = args.shard.as_deref().map(parse_shard).transpose()?;
    let files = args.dataset.files();
    let (people, scores, boxes): (Vec<PersonAnnotation>, HashMap<_, f32>, String) =
        match (&args.boxes, args.split) {
            (None, Split::Train) => {
                let csv = files.train_csv();
                let people = annotated_people(&csv)?;
                (
                    people,
                    HashMap::new(),
                    format!("ground truth: {}", csv.display()),
                )
            }
            (boxes, _) => {
                // Given boxes, or the validation split's detections.
                let path = boxes.clone().unwrap_or_else(|| {
                    files
                        .root
                        .join("annotations/ava_detection_val_boxes_and_labels.csv")
                });
                let detected = read_person_boxes(&path, args.box_threshold)?;
                let scores = detected
                    .iter()
                    .map(|b| {
                        (
                            (b.key.clone(), b.box_xyxy_norm.map(f64::to_bits)),
                            b.score as f32,
                        )
                    })
                    .collect();
                (
                    unlabelled_people(&detected),
                    scores,
                    path.display().to_string(),
                )
            }
        };
    let mut by_video: BTreeMap<String, Vec<PersonAnnotation>> = BTreeMap::new();
    for p in people {
        by_video.entry(p.key.video_id.clone()).or_default().push(p);
    }
    if let Some(share) = shard_of {
        by_video = shard(by_video, share);
    }
    let clip = config.network.clip_spec();
    let mut videos: BTreeMap<String, Vec<KeyframeSample>> = BTreeMap::new();
    for (video, people) in &by_video {
        let samples = keyframe_samples(people, &files.root, clip)
            .with_context(|| format!("keyframes under {}", files.root.display()))?;
        videos.insert(video.clone(), samples.samples().to_vec());
    }
    let split_name = match args.split {
        Split::Train => "train",
        Split::Val => "val",
    };
    let short_side = args.short_side.unwrap_or(config.test.short_sides[0]);
    let manifest = BankManifest {
        format_version: 1,
        model_config: args.config.display().to_string(),
        config_digest: file_digest(&args.config)?,
        weights_digest: file_digest(&args.weights)?,
        dim: feature_dim(&config.network),
        dtype,
        view: BankView {
            short_side,
            flip: args.flip,
        },
        splits: [(
            split_name.to_string(),
            BoxSource {
                boxes,
                box_threshold: if args.boxes.is_none() && args.split == Split::Train {
                    0.0
                } else {
                    args.box_threshold
                },
            },
        )]
        .into(),
    };
    let count = videos.len();
    let job = BankBuild {
        spec: config.network.clone(),
        checkpoint: Checkpoint::open(&args.weights)?,
        manifest,
        videos,
        scores,
        out: args.out.clone(),
        batch_size: config.test.batch_size,
    };
    let summary = backend::run(backend_choice, job)?;
    println!(
        "{}: {} of {count} videos written ({} features), {} already there",
        args.out.display(),
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
