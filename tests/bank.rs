//! The long-term feature bank's storage and windows: round trips (float32 exact, float16
//! within its rounding), windows at the video's edges, over missing seconds and seconds with
//! fewer boxes than `per_second`, deterministic at test and seeded at training, and damaged
//! files, foreign manifests and missing videos as errors naming the file and the field.

mod common;

use std::path::PathBuf;

use avaloc::data::bank::{
    Bank, BankDtype, BankEntry, BankManifest, BoxSource, Pick, VideoBank, sample_window,
    video_path, write_video,
};
use avaloc::models::action::WindowSpec;

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("avaloc-bank-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A feature that names its entry: `[second, rank, 0.5, ...]`.
fn entry(second: i64, rank: usize, score: f32, dim: usize) -> BankEntry {
    let mut feature = vec![0.5; dim];
    feature[0] = second as f32;
    feature[1] = rank as f32;
    BankEntry {
        second,
        score,
        box_xyxy_norm: [0.1, 0.2, 0.3 + rank as f32 * 0.1, 0.9],
        feature,
    }
}

/// Seconds 900–909 of a video: second 900 + s has s % 4 people (none at 900, 904, 908), with
/// scores falling by rank; written out of order.
fn entries(dim: usize) -> Vec<BankEntry> {
    let mut all = Vec::new();
    for s in (0..10i64).rev() {
        for rank in 0..(s % 4) as usize {
            all.push(entry(900 + s, rank, 0.99 - rank as f32 * 0.1, dim));
        }
    }
    all
}

#[test]
fn float32_round_trips_exactly_and_float16_within_its_rounding() {
    let dir = folder("roundtrip");
    let mut written = entries(6);
    written[3].feature[2] = 0.123_456_78;
    written[3].feature[5] = -1234.567;
    for dtype in [BankDtype::F32, BankDtype::F16] {
        let path = write_video(&dir, "vid", &written, 6, dtype).unwrap();
        let bank = VideoBank::open(&path).unwrap();
        assert_eq!((bank.dim(), bank.dtype()), (6, dtype));
        assert_eq!(bank.entries().len(), written.len());
        // Stored by second, then by falling score.
        let seconds: Vec<i64> = bank.entries().iter().map(|e| e.second).collect();
        let mut sorted = seconds.clone();
        sorted.sort();
        assert_eq!(seconds, sorted);
        for (i, info) in bank.entries().iter().enumerate() {
            let mut feature = vec![0f32; 6];
            bank.feature_into(i, &mut feature);
            let original = written
                .iter()
                .find(|e| e.second == info.second && e.score == info.score)
                .unwrap();
            assert_eq!(info.box_xyxy_norm, original.box_xyxy_norm);
            let expected: Vec<f32> = match dtype {
                BankDtype::F32 => original.feature.clone(),
                BankDtype::F16 => original
                    .feature
                    .iter()
                    .map(|v| half::f16::from_f32(*v).to_f32())
                    .collect(),
            };
            assert_eq!(feature, expected, "{dtype:?} entry {i}");
        }
    }
    // float16 keeps 11 significant bits: -1234.567 → -1235, 0.12345678 → 0.12347.
    let bank = VideoBank::open(&video_path(&dir, "vid")).unwrap();
    let row = bank
        .entries()
        .iter()
        .position(|e| e.second == written[3].second && e.score == written[3].score)
        .unwrap();
    let mut feature = vec![0f32; 6];
    bank.feature_into(row, &mut feature);
    assert_eq!(feature[5], -1235.0);
    assert!((feature[2] - 0.123_456_78).abs() < 1e-4);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn windows_follow_fair_at_edges_missing_seconds_and_sparse_seconds() {
    let dir = folder("window");
    let dim = 4;
    let path = write_video(&dir, "vid", &entries(dim), dim, BankDtype::F32).unwrap();
    let bank = VideoBank::open(&path).unwrap();
    let spec = WindowSpec {
        window_s: 6,
        per_second: 2,
    };
    // Keyframe 901: seconds 898..904; 898 and 899 lie before the video, 900 and 904 are
    // empty, 901 has 1 person, 902 has 2, 903 has 3 (two taken).
    let window = sample_window(&bank, 901, spec, Pick::Best);
    assert_eq!(window.features.len(), 12 * dim);
    let row = |r: usize| window.features[r * dim..(r + 1) * dim].to_vec();
    let mask: Vec<usize> = (0..12).filter(|&r| window.mask[r]).collect();
    assert_eq!(mask, vec![6, 8, 9, 10, 11]);
    for r in 0..12 {
        if !window.mask[r] {
            assert_eq!(row(r), vec![0.0; dim], "row {r} is a zero row");
        }
    }
    // Seconds-major, highest score first: (901, rank 0), (902, ranks 0 and 1), (903, 0, 1).
    let named: Vec<(f32, f32)> = mask.iter().map(|&r| (row(r)[0], row(r)[1])).collect();
    assert_eq!(
        named,
        vec![
            (901.0, 0.0),
            (902.0, 0.0),
            (902.0, 1.0),
            (903.0, 0.0),
            (903.0, 1.0)
        ]
    );
    // At the video's end: keyframe 909 reads 906..912; 910 and 911 lie after it.
    let end = sample_window(&bank, 909, spec, Pick::Best);
    let rows: Vec<usize> = (0..12).filter(|&r| end.mask[r]).collect();
    // 906: 2 people, 907: 3 (two taken), 908: none, 909: 1.
    assert_eq!(rows, vec![0, 1, 2, 3, 6]);
    // Test windows repeat.
    assert_eq!(
        sample_window(&bank, 905, spec, Pick::Best),
        sample_window(&bank, 905, spec, Pick::Best)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn training_windows_draw_without_replacement_from_their_seed() {
    let dir = folder("random");
    let dim = 3;
    // One second with 8 people.
    let all: Vec<BankEntry> = (0..8)
        .map(|r| entry(950, r, 0.9 - r as f32 * 0.05, dim))
        .collect();
    let path = write_video(&dir, "vid", &all, dim, BankDtype::F32).unwrap();
    let bank = VideoBank::open(&path).unwrap();
    let spec = WindowSpec {
        window_s: 1,
        per_second: 5,
    };
    let ranks = |pick: Pick| -> Vec<u32> {
        let w = sample_window(&bank, 950, spec, pick);
        assert!(w.mask.iter().all(|m| *m));
        w.features.chunks(dim).map(|f| f[1] as u32).collect()
    };
    assert_eq!(ranks(Pick::Best), vec![0, 1, 2, 3, 4]);
    let first = ranks(Pick::Random(7));
    assert_eq!(first, ranks(Pick::Random(7)), "seeded");
    let mut distinct = first.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "without replacement: {first:?}");
    let draws: std::collections::HashSet<Vec<u32>> =
        (0..20).map(|s| ranks(Pick::Random(s))).collect();
    assert!(draws.len() > 10, "seeds give different draws");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn damaged_files_foreign_manifests_and_missing_videos_are_named_errors() {
    let dir = folder("errors");
    let path = write_video(&dir, "vid", &entries(4), 4, BankDtype::F16).unwrap();
    // Truncated.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let err = VideoBank::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("vid.bank") && err.contains("truncated"),
        "{err}"
    );
    // A NaN feature value (a flipped exponent), as f16 and as f32, names its entry.
    for dtype in [BankDtype::F16, BankDtype::F32] {
        let path = write_video(&dir, "vid", &entries(4), 4, dtype).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let width = 4 * if dtype == BankDtype::F16 { 2 } else { 4 };
        // The last value of entry 2: its high byte gets an all-ones exponent.
        let at = bytes.len() - (entries(4).len() - 3) * width - 1;
        bytes[at] = 0x7f;
        if dtype == BankDtype::F16 {
            bytes[at] = 0x7e;
        } else {
            bytes[at - 1] |= 0x80;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = VideoBank::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("vid.bank") && err.contains("entry 2") && err.contains("non-finite"),
            "{dtype:?}: {err}"
        );
    }
    // Not a bank.
    std::fs::write(&path, b"hello, world: not a bank at all").unwrap();
    let err = VideoBank::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("vid.bank") && err.contains("not an avaloc bank"),
        "{err}"
    );
    // A feature of the wrong width is refused when writing.
    let mut wrong = entries(4);
    wrong[2].feature.push(1.0);
    let err = write_video(&dir, "vid", &wrong, 4, BankDtype::F16)
        .unwrap_err()
        .to_string();
    assert!(err.contains("5 values, not 4"), "{err}");
    // So is a non-finite value, naming the second.
    let mut nan = entries(4);
    nan[0].feature[1] = f32::NAN;
    let err = write_video(&dir, "vid", &nan, 4, BankDtype::F16)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("non-finite") && err.contains(&format!("second {}", nan[0].second)),
        "{err}"
    );

    // No manifest: not a bank folder.
    let err = Bank::open(&dir).unwrap_err().to_string();
    assert!(err.contains("manifest.json"), "{err}");
    common::bank_manifest(4).write(&dir).unwrap();
    write_video(&dir, "vid", &entries(4), 4, BankDtype::F16).unwrap();
    let bank = Bank::open(&dir).unwrap();
    assert_eq!(bank.video("vid").unwrap().entries().len(), entries(4).len());
    let err = bank.video("other").unwrap_err().to_string();
    assert!(
        err.contains("\"other\"") && err.contains("other.bank"),
        "{err}"
    );
    let err = bank.check_dim(2304).unwrap_err().to_string();
    assert!(
        err.contains("manifest.json") && err.contains("dim = 4"),
        "{err}"
    );
    // A build with other weights differs in a named field.
    let mut other = common::bank_manifest(4);
    other.weights_digest = "w1".into();
    assert_eq!(
        common::bank_manifest(4).difference(&other),
        Some((
            "weights_digest".to_string(),
            "w0".to_string(),
            "w1".to_string()
        ))
    );
    assert_eq!(
        common::bank_manifest(4).difference(&common::bank_manifest(4)),
        None
    );
    // Another split may join; the same split with other boxes may not.
    let mut val = common::bank_manifest(4);
    val.splits = [(
        "val".to_string(),
        BoxSource {
            boxes: "val.csv".into(),
            box_threshold: 0.9,
        },
    )]
    .into();
    assert_eq!(common::bank_manifest(4).difference(&val), None);
    let mut train = common::bank_manifest(4);
    train.splits.get_mut("train").unwrap().boxes = "detections.csv".into();
    let (field, _, theirs) = common::bank_manifest(4).difference(&train).unwrap();
    assert_eq!(
        (field.as_str(), theirs.as_str()),
        ("splits.train", "detections.csv (score ≥ 0)")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn builds_of_many_splits_join_one_folder_at_once_and_another_model_is_refused() {
    let dir = folder("join");
    // Without the folder's lock, concurrent read-modify-writes lose splits.
    std::thread::scope(|scope| {
        for k in 0..16 {
            let dir = &dir;
            scope.spawn(move || {
                let mut ours = common::bank_manifest(6);
                ours.splits = [(
                    format!("split{k:02}"),
                    BoxSource {
                        boxes: format!("boxes{k}.csv"),
                        box_threshold: 0.9,
                    },
                )]
                .into();
                ours.join_folder(dir).unwrap();
            });
        }
    });
    let joined = BankManifest::read(&dir).unwrap().unwrap();
    let splits: Vec<&String> = joined.splits.keys().collect();
    assert_eq!(splits.len(), 16, "{splits:?}");
    assert_eq!(joined.splits["split07"].boxes, "boxes7.csv");

    let mut other = common::bank_manifest(6);
    other.weights_digest = "w1".into();
    let err = other.join_folder(&dir).unwrap_err().to_string();
    assert!(
        err.contains("manifest.json") && err.contains("weights_digest = w0"),
        "{err}"
    );
    // The same split from other boxes is refused too.
    let mut moved = common::bank_manifest(6);
    moved.splits = [(
        "split03".to_string(),
        BoxSource {
            boxes: "elsewhere.csv".into(),
            box_threshold: 0.9,
        },
    )]
    .into();
    let err = moved.join_folder(&dir).unwrap_err().to_string();
    assert!(err.contains("splits.split03"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
