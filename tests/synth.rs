//! `avaloc synth` writes a dataset our own readers accept, deterministically, with boxes that
//! contain their people's keypoints; scoring its ground truth against itself gives mAP 1.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use avaloc::data::synth::{SynthConfig, generate};
use avaloc::data::{
    AvaKeyframes, ClipBatch, ClipBatcher, ClipTransform, EpochBatches, FrameLayout, LabelMap,
    Normalization, OrderedLoader, group_annotations, read_ava_csv, read_exclusions,
    read_frame_list, read_keypoints, read_person_boxes,
};
use avaloc::eval::{EvalOptions, evaluate_files};
use avaloc::models::action::ClipSpec;

const SMALL: SynthConfig = SynthConfig {
    train_videos: 1,
    val_videos: 2,
    test_videos: 1,
    seconds: 6,
    width: 96,
    height: 72,
    seed: 3,
};

fn generated(tag: &str, config: &SynthConfig) -> PathBuf {
    let root = std::env::temp_dir().join(format!("avaloc-synth-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    generate(&root, config).unwrap();
    root
}

#[test]
fn the_dataset_reads_back_with_the_ava_readers() {
    let root = generated("read", &SMALL);
    let ann = root.join("annotations");
    let labels = LabelMap::read(&ann.join("ava_action_list_v2.2.pbtxt")).unwrap();
    assert_eq!(labels.name(14), Some("walk"));
    for split in ["train", "val", "test"] {
        let rows = read_ava_csv(&ann.join(format!("ava_{split}_v2.2.csv"))).unwrap();
        assert!(!rows.is_empty(), "{split}");
        let (people, stats) = group_annotations(&rows, &labels);
        assert!(
            stats.unknown_actions.is_empty()
                && stats.clamped_boxes == 0
                && stats.empty_boxes.is_empty()
        );
        for p in &people {
            let [x1, y1, x2, y2] = p.box_xyxy_norm;
            assert!(
                0.0 <= x1 && x1 < x2 && x2 <= 1.0 && 0.0 <= y1 && y1 < y2 && y2 <= 1.0,
                "{p:?}"
            );
            assert!((902..=904).contains(&p.key.timestamp_s));
            let body = p
                .actions
                .iter()
                .filter(|a| [1, 7, 11, 12, 14].contains(a))
                .count();
            assert_eq!(body, 1, "exactly one body action: {p:?}");
        }
        let boxes = read_person_boxes(
            &ann.join(format!("ava_detection_{split}_boxes_and_labels.csv")),
            0.8,
        )
        .unwrap();
        assert!(!boxes.is_empty());
        let frames =
            read_frame_list(&root.join("frame_lists").join(format!("{split}.csv"))).unwrap();
        for (video, paths) in &frames {
            assert_eq!(paths.len(), 6 * 30, "{video}");
            assert!(root.join("frames").join(&paths[179]).is_file());
        }
        // Keypoints lie in their person's box (coordinates are written to 3-4 decimals).
        let boxes_of: HashMap<(String, i64, i64), [f64; 4]> = rows
            .iter()
            .map(|r| {
                (
                    (
                        r.key.video_id.clone(),
                        r.key.timestamp_s,
                        r.last.unwrap() as i64,
                    ),
                    r.box_xyxy_norm,
                )
            })
            .collect();
        let people = read_keypoints(&ann.join(format!("synth_keypoints_{split}.csv"))).unwrap();
        assert!(!people.is_empty());
        for person in people {
            let b = boxes_of[&(
                person.key.video_id.clone(),
                person.key.timestamp_s,
                person.person_id,
            )];
            assert_eq!(person.box_xyxy_norm, b, "the annotation's box");
            for (k, &[x, y, v]) in person.keypoints.iter().enumerate() {
                assert!(v == 0.0 || v == 2.0, "visibility {v}");
                if v == 2.0 {
                    assert!(
                        x >= b[0] - 2e-3
                            && x <= b[2] + 2e-3
                            && y >= b[1] - 2e-3
                            && y <= b[3] + 2e-3,
                        "keypoint {k} {x},{y} outside {b:?}"
                    );
                }
            }
        }
    }
    read_exclusions(&ann.join("ava_val_excluded_timestamps_v2.2.csv")).unwrap();
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_same_seed_gives_the_same_dataset() {
    let a = generated("seed-a", &SMALL);
    let b = generated("seed-b", &SMALL);
    let c = generated("seed-c", &SynthConfig { seed: 4, ..SMALL });
    let read = |root: &Path, file: &str| std::fs::read(root.join(file)).unwrap();
    for file in [
        "annotations/ava_train_v2.2.csv",
        "annotations/ava_detection_val_boxes_and_labels.csv",
        "frames/syn_val_001/syn_val_001_000090.jpg",
    ] {
        assert_eq!(read(&a, file), read(&b, file), "{file}");
    }
    assert_ne!(
        read(&a, "annotations/ava_train_v2.2.csv"),
        read(&c, "annotations/ava_train_v2.2.csv")
    );
    for root in [a, b, c] {
        std::fs::remove_dir_all(root).unwrap();
    }
}

/// Twins (videos 2k and 2k + 1) are one rendering in two scenes: alike frame for frame but for
/// the cue, every box of a song labelled "listen to (a person)", the plain twin's never; the same
/// boxes, keypoints and detections outside the cue.
#[test]
fn twin_videos_differ_only_in_their_scene_and_its_cue() {
    let root = generated(
        "twins",
        &SynthConfig {
            seconds: 12,
            ..SMALL
        },
    );
    let frames = |video: &str| -> Vec<Vec<u8>> {
        (1..=12 * 30)
            .map(|f| {
                let name = format!("frames/{video}/{video}_{f:06}.jpg");
                std::fs::read(root.join(name)).unwrap()
            })
            .collect()
    };
    let (plain, talk) = (frames("syn_val_000"), frames("syn_val_001"));
    let differ = plain.iter().zip(&talk).filter(|(a, b)| a != b).count();
    // The cue is two 3-6 s segments (maybe cut by the end of the video).
    assert!((30..=12 * 30).contains(&differ), "{differ} frames differ");

    let rows = read_ava_csv(&root.join("annotations/ava_val_v2.2.csv")).unwrap();
    let boxes = |video: &str, with: Option<i64>| -> HashSet<(i64, String)> {
        rows.iter()
            .filter(|r| r.key.video_id == video && with.is_none_or(|id| r.action_id == id))
            .map(|r| (r.key.timestamp_s, format!("{:?}", r.box_xyxy_norm)))
            .collect()
    };
    let (plain, talk) = (boxes("syn_val_000", None), boxes("syn_val_001", None));
    assert!(!plain.is_empty());
    // Two arms raised or stretched change the performer's box, at no more than 12 keyframes.
    let moved: HashSet<i64> = plain.symmetric_difference(&talk).map(|b| b.0).collect();
    assert!(moved.len() <= 12, "{moved:?}");
    assert_eq!(boxes("syn_val_001", Some(74)), talk, "everyone listens");
    assert!(boxes("syn_val_000", Some(74)).is_empty());
    // Singing is seen at the keyframes of the cue only.
    let sung: HashSet<i64> = boxes("syn_val_001", Some(77)).iter().map(|b| b.0).collect();
    assert!((1..=12).contains(&sung.len()), "{sung:?}");
    assert!(boxes("syn_val_000", Some(77)).is_empty());
    assert!(boxes("syn_val_000", Some(80)).is_empty() && boxes("syn_val_001", Some(80)).is_empty());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn ground_truth_scored_against_itself_is_perfect() {
    let root = generated("eval", &SMALL);
    let ann = root.join("annotations");
    let gt = ann.join("ava_val_v2.2.csv");
    let detections = root.join("perfect.csv");
    let text: String = std::fs::read_to_string(&gt)
        .unwrap()
        .lines()
        .map(|l| format!("{},1.0\n", l.rsplit_once(',').unwrap().0))
        .collect();
    std::fs::write(&detections, text).unwrap();
    let result = evaluate_files(
        &gt,
        &detections,
        &ann.join("ava_action_list_v2.2.pbtxt"),
        Some(&ann.join("ava_val_excluded_timestamps_v2.2.csv")),
        &EvalOptions::default(),
    )
    .unwrap();
    assert_eq!(result.map, 1.0);
    let with_gt: HashSet<i64> = result
        .per_class
        .iter()
        .filter(|(_, _, ap)| ap.is_some())
        .map(|(id, _, _)| *id)
        .collect();
    assert!(with_gt.contains(&12), "someone stands in the val videos");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn the_data_loader_batches_the_dataset_on_parallel_workers() {
    let root = generated("loader", &SMALL);
    let ann = root.join("annotations");
    let labels = LabelMap::read(&ann.join("ava_action_list_v2.2.pbtxt")).unwrap();
    let rows = read_ava_csv(&ann.join("ava_val_v2.2.csv")).unwrap();
    let (people, _) = group_annotations(&rows, &labels);
    let clip = ClipSpec {
        num_frames: 8,
        stride: 4,
    };
    let dataset = AvaKeyframes::new(&people, &root, FrameLayout::PySlowFast, 900, clip).unwrap();
    let keyframes = burn::data::dataset::Dataset::len(&dataset);
    let transform = ClipTransform::Train {
        short_side: [72, 90],
        crop: 64,
    };
    let batcher = ClipBatcher::new(transform, Normalization::default(), &labels, 7);
    let loader = OrderedLoader::<burn::backend::Flex, _, ClipBatch<burn::backend::Flex>>::new(
        dataset,
        batcher,
        2,
        2,
        1,
        vec![Default::default()],
    );
    let (mut seen, mut boxes) = (0, 0);
    for batch in loader.epoch(1) {
        let [b, c, t, h, w] = batch.clips.dims();
        assert_eq!((c, t, h, w), (3, 8, 64, 64));
        assert_eq!(batch.labels.dims()[1], labels.labels.len());
        seen += b;
        let k = batch.rois.dims()[0];
        assert_eq!(batch.roi_boxes_xyxy_norm.len(), k);
        // Boxes a 64-pixel crop cut away entirely are dropped; the others keep an area.
        let rois = batch.rois.into_data().to_vec::<f32>().unwrap();
        assert!(
            rois.chunks(5).all(|r| r[3] > r[1] && r[4] > r[2]),
            "{rois:?}"
        );
        boxes += k;
    }
    assert_eq!(seen, keyframes);
    assert!(
        boxes <= people.len() && 2 * boxes >= people.len(),
        "{boxes} of {}",
        people.len()
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// Redirected to a file (not a terminal), `avaloc synth` logs a few plain progress lines and
/// no colour escapes.
#[test]
fn redirected_output_has_plain_progress_lines_and_no_escapes() {
    let out = std::env::temp_dir().join(format!("avaloc-synth-cli-{}", std::process::id()));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_avaloc"))
        .args([
            "synth",
            "--train-videos",
            "1",
            "--val-videos",
            "1",
            "--test-videos",
            "1",
            "--seconds",
            "5",
        ])
        .args(["--width", "64", "--height", "48", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes in {text:?}");
    let progress: Vec<&str> = text.lines().filter(|l| l.starts_with("synth ")).collect();
    // 450 frames: a line at each quarter.
    assert_eq!(progress.len(), 4, "{text}");
    assert!(progress[3].starts_with("synth 450/450"), "{text}");
    let test_csv = out.join("annotations/ava_test_v2.2.csv");
    assert!(
        std::fs::read_to_string(test_csv)
            .unwrap()
            .starts_with("syn_test_000,")
    );
    std::fs::remove_dir_all(out).unwrap();
}

/// The Kinetics part: 10-second clips named as Kinetics names them, one annotated keyframe
/// each (the middle second, in the source video's seconds) in AVA-Kinetics' 7 columns, people
/// larger than in the films; the data layer finds each keyframe's frame inside its clip.
#[test]
fn the_kinetics_part_has_one_keyframe_per_clip_and_larger_people() {
    let root = generated("kinetics", &SMALL);
    let summary = avaloc::data::synth::generate_kinetics(&root, &SMALL, 3).unwrap();
    assert_eq!(summary.videos, 9);
    assert_eq!(summary.frames, 9 * 300);
    let ann = root.join("annotations");
    let height = |rows: &[avaloc::data::AvaRow]| {
        rows.iter()
            .map(|r| r.box_xyxy_norm[3] - r.box_xyxy_norm[1])
            .sum::<f64>()
            / rows.len() as f64
    };
    for split in ["train", "val", "test"] {
        let csv = ann.join(format!("kinetics_{split}_v1.0.csv"));
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.lines().all(|l| l.split(',').count() == 7), "{text}");
        let rows = read_ava_csv(&csv).unwrap();
        let keys: HashSet<_> = rows.iter().map(|r| r.key.clone()).collect();
        assert_eq!(keys.len(), 3, "{split}: one keyframe per clip");
        for key in &keys {
            let start = avaloc::data::kinetics_clip_start_s(&key.video_id).unwrap();
            assert_eq!(key.timestamp_s, start + 5, "{key:?}");
        }
        let films = read_ava_csv(&ann.join(format!("ava_{split}_v2.2.csv"))).unwrap();
        assert!(height(&rows) > height(&films) + 0.1, "{split}");
        assert!(
            read_person_boxes(
                &ann.join(format!("kinetics_detection_{split}_boxes_and_labels.csv")),
                0.0
            )
            .unwrap()
            .iter()
            .all(|b| keys.contains(&b.key))
        );
    }
    // The keyframe's frame is frame 150 of the clip (0-based), the clip's middle.
    let people = avaloc::data::annotated_people(&ann.join("kinetics_val_v1.0.csv")).unwrap();
    let samples = avaloc::data::keyframe_samples(
        &people,
        &root,
        ClipSpec {
            num_frames: 1,
            stride: 1,
        },
    )
    .unwrap();
    for s in samples.samples() {
        let name = s.frames[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(name, format!("{}_000151.jpg", s.key.video_id));
    }
    std::fs::remove_dir_all(root).unwrap();
}
