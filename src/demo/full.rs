//! `avaloc demo --full`: the person detector and CPN trained from scratch too, and the whole
//! system run with them — no given boxes or keypoints — on the test split (OUT/test_full/)
//! and on the held-out video (OUT/video_full/).

use std::path::Path;

use anyhow::Result;

use super::configs::{DETECTOR_CONFIG, POSE_CONFIG, config_file};
use super::recipe::Demo;
use super::systems::{Input, Model, Parts};
use crate::config::{DetectorFile, PoseFile};
use crate::localize::videos::Source;
use crate::localize::{DETECTIONS, PAGE};
use crate::train::{DetectorRun, PoseData, PoseRun, RunOptions};

/// The action models the default demo trained.
pub struct Trained<'a> {
    pub base: &'a Model,
    pub lfb: &'a Model,
    pub arm: &'a Model,
    pub fusion: &'a Path,
}

/// `video`: the held-out video's frames; `(s, whole)`: the default table's S and whole-system
/// mAPs, which the trained system's is compared with.
pub fn run(
    demo: &Demo,
    t: &Trained,
    video: Source,
    ffmpeg: bool,
    (s, whole): (f64, f64),
) -> Result<()> {
    let options = demo.options;
    let out = &options.out;
    let detector_config = config_file(
        &options.detector_config,
        DETECTOR_CONFIG,
        out,
        "faster_rcnn_synth.toml",
    )?;
    let pose_config = config_file(&options.pose_config, POSE_CONFIG, out, "cpn_synth.toml")?;
    let detector = demo.train_once("detector", &detector_config, "detector", |dir, resume| {
        let file = DetectorFile::load(&detector_config)?;
        let run = RunOptions::new(dir, resume, options.epochs);
        DetectorRun::new(file, demo.dataset.clone(), None, run)
    })?;
    let pose = demo.train_once("CPN", &pose_config, "pose", |dir, resume| {
        let data = PoseData::new(options.data.clone(), None, None);
        PoseRun::new(
            PoseFile::load(&pose_config)?,
            data,
            None,
            RunOptions::new(dir, resume, options.epochs),
        )
    })?;
    let system = demo.system(
        "system_full.toml",
        Parts {
            boxes: Input::Network(&detector),
            keypoints: Some(Input::Network(&pose)),
            bank: Some(t.base),
            actions: t.lfb,
            arm: Some(t.arm),
            fusion: Some(t.fusion),
        },
    )?;
    tracing::info!("test split: the whole system with the trained detector and CPN");
    demo.localize(&system, demo.split("test"), "test_full", false)?;
    let trained = demo.evaluate(&demo.out("test_full").join(DETECTIONS))?;
    tracing::info!("one held-out video with the trained detector and CPN");
    demo.localize(&system, video, "video_full", ffmpeg)?;
    println!(
        "\nthe whole system with all five networks trained here: frame-mAP {:.4} on the test \
         keyframes ({:+.4} against the given boxes and keypoints, {:+.4} against S with the \
         given boxes); {}",
        trained.map,
        trained.map - whole,
        trained.map - s,
        demo.out("video_full").join(PAGE).display()
    );
    Ok(())
}
