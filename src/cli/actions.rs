//! `avaloc actions`: the standard AVA test mode with given person boxes (as PySlowFast's test
//! with precomputed boxes) — every keyframe's clip, the action model's scores for every box,
//! written as an AVA detections CSV that `avaloc eval` scores; optionally annotated keyframes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::bank::Bank;
use crate::config::ActionFile;
use crate::data::{
    AVA_VIDEO_START_S, AvaKeyframes, LabelMap, VideoFrames, default_labelmap, keyframe_samples,
    read_person_boxes, unlabelled_people, write_ava_csv,
};
use crate::infer::{ActionScoring, detection_rows, draw_keyframes, keyframe_images};
use crate::weights::Checkpoint;

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
    /// The long-term feature bank of a model with one ([network.bank]), holding these videos.
    /// Repeat it with one bank per test view (`bank build --short-side S [--flip]`, as FAIR
    /// re-extracts the bank per view); a view without its own bank reads the first.
    #[arg(long)]
    pub bank: Vec<PathBuf>,
    /// The AVA detections CSV to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: ActionsArgs, backend_choice: BackendChoice) -> Result<()> {
    let config = ActionFile::load(&args.config)?;
    crate::io::check_writable(&args.out)?;
    let mut views = config.test.clone();
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
    let people = unlabelled_people(&read_person_boxes(&args.boxes, args.threshold)?);
    let clip = config.network.clip_spec();
    let video = VideoFrames::open(args.frames.as_deref(), args.video.as_deref())?;
    let samples = match &video {
        Some(video) => {
            let video_id = &video.video_id;
            let total = people.len();
            let people: Vec<_> = people
                .into_iter()
                .filter(|p| &p.key.video_id == video_id)
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
            AvaKeyframes::from_frame_files(&people, video_id, &video.frames, args.start, clip)?
        }
        None => keyframe_samples(&people, &args.data, clip)
            .with_context(|| format!("keyframes under {}", args.data.display()))?,
    };
    let samples = samples.samples().to_vec();
    let checkpoint = Checkpoint::open(&args.weights)?;
    let banks = args
        .bank
        .iter()
        .map(|dir| Bank::open(dir).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let job =
        ActionScoring::with_banks(&config, checkpoint, &labels, samples.clone(), views, banks)?;
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
