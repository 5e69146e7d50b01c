//! `avaloc localize`: the whole system from frames to actions, as stages into one output
//! folder — frames (a video decoded at 30 fps) → persons → poses → the long-term feature
//! bank under each test view → action scores averaged over the views → the arm branch →
//! fusion (`detections.csv`, AVA's format) → rendering (annotated keyframes and video, the
//! evaluation where the videos have ground truth, `index.html`). Each stage writes its
//! outputs atomically, then its manifest ([`stage`]); a rerun reuses what still fits.

pub mod request;
pub mod shards;
pub mod stage;
pub mod system;
pub mod videos;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::backend::{self, BackendChoice};
use crate::config::TestViews;
use crate::config::config_digest;
use crate::data::Video;
use crate::data::bank::{Bank, BankManifest, BankView, BoxSource};
use crate::data::{
    AvaKeyframes, DetectedPerson, FrameTime, PersonBox, read_keypoints, read_person_boxes,
    unlabelled_people, write_ava_csv, write_keypoints, write_person_boxes,
};
use crate::data::{PersonAnnotation, people_from_rows, read_ava_csv, read_detections};
use crate::eval::{EvalOptions, evaluate, per_class_table, read_classes, write_plot};
use crate::fs::file_digest;
use crate::infer::bank::BankBuild;
use crate::infer::{
    ActionScoring, PersonDetection, PersonFilter, PersonFrame, PoseEstimation, PoseOptions,
    arm_box_people, arm_people_in_frames, detection_rows, person_arm_scores,
};
use crate::localize::system::{ArmPart, BankPart, Loaded, PosesPart, SystemFile};
use crate::render::keyframes::{Shown, draw_keyframes};
use crate::render::page::{Page, page_html, spread};
use crate::render::video::write_video;
use crate::weights::Checkpoint;
use stage::{Inputs, Stage, StageDone, StageManifest, StageRecord, StageRunner, fingerprint};
use videos::Source;

pub use stage::time_table;

/// A `localize` run as asked for.
pub struct Localize {
    pub system: SystemFile,
    pub source: Source,
    /// Second of the first frame of a video file or frame folder (AVA's films: 900).
    pub start_s: i64,
    pub out: PathBuf,
    /// Redo this stage and every later one.
    pub from: Option<Stage>,
    /// Render the annotated video(s).
    pub video: bool,
    pub backend: BackendChoice,
}

pub const PERSONS: &str = "persons.csv";
pub const KEYPOINTS: &str = "keypoints.csv";
pub const ACTION_SCORES: &str = "scores/actions.csv";
pub const ARM_SCORES: &str = "scores/arm.csv";
pub const DETECTIONS: &str = "detections.csv";
pub const PAGE: &str = "index.html";
pub const EVAL: &str = "eval.txt";
pub const PLOT: &str = "ap.png";

