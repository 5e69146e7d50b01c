//! The assembled Faster R-CNN against torchvision's `FasterRCNN` (tests/reference/detector.py)
//! on a crop of scikit-image's astronaut photo: one detector-named checkpoint (merged here
//! from the part fixtures) loads strictly through `torchvision_faster_rcnn`; the transformed
//! batch matches within 1e-4 and the final detections have torchvision's labels and order,
//! boxes within 1e-2 original pixels and scores within 1e-4.

mod common;

use burn::tensor::Tensor;
use common::{Fixture, TestBackend, assert_close, values};

#[test]
fn detections_match_torchvision() {
    let (config, model) = common::tiny_detector::<TestBackend>(&Default::default());

    let io = Fixture::open("detector_tiny_io");
    let image: Tensor<TestBackend, 3> = io.tensor("image");
    let batch = config.transform.apply(vec![image.clone()]);
    assert_eq!(batch.images.dims(), [1, 3, 160, 224]);
    assert_eq!(batch.sizes_hw, vec![[160, 213]]);
    let row = batch.images.slice([0..1, 0..3, 80..81, 0..224]);
    assert_close(
        "transformed row 80",
        &values(row),
        &io.floats("batch_row80"),
        1e-4,
    );

    let detections = model.detect(&config, vec![image]);
    let d = &detections[0];
    assert_eq!(d.labels, io.ints("labels"));
    assert_close("scores", &d.scores, &io.floats("scores"), 1e-4);
    let boxes: Vec<f32> = d.boxes.iter().flatten().copied().collect();
    assert_close("boxes", &boxes, &io.floats("boxes"), 1e-2);
}

#[test]
fn weights_check_accepts_a_torchvision_detector_checkpoint() {
    let path = common::tiny_detector_checkpoint();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_avaloc"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "weights",
            "check",
            "--config",
            "configs/detector/faster_rcnn_tiny.toml",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("fits configs/detector/faster_rcnn_tiny.toml"),
        "{stdout}"
    );
    std::fs::remove_file(path).unwrap();
}
