//! `avaloc persons` with the tiny detector on a synthetic video's frames: one keyframe per
//! second, boxes of the person class above the threshold, normalised by the frame size,
//! exactly the library's detections for the same frame; clear errors for bad input.

mod common;

use common::avaloc;

use std::path::{Path, PathBuf};
use std::process::Command;

use avaloc::config::DetectorFile;
use avaloc::data::synth::{SynthConfig, generate};
use avaloc::data::{decode_frame, read_person_boxes};
use avaloc::weights::{Checkpoint, LoadMode};
use burn::tensor::{Tensor, TensorData};
use common::TestBackend;

const CONFIG: &str = "configs/detector/faster_rcnn_tiny.toml";

/// One 5-second 96 × 72 synthetic validation video under a fresh temporary root.
fn small_video(name: &str, seed: u64) -> PathBuf {
    let root = std::env::temp_dir().join(format!("avaloc-{name}-{}", std::process::id()));
    let config = SynthConfig {
        train_videos: 0,
        val_videos: 1,
        test_videos: 0,
        seconds: 5,
        width: 96,
        height: 72,
        seed,
    };
    generate(&root, &config).unwrap();
    root
}

/// `avaloc persons` with the tiny detector at threshold 0.3 on a frame folder; its stdout.
fn persons(weights: &Path, frames: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "persons",
        "--config",
        CONFIG,
        "--weights",
        weights.to_str().unwrap(),
        "--frames",
        frames.to_str().unwrap(),
        "--threshold",
        "0.3",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let run = avaloc(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[test]
fn keyframe_boxes_are_the_detectors_person_detections() {
    let root = small_video("persons", 1);
    let frames: PathBuf = root.join("frames/syn_val_000");
    let weights = common::tiny_detector_checkpoint();
    let out = root.join("boxes.csv");
    assert!(
        persons(&weights, &frames, &out, &["--batch", "2"]).contains("at 5 keyframes"),
        "5 s of frames: seconds 900..904"
    );

    // The CLI's boxes at second 902 (detected in a batch of two keyframes) are the library's
    // class-1 detections at frame 61 on its own.
    let boxes = read_person_boxes(&out, 0.0).unwrap();
    let at_902: Vec<[f64; 4]> = boxes
        .iter()
        .filter(|b| b.key.timestamp_s == 902)
        .map(|b| b.box_xyxy_norm)
        .collect();
    let network = DetectorFile::load(CONFIG).unwrap().network;
    let checkpoint = Checkpoint::open(&weights).unwrap();
    let (model, _) = network
        .load::<TestBackend>(&checkpoint, LoadMode::Strict, &Default::default())
        .unwrap();
    let frame = decode_frame(&frames.join("syn_val_000_000061.jpg")).unwrap();
    let pixels: Vec<f32> = (0..3)
        .flat_map(|c| frame.pixels().map(move |p| p[c] as f32 / 255.0))
        .collect();
    let image = Tensor::from_data(TensorData::new(pixels, [3, 72, 96]), &Default::default());
    let d = model.detect(vec![image]).remove(0);
    let expected: Vec<[f64; 4]> = d
        .boxes
        .iter()
        .zip(&d.scores)
        .zip(&d.labels)
        .filter(|((_, s), l)| **l == 1 && **s >= 0.3)
        .map(|((b, _), _)| {
            [
                b[0] as f64 / 96.0,
                b[1] as f64 / 72.0,
                b[2] as f64 / 96.0,
                b[3] as f64 / 72.0,
            ]
        })
        .collect();
    assert!(
        !expected.is_empty(),
        "the tiny detector finds class-1 boxes above 0.3 here"
    );
    assert_eq!(at_902.len(), expected.len());
    for (got, want) in at_902.iter().zip(&expected) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 6e-4, "{got:?} vs {want:?}");
        }
    }
    std::fs::remove_file(weights).unwrap();
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn bad_inputs_are_clear_errors() {
    let weights = common::tiny_detector_checkpoint();
    let w = weights.to_str().unwrap();
    let no_input = avaloc(&[
        "persons",
        "--config",
        CONFIG,
        "--weights",
        w,
        "--out",
        "/tmp/x.csv",
    ]);
    assert!(
        String::from_utf8_lossy(&no_input.stderr)
            .contains("give one of --frames DIR, --video FILE, --image FILE or --data ROOT")
    );
    let not_detector = avaloc(&[
        "persons",
        "--config",
        "configs/backbone/resnet50.toml",
        "--weights",
        w,
        "--image",
        "x.jpg",
        "--out",
        "/tmp/x.csv",
    ]);
    assert!(String::from_utf8_lossy(&not_detector.stderr).contains("not a detector configuration"));
    let missing = avaloc(&[
        "persons",
        "--config",
        CONFIG,
        "--weights",
        w,
        "--frames",
        "/nonexistent/vid",
        "--out",
        "/tmp/x.csv",
    ]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/vid"));
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        let video = avaloc(&[
            "persons",
            "--config",
            CONFIG,
            "--weights",
            w,
            "--video",
            "clip.mp4",
            "--out",
            "/tmp/x.csv",
        ]);
        assert!(String::from_utf8_lossy(&video.stderr).contains("apt-get install ffmpeg"));
    }
    std::fs::remove_file(weights).unwrap();
}

