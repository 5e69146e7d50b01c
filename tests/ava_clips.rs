//! Clip loading: frames decode, transform consistently, and boxes follow the pixels.

use std::path::PathBuf;

use avaloc::data::{ClipTransform, Normalization, TransformDraw, decode_frame, load_clip};
use image::{Rgb, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("avaloc-clips-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A black 320×240 frame with a white rectangle over the normalised box.
fn frame_with_box(b: [f64; 4]) -> RgbImage {
    let (w, h) = (320u32, 240u32);
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = ((x as f64 + 0.5) / w as f64, (y as f64 + 0.5) / h as f64);
        if u >= b[0] && u < b[2] && v >= b[1] && v < b[3] {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    })
}

/// Extent `[x1, y1, x2, y2]` of the bright pixels.
fn bright_extent(img: &RgbImage) -> [f32; 4] {
    let mut e = [f32::MAX, f32::MAX, 0.0f32, 0.0f32];
    for (x, y, p) in img.enumerate_pixels() {
        if p[0] > 127 {
            e = [
                e[0].min(x as f32),
                e[1].min(y as f32),
                e[2].max(x as f32 + 1.0),
                e[3].max(y as f32 + 1.0),
            ];
        }
    }
    e
}

#[test]
fn test_transform_scales_the_short_side_and_flips_boxes() {
    let draw = ClipTransform::Test {
        short_side: 256,
        flip: true,
    }
    .draw(320, 240, &mut StdRng::seed_from_u64(0));
    // floor(320 / 240 * 256) = 341.
    assert_eq!(
        draw,
        TransformDraw {
            region: None,
            size: [341, 256],
            crop: [0, 0, 341, 256],
            flip: true
        }
    );
    // x: 0.25 * 341 = 85.25 .. 255.75, mirrored about 341.
    assert_eq!(
        draw.apply_to_box([0.25, 0.5, 0.75, 1.0]),
        [85.25, 128.0, 255.75, 256.0]
    );
}

#[test]
fn train_transforms_move_boxes_with_the_pixels() {
    let b = [0.3, 0.2, 0.6, 0.7];
    let frame = frame_with_box(b);
    let transform = ClipTransform::Train {
        short_side: [256, 320],
        crop: 224,
    };
    let mut rng = StdRng::seed_from_u64(20261124);
    let mut flips = 0;
    for _ in 0..12 {
        let draw = transform.draw(320, 240, &mut rng);
        assert!((256..=320).contains(&draw.size[1]), "{draw:?}");
        assert_eq!(&draw.crop[2..], &[224, 224]);
        flips += draw.flip as usize;
        let out = draw.apply(&frame);
        assert_eq!(out.dimensions(), (224, 224));
        let expected = draw.apply_to_box(b);
        if expected[2] - expected[0] < 4.0 || expected[3] - expected[1] < 4.0 {
            continue; // cropped (nearly) away
        }
        let seen = bright_extent(&out);
        for (s, e) in seen.iter().zip(expected) {
            assert!(
                (s - e).abs() <= 2.0,
                "{draw:?}: pixels {seen:?} vs box {expected:?}"
            );
        }
    }
    assert!(flips > 0 && flips < 12, "flip is random");
}

#[test]
fn clips_are_channel_major_and_normalised() {
    let dir = temp_dir("load");
    let frames: Vec<PathBuf> = (0..3u8)
        .map(|i| {
            let path = dir.join(format!("img_{:05}.png", i + 1));
            RgbImage::from_pixel(40, 30, Rgb([51 * i, 102, 255]))
                .save(&path)
                .unwrap();
            path
        })
        .collect();
    let draw = ClipTransform::Test {
        short_side: 20,
        flip: false,
    }
    .draw(40, 30, &mut StdRng::seed_from_u64(0));
    let clip = load_clip(&frames, &draw, &Normalization::default()).unwrap();
    assert_eq!(clip.shape, [3, 3, 20, 26]);
    let at = |c: usize, t: usize| clip.values[((c * 3 + t) * 20 + 7) * 26 + 11];
    let norm = |v: f32| (v / 255.0 - 0.45) / 0.225;
    assert!((at(0, 2) - norm(102.0)).abs() < 1e-5);
    assert!((at(1, 0) - norm(102.0)).abs() < 1e-5);
    assert!((at(2, 1) - norm(255.0)).abs() < 1e-5);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_and_corrupt_frames_name_the_file() {
    let dir = temp_dir("bad");
    let missing = dir.join("frames/vid/vid_000061.jpg");
    assert!(
        decode_frame(&missing)
            .unwrap_err()
            .to_string()
            .contains("vid_000061.jpg")
    );
    let corrupt = dir.join("vid_000062.jpg");
    std::fs::write(&corrupt, b"\xff\xd8\xff\xe0 truncated jpeg").unwrap();
    let err = decode_frame(&corrupt).unwrap_err().to_string();
    assert!(
        err.contains("vid_000062.jpg") && err.contains("cannot decode image"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

mod batching {
    use super::*;
    use avaloc::data::SeededBatcher;
    use avaloc::data::{
        AvaKeyframes, ClipBatcher, FrameLayout, KeyframeKey, LabelMap, PersonAnnotation,
    };
    use avaloc::models::action::ClipSpec;
    use burn::data::dataset::Dataset;
    use std::path::Path;

    type TestBackend = burn::backend::Flex;

    /// 90 frames of a 32×24 video whose gray level encodes the frame number.
    fn write_video(root: &Path, video: &str) {
        let dir = root.join("frames").join(video);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 1..=90u32 {
            let level = (2 * i) as u8;
            RgbImage::from_pixel(32, 24, Rgb([level; 3]))
                .save(dir.join(format!("{video}_{i:06}.jpg")))
                .unwrap();
        }
    }

    fn person(video: &str, t: i64, b: [f64; 4], actions: Vec<i64>) -> PersonAnnotation {
        PersonAnnotation {
            key: KeyframeKey {
                video_id: video.into(),
                timestamp_s: t,
            },
            box_xyxy_norm: b,
            actions,
            person_id: None,
        }
    }

    #[test]
    fn batches_hold_the_keyframes_clips_rois_and_labels() {
        let root = temp_dir("dataset");
        write_video(&root, "vidA");
        write_video(&root, "vidB");
        let people = vec![
            person("vidA", 902, [0.0, 0.0, 0.5, 0.5], vec![12]),
            person("vidA", 902, [0.5, 0.5, 1.0, 1.0], vec![12, 14]),
            person("vidB", 901, [0.25, 0.0, 0.75, 1.0], vec![14]),
        ];
        let clip = ClipSpec {
            num_frames: 4,
            stride: 8,
        };
        let dataset =
            AvaKeyframes::new(&people, &root, FrameLayout::PySlowFast, 900, clip).unwrap();
        assert_eq!(dataset.len(), 2);
        let a = dataset.get(0).unwrap();
        // Second 902 is frame index 60; 4 frames 8 apart around it: 44, 52, 60, 68 (files +1).
        let names: Vec<String> = a
            .frames
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into())
            .collect();
        assert_eq!(
            names,
            [
                "vidA_000045.jpg",
                "vidA_000053.jpg",
                "vidA_000061.jpg",
                "vidA_000069.jpg"
            ]
        );

        let labels = LabelMap::parse(
            "item {\n name: \"stand\"\n id: 12\n}\nitem {\n name: \"walk\"\n id: 14\n}\n",
            Path::new("mem"),
        )
        .unwrap();
        let batcher = ClipBatcher::new(
            ClipTransform::Test {
                short_side: 24,
                flip: false,
            },
            Normalization::default(),
            &labels,
            0,
        );
        let batch: avaloc::data::ClipBatch<TestBackend> = batcher.batch(
            vec![dataset.get(0).unwrap(), dataset.get(1).unwrap()],
            0,
            &Default::default(),
        );
        assert_eq!(batch.clips.dims(), [2, 3, 4, 24, 32]);
        assert_eq!(batch.keys[0].to_string(), "vidA,0902");
        let clip_of_roi: Vec<usize> = batch.roi_boxes_xyxy_norm.iter().map(|r| r.0).collect();
        assert_eq!(clip_of_roi, [0, 0, 1]);
        let rois: Vec<f32> = batch.rois.into_data().to_vec().unwrap();
        assert_eq!(
            rois,
            vec![
                0.0, 0.0, 0.0, 16.0, 12.0, 0.0, 16.0, 12.0, 32.0, 24.0, 1.0, 8.0, 0.0, 24.0, 24.0
            ]
        );
        let multi_hot: Vec<f32> = batch.labels.into_data().to_vec().unwrap();
        assert_eq!(multi_hot, vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0]);
        // Frame 61 of vidA (gray 122) is the keyframe, third in its clip.
        let values: Vec<f32> = batch.clips.into_data().to_vec().unwrap();
        let keyframe_pixel = values[2 * 24 * 32 + 5 * 32 + 7]; // batch 0, channel 0, frame 2
        let expected = (122.0 / 255.0 - 0.45) / 0.225;
        assert!(
            (keyframe_pixel - expected).abs() < 3.0 / 255.0 / 0.225,
            "{keyframe_pixel} vs {expected}"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn unreadable_clips_are_skipped_and_missing_videos_are_errors() {
        let root = temp_dir("dataset-bad");
        write_video(&root, "vidA");
        std::fs::write(root.join("frames/vidA/vidA_000061.jpg"), b"not a jpeg").unwrap();
        let clip = ClipSpec {
            num_frames: 2,
            stride: 4,
        };
        let people = vec![
            person("vidA", 902, [0.1, 0.1, 0.5, 0.9], vec![12]),
            person("vidA", 901, [0.1, 0.1, 0.5, 0.9], vec![12]),
        ];
        let dataset =
            AvaKeyframes::new(&people, &root, FrameLayout::PySlowFast, 900, clip).unwrap();
        let labels =
            LabelMap::parse("item {\n name: \"stand\"\n id: 12\n}\n", Path::new("mem")).unwrap();
        let batcher = ClipBatcher::new(
            ClipTransform::Test {
                short_side: 24,
                flip: false,
            },
            Normalization::default(),
            &labels,
            0,
        );
        let batch: avaloc::data::ClipBatch<TestBackend> = batcher.batch(
            vec![dataset.get(0).unwrap(), dataset.get(1).unwrap()],
            0,
            &Default::default(),
        );
        assert_eq!(
            batch.keys.len(),
            1,
            "the keyframe whose clip includes the corrupt frame is skipped"
        );
        assert_eq!(batch.keys[0].timestamp_s, 901);

        let missing = vec![person("vidZ", 902, [0.1, 0.1, 0.5, 0.9], vec![12])];
        let err = AvaKeyframes::new(&missing, &root, FrameLayout::PySlowFast, 900, clip)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("frames/vidZ"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
