//! avaloc: spatio-temporal action localization for AVA and AVA-Kinetics on Burn.
//!
//! The system is a chain of stages; each is a library call, and the `avaloc` commands are thin
//! wrappers that parse arguments, load a typed config and call one of them.
//!
//! ```text
//! stage               what it does                                  where
//! ─────────────────── ───────────────────────────────────────────── ──────────────────────────────
//! frames              frame folders, videos decoded by ffmpeg       data::{VideoFrames, list_frame_files}
//! persons             person boxes per keyframe (Faster R-CNN)      infer::detect_persons
//!                                                                   models::detector
//! poses               17 COCO keypoints per person (CPN)            infer::estimate_poses
//!                                                                   models::pose
//! arms                elbow + wrist → enlarged arm boxes            infer::arm_boxes
//!                     arm-action branch                             (to come)
//! clip features       SlowFast res5 maps of the clip                models::action::SlowFast
//!                     per-box S (and global G)                      models::action::RoiFeatures
//! bank                long-term features ±50 s, FBO operator (L)    bank, models::action::Fbo
//! scores              classifier over [S, L, G], test views         models::action::ActionClassifier
//!                                                                   infer::score_keyframes
//! fusion              arm-branch scores into 15 classes             infer::fusion     (to come)
//! CSV                 AVA detections CSV, frame-mAP, pictures       data::write_ava_csv, eval,
//!                                                                   infer::draw_keyframes
//! ```
//!
//! Around them: [`config`] loads `configs/*.toml` and dispatches on `[network] kind` (each
//! model family owns its table: `models::detector::DetectorSpec`, `models::action::ActionSpec`,
//! `nn::ResNetSpec`); [`train`] runs trainings (`ActionRun`, `DetectorRun`) on the seeded,
//! ordered loader of [`data`]; [`weights`] imports checkpoints through one key map per source;
//! [`backend`] instantiates a job on the backend chosen at run time.
//!
//! Dependencies point down: `cli` → `train` / `infer` → `models` → `nn` / `ops`, with `data`,
//! `eval` and `weights` below the models' users; `config` sits beside `train` and `infer`,
//! loading the tables they define (`[train]`, `[test]`) with those the models own. See
//! `DESIGN.md` in the shared folder for the system diagram.

pub mod backend;
pub mod bank;
pub mod cli;
pub mod config;
pub mod data;
pub mod draw;
pub mod eval;
pub mod fusion;
pub mod infer;
pub mod io;
pub mod localize;
pub mod models;
pub mod nn;
pub mod ops;
pub mod progress;
pub mod shard;
pub mod system;
pub mod train;
pub mod weights;

/// Held by the unit tests that draw from the backend's random generator, which is one for the
/// whole process: a test that seeds it and draws would otherwise see other tests' draws
/// in between.
#[cfg(test)]
pub(crate) fn generator_lock() -> std::sync::MutexGuard<'static, ()> {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