/// `--every-frame`: every frame's boxes, timed to the millisecond; at whole seconds the same
/// rows as the keyframe file. AVA's readers refuse the file with a message saying what it is.
#[test]
fn every_frame_boxes_extend_the_keyframe_file() {
    let root = small_video("persons-every", 2);
    // The first 40 frames: seconds 900 and 901 start at frames 0 and 30.
    let frames = root.join("first_frames");
    std::fs::create_dir_all(&frames).unwrap();
    for i in 0..40 {
        let name = format!("syn_val_000_{:06}.jpg", i + 1);
        std::fs::copy(
            root.join("frames/syn_val_000").join(&name),
            frames.join(&name),
        )
        .unwrap();
    }
    let weights = common::tiny_detector_checkpoint();
    let run = |out: &PathBuf, every_frame: bool| {
        let extra: &[&str] = if every_frame { &["--every-frame"] } else { &[] };
        persons(&weights, &frames, out, extra)
    };
    let (keyframe_csv, every_csv) = (root.join("keyframes.csv"), root.join("every.csv"));
    assert!(run(&keyframe_csv, false).contains("at 2 keyframes"));
    assert!(run(&every_csv, true).contains("at 40 frames"));

    let rows = |path: &PathBuf| -> Vec<Vec<String>> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let every = rows(&every_csv);
    let times: std::collections::BTreeSet<&str> = every.iter().map(|r| r[1].as_str()).collect();
    assert!(times.len() > 30, "boxes at most frames: {times:?}");
    assert!(
        times.contains("0900.033") && times.contains("0901.300"),
        "{times:?}"
    );
    for (whole, stamp) in [("0900", "0900.000"), ("0901", "0901.000")] {
        let at_keyframe: Vec<Vec<String>> = rows(&keyframe_csv)
            .into_iter()
            .filter(|r| r[1] == whole)
            .collect();
        let at_frame: Vec<&Vec<String>> = every.iter().filter(|r| r[1] == stamp).collect();
        assert!(!at_keyframe.is_empty());
        assert_eq!(at_keyframe.len(), at_frame.len());
        for (k, f) in at_keyframe.iter().zip(at_frame) {
            assert_eq!((&k[0], &k[2..]), (&f[0], &f[2..]));
        }
    }
    let refused = read_person_boxes(&every_csv, 0.0).unwrap_err().to_string();
    assert!(
        refused.contains("every.csv") && refused.contains("every-frame box file"),
        "{refused}"
    );
    std::fs::remove_file(weights).unwrap();
    std::fs::remove_dir_all(root).unwrap();
}

