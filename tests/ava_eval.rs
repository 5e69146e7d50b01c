//! `avaloc eval` against the official AVA evaluator (fixtures from tests/reference/ava_eval.py)
//! and on hand-checked cases; the AVA file readers on good and bad input.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use avaloc::data::{AvaRow, KeyframeKey, LabelMap, read_ava_csv, read_exclusions};
use avaloc::eval::{EvalOptions, average_precision, evaluate, evaluate_files, evaluate_parts};
use common::fixture_path;

fn fixture(name: &str) -> PathBuf {
    fixture_path(&format!("ava_eval/{name}"))
}

#[test]
fn matches_the_official_evaluator() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    for (case, cap) in [("capped", 50), ("uncapped", 0)] {
        let result = evaluate_files(
            &fixture("groundtruth.csv"),
            &fixture("detections.csv"),
            &fixture("labelmap.pbtxt"),
            Some(&fixture("exclusions.csv")),
            &EvalOptions {
                max_detections_per_frame: cap,
                ..EvalOptions::default()
            },
        )
        .unwrap();
        let want = &expected[case];
        assert!(
            (result.map - want["mAP"].as_f64().unwrap()).abs() < 1e-6,
            "{case}: mAP {} vs {}",
            result.map,
            want["mAP"]
        );
        for (id, _, ap) in &result.per_class {
            let official = want["per_class"][id.to_string()].as_f64();
            match (ap, official) {
                (Some(a), Some(b)) => {
                    assert!((a - b).abs() < 1e-6, "{case} class {id}: {a} vs {b}")
                }
                (None, None) => {}
                _ => panic!("{case} class {id}: {ap:?} vs {official:?}"),
            }
        }
    }
}

fn row(video: &str, t: i64, b: [f64; 4], action: i64, last: f64) -> AvaRow {
    AvaRow {
        key: KeyframeKey {
            video_id: video.into(),
            timestamp_s: t,
        },
        box_xyxy_norm: b,
        action_id: action,
        last: Some(last),
        line: 0,
    }
}

fn labels() -> LabelMap {
    LabelMap::parse(
        "item {\n  name: \"stand\"\n  id: 12\n}\nitem {\n  name: \"walk\"\n  id: 14\n}\n",
        Path::new("mem"),
    )
    .unwrap()
}

#[test]
fn hand_checked_average_precision() {
    // Two people standing; detections: a hit (0.9), a duplicate of it (0.8), the second
    // person (0.7), and a false alarm on a frame with no ground truth (0.95).
    let a = [0.1, 0.1, 0.4, 0.9];
    let b = [0.5, 0.1, 0.8, 0.9];
    let gt = vec![row("v", 902, a, 12, 0.0), row("v", 902, b, 12, 1.0)];
    let near_a = [0.11, 0.1, 0.41, 0.88];
    let det = vec![
        row("v", 902, near_a, 12, 0.9),
        row("v", 902, a, 12, 0.8),
        row("v", 902, b, 12, 0.7),
        row("v", 903, a, 12, 0.95),
    ];
    let result = evaluate(
        &labels(),
        &gt,
        &det,
        &HashSet::new(),
        &EvalOptions::default(),
    );
    // Ranked FP, TP, FP, TP: precision .0 .5 .33 .5, recall 0 .5 .5 1 -> 0.5 * 0.5 + 0.5 * 0.5.
    assert_eq!(result.per_class[0].2, Some(0.5));
    assert_eq!(result.per_class[1].2, None, "walk has no ground truth");
    assert_eq!(result.map, 0.5);

    // Without the false alarm: TP, FP, TP -> 0.5 * 1 + 0.5 * 2/3.
    let result = evaluate(
        &labels(),
        &gt,
        &det[..3],
        &HashSet::new(),
        &EvalOptions::default(),
    );
    assert!((result.map - (0.5 + 1.0 / 3.0)).abs() < 1e-12);

    // Excluding frame 903 removes the false alarm too.
    let excluded: HashSet<KeyframeKey> = [KeyframeKey {
        video_id: "v".into(),
        timestamp_s: 903,
    }]
    .into();
    let result = evaluate(&labels(), &gt, &det, &excluded, &EvalOptions::default());
    assert!((result.map - (0.5 + 1.0 / 3.0)).abs() < 1e-12);

    // Keeping one detection per frame leaves the hit (0.9) and the false alarm: TP at rank 2.
    let result = evaluate(
        &labels(),
        &gt,
        &det,
        &HashSet::new(),
        &EvalOptions {
            max_detections_per_frame: 1,
            ..EvalOptions::default()
        },
    );
    assert!((result.map - 0.25).abs() < 1e-12, "{}", result.map);
}

