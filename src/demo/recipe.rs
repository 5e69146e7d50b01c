//! The steps the demo's recipes share: train a network once into the run folder, write a
//! system, run `localize` on a split or a video, choose the fusion classes on validation,
//! evaluate on the held-out test keyframes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::DemoOptions;
use super::systems::{Input, Model, Parts, Shared, write_system};
use crate::backend::{self, BackendChoice, TrainJob};
use crate::config::ActionFile;
use crate::data::DatasetPart;
use crate::data::{
    DatasetFiles, DetectedPerson, FrameTime, KeyframeKey, LabelMap, annotated_people, read_ava_csv,
    read_detections, read_exclusions, write_person_boxes,
};
use crate::eval::{EvalOptions, FrameMapResult, evaluate};
use crate::infer::fusion::{Choice, FusionMode, Groundtruth, gain_table, select};
use crate::localize::system::SystemFile;
use crate::localize::videos::Source;
use crate::localize::{ACTION_SCORES, ARM_SCORES, Localize, time_table};
use crate::train::{ActionRun, ArmKeypoints, RunInputs, RunOptions};

/// The final weights of the training in OUT/`dir`.
pub fn trained_weights(out: &Path, dir: &str) -> PathBuf {
    out.join(dir).join("model_final.safetensors")
}

/// Everything the demo's steps share.
pub struct Demo<'a> {
    pub options: &'a DemoOptions,
    pub backend: BackendChoice,
    pub dataset: DatasetFiles,
    pub labelmap: PathBuf,
    pub arm_labelmap: PathBuf,
}

