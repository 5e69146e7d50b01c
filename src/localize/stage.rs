//! `localize`'s stages and their manifests (`OUT/stages/<stage>.json`): what each stage read
//! (fingerprints of its settings, networks and upstream outputs) and wrote (fingerprints of
//! its outputs), written atomically after the outputs. A rerun reuses a stage whose manifest
//! still matches both, so a killed run resumes at the stage it was in, and a changed setting
//! redoes its stage and, through the fingerprints, whatever reads its outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::system::PartSource;
use crate::data::manifest::first_difference;
use crate::fs::hex;

/// The stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Stage {
    /// A video file decoded into frames at 30 fps.
    Frames,
    /// Person boxes at every keyframe.
    Persons,
    /// Keypoints of every person.
    Poses,
    /// The long-term feature bank under each test view.
    Bank,
    /// The action model's scores, averaged over the test views.
    Actions,
    /// The arm branch's scores at the arm boxes.
    Arms,
    /// The arm scores fused into the action scores: detections.csv.
    Fusion,
    /// Annotated keyframes and video, evaluation where there is ground truth, the summary page.
    Render,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Self::Frames => "frames",
            Self::Persons => "persons",
            Self::Poses => "poses",
            Self::Bank => "bank",
            Self::Actions => "actions",
            Self::Arms => "arms",
            Self::Fusion => "fusion",
            Self::Render => "render",
        }
    }
}

pub const FORMAT_VERSION: u32 = 1;

/// `OUT/stages/<stage>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageManifest {
    pub format_version: u32,
    pub stage: String,
    /// What the stage read: name → fingerprint.
    pub inputs: BTreeMap<String, String>,
    /// What it wrote: path relative to OUT → fingerprint.
    pub outputs: BTreeMap<String, String>,
    /// Wall time of the run that wrote it, and what it processed (frames, keyframes, ...).
    pub seconds: f64,
    pub counts: BTreeMap<String, usize>,
    /// What the stage used in place of a network, e.g. given boxes; empty otherwise.
    pub note: String,
}

impl StageManifest {
    /// Reads a stage manifest; a malformed one is an error naming the file.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a stage manifest", path.display()))
    }

    /// The first output under `out` that is gone or no longer as the stage wrote it.
    fn changed_output(&self, out: &Path) -> Option<&String> {
        self.outputs
            .iter()
            .find(|(file, print)| !fingerprint(&out.join(file)).is_ok_and(|now| &now == *print))
            .map(|(file, _)| file)
    }
}

/// Fingerprint of a file (its SHA-256) or a folder (every file's relative path, size and
/// modification time, recursively, hidden files left out: a folder of per-video CSVs
/// rewritten with rows of the same widths changes it; a bank's files are checked by their
/// own headers when read).
pub fn fingerprint(path: &Path) -> Result<String> {
    if path.is_dir() {
        let mut files = Vec::new();
        list_files(path, path, &mut files)?;
        files.sort();
        let mut hash = Sha256::new();
        for (name, stamp) in &files {
            hash.update(format!("{name}\t{stamp}\n"));
        }
        Ok(format!("dir:{}", hex(&hash.finalize())))
    } else {
        let digest =
            crate::fs::file_digest(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(format!("sha256:{digest}"))
    }
}

/// Fingerprint of a text (a settings table, a list of frames).
pub fn text_fingerprint(text: &str) -> String {
    format!("sha256:{}", hex(&Sha256::digest(text.as_bytes())))
}

/// Each file under `dir`: its path relative to `root`, and `size mtime_ns`.
fn list_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        // Locks and atomic writes' temporaries.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = entry
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            list_files(root, &path, out)?;
        } else {
            let name = path.strip_prefix(root).unwrap_or(&path);
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let stamp = format!("{} {modified}", meta.len());
            out.push((name.display().to_string(), stamp));
        }
    }
    Ok(())
}

/// What a stage's work reports: the files and folders it wrote (relative to OUT), counts and
/// a note.
#[derive(Debug, Default)]
pub struct StageDone {
    pub outputs: Vec<PathBuf>,
    pub counts: BTreeMap<String, usize>,
    pub note: String,
}

/// How a stage went, for the time table.
#[derive(Debug, Clone)]
pub struct StageRecord {
    pub stage: Stage,
    pub reused: bool,
    pub manifest: StageManifest,
}

