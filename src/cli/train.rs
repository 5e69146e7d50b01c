//! `avaloc train`: train a network from its configuration's `[network]` and `[train]` tables.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::train::TrainStep;
use clap::{Args, Subcommand};

use super::dataset::DatasetArgs;
use crate::backend::{self, BackendChoice, TrainJob};
use crate::config::{NetworkConfig, NetworkFile};
use crate::data::{
    ClipBatcher, LabelMap, Normalization, PersonBox, read_ava_csv, read_exclusions,
    read_person_boxes,
};
use crate::infer::TestViews;
use crate::models::detector::Convention;
use crate::train::{
    ActionTraining, ActionValidation, Checkpointing, DetectionBatcher, DetectorTraining,
    StepLosses, TrainSettings, action_people, detector_samples, fit, keyframe_samples, person_ap,
    unlabelled_people,
};
use crate::weights::{Checkpoint, LoadMode, save_safetensors};

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// The person detector (kind = "faster_rcnn") on an AVA-format dataset's person boxes.
    Detector(DetectorArgs),
    /// The action model (kind = "slowfast") on an AVA-format dataset's annotations.
    Action(ActionArgs),
}

#[derive(Debug, Args)]
pub struct DetectorArgs {
    /// Configuration with [network] (kind = "faster_rcnn") and [train] tables.
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub dataset: DatasetArgs,
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

#[derive(Debug, Args)]
pub struct ActionArgs {
    /// Configuration with [network] (kind = "slowfast"), [train] and [test] tables.
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Detected person boxes of the training videos (PySlowFast's CSV): those with IoU ≥
    /// train.action.detected_iou to a ground-truth box join the training boxes with its labels.
    #[arg(long)]
    pub train_boxes: Option<PathBuf>,
    /// Validate on these detected boxes instead of the ground-truth boxes.
    #[arg(long)]
    pub val_boxes: Option<PathBuf>,
    /// Minimum score of detected boxes (PySlowFast's DETECTION_SCORE_THRESH on AVA).
    #[arg(long, default_value_t = 0.8)]
    pub box_threshold: f64,
    /// Run folder: checkpoints/, metrics.csv, curves.png, model_final.safetensors.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Initialise from these weights (e.g. Kinetics pre-training, PySlowFast names); tensors
    /// that do not fit (the classifier) keep their initialisation and are listed.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Override the config's train.epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
}

pub fn run(command: TrainCommand, backend_choice: BackendChoice) -> Result<()> {
    match command {
        TrainCommand::Action(args) => {
            let job = ActionJob::new(args)?;
            backend::run_train(backend_choice, job)
        }
        TrainCommand::Detector(args) => {
            let file = NetworkFile::load(&args.config)?;
            let Some(detector) = file.network.faster_rcnn() else {
                bail!(
                    "{}: not a detector configuration (kind = \"faster_rcnn\")",
                    args.config.display()
                );
            };
            // The losses encode boxes without Detectron's "+1" widths; fine-tuning under them
            // would train one arithmetic and test another.
            if detector.convention == Convention::Detectron1 {
                bail!(
                    "{}: convention = \"detectron1\" is for running Detectron's released weights; \
                     training uses torchvision's box arithmetic (use convention \"torchvision\" \
                     or \"detectron2\")",
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
        let (train_csv, val_csv) = (args.dataset.train_csv(), args.dataset.val_csv());
        let train_set = detector_samples(&args.dataset.data, &train_csv)?;
        let val_set = detector_samples(&args.dataset.data, &val_csv)?;
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
        let export = |m: &DetectorTraining<B>, path: &Path| -> Result<()> {
            save_safetensors(&m.model, path).with_context(|| format!("writing {}", path.display()))
        };
        let run = Run {
            out: &args.out,
            resume: args.resume,
            metric: "person AP@0.5",
        };
        let batcher = DetectionBatcher::new(true, settings.seed);
        fit_and_report(
            trainee, &settings, batcher, train_set, validate, &export, run, &device,
        )
    }
}

/// An action-model training run, checked and resolved before any backend starts.
pub struct ActionJob {
    network: NetworkConfig,
    settings: TrainSettings,
    views: TestViews,
    labels: LabelMap,
    weights: Option<Checkpoint>,
    args: ActionArgs,
}

impl ActionJob {
    pub fn new(args: ActionArgs) -> Result<Self> {
        let file = NetworkFile::load(&args.config)?;
        let Some(model) = file.network.action_model() else {
            bail!(
                "{}: not an action model configuration (kind = \"slowfast\")",
                args.config.display()
            );
        };
        let Some(mut settings) = file.train else {
            bail!("{}: no [train] table", args.config.display());
        };
        if let Some(epochs) = args.epochs {
            settings.epochs = epochs;
        }
        let labelmap = args.dataset.labelmap();
        let labels = LabelMap::read(&labelmap)?;
        if labels.labels.len() != model.num_classes {
            bail!(
                "{}: network.num_classes = {} but the label map {} has {} classes",
                args.config.display(),
                model.num_classes,
                labelmap.display(),
                labels.labels.len()
            );
        }
        let weights = args.weights.as_deref().map(Checkpoint::open).transpose()?;
        Ok(Self {
            network: file.network,
            settings,
            views: file.test,
            labels,
            weights,
            args,
        })
    }
}

impl TrainJob for ActionJob {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let Self {
            network,
            settings,
            views,
            labels,
            weights,
            args,
        } = self;
        let clip = network.clip_spec().expect("checked: slowfast");
        let root = &args.dataset.data;
        let detected = |path: &Option<PathBuf>| -> Result<Option<Vec<PersonBox>>> {
            Ok(path
                .as_deref()
                .map(|p| read_person_boxes(p, args.box_threshold))
                .transpose()?)
        };
        let train_detected = detected(&args.train_boxes)?;
        let train_csv = args.dataset.train_csv();
        let train_people = action_people(
            &train_csv,
            &labels,
            train_detected
                .as_deref()
                .map(|b| (b, settings.action.detected_iou)),
        )?;
        let train_set = keyframe_samples(&train_people, root, clip)?;
        let val_csv = args.dataset.val_csv();
        let val_people = match detected(&args.val_boxes)? {
            Some(boxes) => unlabelled_people(&boxes),
            None => action_people(&val_csv, &labels, None)?,
        };
        let excluded = match args.dataset.exclusions() {
            Some(path) => read_exclusions(&path)?,
            None => Default::default(),
        };
        let validation = ActionValidation {
            samples: keyframe_samples(&val_people, root, clip)?,
            groundtruth: read_ava_csv(&val_csv)?,
            labels: labels.clone(),
            excluded,
            views,
        };
        println!(
            "training on {} keyframes ({} boxes) of {}, validating on {} keyframes of {} with \
             {} boxes; {} classes",
            train_set.len(),
            train_people.len(),
            train_csv.display(),
            validation.samples.len(),
            val_csv.display(),
            if args.val_boxes.is_some() {
                "detected"
            } else {
                "ground-truth"
            },
            labels.labels.len()
        );
        let model = match &weights {
            Some(checkpoint) => {
                let (model, report) =
                    network.action_with_weights::<B>(checkpoint, LoadMode::Lenient, &device)?;
                println!("initial weights: {report}");
                model
            }
            None => network.action_model().expect("checked").init::<B>(&device),
        };
        let batcher = ClipBatcher::new(
            settings.action.transform(),
            Normalization::default(),
            &labels,
            settings.seed,
        );
        let inner_device = device.clone();
        let validate = |model: &ActionTraining<B::InnerBackend>, _epoch: usize| {
            let result = validation.frame_map(&model.model, &inner_device, |_| {});
            Ok(vec![("frame_map".to_string(), result.map)])
        };
        let export = |m: &ActionTraining<B>, path: &Path| -> Result<()> {
            save_safetensors(&m.model, path).with_context(|| format!("writing {}", path.display()))
        };
        let run = Run {
            out: &args.out,
            resume: args.resume,
            metric: "val frame-mAP",
        };
        let trainee = ActionTraining { model };
        fit_and_report(
            trainee, &settings, batcher, train_set, validate, &export, run, &device,
        )
    }
}

/// Where a run goes and how its validation metric reads in the last line.
struct Run<'a> {
    out: &'a Path,
    resume: bool,
    metric: &'a str,
}

/// Trains `trainee` with [`fit`] on `train_set` batched by `batcher` (shuffled, on the
/// configured workers), then prints the last epoch's validation metric and the weights file.
#[allow(clippy::too_many_arguments)]
fn fit_and_report<B, M, I, D, Bt, V>(
    trainee: M,
    settings: &TrainSettings,
    batcher: Bt,
    train_set: D,
    validate: V,
    export: &dyn Fn(&M, &Path) -> Result<()>,
    run: Run<'_>,
    device: &B::Device,
) -> Result<()>
where
    B: AutodiffBackend,
    M: TrainStep<Output = StepLosses> + AutodiffModule<B> + 'static,
    M::Input: Send + Clone + std::fmt::Debug + 'static,
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    D: Dataset<I> + 'static,
    Bt: Batcher<B, I, M::Input> + 'static,
    V: FnMut(&M::InnerModule, usize) -> Result<Vec<(String, f64)>>,
{
    let loader = DataLoaderBuilder::new(batcher)
        .batch_size(settings.batch_size)
        .shuffle(settings.seed)
        .num_workers(settings.workers)
        .set_device(device.clone())
        .build(train_set);
    let checkpointing = Checkpointing {
        out: run.out,
        resume: run.resume,
        export,
    };
    let (_, history) = fit(trainee, settings, loader, validate, checkpointing)?;
    if let Some(last) = history.records.last() {
        println!(
            "{}: {} {:.4} after {} epochs; weights in {}",
            run.out.display(),
            run.metric,
            last.valid.first().map_or(f64::NAN, |v| v.1),
            last.epoch,
            run.out.join("model_final.safetensors").display()
        );
    }
    Ok(())
}
