//! `avaloc train`: train a network from its configuration's `[network]` and `[train]` tables.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::tensor::backend::AutodiffBackend;
use clap::{Args, Subcommand};

use crate::backend::{self, BackendChoice, TrainJob};
use crate::config::{NetworkConfig, NetworkFile};
use crate::train::{
    Checkpointing, DetectionBatcher, DetectorTraining, TrainSettings, detector_samples, fit,
    person_ap,
};
use crate::weights::{Checkpoint, LoadMode, save_safetensors};

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// The person detector (kind = "faster_rcnn") on an AVA-format dataset's person boxes.
    Detector(DetectorArgs),
}

#[derive(Debug, Args)]
pub struct DetectorArgs {
    /// Configuration with [network] (kind = "faster_rcnn") and [train] tables.
    #[arg(long)]
    pub config: PathBuf,
    /// Dataset root in the AVA layout (frames/<video>/<video>_%06d.jpg, annotations/).
    #[arg(long, default_value = "data/synth")]
    pub data: PathBuf,
    /// Training annotations (default: <data>/annotations/ava_train_v2.2.csv).
    #[arg(long)]
    pub train_csv: Option<PathBuf>,
    /// Validation annotations (default: <data>/annotations/ava_val_v2.2.csv).
    #[arg(long)]
    pub val_csv: Option<PathBuf>,
    /// Run folder: checkpoints/, metrics.csv, curves.png, model_final.safetensors.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Start from these weights instead of random ones (e.g. a COCO detector).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Override the config's train.epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
}

pub fn run(command: TrainCommand, backend_choice: BackendChoice) -> Result<()> {
    match command {
        TrainCommand::Detector(args) => {
            let file = NetworkFile::load(&args.config)?;
            if file.network.faster_rcnn().is_none() {
                bail!(
                    "{}: not a detector configuration (kind = \"faster_rcnn\")",
                    args.config.display()
                );
            }
            let Some(mut settings) = file.train else {
                bail!("{}: no [train] table", args.config.display());
            };
            if let Some(epochs) = args.epochs {
                settings.epochs = epochs;
            }
            let weights = args.weights.as_deref().map(Checkpoint::open).transpose()?;
            let job = DetectorJob {
                network: file.network,
                settings,
                weights,
                args,
            };
            backend::run_train(backend_choice, job)
        }
    }
}

struct DetectorJob {
    network: NetworkConfig,
    settings: TrainSettings,
    weights: Option<Checkpoint>,
    args: DetectorArgs,
}

impl TrainJob for DetectorJob {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let Self {
            network,
            settings,
            weights,
            args,
        } = self;
        let annotations = args.data.join("annotations");
        let train_csv = args
            .train_csv
            .unwrap_or_else(|| annotations.join("ava_train_v2.2.csv"));
        let val_csv = args
            .val_csv
            .unwrap_or_else(|| annotations.join("ava_val_v2.2.csv"));
        let train_set = detector_samples(&args.data, &train_csv)?;
        let val_set = detector_samples(&args.data, &val_csv)?;
        println!(
            "training on {} keyframes of {}, validating on {} of {}",
            train_set.len(),
            train_csv.display(),
            val_set.len(),
            val_csv.display()
        );
        let config = network.faster_rcnn().expect("checked");
        let model = match &weights {
            Some(checkpoint) => {
                network
                    .detector_with_weights::<B>(checkpoint, LoadMode::Strict, &device)?
                    .0
            }
            None => config.init::<B>(&device),
        };
        let trainee = DetectorTraining {
            model,
            config: config.clone(),
            training: settings.detector.training_config(),
        };
        let loader = DataLoaderBuilder::new(DetectionBatcher::new(true, settings.seed))
            .batch_size(settings.batch_size)
            .shuffle(settings.seed)
            .num_workers(settings.workers)
            .set_device(device.clone())
            .build(train_set);
        // The inner backend shares the autodiff backend's device type.
        let inner_device = device.clone();
        let validate = |model: &DetectorTraining<B::InnerBackend>, _epoch: usize| {
            let ap = person_ap(
                &model.model,
                &model.config,
                val_set.samples(),
                settings.batch_size,
                &inner_device,
            )?;
            Ok(vec![("person_ap50".to_string(), ap)])
        };
        let export = |m: &DetectorTraining<B>, path: &std::path::Path| -> Result<()> {
            save_safetensors(&m.model, path).with_context(|| format!("writing {}", path.display()))
        };
        let (_, history) = fit(
            trainee,
            &settings,
            Arc::clone(&loader),
            validate,
            Checkpointing {
                out: &args.out,
                resume: args.resume,
                export: &export,
            },
        )?;
        if let Some(last) = history.records.last() {
            println!(
                "{}: person AP@0.5 {:.4} after {} epochs; weights in {}",
                args.out.display(),
                last.valid.first().map_or(f64::NAN, |v| v.1),
                last.epoch,
                args.out.join("model_final.safetensors").display()
            );
        }
        Ok(())
    }
}
