//! An action-model training run (`avaloc train action`): the action file's `[train]` table on
//! an AVA-format dataset's annotations (optionally joined by detected boxes), the validation
//! frame-mAP (official protocol, the file's `[test]` views) each epoch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use burn::data::dataset::Dataset;
use burn::tensor::backend::AutodiffBackend;

use super::{ActionTraining, ActionValidation, RunOptions, fit_run};
use crate::backend::TrainJob;
use crate::config::ActionFile;
use crate::data::bank::Bank;
use crate::data::{
    AvaKeyframes, ClipBatcher, DatasetFiles, LabelMap, Normalization, PersonBox, action_people,
    keyframe_samples, read_ava_csv, read_exclusions, read_person_boxes, unlabelled_people,
};
use crate::infer::{ArmAnnotations, bank_windows};
use crate::weights::{Checkpoint, LoadMode, save_safetensors};

/// Detected person boxes for a run: of the training videos (those with IoU ≥
/// `train.action.detected_iou` to a ground-truth box join it with its labels) and of the
/// validation videos (validated on instead of the ground-truth boxes), above `threshold`.
#[derive(Debug, Clone)]
pub struct DetectedBoxes {
    pub train: Option<PathBuf>,
    pub val: Option<PathBuf>,
    pub threshold: f64,
}

/// The data a run reads besides its dataset: detected boxes, the feature bank (one folder
/// may hold both splits' videos) of a model with one, and the keypoints that make it an arm
/// branch.
#[derive(Debug, Clone, Default)]
pub struct RunInputs {
    pub boxes: DetectedBoxes,
    pub bank: Option<PathBuf>,
    pub arms: Option<ArmKeypoints>,
}

/// Keypoint CSVs of the training and validation keyframes: the model then trains as an arm
/// branch, on the arm boxes of each annotated person and their arm actions (the label map's
/// classes, e.g. configs/arm/ava_arm_actions.pbtxt), validated at the arm boxes.
#[derive(Debug, Clone)]
pub struct ArmKeypoints {
    pub train: PathBuf,
    pub val: PathBuf,
}

impl Default for DetectedBoxes {
    /// None, at PySlowFast's AVA threshold.
    fn default() -> Self {
        Self {
            train: None,
            val: None,
            threshold: 0.8,
        }
    }
}

/// Everything an action-model training needs, checked before any backend starts.
pub struct ActionRun {
    config: ActionFile,
    dataset: DatasetFiles,
    labels: LabelMap,
    boxes: DetectedBoxes,
    bank: Option<Arc<Bank>>,
    arms: Option<ArmKeypoints>,
    weights: Option<Checkpoint>,
    run: RunOptions,
}

impl ActionRun {
    /// A run of `config` on `dataset` as `run` says; `weights` initialise the model (tensors
    /// that do not fit keep their initialisation and are listed).
    pub fn new(
        config: ActionFile,
        dataset: DatasetFiles,
        inputs: RunInputs,
        weights: Option<&Path>,
        run: RunOptions,
    ) -> Result<Self> {
        config.train_settings()?;
        let labelmap = dataset.labelmap();
        let labels = LabelMap::read(&labelmap)?;
        config.check_labels(&labels, Some(&labelmap))?;
        if inputs.arms.is_some() && (inputs.boxes.train.is_some() || inputs.boxes.val.is_some()) {
            anyhow::bail!(
                "an arm branch trains and validates at the arm boxes of the annotated people: \
                 give no detected boxes (--train-boxes, --val-boxes)"
            );
        }
        if config.train_settings()?.action.freeze_backbone && weights.is_none() {
            return Err(config
                .invalid(
                    "train.action.freeze_backbone trains the heads on a fixed backbone: give \
                     the action model's weights to share (--weights)"
                        .into(),
                )
                .into());
        }
        let weights = weights.map(Checkpoint::open).transpose()?;
        let bank = inputs
            .bank
            .as_deref()
            .map(Bank::open)
            .transpose()?
            .map(Arc::new);
        Ok(Self {
            config,
            dataset,
            labels,
            boxes: inputs.boxes,
            bank,
            arms: inputs.arms,
            weights,
            run,
        })
    }
}

