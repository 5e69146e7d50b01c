//! `avaloc poses` with the tiny CPN of the parity fixtures on a synthetic video: one row of
//! 17 keypoints per box, inside the box's crop, exactly the library's poses; skeleton
//! pictures; clear errors for bad input.

mod common;

use std::path::PathBuf;

use avaloc::config::PoseFile;
use avaloc::data::synth::{SynthConfig, generate};
use avaloc::data::{read_keypoints, read_person_boxes};
use avaloc::infer::{PoseOptions, estimate_poses, keyframe_images};
use avaloc::models::pose::CropBox;
use avaloc::weights::{Checkpoint, LoadMode};
use common::{TestBackend, avaloc, fixture_path};

const CONFIG: &str = "configs/pose/cpn_tiny.toml";

fn small_set(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("avaloc-{name}-{}", std::process::id()));
    let config = SynthConfig {
        train_videos: 0,
        val_videos: 1,
        test_videos: 0,
        seconds: 5,
        width: 96,
        height: 72,
        seed: 3,
    };
    generate(&root, &config).unwrap();
    root
}

fn run(args: &[&str]) -> std::process::Output {
    avaloc(args)
}

#[test]
fn poses_of_every_box_as_the_library_gives_them() {
    let root = small_set("poses");
    let boxes = root.join("annotations/ava_detection_val_boxes_and_labels.csv");
    let out = root.join("keypoints.csv");
    let pictures = root.join("pictures");
    let weights = fixture_path("cpn_tiny_pytorch.safetensors");
    let args = [
        "poses",
        "--config",
        CONFIG,
        "--weights",
        weights.to_str().unwrap(),
        "--boxes",
        boxes.to_str().unwrap(),
        "--data",
        root.to_str().unwrap(),
        "--pictures",
        pictures.to_str().unwrap(),
        "--arm-boxes",
        "--out",
        out.to_str().unwrap(),
    ];
    let result = run(&args);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let people = read_person_boxes(&boxes, 0.0).unwrap();
    let poses = read_keypoints(&out).unwrap();
    assert_eq!(poses.len(), people.len());
    assert!(std::fs::read_dir(&pictures).unwrap().count() > 0);

    // Every keypoint lies in its box's crop (in pixels of the 96 × 72 frames).
    let spec = PoseFile::load(CONFIG).unwrap().network;
    for (pose, person) in poses.iter().zip(&people) {
        assert_eq!(pose.key, person.key);
        let b = person.box_xyxy_norm;
        let crop = CropBox::around(
            [b[0] * 96.0, b[1] * 72.0, b[2] * 96.0, b[3] * 72.0],
            [96, 64],
        );
        for &[x, y, s] in &pose.keypoints {
            let (x, y) = (x * 96.0, y * 72.0);
            assert!(
                (crop.x1..=crop.x2).contains(&x) && (crop.y1..=crop.y2).contains(&y),
                "({x}, {y}) outside {crop:?}"
            );
            assert!(s.is_finite());
        }
    }

    // The library's poses for the same boxes, to the CSV's precision.
    let checkpoint = Checkpoint::open(&weights).unwrap();
    let device = Default::default();
    let (model, _) = spec
        .load::<TestBackend>(&checkpoint, LoadMode::Strict, &device)
        .unwrap();
    let samples = avaloc::data::keyframe_samples(
        &avaloc::data::unlabelled_people(&people),
        &root,
        avaloc::models::action::ClipSpec {
            num_frames: 1,
            stride: 1,
        },
    )
    .unwrap();
    let options = PoseOptions {
        flip: true,
        batch: 3,
    };
    let images = keyframe_images(samples.samples());
    let library =
        estimate_poses(&model, &spec, &people, &images, options, &device, |_| {}).unwrap();
    for (csv, lib) in poses.iter().zip(&library) {
        assert!((csv.score - lib.score).abs() < 1e-4);
        for (a, b) in csv.keypoints.iter().zip(&lib.keypoints) {
            assert!(
                (a[0] - b[0]).abs() < 1e-4 && (a[1] - b[1]).abs() < 1e-4,
                "{a:?} {b:?}"
            );
        }
    }

    // COCO results with the synthetic ground truth's image ids evaluate against it.
    let coco = root.join("poses.json");
    let truth = root.join("annotations/person_keypoints_val.json");
    let mut coco_args = args.to_vec();
    coco_args.extend([
        "--coco-json",
        coco.to_str().unwrap(),
        "--coco-images",
        truth.to_str().unwrap(),
    ]);
    let result = run(&coco_args);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let results = avaloc::data::read_coco_results(&coco).unwrap();
    assert_eq!(results.len(), poses.len());
    let truth = avaloc::data::CocoKeypoints::read(&truth).unwrap();
    let stats = avaloc::eval::evaluate_keypoints(&truth, &results).unwrap();
    assert!((0.0..=1.0).contains(&stats.ap()), "{stats:?}");

    // Bad input: a malformed box row names the file and line; a detector config is refused.
    let bad = root.join("bad_boxes.csv");
    let text = std::fs::read_to_string(&boxes).unwrap();
    std::fs::write(&bad, format!("{}syn_val_000,0902,0.1,0.2\n", text)).unwrap();
    let mut bad_args = args;
    bad_args[6] = bad.to_str().unwrap();
    let result = run(&bad_args);
    let err = String::from_utf8_lossy(&result.stderr);
    let line = text.lines().count() + 1;
    assert!(
        !result.status.success() && err.contains(&format!("bad_boxes.csv:{line}")),
        "{err}"
    );
    // An output that cannot be written is named before any work.
    let blocked = root.join("keypoints.csv").join("out.csv");
    let mut blocked_args = args;
    let last = blocked_args.len() - 1;
    blocked_args[last] = blocked.to_str().unwrap();
    let result = run(&blocked_args);
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(
        !result.status.success() && err.contains("keypoints.csv/out.csv: cannot be written"),
        "{err}"
    );
    let mut wrong = args;
    wrong[2] = "configs/detector/faster_rcnn_tiny.toml";
    let result = run(&wrong);
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(err.contains("not a pose configuration"), "{err}");
    std::fs::remove_dir_all(root).unwrap();
}