#[test]
fn average_precision_of_a_perfect_and_an_empty_ranking() {
    assert_eq!(average_precision(&[0.9, 0.8], &[true, true], 2), 1.0);
    assert_eq!(average_precision(&[], &[], 3), 0.0);
    assert_eq!(average_precision(&[0.9, 0.8], &[false, true], 4), 0.125);
}

#[test]
fn label_maps_in_both_dialects() {
    let item = LabelMap::read(&fixture("labelmap.pbtxt")).unwrap();
    assert_eq!(item.name(17), Some("carry/hold (an object)"));
    let label = LabelMap::parse(
        "label {\n  name: \"bend/bow (at the waist)\"\n  label_id: 1\n  label_type: PERSON_MOVEMENT\n}\nlabel {\n  name: \"talk to (e.g., self, a person, a group)\"\n  label_id: 79\n  label_type: PERSON_INTERACTION\n}\n",
        Path::new("ava_action_list_v2.2.pbtxt"),
    )
    .unwrap();
    assert_eq!(label.labels.len(), 2);
    assert_eq!(
        label.name(79),
        Some("talk to (e.g., self, a person, a group)")
    );
    let err = LabelMap::parse("item {\n  name: \"x\"\n}\n", Path::new("bad.pbtxt")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad.pbtxt:1: a label needs both a name and an id"
    );
}

