//! `avaloc train`: train a network from its configuration's `[network]` and `[train]` tables.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use super::dataset::DatasetArgs;
use crate::backend::{self, BackendChoice, BackendKind};
use crate::config::{ActionFile, DetectorFile, PoseFile};
use crate::train::{
    ActionRun, ArmKeypoints, DetectedBoxes, DetectorRun, PoseData, PoseRun, RunInputs, RunOptions,
};

/// Where a training run goes and how long it lasts, for every trainer.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run folder: checkpoints/, metrics.csv, curves.png, model_final.safetensors.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Override the config's train.epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Data-parallel training on these GPUs (e.g. 0,1,2,3; cuda or wgpu): each takes
    /// train.batch_size / N of every batch in its own thread, and the update is the mean of
    /// their gradients, so train.lr and train.batch_size mean what they mean on one device.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub devices: Vec<usize>,
}

impl RunArgs {
    /// The run's options, and the backend choice on its first device.
    fn options(self, backend: BackendChoice) -> Result<(RunOptions, BackendChoice)> {
        let mut choice = backend;
        if let Some(&first) = self.devices.first() {
            if matches!(backend.kind, BackendKind::Flex | BackendKind::Ndarray) {
                bail!(
                    "--devices: the {} backend has one device, the CPU (its threads already \
                     share each step); data-parallel training is for --backend cuda or wgpu",
                    backend.kind.feature()
                );
            }
            if backend.device.is_some_and(|d| d != first) {
                bail!("--device and --devices disagree: give --devices alone");
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(twice) = self.devices.iter().find(|d| !seen.insert(**d)) {
                bail!("--devices names device {twice} twice");
            }
            choice.device = Some(first);
        }
        let mut options = RunOptions::new(self.out, self.resume, self.epochs);
        options.devices = self.devices;
        Ok((options, choice))
    }
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// The person detector (kind = "faster_rcnn") on an AVA-format dataset's person boxes.
    Detector(DetectorArgs),
    /// The action model (kind = "slowfast") on an AVA-format dataset's annotations.
    Action(ActionArgs),
    /// The pose network (kind = "cpn") on COCO keypoint ground truth.
    Pose(PoseArgs),
}

#[derive(Debug, Args)]
pub struct PoseArgs {
    /// Configuration with [network] (kind = "cpn") and [train] tables.
    #[arg(long)]
    pub config: PathBuf,
    /// Dataset root: images are its COCO files' `file_name`s under it.
    #[arg(long, default_value = "data/synth")]
    pub data: PathBuf,
    /// Training keypoints, COCO JSON (default: DATA/annotations/person_keypoints_train.json,
    /// as `avaloc synth` writes it).
    #[arg(long)]
    pub train_json: Option<PathBuf>,
    /// Validation keypoints (default: DATA/annotations/person_keypoints_val.json).
    #[arg(long)]
    pub val_json: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Start from these weights instead of random ones.
    #[arg(long)]
    pub weights: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DetectorArgs {
    /// Configuration with [network] (kind = "faster_rcnn") and [train] tables.
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Start from these weights instead of random ones (e.g. a COCO detector).
    #[arg(long)]
    pub weights: Option<PathBuf>,
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
    #[command(flatten)]
    pub run: RunArgs,
    /// Initialise from these weights (e.g. Kinetics pre-training, PySlowFast names); tensors
    /// that do not fit (the classifier) keep their initialisation and are listed.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// The long-term feature bank of a model with one ([network.bank]): built by the
    /// baseline model on the training and validation videos (`avaloc bank build`).
    #[arg(long)]
    pub bank: Option<PathBuf>,
    /// Train an arm branch: keypoints of the training keyframes (keypoint CSV, e.g.
    /// DATA/annotations/synth_keypoints_train.csv or `avaloc poses` output); the model learns
    /// the label map's classes (configs/arm/ava_arm_actions.pbtxt) at each person's arm boxes.
    #[arg(long, requires = "val_keypoints")]
    pub train_keypoints: Option<PathBuf>,
    /// With --train-keypoints: keypoints of the validation keyframes.
    #[arg(long, requires = "train_keypoints")]
    pub val_keypoints: Option<PathBuf>,
}

pub fn run(command: TrainCommand, backend_choice: BackendChoice) -> Result<()> {
    match command {
        TrainCommand::Action(args) => {
            let inputs = RunInputs {
                boxes: DetectedBoxes {
                    train: args.train_boxes,
                    val: args.val_boxes,
                    threshold: args.box_threshold,
                },
                bank: args.bank,
                arms: args
                    .train_keypoints
                    .zip(args.val_keypoints)
                    .map(|(train, val)| ArmKeypoints { train, val }),
            };
            let (options, choice) = args.run.options(backend_choice)?;
            let run = ActionRun::new(
                ActionFile::load(&args.config)?,
                args.dataset.files(),
                inputs,
                args.weights.as_deref(),
                options,
            )?;
            backend::run_train(choice, run)
        }
        TrainCommand::Pose(args) => {
            let (options, choice) = args.run.options(backend_choice)?;
            let run = PoseRun::new(
                PoseFile::load(&args.config)?,
                PoseData::new(args.data, args.train_json, args.val_json),
                args.weights.as_deref(),
                options,
            )?;
            backend::run_train(choice, run)
        }
        TrainCommand::Detector(args) => {
            let (options, choice) = args.run.options(backend_choice)?;
            let run = DetectorRun::new(
                DetectorFile::load(&args.config)?,
                args.dataset.files(),
                args.weights.as_deref(),
                options,
            )?;
            backend::run_train(choice, run)
        }
    }
}
