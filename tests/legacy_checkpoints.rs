//! Checkpoints avaloc wrote before the module tree was reshaped (commit 28a92d1: the RPN head
//! at `rpn_head.*`, the action classifier at `head.projection.*`) load strictly into today's
//! networks and give the outputs they gave then: `legacy_*.safetensors` are `save_safetensors`
//! of a small group-norm detector (configs/detector/faster_rcnn_synth.toml with 8 stem
//! channels) and of the tiny SlowFast with the global pooling feature, both freshly
//! initialised; `legacy_*_io.safetensors` hold the inputs and the outputs that code computed.

mod common;

use avaloc::config::{ActionFile, NetworkConfig};
use avaloc::weights::{Checkpoint, LoadMode};
use burn::tensor::Tensor;
use common::{Fixture, TestBackend, assert_close, fixture_path, values};

#[test]
fn an_old_action_model_checkpoint_loads_and_scores_as_before() {
    let mut config = ActionFile::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/action/slowfast_tiny.toml"
    ))
    .unwrap();
    config.network.global_pool = Some(true);
    let checkpoint = Checkpoint::open(fixture_path("legacy_slowfast_tiny.safetensors")).unwrap();
    assert!(checkpoint.is_native());
    let device = Default::default();
    let (model, report) = config
        .network
        .load::<TestBackend>(&checkpoint, LoadMode::Strict, &device)
        .unwrap();
    assert!(report.is_exact(), "{report}");
    let io = Fixture::open("legacy_slowfast_tiny_io");
    let scores = model.clip_scores(io.tensor("clips"), io.tensor("rois"), None);
    assert_close("scores", &values(scores), &io.floats("scores"), 1e-6);
}

#[test]
fn an_old_detector_checkpoint_loads_and_detects_as_before() {
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/detector/faster_rcnn_synth.toml"
    ))
    .unwrap()
    .replace("base_channels = 16", "base_channels = 8");
    let dir = std::env::temp_dir().join(format!("avaloc-legacy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("detector.toml");
    std::fs::write(&path, toml).unwrap();
    let file = avaloc::config::NetworkFile::load(&path).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    let NetworkConfig::FasterRcnn(spec) = file.network else {
        panic!("a detector config")
    };
    let checkpoint = Checkpoint::open(fixture_path("legacy_detector_small.safetensors")).unwrap();
    let device = Default::default();
    let (model, report) = spec
        .load::<TestBackend>(&checkpoint, LoadMode::Strict, &device)
        .unwrap();
    assert!(report.is_exact(), "{report}");
    let io = Fixture::open("legacy_detector_small_io");
    let image: Tensor<TestBackend, 3> = io.tensor("image");
    let d = model.detect(vec![image]).remove(0);
    let boxes: Vec<f32> = d.boxes.iter().flatten().copied().collect();
    let labels: Vec<f32> = d.labels.iter().map(|&l| l as f32).collect();
    assert_eq!(d.scores.len(), io.shape("scores")[0]);
    assert_close("scores", &d.scores, &io.floats("scores"), 1e-6);
    assert_close("boxes", &boxes, &io.floats("boxes"), 1e-3);
    assert_eq!(labels, io.floats("labels"));
    // Without the key map from the old names the checkpoint does not fit.
    let strict = avaloc::weights::load_into(
        spec.model_config().init::<TestBackend>(&device),
        &checkpoint,
        &avaloc::weights::KeyMap::identity(),
        LoadMode::Strict,
    );
    let err = strict.map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("rpn_head.conv.weight"), "{err}");
}
