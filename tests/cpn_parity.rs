//! CPN against the PyTorch transcriptions of pytorch-cpn and tf-cpn in tests/reference/cpn.py
//! (seeded weights, random batch-norm statistics, a crop of scikit-image's astronaut photo):
//! GlobalNet's four heatmaps and RefineNet's output, each within 1e-4 of its largest
//! reference magnitude. pytorch-cpn's weights load strictly under its own names (with its
//! `module.` prefix), tf-cpn's under avaloc's (the converter's output).

mod common;

use avaloc::config::NetworkConfig;
use avaloc::models::pose::{Cpn, CpnConvention, PoseSpec};
use avaloc::weights::{Checkpoint, LoadMode};
use common::{Fixture, TestBackend, fixture_path, max_abs_diff, values};

fn tiny_spec(convention: CpnConvention) -> PoseSpec {
    let NetworkConfig::Cpn(spec) = common::shipped("pose/cpn_tiny.toml") else {
        panic!("a pose config")
    };
    PoseSpec {
        convention,
        ..*spec
    }
}

fn check(name: &str, convention: CpnConvention, expected_tensors: usize) {
    let checkpoint = Checkpoint::open(fixture_path(&format!("{name}.safetensors"))).unwrap();
    let (net, report): (Cpn<TestBackend>, _) = tiny_spec(convention)
        .load(&checkpoint, LoadMode::Strict, &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.loaded, expected_tensors, "{report}");

    let io = Fixture::open(&format!("{name}_io"));
    let out = net.forward(io.tensor("input"));
    let outputs = out
        .global
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("global_{i}"), t))
        .chain([("refine".to_string(), out.refine)]);
    for (key, tensor) in outputs {
        assert_eq!(tensor.dims().to_vec(), io.shape(&key), "{name} {key}");
        let expected = io.floats(&key);
        let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&values(tensor), &expected);
        assert!(
            err <= 1e-4 * scale,
            "{name} {key}: max abs error {err:e} (scale {scale:e})"
        );
    }
}

#[test]
fn pytorch_cpn_heatmaps_match_the_reference() {
    // 366 tensors less the 61 batch norms' `num_batches_tracked`.
    check("cpn_tiny_pytorch", CpnConvention::PytorchCpn, 366 - 61);
}

#[test]
fn tf_cpn_heatmaps_match_the_reference() {
    check("cpn_tiny_tf", CpnConvention::TfCpn, 266);
}

/// tf-cpn's `mptest.py` post-processing (tests/reference/cpn_decode.py, OpenCV's blur) on
/// random network-like heatmaps: the flip merge, keypoints within 1e-3 px, scores within 1e-5.
#[test]
fn heatmaps_decode_as_tf_cpn_tests() {
    use avaloc::models::pose::{CropBox, decode_heatmaps, merge_flipped};
    let fx = Fixture::open("cpn_decode");
    for (i, case) in fx.cases().iter().enumerate() {
        let mut heatmap = fx.floats(&format!("{i}.heatmap"));
        merge_flipped(&mut heatmap, &fx.floats(&format!("{i}.flipped")), [64, 48]);
        let d: Vec<f64> = case["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let crop = CropBox {
            x1: d[0],
            y1: d[1],
            x2: d[2],
            y2: d[3],
        };
        let det = case["det_score"].as_f64().unwrap() as f32;
        let pose = decode_heatmaps(&heatmap, [64, 48], &crop, [256, 192], det);
        let expected = fx.floats(&format!("{i}.keypoints"));
        for (k, (got, want)) in pose.keypoints_px.iter().zip(expected.chunks(2)).enumerate() {
            let err = (got[0] - want[0] as f64)
                .abs()
                .max((got[1] - want[1] as f64).abs());
            assert!(err < 1e-3, "person {i} keypoint {k}: {got:?} vs {want:?}");
        }
        let scores = fx.floats(&format!("{i}.scores"));
        assert!(
            max_abs_diff(&pose.scores, &scores) < 1e-5,
            "person {i} scores"
        );
        let score = case["score"].as_f64().unwrap() as f32;
        assert!(
            (pose.score - score).abs() < 1e-5,
            "{} vs {score}",
            pose.score
        );
    }
}
