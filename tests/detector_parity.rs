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
    let model = common::tiny_detector::<TestBackend>(&Default::default());

    let io = Fixture::open("detector_tiny_io");
    let image: Tensor<TestBackend, 3> = io.tensor("image");
    let batch = model.transform.apply(vec![image.clone()]);
    assert_eq!(batch.images.dims(), [1, 3, 160, 224]);
    assert_eq!(batch.sizes_hw, vec![[160, 213]]);
    let row = batch.images.slice([0..1, 0..3, 80..81, 0..224]);
    assert_close(
        "transformed row 80",
        &values(row),
        &io.floats("batch_row80"),
        1e-4,
    );

    let detections = model.detect(vec![image]);
    let d = &detections[0];
    assert_eq!(d.labels, io.ints("labels"));
    assert_close("scores", &d.scores, &io.floats("scores"), 1e-4);
    let boxes: Vec<f32> = d.boxes.iter().flatten().copied().collect();
    assert_close("boxes", &boxes, &io.floats("boxes"), 1e-2);
}

#[test]
fn weights_check_accepts_a_torchvision_detector_checkpoint() {
    let path = common::tiny_detector_checkpoint();
    let out = common::avaloc(&[
        "weights",
        "check",
        "--config",
        "configs/detector/faster_rcnn_tiny.toml",
        path.to_str().unwrap(),
    ]);
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

/// torchvision's key of the tiny detector as detectron2 names it (written independently of
/// `weights::detectron2_faster_rcnn`, from detectron2's module names).
fn detectron2_name(key: &str) -> String {
    let rules: &[(&str, &str)] = &[
        (
            r"^backbone\.body\.conv1\.",
            "backbone.bottom_up.stem.conv1.",
        ),
        (
            r"^backbone\.body\.bn1\.",
            "backbone.bottom_up.stem.conv1.norm.",
        ),
        (
            r"^backbone\.body\.layer(\d)\.(\d+)\.bn(\d)\.",
            "backbone.bottom_up.layer$1.$2.conv$3.norm.",
        ),
        (r"\.downsample\.0\.", ".shortcut."),
        (r"\.downsample\.1\.", ".shortcut.norm."),
        (r"^backbone\.body\.layer1\.", "backbone.bottom_up.res2."),
        (r"^backbone\.body\.layer2\.", "backbone.bottom_up.res3."),
        (r"^backbone\.body\.layer3\.", "backbone.bottom_up.res4."),
        (r"^backbone\.body\.layer4\.", "backbone.bottom_up.res5."),
        (
            r"^backbone\.bottom_up\.layer1\.",
            "backbone.bottom_up.res2.",
        ),
        (
            r"^backbone\.bottom_up\.layer2\.",
            "backbone.bottom_up.res3.",
        ),
        (
            r"^backbone\.bottom_up\.layer3\.",
            "backbone.bottom_up.res4.",
        ),
        (
            r"^backbone\.bottom_up\.layer4\.",
            "backbone.bottom_up.res5.",
        ),
        (
            r"^backbone\.fpn\.inner_blocks\.0\.0\.",
            "backbone.fpn_lateral2.",
        ),
        (
            r"^backbone\.fpn\.inner_blocks\.1\.0\.",
            "backbone.fpn_lateral3.",
        ),
        (
            r"^backbone\.fpn\.inner_blocks\.2\.0\.",
            "backbone.fpn_lateral4.",
        ),
        (
            r"^backbone\.fpn\.inner_blocks\.3\.0\.",
            "backbone.fpn_lateral5.",
        ),
        (
            r"^backbone\.fpn\.layer_blocks\.0\.0\.",
            "backbone.fpn_output2.",
        ),
        (
            r"^backbone\.fpn\.layer_blocks\.1\.0\.",
            "backbone.fpn_output3.",
        ),
        (
            r"^backbone\.fpn\.layer_blocks\.2\.0\.",
            "backbone.fpn_output4.",
        ),
        (
            r"^backbone\.fpn\.layer_blocks\.3\.0\.",
            "backbone.fpn_output5.",
        ),
        (
            r"^rpn\.head\.conv\.0\.0\.",
            "proposal_generator.rpn_head.conv.",
        ),
        (
            r"^rpn\.head\.cls_logits\.",
            "proposal_generator.rpn_head.objectness_logits.",
        ),
        (
            r"^rpn\.head\.bbox_pred\.",
            "proposal_generator.rpn_head.anchor_deltas.",
        ),
        (r"^roi_heads\.box_head\.fc6\.", "roi_heads.box_head.fc1."),
        (r"^roi_heads\.box_head\.fc7\.", "roi_heads.box_head.fc2."),
    ];
    let mut key = key.to_string();
    for (pattern, replacement) in rules {
        key = regex::Regex::new(pattern)
            .unwrap()
            .replace(&key, *replacement)
            .into_owned();
    }
    key
}

#[test]
fn detectron2_names_load_the_same_weights() {
    use avaloc::weights::{Checkpoint, LoadMode, detectron2_faster_rcnn, load_into};
    let reference = common::tiny_detector::<TestBackend>(&Default::default());
    let avaloc::config::NetworkConfig::FasterRcnn(spec) =
        common::shipped("detector/faster_rcnn_tiny.toml")
    else {
        panic!("a detector")
    };
    let path = common::tiny_detector_checkpoint_named(detectron2_name);
    let checkpoint = Checkpoint::open(&path).unwrap();
    assert!(
        checkpoint
            .tensors()
            .iter()
            .any(|t| t.name == "backbone.bottom_up.res5.0.shortcut.norm.running_var")
    );
    let (model, report) = load_into(
        spec.model_config().init::<TestBackend>(&Default::default()),
        &checkpoint,
        &detectron2_faster_rcnn(),
        LoadMode::Strict,
    )
    .unwrap();
    std::fs::remove_file(path).unwrap();
    assert!(report.is_exact(), "{report}");
    let io = Fixture::open("detector_tiny_io");
    let image: Tensor<TestBackend, 3> = io.tensor("image");
    assert_eq!(
        model.detect(vec![image.clone()]),
        reference.detect(vec![image])
    );
}

/// The tiny detector under `convention = "detectron1"` (its detectron2-named weights, as
/// `model_zoo/convert_detectron1.py` writes them) against Detectron's inference procedure
/// (tests/reference/detector_detectron1.py): the same detections in score order, boxes within
/// 1e-2 original pixels, scores within 1e-4.
#[test]
fn detectron1_convention_matches_detectrons_procedure() {
    use avaloc::config::DetectorFile;
    use avaloc::weights::{Checkpoint, LoadMode};
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/detector/faster_rcnn_tiny.toml"
    ))
    .unwrap()
    .replace(
        "max_size = 256",
        "max_size = 256\nconvention = \"detectron1\"",
    );
    let config_path = std::env::temp_dir().join("avaloc-detectron1-tiny.toml");
    std::fs::write(&config_path, toml).unwrap();
    let network = DetectorFile::load(&config_path).unwrap().network;
    std::fs::remove_file(&config_path).unwrap();

    let path = common::tiny_detector_checkpoint_named(detectron2_name);
    let checkpoint = Checkpoint::open(&path).unwrap();
    let (model, report) = network
        .load::<TestBackend>(&checkpoint, LoadMode::Strict, &Default::default())
        .unwrap();
    std::fs::remove_file(path).unwrap();
    assert!(report.is_exact(), "{report}");

    let io = Fixture::open("detector_tiny_detectron1_io");
    let image: Tensor<TestBackend, 3> = Fixture::open("detector_tiny_io").tensor("image");
    let d = &model.detect(vec![image])[0];
    assert_eq!(d.labels, io.ints("labels"));
    assert_close("scores", &d.scores, &io.floats("scores"), 1e-4);
    let boxes: Vec<f32> = d.boxes.iter().flatten().copied().collect();
    assert_close("boxes", &boxes, &io.floats("boxes"), 1e-2);
}
