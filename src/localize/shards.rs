//! `localize --data --split S --shard I/N`: each share of the split's videos runs every stage
//! into its own folder `OUT/shard-I-of-N/` (resumable as any run, its page evaluated on its
//! own videos), and whichever share finishes last writes the union into `OUT`:
//! `detections.csv` of all the videos, evaluated against the whole split (`eval.txt`,
//! `ap.png`), and `index.html` linking the shares' pages. N machines sharing the folder thus
//! fill it with no merge step.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::render::{Page, page_html};
use super::stage::{Stage, StageRunner};
use super::videos::Source;
use super::{DETECTIONS, Evaluation, PAGE, write_rows};
use crate::data::read_detections;
use crate::shard::Shard;

/// The folder of share `shard` of a run into `out`.
pub fn share_dir(out: &Path, shard: Shard) -> PathBuf {
    out.join(shard.dir_name())
}

/// Writes the union of the `count` shares in `out` if every share has finished (its render
/// stage's manifest is there; shares beyond the split's number of `videos` have none);
/// returns the folder's lock, still held, if it did (whatever is written from the union
/// goes under it too). `source` is the whole split's (unsharded); concurrent finishers take
/// the lock in turn.
pub fn write_union(
    out: &Path,
    count: usize,
    videos: usize,
    source: &Source,
    labelmap: &Path,
) -> Result<Option<std::fs::File>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let lock_path = out.join(".shards.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let shares: Vec<Shard> = (0..count.min(videos))
        .map(|index| Shard { index, count })
        .collect();
    let waiting: Vec<String> = shares
        .iter()
        .filter(|&&s| {
            let runner = StageRunner::new(&share_dir(out, s), None);
            !runner.manifest_path(Stage::Render).is_file()
        })
        .map(Shard::to_string)
        .collect();
    if !waiting.is_empty() {
        println!(
            "{}: {} of {count} shares done; the last to finish writes the union (waiting for {})",
            out.display(),
            count - waiting.len(),
            waiting.join(", ")
        );
        return Ok(None);
    }
    let mut rows = Vec::new();
    for &share in &shares {
        rows.extend(read_detections(&share_dir(out, share).join(DETECTIONS))?);
    }
    write_rows(&out.join(DETECTIONS), &rows)?;
    let mut outputs: Vec<PathBuf> = shares
        .iter()
        .map(|&s| Path::new(&s.dir_name()).join(PAGE))
        .collect();
    outputs.push(DETECTIONS.into());
    let evaluation = match source.groundtruth() {
        Some(truth) => {
            let evaluation = Evaluation {
                truth: &truth,
                exclusions: source.exclusions(),
                labelmap,
                videos: None,
            };
            Some(evaluation.write(out, &mut outputs)?)
        }
        None => None,
    };
    let page = Page {
        title: format!("avaloc localize: {count} shares of {}", source_name(source)),
        stages: Vec::new(),
        evaluation,
        keyframes: &[],
        videos: &[],
        outputs: &outputs,
    };
    let path = out.join(PAGE);
    crate::io::write_atomic(&path, page_html(&page).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "{}: the {count} shares' {} detections; {}: the summary page",
        out.join(DETECTIONS).display(),
        rows.len(),
        path.display()
    );
    Ok(Some(lock))
}

fn source_name(source: &Source) -> String {
    match source {
        Source::Data {
            root, split, part, ..
        } => format!("{} {split} ({})", part.name(), root.display()),
        Source::Video(path) | Source::Frames(path) => path.display().to_string(),
    }
}
