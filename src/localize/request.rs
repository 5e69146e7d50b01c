//! What `avaloc localize` is asked for, run: one video or frame folder through one system, or
//! a dataset split — its AVA films through one system and its AVA-Kinetics clips through
//! another, each part into its own folder, evaluated side by side with their union; with
//! `--shard`, one share of the videos, the last share to finish writing the union.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::shards::{share_dir, write_union};
use super::stage::Stage;
use super::system::SystemFile;
use super::videos::{Source, part_video_ids};
use super::{DETECTIONS, Localize, PAGE, time_table};
use crate::backend::BackendChoice;
use crate::data::DatasetPart;
use crate::data::shard::Shard;
use crate::data::{read_detections, write_ava_csv};
use crate::eval::{EvalOptions, evaluate_parts, parts_table};
use crate::render::page::{Page, page_html};

/// What to localize.
#[derive(Debug, Clone)]
pub enum Input {
    /// A video file (decoded at 30 fps by ffmpeg).
    Video(PathBuf),
    /// One video's frames at 30 fps.
    Frames(PathBuf),
    /// A dataset split in AVA's layout: its AVA part through the request's system, its
    /// Kinetics part (where the split has one) through `kinetics_system`; one share of the
    /// videos where `shard` says so.
    Split {
        root: PathBuf,
        split: String,
        kinetics_system: Option<PathBuf>,
        shard: Option<Shard>,
    },
}

/// A `localize` request.
#[derive(Debug, Clone)]
pub struct Request {
    pub system: PathBuf,
    /// `table.key=value` overrides of the system file.
    pub overrides: Vec<String>,
    pub input: Input,
    /// Second of the first frame of a video or frame folder.
    pub start_s: i64,
    /// Redo this stage and every later one.
    pub from: Option<Stage>,
    /// Render the annotated video(s).
    pub video: bool,
    pub out: PathBuf,
    pub backend: BackendChoice,
}

/// Runs the request.
pub fn run(args: &Request) -> Result<()> {
    let backend = args.backend;
    // Runs one system; its label map, which the parts' evaluation reads.
    let single = |source: Source, system: &PathBuf, out: PathBuf| -> Result<PathBuf> {
        let job = Localize {
            system: SystemFile::load(system, &args.overrides)?,
            source,
            start_s: args.start_s,
            out: out.clone(),
            from: args.from,
            video: args.video,
            backend,
        };
        let records = job.run()?;
        println!("\n{}", time_table(&records));
        tracing::info!(
            "{}: the detections; {}: the summary page",
            out.join(DETECTIONS).display(),
            out.join(PAGE).display()
        );
        Ok(job.system.actions.labelmap)
    };
    let (root, split, kinetics_system, shard) = match &args.input {
        Input::Video(video) => {
            return single(Source::Video(video.clone()), &args.system, args.out.clone()).map(drop);
        }
        Input::Frames(frames) => {
            return single(
                Source::Frames(frames.clone()),
                &args.system,
                args.out.clone(),
            )
            .map(drop);
        }
        Input::Split {
            root,
            split,
            kinetics_system,
            shard,
        } => (root.clone(), split.clone(), kinetics_system, *shard),
    };
    // The split's parts: AVA's films to --system, Kinetics clips to --kinetics-system.
    let mut parts = Vec::new();
    if DatasetPart::Ava.groundtruth(&root, &split).exists() {
        parts.push((DatasetPart::Ava, args.system.clone()));
    }
    let kinetics = DatasetPart::Kinetics.groundtruth(&root, &split);
    match (kinetics_system, kinetics.exists()) {
        (Some(system), true) => parts.push((DatasetPart::Kinetics, system.clone())),
        (Some(_), false) => bail!(
            "{}: no such file, yet --kinetics-system was given",
            kinetics.display()
        ),
        (None, true) => tracing::warn!(
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
        let used = match shard {
            None => single(source(None), system, out)?,
            Some(shard) => {
                // Shares beyond the number of videos have none.
                let videos = part_video_ids(&part.groundtruth(&root, &split))?.len();
                let used = if shard.index < videos {
                    single(source(Some(shard)), system, share_dir(&out, shard))?
                } else {
                    tracing::info!("{} share {shard}: no videos", part.name());
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
    for part in [DatasetPart::Ava, DatasetPart::Kinetics] {
        rows.extend(read_detections(&out.join(part.name()).join(DETECTIONS))?);
    }
    let detections = out.join(DETECTIONS);
    write_ava_csv(&detections, &rows)
        .with_context(|| format!("writing {}", detections.display()))?;
    let truths = [DatasetPart::Ava, DatasetPart::Kinetics].map(|p| p.groundtruth(root, split));
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
    tracing::info!(
        "{}: both parts' detections; {}: the summary page",
        detections.display(),
        path.display()
    );
    Ok(())
}
