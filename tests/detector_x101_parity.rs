//! The full-size person detector, Faster R-CNN on a ResNeXt-101 32x8d FPN backbone, against
//! torchvision on seeded random weights (tests/reference/detector_x101.py, which writes its
//! fixture on demand into tests/fixtures/ondemand/: it is too large to keep in the
//! repository). Ignored by default; run with
//! `cargo test --release --test detector_x101_parity -- --ignored`.
//! Pyramid levels agree within 1e-3 of each level's largest value, detections have
//! torchvision's labels and order, scores within 1e-3 and boxes within 0.05 px.

mod common;

use avaloc::config::{NetworkConfig, NetworkFile};
use avaloc::weights::{Checkpoint, LoadMode};
use burn::tensor::Tensor;
use common::{Fixture, TestBackend, max_abs_diff, values};

const CONFIG: &str = r#"
[network]
kind = "faster_rcnn"
num_classes = 2
min_size = 320
max_size = 480

[network.backbone]
depth = 101
groups = 32
width_per_group = 8
"#;

#[test]
#[ignore = "needs the on-demand fixture of tests/reference/detector_x101.py (about 210 MB)"]
fn resnext101_detector_matches_torchvision() {
    let weights = common::fixture_path("ondemand/detector_x101.safetensors");
    assert!(
        weights.is_file(),
        "{} is missing: run .venv-ref/bin/python tests/reference/detector_x101.py",
        weights.display()
    );
    let path = std::env::temp_dir().join(format!("avaloc-x101-{}.toml", std::process::id()));
    std::fs::write(&path, CONFIG).unwrap();
    let file = NetworkFile::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let NetworkConfig::FasterRcnn(spec) = file.network else {
        panic!("a detector config")
    };
    let device = Default::default();
    let checkpoint = Checkpoint::open(&weights).unwrap();
    let (model, report) = spec
        .load::<TestBackend>(&checkpoint, LoadMode::Strict, &device)
        .unwrap();
    assert!(report.is_exact(), "{report}");

    let io = Fixture::open("ondemand/detector_x101_io");
    let image: Tensor<TestBackend, 3> = io.tensor("image");
    let batch = model.transform.apply(vec![image.clone()]);
    for (i, level) in model.backbone.forward(batch.images).into_iter().enumerate() {
        let expected = io.floats(&format!("level{i}"));
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&values(level), &expected);
        assert!(err <= 1e-3 * scale, "level {i}: {err:e} > 1e-3 × {scale:e}");
    }
    let d = model.detect(vec![image]).remove(0);
    assert_eq!(d.labels, io.ints("labels"));
    common::assert_close("scores", &d.scores, &io.floats("scores"), 1e-3);
    let boxes: Vec<f32> = d.boxes.iter().flatten().copied().collect();
    common::assert_close("boxes", &boxes, &io.floats("boxes"), 0.05);
}