/// Runs stages into OUT: reuses those whose manifest matches, redoes the rest (and every
/// stage from `from` on).
pub struct StageRunner {
    pub out: PathBuf,
    pub from: Option<Stage>,
    pub records: Vec<StageRecord>,
}

impl StageRunner {
    pub fn new(out: &Path, from: Option<Stage>) -> Self {
        Self {
            out: out.to_path_buf(),
            from,
            records: Vec::new(),
        }
    }

    pub fn manifest_path(&self, stage: Stage) -> PathBuf {
        self.out
            .join("stages")
            .join(format!("{}.json", stage.name()))
    }

    /// Whether `stage` is to be redone whatever its manifest says.
    pub fn forced(&self, stage: Stage) -> bool {
        self.from.is_some_and(|from| stage >= from)
    }

    /// The manifest of `stage` if it matches `inputs` and its outputs are as it wrote them.
    fn reusable(&self, stage: Stage, inputs: &BTreeMap<String, String>) -> Option<StageManifest> {
        let path = self.manifest_path(stage);
        if !path.exists() {
            return None;
        }
        let manifest = match StageManifest::read(&path) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("{e:#}; the stage is redone");
                return None;
            }
        };
        let why = if manifest.format_version != FORMAT_VERSION || manifest.stage != stage.name() {
            Some("its manifest is of another format".to_string())
        } else if let Some((input, _, _)) = first_difference(&manifest.inputs, inputs) {
            Some(format!("{input} changed"))
        } else {
            manifest
                .changed_output(&self.out)
                .map(|file| format!("{file} changed since"))
        };
        match why {
            None => Some(manifest),
            Some(why) => {
                tracing::info!("{}: redone ({why})", stage.name());
                None
            }
        }
    }

    /// Runs `work` for `stage` unless a matching manifest says it is done; returns the
    /// stage's manifest either way.
    pub fn run(
        &mut self,
        stage: Stage,
        inputs: BTreeMap<String, String>,
        work: impl FnOnce() -> Result<StageDone>,
    ) -> Result<StageManifest> {
        if !self.forced(stage)
            && let Some(manifest) = self.reusable(stage, &inputs)
        {
            tracing::info!(
                "{}: done already ({}), reused",
                stage.name(),
                self.manifest_path(stage).display()
            );
            self.records.push(StageRecord {
                stage,
                reused: true,
                manifest: manifest.clone(),
            });
            return Ok(manifest);
        }
        let path = self.manifest_path(stage);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", path.display()));
            }
            _ => {}
        }
        let start = Instant::now();
        let done = work().with_context(|| format!("stage {}", stage.name()))?;
        let mut outputs = BTreeMap::new();
        for file in &done.outputs {
            outputs.insert(
                file.display().to_string(),
                fingerprint(&self.out.join(file))?,
            );
        }
        let manifest = StageManifest {
            format_version: FORMAT_VERSION,
            stage: stage.name().to_string(),
            inputs,
            outputs,
            seconds: start.elapsed().as_secs_f64(),
            counts: done.counts,
            note: done.note,
        };
        let json = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        crate::fs::write_atomic(&path, json.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        self.records.push(StageRecord {
            stage,
            reused: false,
            manifest: manifest.clone(),
        });
        Ok(manifest)
    }
}

/// What OUT's stage manifests say of its run, for a share to be joined with others.
#[derive(Debug, PartialEq)]
pub enum Finished {
    /// No render manifest: the run is not done.
    No,
    /// The record no longer holds: why (an output rewritten since, a stage redone after the
    /// ones that read it).
    Stale(String),
    /// Done, with these settings: every stage's inputs but those a share of the videos
    /// changes (its video list, upstream outputs), keyed `stage.input`.
    Settings(BTreeMap<String, String>),
}

