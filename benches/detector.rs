//! Faster R-CNN forward (transform, backbone, RPN, box branch) on one 800×1333 image with
//! random weights, R50-FPN and X101-32x8d-FPN (COCO heads); and one training step (losses, backward, SGD update)
//! of the synthetic-data detector (`configs/detector/faster_rcnn_synth.toml`) on 4 images of
//! 320×240 with 3 people each. `tests/reference/bench_detector.py` and
//! `bench_detector_train.py` time torchvision on the same networks and sizes.

use std::hint::black_box;
use std::time::Duration;

use avaloc::config::DetectorFile;
use avaloc::models::detector::{DetectionTarget, FasterRcnn};
use burn::backend::Flex;
use burn::optim::{GradientsParams, Optimizer, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn faster_rcnn(c: &mut Criterion) {
    let device = Default::default();
    let image = Tensor::<Flex, 3>::random([3, 800, 1333], Distribution::Uniform(0.0, 1.0), &device);
    let mut group = c.benchmark_group("detector");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    for (name, config) in [
        ("faster_rcnn_r50_fpn_800x1333", "faster_rcnn_r50_fpn.toml"),
        // ResNeXt's grouped 3×3 convolutions (32 groups of 8 × the stage's width).
        (
            "faster_rcnn_x101_32x8d_fpn_800x1333",
            "faster_rcnn_x101_32x8d_fpn.toml",
        ),
    ] {
        let path = format!("{}/configs/detector/{config}", env!("CARGO_MANIFEST_DIR"));
        let config = DetectorFile::load(path).unwrap().network.model_config();
        let model = config.init::<Flex>(&device);
        group.bench_function(name, |b| {
            b.iter(|| black_box(model.detect(vec![image.clone()])))
        });
    }
    group.finish();
}

fn train_step(c: &mut Criterion) {
    type B = burn::backend::Autodiff<Flex>;
    let device = Default::default();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/detector/faster_rcnn_synth.toml"
    );
    let file = DetectorFile::load(path).unwrap();
    let config = file.network.model_config();
    let training = file.train_settings().unwrap().detector.training_config();
    let mut model = config.init::<B>(&device);
    let images: Vec<Tensor<B, 3>> = (0..4)
        .map(|_| Tensor::random([3, 240, 320], Distribution::Uniform(0.0, 1.0), &device))
        .collect();
    let targets: Vec<DetectionTarget> = (0..4)
        .map(|_| DetectionTarget {
            boxes: vec![
                [20.0, 40.0, 80.0, 200.0],
                [120.0, 60.0, 170.0, 180.0],
                [220.0, 30.0, 300.0, 230.0],
            ],
            labels: vec![1; 3],
        })
        .collect();
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .init::<B, FasterRcnn<B>>();
    let mut rng = StdRng::seed_from_u64(0);
    let mut group = c.benchmark_group("detector");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.bench_function("train_step_synth_4x240x320", |b| {
        b.iter(|| {
            let losses = model.losses(&training, images.clone(), &targets, Some(&mut rng));
            let grads = GradientsParams::from_grads(losses.total().backward(), &model);
            model = optim.step(0.001, model.clone(), grads);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // As the binary runs: freed memory kept for the next tensor (`io::keep_freed_memory`).
    config = {
        avaloc::fs::keep_freed_memory();
        Criterion::default()
    };
    targets = faster_rcnn, train_step
}
criterion_main!(benches);
