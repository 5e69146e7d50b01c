//! `avaloc persons`: person boxes at every keyframe of a video, as a PySlowFast person-box
//! CSV (`video_id, timestamp, x1, y1, x2, y2, , score`, boxes normalised) that the data layer
//! and `avaloc eval` read. With `--every-frame`, boxes at every frame in the same columns,
//! the timestamp being the frame's time in seconds to the millisecond (`0902.033`): AVA's
//! tools read keyframe files only, and refuse these with a message saying so.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::config::DetectorFile;
use crate::data::{AVA_FPS, AVA_VIDEO_START_S, FrameTime, VideoFrames, write_person_boxes};
use crate::infer::{PersonDetection, PersonFilter, PersonFrame};
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
    #[arg(long, conflicts_with_all = ["video", "image"])]
    pub frames: Option<PathBuf>,
    /// A video file, decoded at 30 fps by the `ffmpeg` program.
    #[arg(long, conflicts_with = "image")]
    pub video: Option<PathBuf>,
    /// A single image (timestamp 0).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Minimum person score (the seed system: 0.8 on AVA, 0.7 on Kinetics).
    #[arg(long, default_value_t = 0.8)]
    pub threshold: f32,
    /// The detector's person class (1 in COCO and in a person-only detector).
    #[arg(long, default_value_t = 1)]
    pub person_label: i64,
    /// Time of the first frame in seconds (AVA videos start at 900).
    #[arg(long, default_value_t = AVA_VIDEO_START_S)]
    pub start: i64,
    /// Keyframes per forward pass (larger batches pay off on GPUs).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Detect on every frame, not one per second; timestamps become the frame's time in
    /// seconds with three decimals (frame i of 30 fps: start + i / 30).
    #[arg(long)]
    pub every_frame: bool,
    #[arg(long)]
    pub out: PathBuf,
}

/// The frames to detect on, and the decoded video they come from (kept until detection ends).
fn frames(args: &PersonsArgs) -> Result<(Vec<PersonFrame>, Option<VideoFrames>)> {
    if let Some(image) = &args.image {
        let id = image.file_stem().unwrap_or_default().to_string_lossy();
        let frame = PersonFrame {
            video_id: id.into_owned(),
            time: FrameTime::Keyframe(0),
            path: image.clone(),
        };
        return Ok((vec![frame], None));
    }
    let Some(video) = VideoFrames::open(args.frames.as_deref(), args.video.as_deref())? else {
        bail!("give one of --frames DIR, --video FILE or --image FILE");
    };
    let fps = AVA_FPS as usize;
    // One keyframe per second: frame 30·k is second start + k.
    let frames = video
        .frames
        .iter()
        .enumerate()
        .filter(|(i, _)| args.every_frame || i % fps == 0)
        .map(|(i, path)| PersonFrame {
            video_id: video.video_id.clone(),
            time: if args.every_frame {
                FrameTime::Frame(args.start as f64 + i as f64 / AVA_FPS as f64)
            } else {
                FrameTime::Keyframe(args.start + (i / fps) as i64)
            },
            path: path.clone(),
        })
        .collect();
    Ok((frames, Some(video)))
}

pub fn run(args: PersonsArgs, backend_choice: BackendChoice) -> Result<()> {
    let config = DetectorFile::load(&args.config)?;
    crate::io::check_writable(&args.out)?;
    let checkpoint = Checkpoint::open(&args.weights)?;
    let (frames, _video) = frames(&args)?;
    let count = frames.len();
    let job = PersonDetection {
        detector: config.network,
        checkpoint,
        frames,
        filter: PersonFilter {
            threshold: args.threshold,
            person_label: args.person_label,
            batch: args.batch.max(1),
        },
    };
    let people = backend::run(backend_choice, job)?;
    write_person_boxes(&args.out, &people)?;
    let unit = if args.every_frame {
        "frames"
    } else {
        "keyframes"
    };
    println!(
        "{}: {} person boxes at {count} {unit}",
        args.out.display(),
        people.len()
    );
    Ok(())
}