impl Finished {
    /// Reads OUT's manifests; a malformed one is an error naming the file.
    pub fn read(out: &Path) -> Result<Self> {
        let runner = StageRunner::new(out, None);
        if !runner.manifest_path(Stage::Render).is_file() {
            return Ok(Self::No);
        }
        let mut manifests = BTreeMap::new();
        for &stage in <Stage as clap::ValueEnum>::value_variants() {
            let path = runner.manifest_path(stage);
            if path.is_file() {
                manifests.insert(stage.name().to_string(), StageManifest::read(&path)?);
            }
        }
        let mut settings = BTreeMap::new();
        for (stage, manifest) in &manifests {
            if let Some(file) = manifest.changed_output(out) {
                return Ok(Self::Stale(format!("{file} changed after stage {stage}")));
            }
            for (input, print) in &manifest.inputs {
                match input.split_once(':') {
                    Some((up, file)) => {
                        let wrote = manifests.get(up).and_then(|m| m.outputs.get(file));
                        if wrote != Some(print) {
                            return Ok(Self::Stale(format!(
                                "stage {up} was redone after stage {stage}"
                            )));
                        }
                    }
                    None if input == "videos" => {}
                    None => {
                        settings.insert(format!("{stage}.{input}"), print.clone());
                    }
                }
            }
        }
        Ok(Self::Settings(settings))
    }
}

/// A stage's inputs as they are gathered.
#[derive(Debug, Default, Clone)]
pub struct Inputs(pub BTreeMap<String, String>);

impl Inputs {
    pub fn file(mut self, name: &str, path: &Path) -> Result<Self> {
        self.0.insert(name.to_string(), fingerprint(path)?);
        Ok(self)
    }

    /// A network config, `config`: its file's fingerprint, or where it inherits (`base =`)
    /// the digest of the merged configuration, which a changed base changes too.
    pub fn config(mut self, path: &Path) -> Result<Self> {
        let print = match crate::config::merged_digest(path)? {
            Some(digest) => digest,
            None => fingerprint(path)?,
        };
        self.0.insert("config".to_string(), print);
        Ok(self)
    }

    /// A part's network (`config`, `weights`) or its given outputs (`given_key`).
    pub fn source(self, given_key: &str, source: &PartSource) -> Result<Self> {
        match source {
            PartSource::Network { config, weights } => {
                self.config(config)?.file("weights", weights)
            }
            PartSource::Given(file) => self.file(given_key, file),
        }
    }

    pub fn text(mut self, name: &str, text: &str) -> Self {
        self.0.insert(name.to_string(), text_fingerprint(text));
        self
    }

    /// Every output of an upstream stage.
    pub fn outputs_of(mut self, manifest: &StageManifest) -> Self {
        for (file, print) in &manifest.outputs {
            self.0
                .insert(format!("{}:{file}", manifest.stage), print.clone());
        }
        self
    }
}