/// A real MP4 at 25 fps: decoded by ffmpeg at AVA's 30 fps (5 s → 150 frames, the frame at
/// 2 s close to the original's), and `avaloc persons --video` finds people at its 5 keyframes.
#[test]
fn a_real_25_fps_video_is_read_at_30_fps() {
    if !common::ffmpeg_available("a_real_25_fps_video_is_read_at_30_fps") {
        return;
    }
    let root = small_video("persons-mp4", 4);
    let originals = root.join("frames/syn_val_000");
    let clip = root.join("clip.mp4");
    let encoded = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-framerate", "30", "-i"])
        .arg(originals.join("syn_val_000_%06d.jpg"))
        .args(["-t", "5", "-r", "25", "-c:v", "mpeg4", "-q:v", "2"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(encoded.success());
    let video = avaloc::data::Video::decode(&clip, 900).unwrap();
    assert_eq!(video.id, "clip");
    assert_eq!(video.frames.len(), 150);
    let pixels = |path: &Path| image::open(path).unwrap().to_rgb8().into_raw();
    let difference = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).abs())
            .sum::<f64>()
            / a.len() as f64
    };
    let at_2s = pixels(&video.frames[60]);
    let near = difference(&at_2s, &pixels(&originals.join("syn_val_000_000061.jpg")));
    let far = difference(&at_2s, &pixels(&originals.join("syn_val_000_000001.jpg")));
    assert!(near < 8.0 && near < far, "2 s: {near:.2} vs 0 s: {far:.2}");

    let weights = common::tiny_detector_checkpoint();
    let out = root.join("boxes.csv");
    let run = avaloc(&[
        "persons",
        "--config",
        CONFIG,
        "--weights",
        weights.to_str().unwrap(),
        "--video",
        clip.to_str().unwrap(),
        "--threshold",
        "0.3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("at 5 keyframes"), "{stdout}");
    std::fs::remove_file(weights).unwrap();
    std::fs::remove_dir_all(root).unwrap();
}

/// `--data`: one CSV per video in a folder; two shares fill the folder with exactly the files
/// of one unsharded run, each the `--frames` run of its video; a rerun skips what is there;
/// the folder reads as one box file.
#[test]
fn a_dataset_in_shares_fills_one_folder_of_per_video_files() {
    let root = std::env::temp_dir().join(format!("avaloc-persons-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let config = SynthConfig {
        train_videos: 0,
        val_videos: 3,
        test_videos: 0,
        seconds: 5,
        width: 96,
        height: 72,
        seed: 5,
    };
    generate(&root, &config).unwrap();
    let weights = common::tiny_detector_checkpoint();
    let w = weights.to_str().unwrap();
    let dataset = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "persons",
            "--config",
            CONFIG,
            "--weights",
            w,
            "--data",
            root.to_str().unwrap(),
            "--split",
            "val",
            "--threshold",
            "0.3",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        avaloc(&args)
    };
    let files = |dir: &Path| -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        files.sort();
        files
    };
    let shared = root.join("boxes");
    for share in ["1/2", "0/2"] {
        let run = dataset(&shared, &["--shard", share]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let whole = root.join("whole");
    let run = dataset(&whole, &[]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written = files(&shared);
    let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "settings.txt",
            "syn_val_000.csv",
            "syn_val_001.csv",
            "syn_val_002.csv"
        ]
    );
    assert_eq!(written, files(&whole));
    assert!(written.iter().any(|(_, text)| !text.is_empty()));

    // Each file is the single-video run's.
    let single = root.join("single.csv");
    persons(&weights, &root.join("frames/syn_val_001"), &single, &[]);
    assert_eq!(written[2].1, std::fs::read_to_string(&single).unwrap());

    // A rerun finds its share done; the folder reads as one file.
    let again = dataset(&shared, &["--shard", "0/2"]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("0 to detect (0 frames), 2 already in"),
        "{stdout}"
    );
    let all = read_person_boxes(&shared, 0.0).unwrap();
    let expected: usize = written[1..].iter().map(|(_, t)| t.lines().count()).sum();
    assert_eq!(all.len(), expected);

    // Settings that change the rows, into the same folder, are refused naming them.
    let other = dataset(&shared, &["--shard", "0/2", "--batch", "2"]);
    assert!(other.status.success(), "the batch does not change the rows");
    let refused = dataset(&shared, &["--shard", "1/2", "--person-label", "2"]);
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        !refused.status.success() && stderr.contains("person_label = 1; this run has 2"),
        "{stderr}"
    );

    // Bad input: a share out of range, a share without a dataset, a split without annotations.
    let bad = dataset(&shared, &["--shard", "2/2"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected I/N"));
    let no_data = avaloc(&[
        "persons",
        "--config",
        CONFIG,
        "--weights",
        w,
        "--image",
        "x.jpg",
        "--shard",
        "0/2",
        "--out",
        "/tmp/x.csv",
    ]);
    assert!(!no_data.status.success());
    assert!(String::from_utf8_lossy(&no_data.stderr).contains("cannot be used with '--shard"));
    let no_split = avaloc(&[
        "persons",
        "--config",
        CONFIG,
        "--weights",
        w,
        "--data",
        root.to_str().unwrap(),
        "--split",
        "test",
        "--out",
        root.join("test_boxes").to_str().unwrap(),
    ]);
    assert!(!no_split.status.success());
    let stderr = String::from_utf8_lossy(&no_split.stderr).into_owned();
    assert!(stderr.contains("neither ava_test_v2.2.csv"), "{stderr}");
    std::fs::remove_file(weights).unwrap();
    std::fs::remove_dir_all(root).unwrap();
}
