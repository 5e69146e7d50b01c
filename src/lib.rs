//! avaloc: spatio-temporal action localization for AVA and AVA-Kinetics on Burn.
//!
//! The system is a chain of stages, each a library call; the `avaloc` commands parse their
//! arguments and make one of them.
//!
//! ```text
//! stage          what it does                                       where
//! ────────────── ────────────────────────────────────────────────── ─────────────────────────────
//! frames         frame folders; videos decoded by ffmpeg at 30 fps  data::Video
//! persons        person boxes per keyframe (Faster R-CNN)           infer::PersonDetection
//!                                                                   models::detector
//! poses          17 COCO keypoints per person (CPN)                 infer::PoseEstimation
//!                                                                   models::pose
//! arms           elbow + wrist → enlarged arm boxes                 infer::arm_people
//!                arm-action branch at the arm boxes                 infer::ActionScoring
//! bank           S of every person, every second (±50 s windows)   infer::bank, data::bank
//! scores         SlowFast: S, G, L (FBO) → classifier, test views   models::action, infer::ActionScoring
//! fusion         arm scores into the classes they improve           infer::fusion
//! boxes given    an action model at given boxes (`avaloc actions`)  infer::box_scores
//! outputs        AVA detections CSV, frame-mAP                      data::write_ava_csv, eval
//! pictures       annotated keyframes and video, the summary page    render::{keyframes, video, page}
//! whole system   stage by stage, resumable, AVA-Kinetics parts      localize::Localize
//! ```
//!
//! ## Layers
//!
//! Each line imports only the lines below it, and no two files import each other
//! (`tests/layers.rs` reads every `crate::`, `super::` and `self::` path of `src/`):
//!
//! ```text layers
//! cli                    parses the command line; one library call per command
//! demo                   the seed recipe on synthetic data: trainings, bank, fusion, ablation
//! localize               the whole system: system files, stages, manifests, AVA-Kinetics parts
//! train                  the fit loop, its steps and hooks; one run per network
//! infer                  one stage = one job: persons, poses, arms, bank build, actions, fusion
//! eval                   AVA frame-mAP, COCO keypoint AP, reports and plots
//! render                 pictures: raster primitives, labels, keyframes, video, the page
//! config                 file schemas: network files, [train], [test], [arm]
//! data                   files on disk: AVA CSVs, frames, videos, clips, loader, bank storage, shards
//! models                 the detector, pose and action networks (`XSpec` → `XConfig` → `X`)
//! nn                     shared blocks: convolutions with norms, norms, ResNet stages
//! weights                checkpoints, one key map per source, the strict load report
//! ops                    tensor ops Burn lacks, each with its flex fast path
//! backend, progress, fs  the backend chosen at run time, progress bars, the atomic write
//! ```
//!
//! `cli` parses; `demo`, `localize` and `train` compose; `infer` runs one stage; `config` describes
//! files; `data` reads and writes them; `models` compute. See `DESIGN.md` in the shared folder
//! for the system diagram.

pub mod backend;
pub mod cli;
pub mod config;
pub mod data;
pub mod demo;
pub mod eval;
pub mod fs;
pub mod infer;
pub mod localize;
pub mod models;
pub mod nn;
pub mod ops;
pub mod progress;
pub mod render;
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
