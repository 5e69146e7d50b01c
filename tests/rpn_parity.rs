//! Anchors, RPN head and proposal selection against torchvision (tests/reference/rpn.py),
//! on the FPN levels of the FPN fixture. Anchors are exact; head outputs within 1e-5; the
//! proposals (same count, same order) within 1e-3 px.

mod common;

use avaloc::models::detector::{AnchorGenerator, ProposalConfig, RpnHeadConfig};
use avaloc::weights::{Checkpoint, LoadMode, load_into, torchvision_rpn_head};
use burn::tensor::Tensor;
use common::{Fixture, TestBackend, assert_close, fixture_path, values};

const LEVELS: [&str; 5] = ["0", "1", "2", "3", "pool"];

#[test]
fn anchors_head_and_proposals_match_torchvision() {
    let fpn = Fixture::open("fpn_tiny_io");
    let io = Fixture::open("rpn_tiny_io");
    let levels: Vec<Tensor<TestBackend, 4>> = LEVELS
        .iter()
        .map(|n| fpn.tensor(&format!("level_{n}")))
        .collect();
    let levels_hw: Vec<[usize; 2]> = levels.iter().map(|l| [l.dims()[2], l.dims()[3]]).collect();

    let generator =
        AnchorGenerator::new(vec![32.0, 64.0, 128.0, 256.0, 512.0], vec![0.5, 1.0, 2.0]);
    let (anchors, counts) = generator.grid([72, 56], &levels_hw);
    let flat: Vec<f32> = anchors.iter().flatten().copied().collect();
    assert_close("anchors", &flat, &io.floats("anchors"), 0.0);

    let head = RpnHeadConfig::new(32, 3).init::<TestBackend>(&Default::default());
    let checkpoint = Checkpoint::open(fixture_path("rpn_tiny.safetensors")).unwrap();
    let (head, report) =
        load_into(head, &checkpoint, &torchvision_rpn_head(), LoadMode::Strict).unwrap();
    assert_eq!(report.loaded, 6);
    let (objectness, deltas) = head.forward(&levels);
    assert_close(
        "objectness",
        &values(objectness.clone()),
        &io.floats("objectness"),
        1e-5,
    );
    assert_close(
        "deltas",
        &values(deltas.clone()),
        &io.floats("deltas"),
        1e-5,
    );

    let proposals =
        ProposalConfig::new().select(objectness, deltas, &anchors, &counts, &[[72, 56]]);
    let expected = io.floats("proposals");
    assert_eq!(
        proposals[0].boxes.len() * 4,
        expected.len(),
        "same number of proposals"
    );
    let got: Vec<f32> = proposals[0].boxes.iter().flatten().copied().collect();
    assert_close("proposals", &got, &expected, 1e-3);
    assert!(
        proposals[0].scores.windows(2).all(|w| w[0] >= w[1]),
        "highest first"
    );
}
