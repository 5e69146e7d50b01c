//! Training: the settings of a config's `[train]` table, the learning-rate schedule, the
//! epoch loop (burn-train's `TrainStep` on each batch, SGD with momentum from burn-optim,
//! checkpoints and resume, validation each epoch, metrics CSV and curves), and the glue that
//! trains each network.

mod action;
mod action_run;
mod detector;
mod detector_run;
mod fit;
mod history;
mod pose;
mod pose_run;
mod schedule;

pub use action::{ActionTraining, ActionValidation};
pub use action_run::{ActionRun, ArmKeypoints, DetectedBoxes, RunInputs};
pub use detector::{DetectionBatch, DetectionBatcher, DetectorTraining, person_ap};
pub use detector_run::DetectorRun;
pub use fit::{Checkpointing, RunFolder, RunOptions, StepLosses, fit, fit_run};
pub use history::{EpochRecord, History};
pub use pose::{PoseBatch, PoseBatcher, PoseSample, PoseTraining, keypoint_ap, pose_samples};
pub use pose_run::{PoseData, PoseRun};
pub use schedule::WarmupMultiStep;
