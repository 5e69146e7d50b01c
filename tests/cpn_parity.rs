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

/// tf-cpn's training targets (OpenCV's blur, each kernel on its level), losses (GlobalNet on
/// visible keypoints / 4 levels / 2, RefineNet with the 8 hardest keypoints) and gradients
/// against PyTorch autograd (tests/reference/cpn.py): targets ≤ 1e-3 (of 255), losses
/// ≤ 1e-5 relative, gradients ≤ 1e-3 of their largest magnitude.
#[test]
fn training_losses_and_gradients_match_pytorch() {
    use avaloc::models::pose::{CpnTargets, cpn_loss};
    use common::TestAutodiff;
    type A = TestAutodiff;

    let fx = Fixture::open("cpn_tiny_train");
    let checkpoint = Checkpoint::open(fixture_path("cpn_tiny_tf.safetensors")).unwrap();
    let device = Default::default();
    let (net, _): (Cpn<A>, _) = tiny_spec(CpnConvention::TfCpn)
        .load(&checkpoint, LoadMode::Strict, &device)
        .unwrap();
    let joints = fx.floats("joints");
    let crops: Vec<Vec<[f64; 3]>> = joints
        .chunks(17 * 3)
        .map(|c| {
            c.chunks(3)
                .map(|j| [j[0] as f64, j[1] as f64, j[2] as f64])
                .collect()
        })
        .collect();
    let targets = CpnTargets::<A>::new(
        &crops,
        [96, 64],
        [15, 11, 7, 7],
        CpnConvention::TfCpn,
        &device,
    );
    let close = |got: Vec<f32>, key: &str, tol: f32| {
        let expected = fx.floats(key);
        let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&got, &expected);
        assert!(
            err <= tol * scale,
            "{key}: max abs error {err:e} (scale {scale:e})"
        );
    };
    for (i, t) in targets.global.iter().enumerate() {
        close(values(t.clone()), &format!("target_{i}"), 1e-3 / 255.0);
    }
    close(
        values(targets.refine.clone()),
        "refine_target",
        1e-3 / 255.0,
    );

    let out = net.forward(fx.tensor("input"));
    let loss = cpn_loss(&out, &targets, CpnConvention::TfCpn);
    close(values(loss.global.clone()), "global_loss", 1e-5);
    close(values(loss.refine.clone()), "refine_loss", 1e-5);
    close(values(loss.total.clone()), "total", 1e-5);

    let grads = loss.total.backward();
    let g = &net.global_net;
    let r = &net.refine_net;
    let checked = [
        (
            "trunk.conv1.weight",
            values(net.trunk.conv1.weight.grad(&grads).unwrap()),
        ),
        (
            "laterals.0.conv.weight",
            values(g.laterals[0].conv.weight.grad(&grads).unwrap()),
        ),
        (
            "merges.2.conv.bias",
            values(
                g.merges[2]
                    .conv
                    .bias
                    .as_ref()
                    .unwrap()
                    .grad(&grads)
                    .unwrap(),
            ),
        ),
        (
            "predict.3.heatmap.conv.weight",
            values(g.predict[3].heatmap.conv.weight.grad(&grads).unwrap()),
        ),
        (
            "cascade.0.0.conv2.weight",
            values(r.cascade[0][0].conv2.weight.grad(&grads).unwrap()),
        ),
        (
            "out.conv.weight",
            values(r.out.conv.weight.grad(&grads).unwrap()),
        ),
    ];
    for (name, grad) in checked {
        close(grad, &format!("grad.{name}"), 1e-3);
    }
}
