//! Training the detector end to end on a tiny synthetic dataset through `avaloc train
//! detector`: per-epoch checkpoints, metrics and curves, resume from the last checkpoint, a
//! clear refusal to overwrite a run, and the exported weights loading into `avaloc persons`.
//! A separate check that the training step learns: the loss on one batch falls by more than
//! half over a few SGD steps.

mod common;

use common::avaloc;

use std::path::Path;
use std::process::Output;

use avaloc::data::synth::{SynthConfig, generate};
use avaloc::models::detector::{
    DetectionTarget, DetectorTrainingConfig, FasterRcnnConfig, ImageTransformConfig,
    ResNetFpnConfig,
};
use avaloc::nn::ResNetConfig;
use avaloc::train::History;
use burn::optim::{GradientsParams, Optimizer, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Distribution, Tensor};
use common::TestAutodiff;
use rand::SeedableRng;
use rand::rngs::StdRng;

use common::MICRO_DETECTOR as CONFIG;

fn train(root: &Path, extra: &[&str]) -> Output {
    let config = root.join("detector.toml");
    let data = root.join("data");
    let out = root.join("run");
    let mut args = vec![
        "train",
        "detector",
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    avaloc(&args)
}

#[test]
fn trains_checkpoints_and_resumes() {
    let root = std::env::temp_dir().join(format!("avaloc-train-det-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("detector.toml"), CONFIG).unwrap();
    let synth = SynthConfig {
        train_videos: 1,
        val_videos: 1,
        test_videos: 0,
        seconds: 6,
        width: 96,
        height: 72,
        seed: 3,
    };
    generate(&root.join("data"), &synth).unwrap();

    let first = train(&root, &[]);
    let log = |o: &Output| {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(first.status.success(), "{}", log(&first));
    let run = root.join("run");
    for file in ["model.mpk", "optim.mpk", "weights.safetensors"] {
        assert!(
            run.join("checkpoints/epoch_001").join(file).is_file(),
            "{file}"
        );
    }
    assert!(run.join("model_final.safetensors").is_file());
    assert!(image::open(run.join("curves.png")).is_ok());

    // A second run into the same folder must not overwrite it.
    let again = train(&root, &[]);
    assert!(!again.status.success());
    assert!(log(&again).contains("--resume"), "{}", log(&again));

    // Resume continues at epoch 2 and keeps epoch 1's row.
    let resumed = train(&root, &["--resume", "--epochs", "2"]);
    assert!(resumed.status.success(), "{}", log(&resumed));
    assert!(log(&resumed).contains("after epoch 1"), "{}", log(&resumed));
    let history = History::read(&run.join("metrics.csv")).unwrap();
    let epochs: Vec<usize> = history.records.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, vec![1, 2]);
    let names: Vec<&str> = history.records[1]
        .train
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        names,
        ["loss", "rpn_objectness", "rpn_box", "classifier", "box_reg"]
    );
    assert_eq!(history.records[1].valid[0].0, "person_ap50");
    assert!(history.records[1].updates > history.records[0].updates);

    // The exported weights run in `avaloc persons`.
    let frames = root.join("data/frames/syn_val_000");
    let boxes = root.join("boxes.csv");
    let persons = avaloc(&[
        "persons",
        "--config",
        root.join("detector.toml").to_str().unwrap(),
        "--weights",
        run.join("model_final.safetensors").to_str().unwrap(),
        "--frames",
        frames.to_str().unwrap(),
        "--threshold",
        "0.0",
        "--out",
        boxes.to_str().unwrap(),
    ]);
    assert!(persons.status.success(), "{}", log(&persons));
    std::fs::remove_dir_all(&root).unwrap();
}

const SEED: u64 = 0;

#[test]
fn sgd_steps_reduce_the_loss_on_one_batch() {
    let device = Default::default();
    // Seeded: weights and images are random, and an unlucky draw can make lr 0.01 spike.
    <TestAutodiff as burn::tensor::backend::Backend>::seed(&device, SEED);
    let body = ResNetConfig::new([1, 1, 1, 1]).with_base_channels(8);
    let config = FasterRcnnConfig::new(ResNetFpnConfig::new(body).with_out_channels(16), 2)
        .with_representation(32)
        .with_transform(
            ImageTransformConfig::new()
                .with_min_size(64)
                .with_max_size(64),
        );
    let training = DetectorTrainingConfig::new().with_box_batch_per_image(32);
    let mut model = config.init::<TestAutodiff>(&device);
    let images: Vec<Tensor<TestAutodiff, 3>> = (0..2)
        .map(|i| {
            Tensor::random([3, 64, 64], Distribution::Uniform(0.0, 0.2), &device).slice_assign(
                [0..3, 10 + 4 * i..50, 20..40],
                Tensor::ones([3, 40 - 4 * i, 20], &device),
            )
        })
        .collect();
    let targets: Vec<DetectionTarget> = (0..2)
        .map(|i| DetectionTarget {
            boxes: vec![[20.0, 10.0 + 4.0 * i as f32, 40.0, 50.0]],
            labels: vec![1],
        })
        .collect();
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .init::<TestAutodiff, _>();
    let mut losses: Vec<f64> = Vec::new();
    for step in 0..30 {
        let mut rng = StdRng::seed_from_u64(step);
        let l = model.losses(&training, images.clone(), &targets, Some(&mut rng));
        let total = l.total();
        losses.push(l.values().iter().map(|(_, v)| v).sum());
        let grads = GradientsParams::from_grads(total.backward(), &model);
        model = optim.step(0.01, model, grads);
    }
    let (start, end) = (losses[0], losses[25..].iter().sum::<f64>() / 5.0);
    assert!(end < 0.5 * start, "loss {start:.4} -> {end:.4}: {losses:?}");
}

/// Training refuses Detectron's legacy box arithmetic rather than mixing it with its own.
#[test]
fn training_refuses_the_detectron1_convention() {
    let toml = std::fs::read_to_string("configs/detector/faster_rcnn_synth.toml")
        .unwrap()
        .replace(
            "max_size = 300",
            "max_size = 300\nconvention = \"detectron1\"",
        );
    let config = std::env::temp_dir().join(format!("avaloc-d1-train-{}.toml", std::process::id()));
    std::fs::write(&config, toml).unwrap();
    let out = avaloc(&[
        "train",
        "detector",
        "--config",
        config.to_str().unwrap(),
        "--out",
        "/tmp/avaloc-never-written",
    ]);
    std::fs::remove_file(&config).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("convention = \"detectron1\" is for running Detectron's released weights"),
        "{stderr}"
    );
    assert!(!Path::new("/tmp/avaloc-never-written").exists());
}
