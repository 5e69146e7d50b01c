//! `avaloc localize`: a system (configs/system/*.toml) from a video, a frame folder or a
//! dataset split to `OUT/detections.csv`, the annotated video and a summary page, stage by
//! stage with manifests, resumable (`crate::localize::request`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::backend::BackendChoice;
use crate::data::AVA_VIDEO_START_S;
use crate::data::shard::Shard;
use crate::localize::request::{Input, Request};
use crate::localize::stage::Stage;

#[derive(Debug, Args)]
pub struct LocalizeArgs {
    /// The system: configs/system/*.toml (its networks' configs and weights).
    #[arg(long)]
    pub system: PathBuf,
    /// Override a key of the system file, e.g. --set actions.weights=W.safetensors (repeat).
    #[arg(long = "set", value_name = "TABLE.KEY=VALUE")]
    pub overrides: Vec<String>,
    /// A video file of any frame rate and size, decoded at 30 fps by the `ffmpeg` program.
    #[arg(long, conflicts_with_all = ["frames", "data"])]
    pub video: Option<PathBuf>,
    /// One video's frames at 30 fps (sorted by name; the folder's name is the video id).
    #[arg(long, conflicts_with = "data")]
    pub frames: Option<PathBuf>,
    /// A dataset in AVA's layout: the videos its --split annotations name.
    #[arg(long, requires = "split")]
    pub data: Option<PathBuf>,
    /// The split of --data (annotations/ava_<split>_v2.2.csv); its ground truth is evaluated.
    #[arg(long, requires = "data")]
    pub split: Option<String>,
    /// With --data: the system for the split's Kinetics clips (AVA-Kinetics'
    /// kinetics_<split>_v1.0.csv), e.g. configs/system/ms_kinetics.toml; --system then takes
    /// the AVA videos, each part into its own folder, and the two parts are evaluated side by
    /// side with their union.
    #[arg(long, requires = "data")]
    pub kinetics_system: Option<PathBuf>,
    /// With --data: share I of N of the videos (e.g. 0/4), into OUT/shard-I-of-N/; the last
    /// share to finish writes the union into OUT, so that N machines fill one folder (a share
    /// run with other settings than the finishing one's waits to be rerun).
    #[arg(long, requires = "data")]
    pub shard: Option<Shard>,
    /// With --video or --frames: the second of the first frame (AVA's films start at 900).
    #[arg(long, default_value_t = AVA_VIDEO_START_S)]
    pub start: i64,
    /// Redo this stage and every later one (earlier ones are reused where they fit).
    #[arg(long, value_enum)]
    pub from: Option<Stage>,
    /// Skip the annotated video(s).
    #[arg(long)]
    pub no_video: bool,
    /// The output folder.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: LocalizeArgs, backend: BackendChoice) -> Result<()> {
    let input = match (args.video, args.frames, args.data, args.split) {
        (Some(video), ..) => Input::Video(video),
        (_, Some(frames), ..) => Input::Frames(frames),
        (_, _, Some(root), Some(split)) => Input::Split {
            root,
            split,
            kinetics_system: args.kinetics_system,
            shard: args.shard,
        },
        _ => bail!("give what to localize: --video FILE, --frames DIR or --data ROOT --split S"),
    };
    crate::localize::request::run(&Request {
        system: args.system,
        overrides: args.overrides,
        input,
        start_s: args.start,
        from: args.from,
        video: !args.no_video,
        out: args.out,
        backend,
    })
}
