//! Training: the settings of a config's `[train]` table, the learning-rate schedule, the
//! epoch loop (burn-train's `TrainStep` on each batch, SGD with momentum from burn-optim,
//! checkpoints and resume, validation each epoch, metrics CSV and curves), and the glue that
//! trains each network.

mod action;
mod detector;
mod fit;
mod history;
mod schedule;
mod settings;

pub use action::{
    ActionTraining, ActionValidation, action_people, keyframe_samples, unlabelled_people,
};
pub use detector::{
    DetectionBatch, DetectionBatcher, DetectorTraining, detector_samples, person_ap,
};
pub use fit::{Checkpointing, StepLosses, fit};
pub use history::{EpochRecord, History};
pub use schedule::WarmupMultiStep;
pub use settings::{ActionSampling, DetectorSampling, OptimizerKind, TrainSettings};
