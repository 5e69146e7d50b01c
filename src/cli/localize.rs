//! `avaloc localize`: a system (configs/system/*.toml) from a video, a frame folder or a
//! dataset split to `OUT/detections.csv`, the annotated video and a summary page, stage by
//! stage with manifests, resumable.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::backend::BackendChoice;
use crate::data::AVA_VIDEO_START_S;
use crate::localize::stage::Stage;
use crate::localize::videos::Source;
use crate::localize::{DETECTIONS, Localize, PAGE, time_table};
use crate::system::SystemFile;

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
    let source = match (args.video, args.frames, args.data, args.split) {
        (Some(video), ..) => Source::Video(video),
        (_, Some(frames), ..) => Source::Frames(frames),
        (_, _, Some(root), Some(split)) => Source::Data { root, split },
        _ => bail!("give what to localize: --video FILE, --frames DIR or --data ROOT --split S"),
    };
    let system = SystemFile::load(&args.system, &args.overrides)?;
    let job = Localize {
        system,
        source,
        start_s: args.start,
        out: args.out.clone(),
        from: args.from,
        video: !args.no_video,
        backend,
    };
    let records = job.run()?;
    println!("\n{}", time_table(&records));
    println!(
        "{}: the detections; {}: the summary page",
        args.out.join(DETECTIONS).display(),
        args.out.join(PAGE).display()
    );
    Ok(())
}
