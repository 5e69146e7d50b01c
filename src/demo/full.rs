//! `avaloc demo --full`: the person detector and CPN trained from scratch too, and the whole
//! system run with them — no given boxes or keypoints — on the test split (OUT/test_full/)
//! and on the held-out video (OUT/video_full/).

use std::path::PathBuf;

use anyhow::Result;

use super::FUSION;
use super::configs::ConfigPaths;
use super::recipe::{Demo, trained_weights};
use super::systems::{Input, Model, NOTE_TRAINED, Parts, Shared, system_tables_of};
use super::{ARM_DIR, DETECTOR_DIR, DemoOptions, LFB_DIR, POSE_DIR, S_DIR};
use crate::config::{DetectorFile, PoseFile};
use crate::data::DatasetFiles;
use crate::localize::system::SystemTables;
use crate::localize::videos::Source;
use crate::localize::{DETECTIONS, PAGE};
use crate::train::{DetectorRun, PoseData, PoseRun, RunOptions};

/// The system `--full` runs: every network trained in the run folder.
pub fn system_tables(options: &DemoOptions) -> SystemTables {
    let configs = ConfigPaths::new(options);
    let model = |config: &PathBuf, dir: &str| Model {
        config: config.clone(),
        weights: trained_weights(&options.out, dir),
    };
    let (detector, pose) = (
        model(&configs.detector, DETECTOR_DIR),
        model(&configs.pose, POSE_DIR),
    );
    let (base, lfb, arm) = (
        model(&configs.base, S_DIR),
        model(&configs.lfb, LFB_DIR),
        model(&configs.arm, ARM_DIR),
    );
    let fusion = options.out.join(FUSION);
    let parts = Parts {
        boxes: Input::Network(&detector),
        keypoints: Some(Input::Network(&pose)),
        bank: Some(&base),
        actions: &lfb,
        arm: Some(&arm),
        fusion: Some(&fusion),
    };
    let labelmap = DatasetFiles::at(&options.data).labelmap();
    system_tables_of(
        parts,
        &Shared {
            labelmap: &labelmap,
            arm_labelmap: &configs.arm_labels,
            pictures: options.pictures,
        },
    )
}

/// `video`: the held-out video's frames; `(s, whole)`: the default table's S and whole-system
/// mAPs, which the trained system's is compared with.
pub fn run(
    demo: &Demo,
    configs: &ConfigPaths,
    video: Source,
    ffmpeg: bool,
    (s, whole): (f64, f64),
) -> Result<()> {
    let options = demo.options;
    demo.train_once(
        "detector",
        &configs.detector,
        DETECTOR_DIR,
        |dir, resume| {
            let file = DetectorFile::load(&configs.detector)?;
            let run = RunOptions::new(dir, resume, options.epochs);
            DetectorRun::new(file, demo.dataset.clone(), None, run)
        },
    )?;
    demo.train_once("CPN", &configs.pose, POSE_DIR, |dir, resume| {
        let data = PoseData::new(options.data.clone(), None, None);
        PoseRun::new(
            PoseFile::load(&configs.pose)?,
            data,
            None,
            RunOptions::new(dir, resume, options.epochs),
        )
    })?;
    let system = demo.out("system_full.toml");
    system_tables(options).write(&system, NOTE_TRAINED)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_system_synth_is_the_system_demo_full_runs() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/system/synth.toml");
        let shipped: SystemTables = crate::config::load_toml(&file).unwrap();
        let options = DemoOptions::new("data/synth".into(), "runs/synth".into());
        assert_eq!(shipped, system_tables(&options));
    }
}
