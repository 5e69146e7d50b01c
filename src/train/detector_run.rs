//! A detector training run (`avaloc train detector`): the detector file's `[train]` table on an
//! AVA-format dataset's person boxes, person AP@0.5 on the validation keyframes each epoch.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::data::dataset::Dataset;
use burn::tensor::backend::AutodiffBackend;

use super::{DetectionBatcher, DetectorTraining, RunOptions, fit_run, person_ap};
use crate::backend::TrainJob;
use crate::config::DetectorFile;
use crate::data::{DatasetFiles, detector_samples};
use crate::models::detector::Convention;
use crate::weights::{Checkpoint, LoadMode, save_safetensors};

/// Everything a detector training needs, checked before any backend starts.
pub struct DetectorRun {
    config: DetectorFile,
    dataset: DatasetFiles,
    weights: Option<Checkpoint>,
    run: RunOptions,
}

impl DetectorRun {
    /// A run of `config` on `dataset` as `run` says, from `weights` where given.
    pub fn new(
        config: DetectorFile,
        dataset: DatasetFiles,
        weights: Option<&Path>,
        run: RunOptions,
    ) -> Result<Self> {
        config.train_settings()?;
        // The losses encode boxes without Detectron's "+1" widths; fine-tuning under them
        // would train one arithmetic and test another.
        if config.network.convention == Convention::Detectron1 {
            bail!(
                "{}: convention = \"detectron1\" is for running Detectron's released weights; \
                 training uses torchvision's box arithmetic (use convention \"torchvision\" \
                 or \"detectron2\")",
                config.path.display()
            );
        }
        let weights = weights.map(Checkpoint::open).transpose()?;
        Ok(Self {
            config,
            dataset,
            weights,
            run,
        })
    }
}

impl TrainJob for DetectorRun {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let settings = self.run.settings(self.config.train_settings()?);
        let (train_csv, val_csv) = (self.dataset.train_csv(), self.dataset.val_csv());
        let root = &self.dataset.root;
        let train_set = detector_samples(root, &train_csv)
            .with_context(|| format!("samples of {}", train_csv.display()))?;
        let val_set = detector_samples(root, &val_csv)
            .with_context(|| format!("samples of {}", val_csv.display()))?;
        tracing::info!(
            "training on {} keyframes of {}, validating on {} of {}",
            train_set.len(),
            train_csv.display(),
            val_set.len(),
            val_csv.display()
        );
        let spec = &self.config.network;
        // Seeded initial weights: two runs of one config train alike.
        B::seed(&device, settings.seed);
        let model = match &self.weights {
            Some(checkpoint) => spec.load::<B>(checkpoint, LoadMode::Strict, &device)?.0,
            None => spec.model_config().init::<B>(&device),
        };
        let trainee = DetectorTraining {
            model,
            training: settings.detector.training_config(),
        };
        // The inner backend shares the autodiff backend's device type.
        let inner_device = device.clone();
        let batch_size = settings.batch_size;
        let validate = |model: &DetectorTraining<B::InnerBackend>, _epoch: usize| {
            let ap = person_ap(&model.model, val_set.samples(), batch_size, &inner_device)?;
            Ok(vec![("person_ap50".to_string(), ap)])
        };
        let export = |m: &DetectorTraining<B>, path: &Path| -> Result<()> {
            save_safetensors(&m.model, path).with_context(|| format!("writing {}", path.display()))
        };
        let devices = self.run.devices::<B>(&device);
        let run = self.run.folder("person AP@0.5");
        let batcher = DetectionBatcher::new(true, settings.seed);
        fit_run(
            trainee, &settings, batcher, train_set, validate, &export, run, &devices,
        )
    }
}