#[test]
fn malformed_rows_are_errors_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("avaloc-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "columns.csv",
            "v,0902,0.1,0.1,0.5,0.5,12,0\nv,0902,0.1,0.1,0.5\n",
            "columns.csv:2: expected 7 or 8 comma-separated columns, found 5",
        ),
        (
            "number.csv",
            "v,0902,0.1,zero,0.5,0.5,12,0\n",
            "number.csv:1: y1 \"zero\" is not a number",
        ),
        (
            "timestamp.csv",
            "\nv,09x2,0.1,0.1,0.5,0.5,12,0\n",
            "timestamp.csv:2: timestamp \"09x2\" is not an integer",
        ),
    ];
    for (name, text, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let err = read_ava_csv(&path).unwrap_err().to_string();
        assert!(err.ends_with(message), "{err}");
    }
    let path = dir.join("exclusions.csv");
    std::fs::write(&path, "v,0902\nv,0903,extra\n").unwrap();
    assert!(
        read_exclusions(&path)
            .unwrap_err()
            .to_string()
            .ends_with("exclusions.csv:2: expected 2 columns (video_id,timestamp), found 3")
    );
    // A detections file without scores is refused, naming the file.
    let no_score = dir.join("no_score.csv");
    std::fs::write(&no_score, "v,0902,0.1,0.1,0.5,0.5,12\n").unwrap();
    let err = evaluate_files(
        &fixture("groundtruth.csv"),
        &no_score,
        &fixture("labelmap.pbtxt"),
        None,
        &EvalOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("no_score.csv:1: a detection row needs a score in its eighth column"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_prints_the_table_and_writes_json() {
    let json = std::env::temp_dir().join(format!("avaloc-eval-{}.json", std::process::id()));
    let plot = std::env::temp_dir().join(format!("avaloc-eval-{}.png", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_avaloc"))
        .args(["eval", "--groundtruth"])
        .arg(fixture("groundtruth.csv"))
        .arg("--detections")
        .arg(fixture("detections.csv"))
        .arg("--labelmap")
        .arg(fixture("labelmap.pbtxt"))
        .arg("--exclusions")
        .arg(fixture("exclusions.csv"))
        .arg("--json")
        .arg(&json)
        .arg("--plot")
        .arg(&plot)
        .args(["--pr-classes", "12,17"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("carry/hold (an object)") && stdout.contains("frame-mAP@0.5IOU = 0.2096"),
        "{stdout}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(written["per_class"]["3"]["ap"].is_null());
    assert_eq!(written["per_class"]["17"]["name"], "carry/hold (an object)");
    let png = image::open(&plot).unwrap().to_rgb8();
    // One 22-px row per class below the title, a 380-px precision/recall panel under the bars
    // (plotters).
    assert_eq!(png.dimensions(), (950, 90 + 9 * 22 + 380));
    assert!(png.pixels().any(|p| p.0 == [31, 119, 180]), "no bars drawn");
    std::fs::remove_file(json).unwrap();
    std::fs::remove_file(plot).unwrap();
}

/// Two ground-truth files (AVA-Kinetics' AVA and Kinetics parts): each part equals the
/// official evaluator on that part's ground truth and the detections of its videos, the
/// union the official evaluator on both (the fixture's whole case).
#[test]
fn parts_match_the_official_evaluator_on_each_subset() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("expected_parts.json")).unwrap())
            .unwrap();
    let whole: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    let files = [fixture("parts_a.csv"), fixture("parts_b.csv")];
    let result = evaluate_parts(
        &files,
        &fixture("detections.csv"),
        &fixture("labelmap.pbtxt"),
        Some(&fixture("exclusions.csv")),
        &EvalOptions::default(),
    )
    .unwrap();
    let check = |name: &str, got: &avaloc::eval::FrameMapResult, want: &serde_json::Value| {
        assert!(
            (got.map - want["mAP"].as_f64().unwrap()).abs() < 1e-6,
            "{name}: mAP {} vs {}",
            got.map,
            want["mAP"]
        );
        for (id, _, ap) in &got.per_class {
            match (ap, want["per_class"][id.to_string()].as_f64()) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-6, "{name} {id}: {a} vs {b}"),
                (None, None) => {}
                (a, b) => panic!("{name} class {id}: {a:?} vs {b:?}"),
            }
        }
    };
    check("union", &result.union, &whole["capped"]);
    for ((path, got), name) in result.parts.iter().zip(["parts_a.csv", "parts_b.csv"]) {
        assert!(path.ends_with(name));
        check(name, got, &expected[name]);
    }
    assert!((result.parts[0].1.map - result.parts[1].1.map).abs() > 0.01);

    // The command line: the table side by side, the JSON with its parts.
    let json = std::env::temp_dir().join(format!("avaloc-eval-parts-{}.json", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_avaloc"))
        .args(["eval", "--groundtruth"])
        .arg(&files[0])
        .arg("--groundtruth")
        .arg(&files[1])
        .arg("--detections")
        .arg(fixture("detections.csv"))
        .arg("--labelmap")
        .arg(fixture("labelmap.pbtxt"))
        .arg("--exclusions")
        .arg(fixture("exclusions.csv"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header = stdout.lines().next().unwrap();
    assert!(
        header.ends_with("parts_a.csv  parts_b.csv     union"),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap();
    assert!(
        last.contains(&format!(
            "{:.4}",
            expected["parts_a.csv"]["mAP"].as_f64().unwrap()
        )) && last.ends_with("0.2097"),
        "{stdout}"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!((written["mAP"].as_f64().unwrap() - result.union.map).abs() < 1e-12);
    assert_eq!(
        written["parts"][1]["groundtruth"],
        files[1].display().to_string()
    );
    assert!(
        (written["parts"][0]["per_class"]["12"]["ap"]
            .as_f64()
            .unwrap()
            - expected["parts_a.csv"]["per_class"]["12"].as_f64().unwrap())
        .abs()
            < 1e-9
    );
    std::fs::remove_file(json).unwrap();
}

#[test]
fn precision_recall_curves_follow_the_ranking() {
    let result = evaluate_files(
        &fixture("groundtruth.csv"),
        &fixture("detections.csv"),
        &fixture("labelmap.pbtxt"),
        Some(&fixture("exclusions.csv")),
        &EvalOptions {
            pr_curve_classes: vec![12, 3],
            ..EvalOptions::default()
        },
    )
    .unwrap();
    // Class 3 has no ground truth, so only class 12 gets a curve.
    assert_eq!(result.pr_curves.len(), 1);
    let (id, curve) = &result.pr_curves[0];
    assert_eq!(*id, 12);
    assert!(
        curve.windows(2).all(|w| w[1].0 >= w[0].0),
        "recall never decreases"
    );
    assert!(
        curve
            .iter()
            .all(|&(r, p)| (0.0..=1.0).contains(&r) && (0.0..=1.0).contains(&p))
    );
}
