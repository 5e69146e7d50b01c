//! `avaloc localize`: a system (configs/system/*.toml) from a video, a frame folder or a
//! dataset split to `OUT/detections.csv`, the annotated video and a summary page, stage by
//! stage with manifests, resumable.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::backend::BackendChoice;
use crate::data::AVA_VIDEO_START_S;
use crate::data::read_detections;
use crate::data::shard::Shard;
use crate::data::write_ava_csv;
use crate::eval::{EvalOptions, evaluate_parts, parts_table};
use crate::localize::render::{Page, page_html};
use crate::localize::shards::{share_dir, write_union};
use crate::localize::stage::Stage;
use crate::localize::system::SystemFile;
use crate::localize::videos::{Part, Source, part_video_ids};
use crate::localize::{DETECTIONS, Localize, PAGE, time_table};

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
    // Runs one system; its label map, which the parts' evaluation reads.
    let single = |source: Source, system: &PathBuf, out: PathBuf| -> Result<PathBuf> {
        let job = Localize {
            system: SystemFile::load(system, &args.overrides)?,
            source,
            start_s: args.start,
            out: out.clone(),
            from: args.from,
            video: !args.no_video,
            backend,
        };
        let records = job.run()?;
        println!("\n{}", time_table(&records));
        println!(
            "{}: the detections; {}: the summary page",
            out.join(DETECTIONS).display(),
            out.join(PAGE).display()
        );
        Ok(job.system.actions.labelmap)
    };
    let (root, split) = match (&args.video, &args.frames, &args.data, &args.split) {
        (Some(video), ..) => {
            return single(Source::Video(video.clone()), &args.system, args.out.clone()).map(drop);
        }
        (_, Some(frames), ..) => {
            return single(
                Source::Frames(frames.clone()),
                &args.system,
                args.out.clone(),
            )
            .map(drop);
        }
        (_, _, Some(root), Some(split)) => (root.clone(), split.clone()),
        _ => bail!("give what to localize: --video FILE, --frames DIR or --data ROOT --split S"),
    };
    // The split's parts: AVA's films to --system, Kinetics clips to --kinetics-system.
    let mut parts = Vec::new();
    if Part::Ava.groundtruth(&root, &split).exists() {
        parts.push((Part::Ava, args.system.clone()));
    }
    let kinetics = Part::Kinetics.groundtruth(&root, &split);
    match (&args.kinetics_system, kinetics.exists()) {
        (Some(system), true) => parts.push((Part::Kinetics, system.clone())),
        (Some(_), false) => bail!(
            "{}: no such file, yet --kinetics-system was given",
            kinetics.display()
        ),
        (None, true) => println!(
            "{}: Kinetics clips, left out: give --kinetics-system to localize them",
            kinetics.display()
        ),
        (None, false) => {}
    }
    if parts.is_empty() {
        bail!(
            "{}: neither ava_{split}_v2.2.csv nor kinetics_{split}_v1.0.csv under annotations/",
            root.display()
        );
    }
    let both = parts.len() > 1;
    let mut labelmap = None;
    // Whether the last part's results are complete: with shares, only once every share is,
    // when the share completing it holds the lock of its folder.
    let mut complete = true;
    let mut lock = None;
    for (part, system) in &parts {
        let out = if both {
            args.out.join(part.name())
        } else {
            args.out.clone()
        };
        let source = |shard| Source::Data {
            root: root.clone(),
            split: split.clone(),
            part: *part,
            shard,
        };
        let used = match args.shard {
            None => single(source(None), system, out)?,
            Some(shard) => {
                // Shares beyond the number of videos have none.
                let videos = part_video_ids(&part.groundtruth(&root, &split))?.len();
                let used = if shard.index < videos {
                    single(source(Some(shard)), system, share_dir(&out, shard))?
                } else {
                    println!("{} share {shard}: no videos", part.name());
                    SystemFile::load(system, &args.overrides)?.actions.labelmap
                };
                // Every share runs the parts in order: the one completing the last part
                // finds the earlier parts' unions written.
                // The parts' summary above goes with either part's union.
                let above = if both {
                    [DETECTIONS, PAGE, PARTS_EVAL]
                        .map(|f| args.out.join(f))
                        .to_vec()
                } else {
                    Vec::new()
                };
                lock = write_union(&out, shard, videos, &source(None), &used, &above)?;
                complete = lock.is_some();
                used
            }
        };
        labelmap.get_or_insert(used);
    }
    if both && complete {
        // Under the last part's lock (held by `lock`): another share finishing now waits.
        let labelmap = labelmap.expect("a part ran");
        parts_summary(&args.out, &labelmap, &root, &split)?;
    }
    drop(lock);
    Ok(())
}

const PARTS_EVAL: &str = "eval_parts.txt";

/// Both parts' detections as one file, evaluated as AVA-Kinetics is (the union, and each part
/// on its own videos) over the AVA part's label map, with a page linking the parts' pages.
fn parts_summary(
    out: &std::path::Path,
    labelmap: &std::path::Path,
    root: &std::path::Path,
    split: &str,
) -> Result<()> {
    let mut rows = Vec::new();
    for part in [Part::Ava, Part::Kinetics] {
        rows.extend(read_detections(&out.join(part.name()).join(DETECTIONS))?);
    }
    let detections = out.join(DETECTIONS);
    write_ava_csv(&detections, &rows)
        .with_context(|| format!("writing {}", detections.display()))?;
    let truths = [Part::Ava, Part::Kinetics].map(|p| p.groundtruth(root, split));
    let exclusions = root
        .join("annotations")
        .join(format!("ava_{split}_excluded_timestamps_v2.2.csv"));
    let result = evaluate_parts(
        &truths,
        &detections,
        labelmap,
        exclusions.exists().then_some(exclusions.as_path()),
        &EvalOptions::default(),
    )?;
    let table = parts_table(&result);
    println!("\n{table}");
    let eval = out.join(PARTS_EVAL);
    crate::fs::write_atomic(&eval, table.as_bytes())
        .with_context(|| format!("writing {}", eval.display()))?;
    let links: Vec<PathBuf> = [
        "ava/index.html",
        "kinetics/index.html",
        DETECTIONS,
        PARTS_EVAL,
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let page = Page {
        title: format!("avaloc localize: AVA-Kinetics {split} ({})", root.display()),
        stages: Vec::new(),
        evaluation: Some((table, None)),
        keyframes: &[],
        videos: &[],
        outputs: &links,
    };
    let path = out.join(PAGE);
    crate::fs::write_atomic(&path, page_html(&page).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "{}: both parts' detections; {}: the summary page",
        detections.display(),
        path.display()
    );
    Ok(())
}