/// One line per stage: time, what it processed, per second.
pub fn time_table(records: &[StageRecord]) -> String {
    let mut text = format!(
        "{:<8} {:>9} {:>8}  {}\n",
        "stage", "seconds", "", "processed"
    );
    let mut total = 0.0;
    for r in records {
        let m = &r.manifest;
        total += if r.reused { 0.0 } else { m.seconds };
        let processed: Vec<String> = m
            .counts
            .iter()
            .map(|(what, n)| {
                // A rate over a fraction of a second says nothing.
                if m.seconds >= 0.5 {
                    format!("{n} {what} ({:.2}/s)", *n as f64 / m.seconds)
                } else {
                    format!("{n} {what}")
                }
            })
            .collect();
        text.push_str(&format!(
            "{:<8} {:>9.1} {:>8}  {}\n",
            r.stage.name(),
            m.seconds,
            if r.reused { "reused" } else { "" },
            processed.join(", ")
        ));
    }
    text.push_str(&format!("{:<8} {total:>9.1}  (this run)\n", "total"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("avaloc-stage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_stage_is_reused_until_an_input_or_output_changes() {
        let out = dir("reuse");
        let runs = std::cell::Cell::new(0);
        let work = || {
            runs.set(runs.get() + 1);
            std::fs::write(out.join("a.csv"), b"x").unwrap();
            Ok(StageDone {
                outputs: vec!["a.csv".into()],
                ..Default::default()
            })
        };
        let inputs = |v: &str| Inputs::default().text("setting", v).0;
        let mut runner = StageRunner::new(&out, None);
        runner.run(Stage::Persons, inputs("1"), work).unwrap();
        runner.run(Stage::Persons, inputs("1"), work).unwrap();
        assert_eq!(runs.get(), 1);
        assert!(runner.records[1].reused);
        runner.run(Stage::Persons, inputs("2"), work).unwrap();
        assert_eq!(runs.get(), 2);
        // An output changed behind the manifest's back.
        std::fs::write(out.join("a.csv"), b"y").unwrap();
        runner.run(Stage::Persons, inputs("2"), work).unwrap();
        assert_eq!(runs.get(), 3);
        // A damaged manifest.
        std::fs::write(runner.manifest_path(Stage::Persons), b"{").unwrap();
        runner.run(Stage::Persons, inputs("2"), work).unwrap();
        assert_eq!(runs.get(), 4);
        // --from this stage or an earlier one.
        let mut forced = StageRunner::new(&out, Some(Stage::Frames));
        forced.run(Stage::Persons, inputs("2"), work).unwrap();
        assert_eq!(runs.get(), 5);
        let mut later = StageRunner::new(&out, Some(Stage::Actions));
        later.run(Stage::Persons, inputs("2"), work).unwrap();
        assert_eq!(runs.get(), 5);
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_finished_run_holds_until_an_output_or_an_upstream_stage_changes() {
        let out = dir("finished");
        let mut runner = StageRunner::new(&out, None);
        let write = |file: &'static str, text: &'static str| {
            let out = out.clone();
            move || {
                std::fs::write(out.join(file), text).unwrap();
                Ok(StageDone {
                    outputs: vec![file.into()],
                    ..Default::default()
                })
            }
        };
        let persons = |v: &str| Inputs::default().text("videos", "a").text("weights", v);
        let first = runner
            .run(Stage::Persons, persons("1").0, write("p.csv", "1"))
            .unwrap();
        assert_eq!(Finished::read(&out).unwrap(), Finished::No);
        let render = Inputs::default().text("table", "t").outputs_of(&first).0;
        runner
            .run(Stage::Render, render, write("d.csv", "x"))
            .unwrap();
        let Finished::Settings(settings) = Finished::read(&out).unwrap() else {
            panic!("not finished")
        };
        // The video list and upstream outputs differ between shares; the rest is the run's.
        let keys: Vec<&str> = settings.keys().map(String::as_str).collect();
        assert_eq!(keys, ["persons.weights", "render.table"]);
        std::fs::write(out.join("d.csv"), "y").unwrap();
        assert_eq!(
            Finished::read(&out).unwrap(),
            Finished::Stale("d.csv changed after stage render".into())
        );
        std::fs::write(out.join("d.csv"), "x").unwrap();
        // Persons redone with new weights, render not (yet).
        runner
            .run(Stage::Persons, persons("2").0, write("p.csv", "2"))
            .unwrap();
        assert_eq!(
            Finished::read(&out).unwrap(),
            Finished::Stale("stage persons was redone after stage render".into())
        );
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_failed_stage_leaves_no_manifest() {
        let out = dir("fail");
        let mut runner = StageRunner::new(&out, None);
        let ok = || Ok(StageDone::default());
        runner.run(Stage::Poses, BTreeMap::new(), ok).unwrap();
        assert!(runner.manifest_path(Stage::Poses).is_file());
        let err = runner
            .run(Stage::Poses, Inputs::default().text("x", "1").0, || {
                anyhow::bail!("boom")
            })
            .unwrap_err();
        assert!(format!("{err:#}").contains("stage poses: boom"), "{err:#}");
        assert!(!runner.manifest_path(Stage::Poses).exists());
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_folder_fingerprint_follows_its_files() {
        let out = dir("folder");
        std::fs::create_dir_all(out.join("f/sub")).unwrap();
        std::fs::write(out.join("f/sub/a"), b"12").unwrap();
        let first = fingerprint(&out.join("f")).unwrap();
        std::fs::write(out.join("f/sub/a"), b"123").unwrap();
        let longer = fingerprint(&out.join("f")).unwrap();
        assert_ne!(longer, first);
        // Hidden files (locks, temporaries) do not count; a rewrite of the same size does.
        std::fs::write(out.join("f/.lock"), b"").unwrap();
        assert_eq!(fingerprint(&out.join("f")).unwrap(), longer);
        let file = std::fs::File::options()
            .write(true)
            .open(out.join("f/sub/a"))
            .unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(7))
            .unwrap();
        assert_ne!(fingerprint(&out.join("f")).unwrap(), longer);
        std::fs::remove_dir_all(&out).unwrap();
    }
}
