//! `avaloc actions`: the standard AVA test mode with given person boxes (as PySlowFast's test
//! with precomputed boxes) — every keyframe's clip, the action model's scores for every box,
//! written as an AVA detections CSV that `avaloc eval` scores; optionally annotated keyframes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::backend::Backend;
use clap::Args;

use super::dataset::default_labelmap;
use super::video::video_frames;
use crate::backend::{self, BackendChoice, Job};
use crate::config::{NetworkConfig, NetworkFile};
use crate::data::{
    AVA_VIDEO_START_S, AvaKeyframes, KeyframeKey, KeyframeSample, LabelMap, Normalization,
    read_person_boxes, write_ava_csv,
};
use crate::infer::{PersonScores, TestViews, detection_rows, draw_keyframes, score_keyframes};
use crate::train::{keyframe_samples, unlabelled_people};
use crate::weights::{Checkpoint, LoadMode};

#[derive(Debug, Args)]
pub struct ActionsArgs {
    /// An action model configuration (configs/action/*.toml); its [test] table gives the views.
    #[arg(long)]
    pub config: PathBuf,
    /// Action model weights (PySlowFast-named .pyth/.safetensors, or saved by avaloc).
    #[arg(long)]
    pub weights: PathBuf,
    /// Dataset root with frames/<video>/<video>_%06d.jpg (30 fps from second 900); its
    /// annotations/ hold the default label map.
    #[arg(long, default_value = "data/synth")]
    pub data: PathBuf,
    /// Instead of --data: one video's frames at 30 fps (sorted by name; the directory's name
    /// is the video id, as `avaloc persons --frames` writes it). Needs --labelmap.
    #[arg(long, requires = "labelmap")]
    pub frames: Option<PathBuf>,
    /// Instead of --data: a video file, decoded at 30 fps by the `ffmpeg` program (its file
    /// name without extension is the video id). Needs --labelmap.
    #[arg(long, requires = "labelmap", conflicts_with = "frames")]
    pub video: Option<PathBuf>,
    /// With --frames or --video: time of the first frame in seconds (AVA videos start at 900).
    #[arg(long, default_value_t = AVA_VIDEO_START_S)]
    pub start: i64,
    /// Person boxes (PySlowFast's CSV, e.g. from `avaloc persons`).
    #[arg(long)]
    pub boxes: PathBuf,
    /// Minimum person-box score (the seed system: 0.8 on AVA, 0.7 on Kinetics).
    #[arg(long, default_value_t = 0.8)]
    pub threshold: f64,
    /// Label map of the model's classes, in its output order (default: as `train action`).
    #[arg(long)]
    pub labelmap: Option<PathBuf>,
    /// Override the config's test.short_sides (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub short_sides: Vec<u32>,
    /// Also score flipped clips (overrides test.flip).
    #[arg(long)]
    pub flip: bool,
    /// Write each keyframe with its boxes and top actions as a PNG into this folder.
    #[arg(long)]
    pub pictures: Option<PathBuf>,
    /// The AVA detections CSV to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: ActionsArgs, backend_choice: BackendChoice) -> Result<()> {
    let file = NetworkFile::load(&args.config)?;
    if file.network.action_model().is_none() {
        bail!(
            "{}: not an action model configuration (kind = \"slowfast\")",
            args.config.display()
        );
    }
    let mut views = file.test;
    if !args.short_sides.is_empty() {
        views.short_sides = args.short_sides.clone();
    }
    views.flip |= args.flip;
    views.validate().map_err(anyhow::Error::msg)?;
    let labelmap = args
        .labelmap
        .clone()
        .unwrap_or_else(|| default_labelmap(&args.data));
    let labels = LabelMap::read(&labelmap)?;
    let scratch = std::env::temp_dir().join(format!("avaloc-actions-{}", std::process::id()));
    let result = score_and_write(args, file.network, labels, views, &scratch, backend_choice);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn score_and_write(
    args: ActionsArgs,
    network: NetworkConfig,
    labels: LabelMap,
    views: TestViews,
    scratch: &Path,
    backend_choice: BackendChoice,
) -> Result<()> {
    let people = unlabelled_people(&read_person_boxes(&args.boxes, args.threshold)?);
    let clip = network.clip_spec().expect("checked: slowfast");
    let single = video_frames(args.frames.as_deref(), args.video.as_deref(), scratch)?;
    let samples = match single {
        Some((video_id, frames)) => {
            let total = people.len();
            let people: Vec<_> = people
                .into_iter()
                .filter(|p| p.key.video_id == video_id)
                .collect();
            if people.is_empty() {
                bail!("{}: no boxes of video {video_id:?}", args.boxes.display());
            }
            if people.len() < total {
                println!(
                    "scoring the {} boxes of video {video_id:?}; {} boxes of other videos left out",
                    people.len(),
                    total - people.len()
                );
            }
            AvaKeyframes::from_frame_files(&people, &video_id, &frames, args.start, clip)?
        }
        None => keyframe_samples(&people, &args.data, clip)?,
    };
    let job = ActionsJob::new(
        network,
        &args.config,
        Checkpoint::open(&args.weights)?,
        &labels,
        samples.samples().to_vec(),
        views,
    )?;
    let samples = job.samples.clone();
    let people = backend::run(backend_choice, job)?;
    write_ava_csv(&args.out, &detection_rows(&people, &labels))
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {} classes for {} boxes at {} keyframes",
        args.out.display(),
        labels.labels.len(),
        people.len(),
        samples.len()
    );
    if let Some(dir) = &args.pictures {
        let written = draw_keyframes(&people, &keyframe_images(&samples), &labels, 3, 0.3, dir)?;
        println!("{}: {} annotated keyframes", dir.display(), written.len());
    }
    Ok(())
}

/// Each keyframe's own frame: the middle of its clip.
pub fn keyframe_images(samples: &[KeyframeSample]) -> BTreeMap<KeyframeKey, PathBuf> {
    samples
        .iter()
        .map(|s| (s.key.clone(), s.frames[s.frames.len() / 2].clone()))
        .collect()
}

/// Scores the people of a dataset's keyframes with an action model.
pub struct ActionsJob {
    network: NetworkConfig,
    checkpoint: Checkpoint,
    pub samples: Vec<KeyframeSample>,
    views: TestViews,
}

impl ActionsJob {
    pub fn new(
        network: NetworkConfig,
        config_path: &Path,
        checkpoint: Checkpoint,
        labels: &LabelMap,
        samples: Vec<KeyframeSample>,
        views: TestViews,
    ) -> Result<Self> {
        let Some(model) = network.action_model() else {
            bail!(
                "{}: not an action model configuration (kind = \"slowfast\")",
                config_path.display()
            );
        };
        if model.num_classes != labels.labels.len() {
            bail!(
                "{}: network.num_classes = {} but the label map has {} classes",
                config_path.display(),
                model.num_classes,
                labels.labels.len()
            );
        }
        Ok(Self {
            network,
            checkpoint,
            samples,
            views,
        })
    }
}

impl Job for ActionsJob {
    type Output = Vec<PersonScores>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<PersonScores>> {
        let (model, _) =
            self.network
                .action_with_weights::<B>(&self.checkpoint, LoadMode::Strict, &device)?;
        let progress = indicatif::ProgressBar::new(self.samples.len() as u64);
        let people = score_keyframes(
            &model,
            &self.samples,
            &self.views,
            Normalization::default(),
            &device,
            |done| progress.set_position(done as u64),
        );
        progress.finish_and_clear();
        Ok(people)
    }
}
