//! ResNeXt-FPN against torchvision's `BackboneWithFPN` (tests/reference/fpn.py): the trunk
//! from the ResNet fixture, the FPN from a detector-named checkpoint, five pyramid levels on
//! an input whose top-down resizes are not all 2x. Tolerance: 1e-4 relative to each level's
//! largest reference magnitude.

mod common;

use avaloc::weights::{Checkpoint, LoadMode, load_into, torchvision_fpn, torchvision_resnet};
use common::{Fixture, TestBackend, fixture_path, max_abs_diff, values};

#[test]
fn pyramid_levels_match_torchvision() {
    // The tiny detector's backbone: the tiny ResNeXt under 32 FPN channels.
    let avaloc::config::NetworkConfig::FasterRcnn(spec) =
        common::shipped("detector/faster_rcnn_tiny.toml")
    else {
        panic!("a detector config")
    };
    let net = spec
        .model_config()
        .backbone
        .init::<TestBackend>(&Default::default());
    let trunk = Checkpoint::open(fixture_path("resnet_tiny.safetensors")).unwrap();
    let (body, _) = load_into(
        net.body,
        &trunk,
        &torchvision_resnet(false),
        LoadMode::Strict,
    )
    .unwrap();
    let fpn_file = Checkpoint::open(fixture_path("fpn_tiny.safetensors")).unwrap();
    let (fpn, report) =
        load_into(net.fpn, &fpn_file, &torchvision_fpn(), LoadMode::Strict).unwrap();
    assert_eq!(report.loaded, 16, "8 convs, weight and bias each");
    let net = avaloc::models::detector::ResNetFpn { body, fpn };

    let io = Fixture::open("fpn_tiny_io");
    let levels = net.forward(io.tensor("input"));
    assert_eq!(levels.len(), 5);
    for (level, name) in levels.into_iter().zip(["0", "1", "2", "3", "pool"]) {
        let key = format!("level_{name}");
        assert_eq!(level.dims().to_vec(), io.shape(&key), "{key}");
        let expected = io.floats(&key);
        let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&values(level), &expected);
        assert!(
            err <= 1e-4 * scale,
            "{key}: max abs error {err:e} (scale {scale:e})"
        );
    }
}
