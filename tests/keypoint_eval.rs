//! COCO keypoint AP against pycocotools' `COCOeval(iouType="keypoints")` on the random cases
//! of tests/reference/coco_keypoints_eval.py (crowds, people without keypoints, every area
//! range, tied scores, over 20 detections in an image): all ten numbers within 1e-6.

mod common;

use std::path::PathBuf;

use avaloc::data::{CocoKeypoints, read_coco_results};
use avaloc::eval::evaluate_keypoints;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/coco_keypoints")
}

#[test]
fn keypoint_ap_matches_pycocotools() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap())
            .unwrap();
    let cases = expected.as_object().unwrap();
    assert_eq!(cases.len(), 6);
    for (name, stats) in cases {
        let truth = CocoKeypoints::read(&dir().join(format!("{name}_gt.json"))).unwrap();
        let results = read_coco_results(&dir().join(format!("{name}_dt.json"))).unwrap();
        let got = evaluate_keypoints(&truth, &results).unwrap();
        for (i, want) in stats.as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap();
            assert!(
                (got.0[i] - want).abs() <= 1e-6,
                "{name} stat {i}: {} vs pycocotools {want}",
                got.0[i]
            );
        }
    }
}

#[test]
fn results_of_unknown_images_or_bad_keypoints_are_refused() {
    let truth = CocoKeypoints::read(&dir().join("case0_gt.json")).unwrap();
    let mut results = read_coco_results(&dir().join("case0_dt.json")).unwrap();
    results[0].image_id = 999;
    let err = evaluate_keypoints(&truth, &results).unwrap_err();
    assert!(err.contains("999"), "{err}");

    let tmp = std::env::temp_dir().join(format!("avaloc-kpeval-{}.json", std::process::id()));
    std::fs::write(
        &tmp,
        r#"[{"image_id": 1, "keypoints": [1, 2], "score": 0.5}]"#,
    )
    .unwrap();
    let err = read_coco_results(&tmp).unwrap_err().to_string();
    assert!(
        err.contains("avaloc-kpeval") && err.contains("triples"),
        "{err}"
    );
    std::fs::write(&tmp, "[{\"image_id\": 1,").unwrap();
    let err = read_coco_results(&tmp).unwrap_err().to_string();
    assert!(err.contains("not a COCO keypoint file"), "{err}");
    std::fs::remove_file(tmp).unwrap();
}

/// `avaloc eval keypoints` prints pycocotools' summary and writes the ten numbers as JSON;
/// a result for an image the ground truth lacks is an error naming the results file.
#[test]
fn eval_keypoints_command() {
    let out = std::env::temp_dir().join(format!("avaloc-kpcli-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let json = out.join("stats.json");
    let gt = dir().join("case2_gt.json");
    let dt = dir().join("case2_dt.json");
    let run = common::avaloc(&[
        "eval",
        "keypoints",
        "--groundtruth",
        gt.to_str().unwrap(),
        "--detections",
        dt.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("Average Precision  (AP) @[ IoU=0.50:0.95")
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap())
            .unwrap();
    let ap = expected["case2"][0].as_f64().unwrap();
    assert!((written["AP"].as_f64().unwrap() - ap).abs() < 1e-9);

    let bad = out.join("bad_dt.json");
    std::fs::write(
        &bad,
        r#"[{"image_id": 4242, "category_id": 1, "keypoints": [1, 2, 1], "score": 0.5}]"#,
    )
    .unwrap();
    let run = common::avaloc(&[
        "eval",
        "keypoints",
        "--groundtruth",
        gt.to_str().unwrap(),
        "--detections",
        bad.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && err.contains("bad_dt.json") && err.contains("4242"),
        "{err}"
    );
    std::fs::remove_dir_all(out).unwrap();
}
