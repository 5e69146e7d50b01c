//! A pose training run (`avaloc train pose`): the pose file's `[train]` table on COCO keypoint
//! ground truth, keypoint AP on the validation people each epoch.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::backend::AutodiffBackend;

use super::{PoseBatcher, PoseTraining, RunOptions, fit_run, keypoint_ap, pose_samples};
use crate::backend::TrainJob;
use crate::config::PoseFile;
use crate::data::CocoKeypoints;
use crate::weights::{Checkpoint, LoadMode, save_safetensors};

/// Everything a pose training needs, read and checked before any backend starts.
pub struct PoseRun {
    config: PoseFile,
    root: PathBuf,
    train: CocoKeypoints,
    val: CocoKeypoints,
    weights: Option<Checkpoint>,
    run: RunOptions,
}

/// The training and validation ground truth of a run.
pub struct PoseData {
    /// Image `file_name`s are relative to it.
    pub root: PathBuf,
    pub train: PathBuf,
    pub val: PathBuf,
}

impl PoseData {
    /// `ROOT/annotations/person_keypoints_{train,val}.json` (as `avaloc synth` writes them)
    /// unless given.
    pub fn new(root: PathBuf, train: Option<PathBuf>, val: Option<PathBuf>) -> Self {
        let default = |split: &str| {
            root.join("annotations")
                .join(format!("person_keypoints_{split}.json"))
        };
        Self {
            train: train.unwrap_or_else(|| default("train")),
            val: val.unwrap_or_else(|| default("val")),
            root,
        }
    }
}

impl PoseRun {
    pub fn new(
        config: PoseFile,
        data: PoseData,
        weights: Option<&Path>,
        run: RunOptions,
    ) -> Result<Self> {
        config.train_settings()?;
        let train = CocoKeypoints::read(&data.train)?;
        let val = CocoKeypoints::read(&data.val)?;
        Ok(Self {
            config,
            root: data.root,
            train,
            val,
            weights: weights.map(Checkpoint::open).transpose()?,
            run,
        })
    }
}

impl TrainJob for PoseRun {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let settings = self.run.settings(self.config.train_settings()?);
        let spec = self.config.network.clone();
        let train_set = pose_samples(&self.train, &self.root);
        tracing::info!(
            "training on {} persons, validating on {} persons of {} images",
            train_set.len(),
            self.val.annotations.len(),
            self.val.images.len()
        );
        B::seed(&device, settings.seed);
        let model = match &self.weights {
            Some(checkpoint) => spec.load::<B>(checkpoint, LoadMode::Strict, &device)?.0,
            None => spec.model_config().init::<B>(&device),
        };
        let trainee = PoseTraining {
            model,
            kernels: settings.pose.kernels,
            convention: spec.convention,
        };
        let batcher = PoseBatcher {
            input_hw: spec.model_config().input_hw,
            mean: spec.pixel_mean(),
            sampling: settings.pose.clone(),
            seed: settings.seed,
        };
        let inner_device = device.clone();
        let (val, root) = (&self.val, &self.root);
        let validate = |model: &PoseTraining<B::InnerBackend>, _epoch: usize| {
            let stats = keypoint_ap(&model.model, &spec, val, root, &inner_device)?;
            Ok(vec![
                ("keypoint_ap".to_string(), stats.0[0]),
                ("keypoint_ap50".to_string(), stats.0[1]),
            ])
        };
        let export = |m: &PoseTraining<B>, path: &Path| -> Result<()> {
            save_safetensors(&m.model, path).with_context(|| format!("writing {}", path.display()))
        };
        let devices = self.run.devices::<B>(&device);
        let run = self.run.folder("keypoint AP");
        let train_set = burn::data::dataset::InMemDataset::new(train_set);
        fit_run(
            trainee, &settings, batcher, train_set, validate, &export, run, &devices,
        )
    }
}
