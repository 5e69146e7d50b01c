//! CPN ResNet-50 at 256×192 (`configs/pose/cpn_r50_256x192_pytorch.toml`) forward on a
//! batch of 16 person crops with random weights, and one training step (tf-cpn's losses,
//! backward, Adam) on them; the heatmap decoding of one person (blur, peaks, scores).
//! `tests/reference/bench_cpn.py` times the PyTorch transcription of pytorch-cpn on the same
//! sizes.

use std::hint::black_box;
use std::time::Duration;

use avaloc::config::PoseFile;
use avaloc::models::pose::{Cpn, CpnTargets, CropBox, cpn_loss, decode_heatmaps};
use burn::backend::Flex;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

fn cpn_forward(c: &mut Criterion) {
    let device = Default::default();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/pose/cpn_r50_256x192_pytorch.toml"
    );
    let model = PoseFile::load(path)
        .unwrap()
        .network
        .model_config()
        .init::<Flex>(&device);
    let crops =
        Tensor::<Flex, 4>::random([16, 3, 256, 192], Distribution::Normal(0.0, 0.3), &device);
    let mut group = c.benchmark_group("pose");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(40));
    group.bench_function("cpn_r50_256x192_batch16", |b| {
        b.iter(|| black_box(model.forward(crops.clone()).refine.into_data()))
    });
    group.finish();
}

fn cpn_train_step(c: &mut Criterion) {
    type B = burn::backend::Autodiff<Flex>;
    let device = Default::default();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/pose/cpn_r50_256x192_pytorch.toml"
    );
    let spec = PoseFile::load(path).unwrap().network;
    let mut model = spec.model_config().init::<B>(&device);
    let mut optim = AdamConfig::new().init::<B, Cpn<B>>();
    let crops = Tensor::<B, 4>::random([16, 3, 256, 192], Distribution::Normal(0.0, 0.3), &device);
    let keypoints: Vec<Vec<[f64; 3]>> = (0..16)
        .map(|i| {
            (0..17)
                .map(|k| {
                    [
                        (11 * k + i) as f64 % 190.0,
                        (13 * k + 3 * i) as f64 % 250.0,
                        2.0,
                    ]
                })
                .collect()
        })
        .collect();
    let targets = CpnTargets::<B>::new(
        &keypoints,
        [256, 192],
        [15, 11, 9, 7],
        spec.convention,
        &device,
    );
    let mut group = c.benchmark_group("pose");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    group.bench_function("cpn_r50_256x192_train_step_batch16", |b| {
        b.iter(|| {
            let out = model.forward(crops.clone());
            let loss = cpn_loss(&out, &targets, spec.convention).total;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(5e-4, model.clone(), grads);
        })
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    let heatmaps: Vec<f32> = (0..17 * 64 * 48)
        .map(|i| ((i * 7919) % 1000) as f32 / 4.0)
        .collect();
    let crop = CropBox {
        x1: 10.0,
        y1: 20.0,
        x2: 202.0,
        y2: 276.0,
    };
    c.bench_function("pose/decode_17x64x48", |b| {
        b.iter(|| black_box(decode_heatmaps(&heatmaps, [64, 48], &crop, [256, 192], 0.9)))
    });
}

criterion_group! {
    name = benches;
    // As the binary runs: freed memory kept for the next tensor (`io::keep_freed_memory`).
    config = {
        avaloc::fs::keep_freed_memory();
        Criterion::default()
    };
    targets = cpn_forward, cpn_train_step, decode
}
criterion_main!(benches);