impl TrainJob for ActionRun {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let Self {
            config,
            dataset,
            labels,
            boxes,
            bank,
            arms,
            weights,
            run,
        } = self;
        let settings = run.settings(config.train_settings()?);
        let spec = &config.network;
        let clip = spec.clip_spec();
        let root = &dataset.root;
        let detected = |path: &Option<PathBuf>| -> Result<Option<Vec<PersonBox>>> {
            Ok(path
                .as_deref()
                .map(|p| read_person_boxes(p, boxes.threshold))
                .transpose()?)
        };
        let train_detected = detected(&boxes.train)?;
        let train_csv = dataset.train_csv();
        let val_csv = dataset.val_csv();
        // An arm branch: both splits' people at their arm boxes.
        let arm_sets = match &arms {
            Some(keypoints) => {
                let read = |csv: &Path, kp: &Path| -> Result<ArmAnnotations> {
                    let set = ArmAnnotations::read(csv, kp, &labels, root, &config.arm)?;
                    tracing::info!(
                        "{}: {} arm boxes; people without matching keypoints {}, without an \
                         arm box {}",
                        csv.display(),
                        set.people.len(),
                        set.stats.without_keypoints,
                        set.stats.without_arm_box
                    );
                    Ok(set)
                };
                Some((
                    read(&train_csv, &keypoints.train)?,
                    read(&val_csv, &keypoints.val)?,
                ))
            }
            None => None,
        };
        let (train_people, arm_val) = match arm_sets {
            Some((train, val)) => (train.people, Some(val)),
            None => (
                action_people(
                    &train_csv,
                    &labels,
                    train_detected
                        .as_deref()
                        .map(|b| (b, settings.action.detected_iou)),
                )?,
                None,
            ),
        };
        let samples_under = || format!("keyframes under {}", root.display());
        // An arm branch with arm-centred clips: one clip per arm box.
        let zoom = arms.as_ref().and(config.arm.zoom);
        let zoomed = |set: AvaKeyframes| match zoom {
            Some(zoom) => set.zoomed(zoom),
            None => set,
        };
        let train_set =
            zoomed(keyframe_samples(&train_people, root, clip).with_context(samples_under)?);
        let val_people = match (&arm_val, detected(&boxes.val)?) {
            (Some(arm), _) => arm.people.clone(),
            (None, Some(boxes)) => unlabelled_people(&boxes),
            (None, None) => action_people(&val_csv, &labels, None)?,
        };
        let excluded = match dataset.exclusions() {
            Some(path) => read_exclusions(&path)?,
            None => Default::default(),
        };
        let val_samples =
            zoomed(keyframe_samples(&val_people, root, clip).with_context(samples_under)?);
        let train_bank = bank_windows(&config, bank.clone(), train_set.samples(), true)?;
        let val_bank = bank_windows(&config, bank, val_samples.samples(), false)?;
        let validation = ActionValidation {
            samples: val_samples,
            groundtruth: match arm_val {
                Some(arm) => arm.groundtruth,
                None => read_ava_csv(&val_csv)?,
            },
            labels: labels.clone(),
            excluded,
            views: config.test.clone(),
            bank: val_bank,
        };
        tracing::info!(
            "training on {} keyframes ({} boxes) of {}, validating on {} keyframes of {} with \
             {} boxes; {} classes",
            train_set.len(),
            train_people.len(),
            train_csv.display(),
            validation.samples.len(),
            val_csv.display(),
            if boxes.val.is_some() {
                "detected"
            } else {
                "ground-truth"
            },
            labels.labels.len()
        );
        // Seeded initial weights: two runs of one config train alike.
        B::seed(&device, settings.seed);
        let model = match &weights {
            Some(checkpoint) => {
                let (model, report) = spec.load::<B>(checkpoint, LoadMode::Lenient, &device)?;
                // A partial load is logged, with its report, by the loader.
                if report.is_exact() {
                    tracing::info!("initial weights: {report}");
                }
                model
            }
            None => spec.model_config().init::<B>(&device),
        };
        let batcher = ClipBatcher::new(
            settings.action.transform(),
            Normalization::default(),
            &labels,
            settings.seed,
        );
        let batcher = match train_bank {
            Some(windows) => batcher.with_bank(windows),
            None => batcher,
        };
        let inner_device = device.clone();
        let validate = |model: &ActionTraining<B::InnerBackend>, _epoch: usize| {
            let result = validation.frame_map(&model.model, &inner_device, |_| {});
            Ok(vec![("frame_map".to_string(), result.map)])
        };
        let export = |m: &ActionTraining<B>, path: &Path| -> Result<()> {
            save_safetensors(&m.model, path).with_context(|| format!("writing {}", path.display()))
        };
        let devices = run.devices::<B>(&device);
        let folder = run.folder("val frame-mAP");
        let trainee = ActionTraining {
            model,
            frozen_backbone: settings.action.freeze_backbone,
        };
        fit_run(
            trainee, &settings, batcher, train_set, validate, &export, folder, &devices,
        )
    }
}
