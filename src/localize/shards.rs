//! `localize --data --split S --shard I/N`: each share of the split's videos runs every stage
//! into its own folder `OUT/shard-I-of-N/` (resumable as any run, its page evaluated on its
//! own videos), and whichever share finishes last writes the union into `OUT`:
//! `detections.csv` of all the videos, evaluated against the whole split (`eval.txt`,
//! `ap.png`), and `index.html` linking the shares' pages. N machines sharing the folder thus
//! fill it with no merge step. A share counts as finished when its stage manifests still
//! hold and record the same settings (networks, tables) as the share finishing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::stage::Finished;
use super::videos::Source;
use super::{DETECTIONS, EVAL, Evaluation, PAGE, PLOT, write_rows};
use crate::data::read_detections;
use crate::data::shard::Shard;
use crate::render::page::{Page, page_html};

/// The folder of share `shard` of a run into `out`.
pub fn share_dir(out: &Path, shard: Shard) -> PathBuf {
    out.join(shard.dir_name())
}

/// Writes the union of the shares in `out` if every share has finished with the settings
/// of share `me` (its render stage's manifest is there and its record holds; shares beyond
/// the split's number of `videos` have none); returns the folder's lock, still held, if it
/// did (whatever is written from the union goes under it too). `source` is the whole split's
/// (unsharded); concurrent finishers take the lock in turn. While shares are missing, an
/// earlier union (and `above`, files made from it) is removed: it no longer holds.
pub fn write_union(
    out: &Path,
    me: Shard,
    videos: usize,
    source: &Source,
    labelmap: &Path,
    above: &[PathBuf],
) -> Result<Option<std::fs::File>> {
    let count = me.count;
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
    let mut finished = Vec::new();
    for &share in &shares {
        finished.push((share, Finished::read(&share_dir(out, share))?));
    }
    // The settings every share must have run with: this share's, else (it has no videos)
    // the first finished share's.
    let reference = finished
        .iter()
        .filter(|(s, _)| *s == me || me.index >= videos)
        .find_map(|(s, f)| match f {
            Finished::Settings(settings) => Some((*s, settings.clone())),
            _ => None,
        });
    let waiting: Vec<String> = finished
        .iter()
        .filter_map(|(share, state)| match (state, &reference) {
            (Finished::No, _) => Some(share.to_string()),
            (Finished::Stale(why), _) => Some(format!("{share}, whose results are stale: {why}")),
            (Finished::Settings(settings), Some((by, expected))) if settings != expected => {
                Some(format!(
                    "{share}, run with other settings than {by} ({})",
                    differing(settings, expected)
                ))
            }
            _ => None,
        })
        .collect();
    if !waiting.is_empty() {
        tracing::info!(
            "{}: {} of {count} shares done; the last to finish writes the union (waiting for {})",
            out.display(),
            count - waiting.len(),
            waiting.join("; ")
        );
        let union = [DETECTIONS, PAGE, EVAL, PLOT].map(|f| out.join(f));
        for path in union.iter().chain(above) {
            match std::fs::remove_file(path) {
                Ok(()) => tracing::info!("{}: removed, from an earlier union", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
            }
        }
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
    crate::fs::write_atomic(&path, page_html(&page).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(
        "{}: the {count} shares' {} detections; {}: the summary page",
        out.join(DETECTIONS).display(),
        rows.len(),
        path.display()
    );
    Ok(Some(lock))
}

/// The settings in which two runs differ, e.g. `render.table, actions.weights`.
fn differing(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> String {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let differ: Vec<&str> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(String::as_str)
        .collect();
    differ.join(", ")
}

fn source_name(source: &Source) -> String {
    match source {
        Source::Data {
            root, split, part, ..
        } => format!("{} {split} ({})", part.name(), root.display()),
        Source::Video(path) | Source::Frames(path) => path.display().to_string(),
    }
}