/// `--shard`: two shares fill one folder of per-video keypoint files whose rows are the
/// unsharded run's; a rerun skips the share's videos; the folder reads as one file.
#[test]
fn shares_fill_one_folder_with_the_unsharded_poses() {
    let root = std::env::temp_dir().join(format!("avaloc-poses-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let config = SynthConfig {
        train_videos: 0,
        val_videos: 2,
        test_videos: 0,
        seconds: 5,
        width: 96,
        height: 72,
        seed: 4,
    };
    generate(&root, &config).unwrap();
    let boxes = root.join("annotations/ava_detection_val_boxes_and_labels.csv");
    let weights = fixture_path("cpn_tiny_pytorch.safetensors");
    let poses = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "poses",
            "--config",
            CONFIG,
            "--weights",
            weights.to_str().unwrap(),
            "--boxes",
            boxes.to_str().unwrap(),
            "--data",
            root.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let result = run(&args);
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        String::from_utf8_lossy(&result.stdout).into_owned()
    };
    let whole = root.join("keypoints.csv");
    poses(&whole, &[]);
    let folder = root.join("keypoints");
    for share in ["0/2", "1/2"] {
        poses(&folder, &["--shard", share]);
    }
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["settings.txt", "syn_val_000.csv", "syn_val_001.csv"]
    );
    let key = |p: &avaloc::data::PersonKeypoints| {
        (p.key.clone(), p.box_xyxy_norm.map(|v| (v * 1e6) as i64))
    };
    let mut expected = read_keypoints(&whole).unwrap();
    let mut sharded = read_keypoints(&folder).unwrap();
    expected.sort_by_key(key);
    sharded.sort_by_key(key);
    assert_eq!(sharded, expected);
    let again = poses(&folder, &["--shard", "1/2"]);
    assert!(again.contains("share 1/2 is complete"), "{again}");
    // A folder output cannot also be a COCO file.
    let coco = root.join("c.json");
    let result = run(&[
        "poses",
        "--config",
        CONFIG,
        "--weights",
        weights.to_str().unwrap(),
        "--boxes",
        boxes.to_str().unwrap(),
        "--shard",
        "0/2",
        "--coco-json",
        coco.to_str().unwrap(),
        "--out",
        folder.to_str().unwrap(),
    ]);
    assert!(!result.status.success());
    std::fs::remove_dir_all(root).unwrap();
}
