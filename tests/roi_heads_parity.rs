//! Multi-scale RoIAlign, box head and detection post-processing against torchvision's
//! `RoIHeads` (tests/reference/roi_heads.py) on the RPN fixture's proposals and the FPN
//! fixture's levels. Pooled features and head outputs within 1e-5; detections: same count,
//! labels and order, boxes within 1e-3 px, scores within 1e-5.

mod common;

use avaloc::models::detector::{BoxHeadConfig, DetectionConfig, MultiScaleRoiAlign};
use avaloc::weights::{Checkpoint, LoadMode, load_into, torchvision_box_head};
use burn::tensor::{Int, Tensor, TensorData};
use common::{Fixture, TestBackend, assert_close, fixture_path, values};

#[test]
fn box_branch_matches_torchvision() {
    let fpn = Fixture::open("fpn_tiny_io");
    let rpn = Fixture::open("rpn_tiny_io");
    let io = Fixture::open("roi_heads_tiny_io");
    let levels: Vec<Tensor<TestBackend, 4>> = ["0", "1", "2", "3"]
        .iter()
        .map(|n| fpn.tensor(&format!("level_{n}")))
        .collect();
    let proposals: Vec<[f32; 4]> = rpn
        .floats("proposals")
        .chunks_exact(4)
        .map(|c| c.try_into().unwrap())
        .collect();

    let pooled =
        MultiScaleRoiAlign::new().forward(&levels, std::slice::from_ref(&proposals), [72, 56]);
    assert_eq!(pooled.dims(), [proposals.len(), 32, 7, 7]);
    let every7: Vec<i64> = (0..proposals.len() as i64).step_by(7).collect();
    let n = every7.len();
    let sample = pooled.clone().select(
        0,
        Tensor::<TestBackend, 1, Int>::from_data(TensorData::new(every7, [n]), &Default::default()),
    );
    assert_close("pooled", &values(sample), &io.floats("pooled_every7"), 1e-5);

    let head = BoxHeadConfig::new(32 * 49, 3)
        .with_representation(64)
        .init::<TestBackend>(&Default::default());
    let checkpoint = Checkpoint::open(fixture_path("roi_heads_tiny.safetensors")).unwrap();
    let (head, report) =
        load_into(head, &checkpoint, &torchvision_box_head(), LoadMode::Strict).unwrap();
    assert_eq!(report.loaded, 8);
    let (logits, deltas) = head.forward(pooled);
    assert_close(
        "class_logits",
        &values(logits.clone()),
        &io.floats("class_logits"),
        1e-5,
    );
    assert_close(
        "box_regression",
        &values(deltas.clone()),
        &io.floats("box_regression"),
        1e-5,
    );

    let detections = DetectionConfig::new().postprocess(logits, deltas, &[proposals], &[[72, 56]]);
    let d = &detections[0];
    assert_eq!(d.labels, io.ints("labels"));
    assert_close("scores", &d.scores, &io.floats("scores"), 1e-5);
    let boxes: Vec<f32> = d.boxes.iter().flatten().copied().collect();
    assert_close("boxes", &boxes, &io.floats("boxes"), 1e-3);
}
