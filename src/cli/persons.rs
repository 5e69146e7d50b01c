//! `avaloc persons`: person boxes at every keyframe of a video, as a PySlowFast person-box
//! CSV (`video_id, timestamp, x1, y1, x2, y2, , score`, boxes normalised) that the data layer
//! and `avaloc eval` read. With `--every-frame`, boxes at every frame in the same columns,
//! the timestamp being the frame's time in seconds to the millisecond (`0902.033`): AVA's
//! tools read keyframe files only, and refuse these with a message saying so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::backend::Backend;
use clap::Args;

use super::video::video_frames;
use crate::backend::{self, BackendChoice, Job};
use crate::config::{NetworkConfig, NetworkFile};
use crate::data::{AVA_FPS, AVA_VIDEO_START_S, decode_frame};
use crate::models::detector::rgb_to_tensor;
use crate::weights::{Checkpoint, LoadMode};

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

/// The frames to detect on: `(video_id, timestamp as written, frame path)`.
fn keyframes(args: &PersonsArgs, scratch: &Path) -> Result<Vec<(String, String, PathBuf)>> {
    if let Some(image) = &args.image {
        let id = image.file_stem().unwrap_or_default().to_string_lossy();
        return Ok(vec![(id.into_owned(), "0000".into(), image.clone())]);
    }
    let Some((video_id, frames)) =
        video_frames(args.frames.as_deref(), args.video.as_deref(), scratch)?
    else {
        bail!("give one of --frames DIR, --video FILE or --image FILE");
    };
    let fps = AVA_FPS as usize;
    // One keyframe per second: frame 30·k is second start + k.
    Ok(frames
        .into_iter()
        .enumerate()
        .filter(|(i, _)| args.every_frame || i % fps == 0)
        .map(|(i, p)| (video_id.clone(), timestamp(args, i), p))
        .collect())
}

/// The timestamp column of frame `index`: whole seconds (`0902`), or seconds to the
/// millisecond with `--every-frame` (`0902.033`).
fn timestamp(args: &PersonsArgs, index: usize) -> String {
    if args.every_frame {
        let seconds = args.start as f64 + index as f64 / AVA_FPS as f64;
        format!("{seconds:08.3}")
    } else {
        format!("{:04}", args.start + (index / AVA_FPS as usize) as i64)
    }
}

pub fn run(args: PersonsArgs, backend_choice: BackendChoice) -> Result<()> {
    let network = NetworkFile::load(&args.config)?.network;
    if network.faster_rcnn().is_none() {
        bail!(
            "{}: not a detector configuration (kind = \"faster_rcnn\")",
            args.config.display()
        );
    }
    let checkpoint = Checkpoint::open(&args.weights)?;
    let scratch = std::env::temp_dir().join(format!("avaloc-persons-{}", std::process::id()));
    // The scratch folder (decoded frames of a video) goes whether or not decoding succeeded.
    let result = keyframes(&args, &scratch).and_then(|keyframes| {
        let job = PersonsJob {
            network,
            checkpoint,
            keyframes,
            threshold: args.threshold,
            person_label: args.person_label,
            batch: args.batch.max(1),
        };
        backend::run(backend_choice, job)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let (csv, keyframes, boxes) = result?;
    crate::io::write_atomic(&args.out, csv.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    let unit = if args.every_frame {
        "frames"
    } else {
        "keyframes"
    };
    println!(
        "{}: {boxes} person boxes at {keyframes} {unit}",
        args.out.display()
    );
    Ok(())
}

struct PersonsJob {
    network: NetworkConfig,
    checkpoint: Checkpoint,
    keyframes: Vec<(String, String, PathBuf)>,
    threshold: f32,
    person_label: i64,
    batch: usize,
}

impl Job for PersonsJob {
    type Output = (String, usize, usize);

    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let (model, _) =
            self.network
                .detector_with_weights::<B>(&self.checkpoint, LoadMode::Strict, &device)?;
        let config = self.network.faster_rcnn().expect("checked");
        let progress = indicatif::ProgressBar::new(self.keyframes.len() as u64);
        let (mut csv, mut boxes) = (String::new(), 0);
        for chunk in self.keyframes.chunks(self.batch) {
            let mut images = Vec::with_capacity(chunk.len());
            let mut sizes = Vec::with_capacity(chunk.len());
            for (_, _, path) in chunk {
                let frame = decode_frame(path)?;
                sizes.push(frame.dimensions());
                images.push(rgb_to_tensor::<B>(&frame, &device));
            }
            let detections = model.detect(&config, images);
            for (((video, timestamp, _), d), (w, h)) in chunk.iter().zip(detections).zip(sizes) {
                let (w, h) = (w as f32, h as f32);
                for ((b, score), label) in d.boxes.iter().zip(&d.scores).zip(&d.labels) {
                    if *label == self.person_label && *score >= self.threshold {
                        writeln!(
                            csv,
                            "{video},{timestamp},{:.3},{:.3},{:.3},{:.3},,{score:.6}",
                            b[0] / w,
                            b[1] / h,
                            b[2] / w,
                            b[3] / h
                        )?;
                        boxes += 1;
                    }
                }
            }
            progress.inc(chunk.len() as u64);
        }
        progress.finish_and_clear();
        Ok((csv, self.keyframes.len(), boxes))
    }
}