impl Localize {
    fn path(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// The action model's test views, with the system's overrides.
    fn views(&self) -> TestViews {
        let mut views = self.system.action_model.test.clone();
        if let Some(sides) = &self.system.actions.short_sides {
            views.short_sides = sides.clone();
        }
        if let Some(flip) = self.system.actions.flip {
            views.flip = flip;
        }
        views
    }

    /// Runs every stage (reusing what is done); returns the stages' records.
    pub fn run(&self) -> Result<Vec<StageRecord>> {
        crate::fs::check_writable(&self.path(DETECTIONS))?;
        let s = &self.system;
        let mut runner = StageRunner::new(&self.out, self.from);
        let frames_dir = self.path("frames");
        if let Source::Video(file) = &self.source {
            let inputs = Inputs::default().file("video", file)?;
            runner.run(Stage::Frames, inputs.0, || decode(file, &frames_dir))?;
        }
        let videos = videos::videos(&self.source, &frames_dir, self.start_s)?;
        let described = videos::describe(&videos);

        // A detector's config and weights, or the given boxes: whichever the table names.
        let inputs = Inputs::default()
            .text("videos", &described)
            .text("table", &s.table_text("persons"))
            .source("boxes", &s.persons.table.source)?;
        let persons = runner.run(Stage::Persons, inputs.0, || self.persons(&videos))?;

        let poses = match &s.poses {
            None => None,
            Some(part) => {
                let inputs = Inputs::default()
                    .text("table", &s.table_text("poses"))
                    .outputs_of(&persons)
                    .source("keypoints", &part.table.source)?;
                Some(runner.run(Stage::Poses, inputs.0, || self.poses(part, &videos))?)
            }
        };

        let views = self.views();
        let bank = match &s.bank {
            None => None,
            Some(part) => {
                let table = &part.table;
                let inputs = Inputs::default()
                    .text("table", &s.table_text("bank"))
                    .text("views", &format!("{views:?}"))
                    .config(&table.config)?
                    .file("weights", &table.weights)?
                    .outputs_of(&persons);
                let force = runner.forced(Stage::Bank);
                Some(runner.run(Stage::Bank, inputs.0, || {
                    self.bank(part, &videos, &views, force)
                })?)
            }
        };

        let mut inputs = Inputs::default()
            .text("table", &s.table_text("actions"))
            .config(&s.actions.config)?
            .file("weights", &s.actions.weights)?
            .file("labelmap", &s.actions.labelmap)?
            .outputs_of(&persons);
        if let Some(bank) = &bank {
            inputs = inputs.outputs_of(bank);
        }
        let actions = runner.run(Stage::Actions, inputs.0, || {
            self.actions(&videos, &views, bank.as_ref())
        })?;

        let arms = match (&s.arm, &poses) {
            (Some(arm), Some(poses)) => {
                let table = &arm.table;
                let inputs = Inputs::default()
                    .config(&table.config)?
                    .file("weights", &table.weights)?
                    .file("labelmap", &table.labelmap)?
                    .outputs_of(&persons)
                    .outputs_of(poses);
                Some(runner.run(Stage::Arms, inputs.0, || self.arms(arm, &videos))?)
            }
            _ => None,
        };

        let mut inputs = Inputs::default().outputs_of(&actions);
        if let (Some(fusion), Some(arms)) =
            (s.arm.as_ref().and_then(|a| a.table.fusion.as_ref()), &arms)
        {
            inputs = inputs.file("fusion", fusion)?.outputs_of(arms);
        }
        let fused = runner.run(Stage::Fusion, inputs.0, || self.fusion())?;

        let mut inputs = Inputs::default()
            .text("videos", &described)
            .text("table", &s.table_text("render"))
            .text("video", &self.video.to_string())
            .file("labelmap", &s.actions.labelmap)?
            .outputs_of(&fused);
        if let Some(truth) = self.source.groundtruth() {
            inputs = inputs.file("groundtruth", &truth)?;
        }
        let previous = runner.records.clone();
        runner.run(Stage::Render, inputs.0, || self.render(&videos, &previous))?;
        Ok(runner.records)
    }

    fn persons(&self, videos: &[Video]) -> Result<StageDone> {
        let persons = &self.system.persons;
        let table = &persons.table;
        let keyframes: usize = videos.iter().map(|v| v.keyframes().count()).sum();
        let (people, note) = match &persons.detector {
            Loaded::Network {
                file: detector,
                weights,
            } => {
                let frames = PersonFrame::of_videos(videos, false);
                let job = PersonDetection {
                    detector: detector.network.clone(),
                    checkpoint: Checkpoint::open(weights)?,
                    frames,
                    filter: PersonFilter {
                        threshold: table.threshold as f32,
                        person_label: table.person_label,
                        batch: table.batch,
                    },
                    per_video: None,
                };
                (backend::run(self.backend, job)?, String::new())
            }
            Loaded::Given(file) => {
                let given = read_person_boxes(file, table.threshold)?;
                let people = given
                    .into_iter()
                    .filter(|b| {
                        videos.iter().any(|v| {
                            v.id == b.key.video_id && v.keyframe(b.key.timestamp_s).is_some()
                        })
                    })
                    .map(|b| DetectedPerson {
                        video_id: b.key.video_id,
                        time: FrameTime::Keyframe(b.key.timestamp_s),
                        box_xyxy_norm: b.box_xyxy_norm,
                        score: b.score,
                    })
                    .collect::<Vec<_>>();
                let note = format!("given boxes ({}), not a detector", file.display());
                tracing::info!("persons: {note}");
                (people, note)
            }
        };
        write_person_boxes(&self.path(PERSONS), &people)?;
        tracing::info!(
            "{}: {} person boxes at {keyframes} keyframes",
            self.path(PERSONS).display(),
            people.len()
        );
        Ok(StageDone {
            outputs: vec![PERSONS.into()],
            counts: [
                ("keyframes".into(), keyframes),
                ("persons".into(), people.len()),
            ]
            .into(),
            note,
        })
    }

    /// The persons stage's boxes scoring at least `min_score`.
    fn boxes(&self, min_score: f64) -> Result<Vec<PersonBox>> {
        Ok(read_person_boxes(&self.path(PERSONS), min_score)?)
    }

    fn poses(&self, part: &PosesPart, videos: &[Video]) -> Result<StageDone> {
        let table = &part.table;
        let people = self.boxes(0.0)?;
        let (poses, note) = match &part.cpn {
            Loaded::Network {
                file: pose,
                weights,
            } => {
                let all = videos::keyframe_images(videos);
                let images = people
                    .iter()
                    .filter_map(|p| all.get_key_value(&p.key))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let job = PoseEstimation {
                    spec: pose.network.clone(),
                    checkpoint: Checkpoint::open(weights)?,
                    people,
                    images,
                    options: PoseOptions {
                        flip: table.flip,
                        batch: table.batch.max(1),
                    },
                    per_video: None,
                };
                (backend::run(self.backend, job)?, String::new())
            }
            Loaded::Given(file) => {
                let mut poses = read_keypoints(file)?;
                poses.retain(|p| videos.iter().any(|v| v.id == p.key.video_id));
                let note = format!("given keypoints ({}), not CPN", file.display());
                tracing::info!("poses: {note}");
                (poses, note)
            }
        };
        write_keypoints(&self.path(KEYPOINTS), &poses)
            .with_context(|| format!("writing {}", self.path(KEYPOINTS).display()))?;
        Ok(StageDone {
            outputs: vec![KEYPOINTS.into()],
            counts: [("persons".into(), poses.len())].into(),
            note,
        })
    }

    /// One bank folder per test view (FAIR re-extracts the bank per view), each holding every
    /// video (a video without boxes above the threshold gets an empty file).
    fn bank(
        &self,
        part: &BankPart,
        videos: &[Video],
        views: &TestViews,
        force: bool,
    ) -> Result<StageDone> {
        let (table, model) = (&part.table, &part.model);
        let people = self.boxes(table.box_threshold)?;
        let scores: crate::infer::bank::ScoredBoxes = people
            .iter()
            .map(|b| {
                let key = (b.key.clone(), b.box_xyxy_norm.map(f64::to_bits));
                (key, b.score as f32)
            })
            .collect();
        // Every video has a file, empty where no box scores enough.
        let mut by_video: BTreeMap<String, Vec<_>> =
            videos.iter().map(|v| (v.id.clone(), Vec::new())).collect();
        let clip = model.network.clip_spec();
        for sample in videos::samples(videos, &unlabelled_people(&people), clip)? {
            if let Some(samples) = by_video.get_mut(&sample.key.video_id) {
                samples.push(sample);
            }
        }
        let keyframes: usize = by_video.values().map(Vec::len).sum();
        let source = format!(
            "{} ({})",
            self.path(PERSONS).display(),
            fingerprint(&self.path(PERSONS))?
        );
        let (config_digest, weights_digest) =
            (config_digest(&table.config)?, file_digest(&table.weights)?);
        let mut outputs = Vec::new();
        let mut features = 0;
        for view in views.views() {
            let dir = bank_dir(view);
            let manifest = BankManifest {
                format_version: 1,
                model_config: table.config.display().to_string(),
                config_digest: config_digest.clone(),
                weights_digest: weights_digest.clone(),
                dim: model.network.bank_feature_dim(),
                dtype: table.dtype,
                view,
                splits: [(
                    "localize".to_string(),
                    BoxSource {
                        boxes: source.clone(),
                        box_threshold: table.box_threshold,
                    },
                )]
                .into(),
            };
            let folder = self.out.join(&dir);
            // A folder built from other boxes or another model is this run's to replace.
            let stale = BankManifest::read(&folder)
                .map(|m| m.is_some_and(|m| m != manifest))
                .unwrap_or(true);
            if (force || stale) && folder.exists() {
                std::fs::remove_dir_all(&folder)
                    .with_context(|| format!("removing {}", folder.display()))?;
            }
            let job = BankBuild {
                spec: model.network.clone(),
                checkpoint: Checkpoint::open(&table.weights)?,
                manifest,
                videos: by_video.clone(),
                scores: scores.clone(),
                out: folder,
                batch_size: model.test.batch_size,
            };
            features += backend::run(self.backend, job)?.features;
            outputs.push(dir);
        }
        Ok(StageDone {
            outputs,
            counts: [
                ("keyframes".into(), keyframes * views.views().len()),
                ("features".into(), features),
            ]
            .into(),
            note: String::new(),
        })
    }

    fn actions(
        &self,
        videos: &[Video],
        views: &TestViews,
        bank: Option<&StageManifest>,
    ) -> Result<StageDone> {
        let s = &self.system;
        let people = unlabelled_people(&self.boxes(0.0)?);
        let samples = videos::samples(videos, &people, s.action_model.network.clip_spec())?;
        let banks = match bank {
            None => Vec::new(),
            Some(_) => views
                .views()
                .into_iter()
                .map(|v| Bank::open(&self.out.join(bank_dir(v))).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let job = ActionScoring::with_banks(
            &s.action_model,
            Checkpoint::open(&s.actions.weights)?,
            &s.labels,
            samples.clone(),
            views.clone(),
            banks,
        )?;
        let scored = backend::run(self.backend, job)?;
        write_rows(
            &self.path(ACTION_SCORES),
            &detection_rows(&scored, &s.labels),
        )?;
        Ok(StageDone {
            outputs: vec![ACTION_SCORES.into()],
            counts: [
                ("keyframes".into(), samples.len()),
                ("persons".into(), scored.len()),
            ]
            .into(),
            note: match views.views().len() {
                1 => "one test view".to_string(),
                n => format!("{n} test views averaged (the seed sums them: the same ranking)"),
            },
        })
    }

    fn arms(&self, arm: &ArmPart, videos: &[Video]) -> Result<StageDone> {
        let (table, model, labels) = (&arm.table, &arm.model, &arm.labels);
        let people = unlabelled_people(&self.boxes(0.0)?);
        let poses = read_keypoints(&self.path(KEYPOINTS))?;
        let first: BTreeMap<&str, &PathBuf> = videos
            .iter()
            .map(|v| (v.id.as_str(), &v.frames[0]))
            .collect();
        let frame_of = |p: &PersonAnnotation| {
            first
                .get(p.key.video_id.as_str())
                .map(|f| f.to_path_buf())
                .ok_or_else(|| crate::data::DataError::File {
                    path: self.path(PERSONS),
                    message: format!("boxes of video {:?}, which has no frames", p.key.video_id),
                })
        };
        let (arm, stats) = arm_people_in_frames(&people, &poses, labels, frame_of, &model.arm)?;
        let arm_boxes: usize = arm.iter().map(|p| p.arm_boxes.len()).sum();
        let mut samples =
            videos::samples(videos, &arm_box_people(&arm), model.network.clip_spec())?;
        if let Some(zoom) = model.arm.zoom {
            samples = AvaKeyframes::from_samples(samples)
                .zoomed(zoom)
                .into_samples();
        }
        let job = ActionScoring::new(
            model,
            Checkpoint::open(&table.weights)?,
            labels,
            samples,
            model.test.clone(),
        )?;
        let scored = person_arm_scores(&arm, &backend::run(self.backend, job)?);
        write_rows(&self.path(ARM_SCORES), &detection_rows(&scored, labels))?;
        Ok(StageDone {
            outputs: vec![ARM_SCORES.into()],
            counts: [
                ("persons".into(), arm.len()),
                ("arm boxes".into(), arm_boxes),
            ]
            .into(),
            note: format!(
                "{} of {} people have arm boxes ({} without keypoints, {} without an arm box)",
                arm.len(),
                people.len(),
                stats.without_keypoints,
                stats.without_arm_box
            ),
        })
    }

    fn fusion(&self) -> Result<StageDone> {
        let body = read_detections(&self.path(ACTION_SCORES))?;
        let fusion = self.system.arm.as_ref().and_then(|a| a.fusion.as_ref());
        let (rows, note) = match fusion {
            Some(fusion) => {
                let arm = read_detections(&self.path(ARM_SCORES))?;
                let (rows, stats) = fusion.apply(&body, &arm);
                let note = format!(
                    "{} classes fused ({:?}, weight {}) for {} of {} people",
                    fusion.classes.len(),
                    fusion.mode,
                    fusion.weight,
                    stats.with_arm,
                    stats.people
                );
                (rows, note)
            }
            None if self.system.arm.is_some() => (
                body,
                "no fusion config: the action scores (the arm scores in scores/arm.csv)".into(),
            ),
            None => (body, "no arm branch: the action scores".into()),
        };
        write_rows(&self.path(DETECTIONS), &rows)?;
        tracing::info!(
            "{}: {} rows; {note}",
            self.path(DETECTIONS).display(),
            rows.len()
        );
        Ok(StageDone {
            outputs: vec![DETECTIONS.into()],
            counts: [("rows".into(), rows.len())].into(),
            note,
        })
    }

    fn render(&self, videos: &[Video], previous: &[StageRecord]) -> Result<StageDone> {
        let start = std::time::Instant::now();
        let s = &self.system;
        let rows = read_detections(&self.path(DETECTIONS))?;
        let people = people_from_rows(&rows, &s.labels);
        let mut outputs: Vec<PathBuf> = Vec::new();

        // A few keyframes with people, spread over the videos.
        let images = videos::keyframe_images(videos);
        let mut keys: Vec<_> = people.iter().map(|p| p.key.clone()).collect();
        keys.sort();
        keys.dedup();
        let chosen: std::collections::HashSet<_> =
            spread(&keys, s.render.keyframes).into_iter().collect();
        let picked: Vec<_> = people
            .iter()
            .filter(|p| chosen.contains(&p.key))
            .cloned()
            .collect();
        let keyframe_dir = self.path("keyframes");
        if keyframe_dir.exists() {
            std::fs::remove_dir_all(&keyframe_dir)
                .with_context(|| format!("removing {}", keyframe_dir.display()))?;
        }
        let shown = Shown {
            top: s.render.top,
            min_score: s.render.min_score as f32,
        };
        let drawn = draw_keyframes(&picked, &images, &s.labels, shown, &keyframe_dir)?;
        let keyframes: Vec<PathBuf> = drawn
            .iter()
            .map(|p| Path::new("keyframes").join(p.file_name().unwrap_or_default()))
            .collect();
        if !keyframes.is_empty() {
            outputs.push("keyframes".into());
        }

        let mut movies = Vec::new();
        let mut frames = 0;
        if self.video {
            for v in videos {
                let name: PathBuf = if videos.len() == 1 {
                    "annotated.mp4".into()
                } else {
                    Path::new("annotated").join(format!("{}.mp4", v.id))
                };
                if let Some(dir) = self.out.join(&name).parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                frames += write_video(v, &people, &s.labels, shown, &self.out.join(&name))?;
                movies.push(name);
            }
            outputs.extend(movies.iter().cloned());
        }

        let evaluation = match self.source.groundtruth() {
            Some(truth) => Some(self.evaluate(&truth, videos, &mut outputs)?),
            None => None,
        };

        let mut stages: Vec<(String, f64, bool, String, String)> = previous
            .iter()
            .map(|r| {
                let processed: Vec<String> = r
                    .manifest
                    .counts
                    .iter()
                    .map(|(what, n)| format!("{n} {what}"))
                    .collect();
                (
                    r.stage.name().to_string(),
                    r.manifest.seconds,
                    r.reused,
                    processed.join(", "),
                    r.manifest.note.clone(),
                )
            })
            .collect();
        stages.push((
            "render".into(),
            start.elapsed().as_secs_f64(),
            false,
            format!("{frames} frames"),
            String::new(),
        ));
        // The files to download: the detections, the stages' CSVs, the evaluation.
        let listed: Vec<PathBuf> = [DETECTIONS, PERSONS, KEYPOINTS, ACTION_SCORES, ARM_SCORES]
            .iter()
            .map(PathBuf::from)
            .chain(outputs.iter().cloned())
            .filter(|p| self.out.join(p).is_file())
            .collect();
        let page = Page {
            title: format!(
                "avaloc localize: {} ({} video{})",
                s.path.display(),
                videos.len(),
                if videos.len() == 1 { "" } else { "s" }
            ),
            stages,
            evaluation,
            keyframes: &keyframes,
            videos: &movies,
            outputs: &listed,
        };
        crate::fs::write_atomic(&self.path(PAGE), page_html(&page).as_bytes())
            .with_context(|| format!("writing {}", self.path(PAGE).display()))?;
        tracing::info!("{}: the summary page", self.path(PAGE).display());
        outputs.push(PAGE.into());
        Ok(StageDone {
            outputs,
            counts: [
                ("frames".into(), frames),
                ("keyframes".into(), keyframes.len()),
            ]
            .into(),
            note: String::new(),
        })
    }

    /// The frame-mAP of detections.csv against the ground truth of `videos` (all of the
    /// split's but in one share of it): `eval.txt` and `ap.png`; returns the table and the
    /// plot's path.
    fn evaluate(
        &self,
        truth: &Path,
        videos: &[Video],
        outputs: &mut Vec<PathBuf>,
    ) -> Result<(String, Option<PathBuf>)> {
        let ids: HashSet<&str> = videos.iter().map(|v| v.id.as_str()).collect();
        let evaluation = Evaluation {
            truth,
            exclusions: self.source.exclusions(),
            labelmap: &self.system.actions.labelmap,
            videos: Some(&ids),
        };
        evaluation.write(&self.out, outputs)
    }
}

/// A folder's `detections.csv` against ground truth (that of some `videos` only, where given).
pub struct Evaluation<'a> {
    pub truth: &'a Path,
    pub exclusions: Option<PathBuf>,
    pub labelmap: &'a Path,
    pub videos: Option<&'a HashSet<&'a str>>,
}

impl Evaluation<'_> {
    /// Evaluates `out/detections.csv` into `out/eval.txt` and `out/ap.png` (added to
    /// `outputs`); returns the table and the plot's name.
    pub fn write(
        &self,
        out: &Path,
        outputs: &mut Vec<PathBuf>,
    ) -> Result<(String, Option<PathBuf>)> {
        let (labels, excluded) = read_classes(self.labelmap, self.exclusions.as_deref())?;
        let mut groundtruth = read_ava_csv(self.truth)?;
        if let Some(ids) = self.videos {
            groundtruth.retain(|r| ids.contains(r.key.video_id.as_str()));
        }
        let detections = read_detections(&out.join(DETECTIONS))?;
        let result = evaluate(
            &labels,
            &groundtruth,
            &detections,
            &excluded,
            &EvalOptions::default(),
        );
        let table = per_class_table(&result);
        println!("{table}");
        let (eval, plot) = (out.join(EVAL), out.join(PLOT));
        crate::fs::write_atomic(&eval, table.as_bytes())
            .with_context(|| format!("writing {}", eval.display()))?;
        write_plot(&result, &plot).with_context(|| format!("writing {}", plot.display()))?;
        outputs.extend([EVAL.into(), PLOT.into()]);
        Ok((table, Some(PLOT.into())))
    }
}

fn bank_dir(view: BankView) -> PathBuf {
    let flip = if view.flip { "_flip" } else { "" };
    Path::new("bank").join(format!("{}{flip}", view.short_side))
}

fn write_rows(path: &Path, rows: &[crate::data::AvaRow]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    write_ava_csv(path, rows).with_context(|| format!("writing {}", path.display()))
}

/// The frames stage: `video` decoded into `frames/<id>/` (through a partial folder renamed
/// into place).
fn decode(video: &Path, frames_dir: &Path) -> Result<StageDone> {
    let id = videos::video_id(video);
    let partial = frames_dir.join(format!(".{id}.partial"));
    let done = frames_dir.join(&id);
    for dir in [&partial, &done] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    crate::data::decode_video(video, &partial)?;
    std::fs::rename(&partial, &done).with_context(|| format!("writing {}", done.display()))?;
    let frames = crate::data::list_frame_files(&done)?.len();
    tracing::info!("{}: {frames} frames at 30 fps", done.display());
    Ok(StageDone {
        outputs: vec![Path::new("frames").join(&id)],
        counts: [("frames".into(), frames)].into(),
        note: String::new(),
    })
}
