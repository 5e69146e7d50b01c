//! `avaloc persons`: person boxes at every keyframe of a video, as a PySlowFast person-box
//! CSV (`video_id, timestamp, x1, y1, x2, y2, , score`, boxes normalised) that the data layer
//! and `avaloc eval` read. With `--every-frame`, boxes at every frame in the same columns,
//! the timestamp being the frame's time in seconds to the millisecond (`0902.033`): AVA's
//! tools read keyframe files only, and refuse these with a message saying so. With `--data`,
//! the videos of a dataset go into a folder of one CSV per video (which every avaloc command
//! reads as one file), skipping videos already there; `--shard I/N` takes one share of them,
//! so that N machines fill one folder.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::config::DetectorFile;
use crate::config::config_digest;
use crate::data::shard::{Shard, VideoFiles};
use crate::data::{AVA_VIDEO_START_S, FrameTime, Video, write_person_boxes};
use crate::fs::file_digest;
use crate::infer::{PersonDetection, PersonFilter, PersonFrame};
use crate::localize::videos::{dataset_video, dataset_video_ids};
use crate::weights::Checkpoint;

#[derive(Debug, Args)]
pub struct PersonsArgs {
    /// A detector configuration (configs/detector/*.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// Detector weights (torchvision-named .pth/.safetensors, or saved by avaloc).
    #[arg(long)]
    pub weights: PathBuf,
    /// A directory with one video's frames at 30 fps (sorted by name; its name is the video id).
    #[arg(long, conflicts_with_all = ["video", "image", "data"])]
    pub frames: Option<PathBuf>,
    /// A video file, decoded at 30 fps by the `ffmpeg` program.
    #[arg(long, conflicts_with_all = ["image", "data"])]
    pub video: Option<PathBuf>,
    /// A dataset in AVA's layout (frames/<video>/): every video, or those of --split; --out is
    /// then a folder of one CSV per video.
    #[arg(long, conflicts_with = "image")]
    pub data: Option<PathBuf>,
    /// With --data: only the videos of this split's annotations (ava_<split>_v2.2.csv,
    /// kinetics_<split>_v1.0.csv).
    #[arg(long, requires = "data", conflicts_with_all = ["frames", "video", "image"])]
    pub split: Option<String>,
    /// With --data: share I of N of the videos (e.g. 0/4), so that N machines fill one --out.
    #[arg(long, requires = "data", conflicts_with_all = ["frames", "video", "image"])]
    pub shard: Option<Shard>,
    /// A single image (timestamp 0).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Minimum person score (the seed system: 0.8 on AVA, 0.7 on Kinetics).
    #[arg(long, default_value_t = 0.8)]
    pub threshold: f32,
    /// The detector's person class (1 in COCO and in a person-only detector).
    #[arg(long, default_value_t = 1)]
    pub person_label: i64,
    /// Time of the first frame in seconds (AVA videos start at 900; with --data, each video
    /// at 900 and AVA-Kinetics clips at their own second).
    #[arg(long, default_value_t = AVA_VIDEO_START_S, conflicts_with = "data")]
    pub start: i64,
    /// Keyframes per forward pass (larger batches pay off on GPUs).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Detect on every frame, not one per second; timestamps become the frame's time in
    /// seconds with three decimals (frame i of 30 fps: start + i / 30).
    #[arg(long)]
    pub every_frame: bool,
    /// The CSV to write; with --data, the folder of per-video CSVs.
    #[arg(long)]
    pub out: PathBuf,
}

/// The frames to detect on, and the decoded video they come from (kept until detection ends).
fn frames(args: &PersonsArgs) -> Result<(Vec<PersonFrame>, Option<Video>)> {
    if let Some(image) = &args.image {
        let id = image.file_stem().unwrap_or_default().to_string_lossy();
        let frame = PersonFrame {
            video_id: id.into_owned(),
            time: FrameTime::Keyframe(0),
            path: image.clone(),
        };
        return Ok((vec![frame], None));
    }
    let Some(video) = Video::open(args.frames.as_deref(), args.video.as_deref(), args.start)?
    else {
        bail!("give one of --frames DIR, --video FILE, --image FILE or --data ROOT");
    };
    let frames = PersonFrame::of_videos(std::slice::from_ref(&video), args.every_frame);
    Ok((frames, Some(video)))
}

pub fn run(args: PersonsArgs, backend_choice: BackendChoice) -> Result<()> {
    let config = DetectorFile::load(&args.config)?;
    let checkpoint = Checkpoint::open(&args.weights)?;
    let filter = PersonFilter {
        threshold: args.threshold,
        person_label: args.person_label,
        batch: args.batch.max(1),
    };
    let unit = if args.every_frame {
        "frames"
    } else {
        "keyframes"
    };
    if let Some(root) = &args.data {
        return run_dataset(&args, root, config, checkpoint, filter, backend_choice);
    }
    crate::fs::check_writable(&args.out)?;
    let (frames, _video) = frames(&args)?;
    let count = frames.len();
    let job = PersonDetection {
        detector: config.network,
        checkpoint,
        frames,
        filter,
        per_video: None,
    };
    let people = backend::run(backend_choice, job)?;
    write_person_boxes(&args.out, &people)?;
    println!(
        "{}: {} person boxes at {count} {unit}",
        args.out.display(),
        people.len()
    );
    Ok(())
}

/// `--data`: the dataset's videos (this share of them) into one CSV per video.
fn run_dataset(
    args: &PersonsArgs,
    root: &std::path::Path,
    config: DetectorFile,
    checkpoint: Checkpoint,
    filter: PersonFilter,
    backend_choice: BackendChoice,
) -> Result<()> {
    let settings = [
        ("config", config_digest(&args.config)?),
        ("weights", file_digest(&args.weights)?),
        ("threshold", args.threshold.to_string()),
        ("person_label", args.person_label.to_string()),
        ("every_frame", args.every_frame.to_string()),
    ];
    let files = VideoFiles::create(&args.out, &settings)?;
    let shard = args.shard.unwrap_or(Shard::ALL);
    let ids = dataset_video_ids(root, args.split.as_deref())?;
    let share = shard.work(
        ids.into_iter().map(|id| (id, ())),
        |v| files.done(v),
        |id, ()| dataset_video(root, id.to_string()),
    )?;
    let (todo, done): (Vec<Video>, usize) = (share.todo.into_values().collect(), share.done);
    let frames = PersonFrame::of_videos(&todo, args.every_frame);
    println!(
        "share {shard} of the videos under {}: {} to detect ({} frames), {} already in {}",
        root.display(),
        todo.len(),
        frames.len(),
        done,
        files.dir.display()
    );
    let people = if frames.is_empty() {
        Vec::new()
    } else {
        let job = PersonDetection {
            detector: config.network,
            checkpoint,
            frames,
            filter,
            per_video: Some(files.clone()),
        };
        backend::run(backend_choice, job)?
    };
    println!(
        "{}: {} person boxes in {} videos written",
        files.dir.display(),
        people.len(),
        todo.len()
    );
    Ok(())
}
