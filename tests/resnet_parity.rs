//! The ResNet / ResNeXt trunk against torchvision's (tests/reference/resnet.py): a small
//! ResNeXt with random weights and batch-norm statistics, loaded strictly through the
//! torchvision key map. Tolerance: 1e-4 relative to the largest reference magnitude (f32,
//! different convolution summation orders over up to 2048 channels).

mod common;

use common::avaloc;

use avaloc::nn::ResNet;
use avaloc::weights::{Checkpoint, LoadMode, load_into, torchvision_resnet};
use common::{Fixture, TestBackend, fixture_path, max_abs_diff, values};

fn tiny() -> ResNet<TestBackend> {
    let avaloc::config::NetworkConfig::Resnet(spec) = common::shipped("backbone/resnext_tiny.toml")
    else {
        panic!("a resnet config")
    };
    let net = spec.model_config().init(&Default::default());
    let checkpoint = Checkpoint::open(fixture_path("resnet_tiny.safetensors")).unwrap();
    let (net, report) = load_into(
        net,
        &checkpoint,
        &torchvision_resnet(true),
        LoadMode::Strict,
    )
    .unwrap();
    assert_eq!(report.ignored, 17, "one num_batches_tracked per batch norm");
    net
}

fn assert_relative(what: &str, actual: &[f32], expected: &[f32]) {
    let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = max_abs_diff(actual, expected);
    assert!(
        err <= 1e-4 * scale,
        "{what}: max abs error {err:e} (reference scale {scale:e})"
    );
}

#[test]
fn resnext_stages_and_logits_match_torchvision() {
    let net = tiny();
    let io = Fixture::open("resnet_tiny_io");
    let stages = net.forward_features(io.tensor("input"));
    for (i, stage) in stages.into_iter().enumerate() {
        let key = format!("c{}", i + 2);
        assert_eq!(stage.dims().to_vec(), io.shape(&key), "{key}");
        assert_relative(&key, &values(stage), &io.floats(&key));
    }
    assert_relative(
        "logits",
        &values(net.forward(io.tensor("input"))),
        &io.floats("logits"),
    );
}

#[test]
fn weights_check_accepts_the_matching_config() {
    let out = avaloc(&[
        "weights",
        "check",
        "--config",
        "configs/backbone/resnext_tiny.toml",
        "tests/fixtures/resnet_tiny.safetensors",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("fits configs/backbone/resnext_tiny.toml"),
        "{stdout}"
    );
}

#[test]
fn weights_check_fails_on_another_network_and_says_why() {
    let out = avaloc(&[
        "weights",
        "check",
        "--config",
        "configs/backbone/resnet50.toml",
        "tests/fixtures/resnet_tiny.safetensors",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // ResNet-50 has 3 blocks in layer1; the tiny file has one, and narrower grouped convs.
    for needle in [
        "resnet_tiny.safetensors",
        "missing",
        "layer1.2.conv1.weight",
        "shape mismatches",
        "layer1.0.conv1.weight",
    ] {
        assert!(stderr.contains(needle), "{needle} not in:\n{stderr}");
    }
}

#[test]
fn weights_inspect_lists_tensors() {
    let out = avaloc(&[
        "weights",
        "inspect",
        "tests/fixtures/weights_tiny_nested.pyth",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("fc.weight") && stdout.contains("[5, 4]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("under `model_state`, 9 tensors"),
        "{stdout}"
    );
}

#[test]
fn unknown_backend_feature_is_a_clear_error() {
    if avaloc::backend::BackendKind::Cuda.is_compiled() {
        return;
    }
    let out = avaloc(&[
        "--backend",
        "cuda",
        "weights",
        "check",
        "--config",
        "configs/backbone/resnext_tiny.toml",
        "tests/fixtures/resnet_tiny.safetensors",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--features cuda"), "{stderr}");
}

#[test]
fn bad_configs_name_the_file_and_the_problem() {
    let dir = std::env::temp_dir().join(format!("avaloc-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let backbone = "[network.backbone]\ndepth = 50\n";
    let cases = [
        (
            "depth.toml",
            "[network]\nkind = \"resnet\"\n[network.backbone]\ndepth = 34\n".to_string(),
            "expected 50, 101 or 152",
        ),
        (
            "kind.toml",
            "[network]\nkind = \"vgg\"\n".to_string(),
            "unknown variant",
        ),
        (
            "field.toml",
            format!("[network]\nkind = \"resnet\"\n{backbone}colour = 3\n"),
            "unknown field",
        ),
        (
            "classes.toml",
            format!("[network]\nkind = \"faster_rcnn\"\nnum_classes = 1\n{backbone}"),
            "at least 2",
        ),
    ];
    for (name, text, needle) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let err = avaloc::config::NetworkFile::load(&path)
            .unwrap_err()
            .to_string();
        assert!(err.contains(name) && err.contains(needle), "{err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
