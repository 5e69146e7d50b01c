//! Training: the learning-rate schedule, the epoch loop ([`fit`]) and the units it calls —
//! each epoch's steps (burn-train's `TrainStep` on each batch, SGD or AdamW from
//! burn-optim), then the hooks: validation, checkpoints with resume, the metrics CSV and
//! curves — and the glue that trains each network (`*_run`).

mod action;
mod action_run;
mod checkpoint;
mod detector;
mod detector_run;
mod fit;
mod history;
mod hooks;
mod pose;
mod pose_run;
mod schedule;
mod step;
#[cfg(test)]
mod toy;
mod validation;

pub use action::{ActionTraining, ActionValidation};
pub use action_run::{ActionRun, ArmKeypoints, DetectedBoxes, RunInputs};
pub use checkpoint::Checkpointing;
pub use detector::{DetectionBatch, DetectionBatcher, DetectorTraining, person_ap};
pub use detector_run::DetectorRun;
pub use fit::{RunFolder, RunOptions, StepLosses, fit, fit_run};
pub use history::{EpochRecord, History};
pub use hooks::{EpochEnd, Hook};
pub use pose::{PoseBatch, PoseBatcher, PoseSample, PoseTraining, keypoint_ap, pose_samples};
pub use pose_run::{PoseData, PoseRun};
pub use schedule::WarmupMultiStep;
