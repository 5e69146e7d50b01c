//! Training CPN end to end on a tiny synthetic set through `avaloc train pose`: the synthetic
//! COCO keypoint files, per-epoch checkpoints, metrics with the keypoint AP, resume, the
//! exported weights running in `avaloc poses`, and a missing ground-truth file named.

mod common;

use avaloc::data::synth::{SynthConfig, generate};
use avaloc::train::History;
use common::{avaloc, kill_when, log, safetensors_by_name};

use common::MICRO_CPN as CONFIG;

#[test]
fn trains_resumes_and_runs() {
    let root = std::env::temp_dir().join(format!("avaloc-train-pose-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let config = root.join("cpn.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = root.join("data");
    let synth = SynthConfig {
        train_videos: 1,
        val_videos: 1,
        test_videos: 0,
        seconds: 5,
        width: 96,
        height: 72,
        seed: 3,
    };
    generate(&data, &synth).unwrap();
    let run = root.join("run");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "pose",
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        avaloc(&args)
    };
    let first = train(&[]);
    assert!(first.status.success(), "{}", log(&first));
    assert!(
        run.join("checkpoints/epoch_001/weights.safetensors")
            .is_file()
    );
    let resumed = train(&["--resume", "--epochs", "2"]);
    assert!(resumed.status.success(), "{}", log(&resumed));
    let history = History::read(&run.join("metrics.csv")).unwrap();
    let epochs: Vec<usize> = history.records.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, vec![1, 2]);
    let names: Vec<&str> = history.records[1]
        .train
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["loss", "global", "refine"]);
    let (metric, ap) = &history.records[1].valid[0];
    assert_eq!(metric, "keypoint_ap");
    assert!((0.0..=1.0).contains(ap), "{ap}");

    // The exported weights estimate poses.
    let out = root.join("keypoints.csv");
    let boxes = data.join("annotations/ava_detection_val_boxes_and_labels.csv");
    let poses = avaloc(&[
        "poses",
        "--config",
        config.to_str().unwrap(),
        "--weights",
        run.join("model_final.safetensors").to_str().unwrap(),
        "--boxes",
        boxes.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(poses.status.success(), "{}", log(&poses));
    assert!(!avaloc::data::read_keypoints(&out).unwrap().is_empty());

    // A missing validation file is named.
    let missing = root.join("nowhere.json");
    let bad = train(&["--val-json", missing.to_str().unwrap()]);
    assert!(
        !bad.status.success() && log(&bad).contains("nowhere.json"),
        "{}",
        log(&bad)
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// A pose training killed (SIGKILL) after its second epoch's checkpoint, rerun with --resume,
/// ends with the weights of an uninterrupted seeded run (batch norm's statistics included).
#[test]
fn a_killed_pose_training_resumes_to_the_same_weights() {
    let root = std::env::temp_dir().join(format!("avaloc-kill-pose-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let config = root.join("cpn.toml");
    std::fs::write(&config, CONFIG.replace("epochs = 1", "epochs = 6")).unwrap();
    let data = root.join("data");
    let synth = SynthConfig {
        train_videos: 1,
        val_videos: 1,
        test_videos: 0,
        seconds: 5,
        width: 96,
        height: 72,
        seed: 3,
    };
    generate(&data, &synth).unwrap();
    let args = |run: &std::path::Path, resume: bool| {
        let mut args: Vec<String> = [
            "train",
            "pose",
            "--config",
            config.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        if resume {
            args.push("--resume".into());
        }
        args
    };
    let full = root.join("full");
    let out = avaloc(&as_str(&args(&full, false)));
    assert!(out.status.success(), "{}", log(&out));
    let killed = root.join("killed");
    kill_when(
        &as_str(&args(&killed, false)),
        &killed.join("checkpoints/epoch_002"),
    );
    assert!(!killed.join("model_final.safetensors").exists());
    let out = avaloc(&as_str(&args(&killed, true)));
    assert!(out.status.success(), "{}", log(&out));
    let weights = |run: &std::path::Path| safetensors_by_name(&run.join("model_final.safetensors"));
    assert!(weights(&full) == weights(&killed), "the weights differ");
    std::fs::remove_dir_all(root).unwrap();
}

fn as_str(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