impl Demo<'_> {
    pub fn out(&self, name: &str) -> PathBuf {
        self.options.out.join(name)
    }

    pub fn annotation(&self, name: &str) -> PathBuf {
        self.dataset.root.join("annotations").join(name)
    }

    /// The synthetic keypoints of `split`.
    pub fn keypoints(&self, split: &str) -> PathBuf {
        self.annotation(&format!("synth_keypoints_{split}.csv"))
    }

    /// Trains the action model `config` into OUT/`dir` unless it holds a finished training
    /// (`arm`: over the arm classes); the model.
    pub fn train(
        &self,
        name: &str,
        config: &Path,
        arm: bool,
        inputs: RunInputs,
        weights: Option<&Path>,
        dir: &str,
    ) -> Result<Model> {
        let dataset = if arm {
            DatasetFiles {
                labelmap: Some(self.arm_labelmap.clone()),
                ..self.dataset.clone()
            }
        } else {
            self.dataset.clone()
        };
        self.train_once(name, config, dir, |dir, resume| {
            let file = ActionFile::load(config)?;
            ActionRun::new(
                file,
                dataset,
                inputs,
                weights,
                RunOptions::new(dir, resume, self.options.epochs),
            )
        })
    }

    /// Trains `job(dir, resume)` into OUT/`dir` unless it holds a finished training; the
    /// model.
    pub fn train_once<J: TrainJob>(
        &self,
        name: &str,
        config: &Path,
        dir: &str,
        job: impl FnOnce(PathBuf, bool) -> Result<J>,
    ) -> Result<Model> {
        let model = Model {
            config: config.to_path_buf(),
            weights: trained_weights(&self.options.out, dir),
        };
        let dir = self.out(dir);
        if model.weights.exists() {
            tracing::info!("{name}: using the finished training in {}", dir.display());
        } else {
            tracing::info!("{name}: training {}", config.display());
            let resume = dir.join("checkpoints").join("last").exists();
            backend::run_train(self.backend, job(dir, resume)?)?;
        }
        Ok(model)
    }

    /// An arm branch's training inputs: the synthetic keypoints.
    pub fn arm_inputs(&self) -> RunInputs {
        RunInputs {
            arms: Some(ArmKeypoints {
                train: self.keypoints("train"),
                val: self.keypoints("val"),
            }),
            ..RunInputs::default()
        }
    }

    /// Writes OUT/`name`, a system file naming `parts`.
    pub fn system(&self, name: &str, parts: Parts) -> Result<PathBuf> {
        let shared = Shared {
            labelmap: &self.labelmap,
            arm_labelmap: &self.arm_labelmap,
            pictures: self.options.pictures,
        };
        write_system(&self.out(name), parts, &shared)
    }

    /// Runs `localize` with `system` on `source` into OUT/`dir` (the annotated video too
    /// where `video`).
    pub fn localize(&self, system: &Path, source: Source, dir: &str, video: bool) -> Result<()> {
        let job = Localize {
            system: SystemFile::load(system, &[])?,
            source,
            start_s: crate::data::AVA_VIDEO_START_S,
            out: self.out(dir),
            from: None,
            video,
            backend: self.backend,
        };
        let records = job.run()?;
        tracing::info!("\n{}", time_table(&records));
        Ok(())
    }

    /// The AVA part of a split of the synthetic set.
    pub fn split(&self, split: &str) -> Source {
        Source::Data {
            root: self.options.data.clone(),
            split: split.into(),
            part: DatasetPart::Ava,
            shard: None,
        }
    }

    /// The fusion classes of `arm` with `actions`, chosen on the validation keyframes at their
    /// annotated boxes (OUT/`dir`/), written to OUT/`file`.
    pub fn fusion(
        &self,
        actions: &Model,
        bank: &Model,
        arm: &Model,
        dir: &str,
        file: &str,
    ) -> Result<PathBuf> {
        let val_csv = self.dataset.val_csv();
        let boxes = self.out("val_gt_boxes.csv");
        let people: Vec<DetectedPerson> = annotated_people(&val_csv)?
            .into_iter()
            .map(|p| DetectedPerson {
                video_id: p.key.video_id,
                time: FrameTime::Keyframe(p.key.timestamp_s),
                box_xyxy_norm: p.box_xyxy_norm,
                score: 1.0,
            })
            .collect();
        write_person_boxes(&boxes, &people)?;
        let keypoints = self.keypoints("val");
        let system = self.system(
            &format!("system_{dir}.toml"),
            Parts {
                boxes: Input::Given(&boxes),
                keypoints: Some(Input::Given(&keypoints)),
                bank: Some(bank),
                actions,
                arm: Some(arm),
                fusion: None,
            },
        )?;
        tracing::info!(
            "validation split, annotated boxes: the action model's and the arm branch's scores"
        );
        self.localize(&system, self.split("val"), dir, false)?;
        let labels = LabelMap::read(&self.labelmap)?;
        let rows = read_ava_csv(&val_csv)?;
        let excluded = self.excluded("val")?;
        let truth = Groundtruth {
            rows: &rows,
            labels: &labels,
            excluded: &excluded,
        };
        let (fusion, table) = select(
            &read_detections(&self.out(dir).join(ACTION_SCORES))?,
            &read_detections(&self.out(dir).join(ARM_SCORES))?,
            &truth,
            FusionMode::Mean,
            0.5,
            Choice::Top(15),
        );
        let path = self.out(file);
        fusion
            .write(&path, &gain_table(&table))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", gain_table(&table));
        Ok(path)
    }

    fn excluded(&self, split: &str) -> Result<HashSet<KeyframeKey>> {
        let path = self.annotation(&format!("ava_{split}_excluded_timestamps_v2.2.csv"));
        Ok(if path.exists() {
            read_exclusions(&path)?
        } else {
            Default::default()
        })
    }

    /// The frame-mAP of a detections file on the held-out test keyframes.
    pub fn evaluate(&self, detections: &Path) -> Result<FrameMapResult> {
        let labels = LabelMap::read(&self.labelmap)?;
        let truth = read_ava_csv(&self.annotation("ava_test_v2.2.csv"))?;
        Ok(evaluate(
            &labels,
            &truth,
            &read_detections(detections)?,
            &self.excluded("test")?,
            &EvalOptions::default(),
        ))
    }
}
