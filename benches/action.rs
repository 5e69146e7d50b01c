//! SlowFast R50 with the AVA head (configs/action/slowfast_r50_32x2_ava.toml: slow 8 frames,
//! fast 32, the "8×8" / "32×2" input) on one 224×224 clip with 4 person boxes, random
//! weights: the forward pass, and one training step (binary cross-entropy on the scores,
//! backward, SGD update). `tests/reference/bench_slowfast.py` times PySlowFast's
//! `SlowFastModel` on the same input.
//!
//! The demo's model (configs/action/slowfast_synth.toml, group norm) on a batch of 4 clips of
//! 8 frames at 112×112 with one box each: forward, and a training step through
//! `ActionTraining` (`bench_slowfast.py --model synth` times PySlowFast's equivalent, with
//! batch norm).
//!
//! The arm branch's cost per keyframe of the synthetic set (320×240, read at short side 112:
//! 112×149), three people with two arm boxes each: the body model (one clip, 3 RoIs); the
//! arm branch as a separate SlowFast on arm-centred clips (configs/action/
//! slowfast_arm_synth.toml: six 64×64 clips, one RoI each) or on the full frame (one more
//! 112×149 clip, 6 RoIs); and sharing the body model's backbone (its one pass read at 3 + 6
//! RoIs).
//!
//! The LFB non-local feature-bank operator (2304 → 512, 2 layers) on 64 RoIs with 500 bank
//! entries each: forward, and forward + backward (`tests/reference/bench_fbo.py` times
//! MMAction2's `FBONonLocal` on the same input).

use std::hint::black_box;
use std::time::Duration;

use avaloc::config::ActionFile;
use avaloc::data::ClipBatch;
use avaloc::models::action::{ActionModel, ActionModelConfig, FboConfig};
use avaloc::nn::losses::bce_with_logits_mean;
use avaloc::train::ActionTraining;
use burn::backend::{Autodiff, Flex};
use burn::optim::{GradientsParams, Optimizer, SgdConfig, momentum::MomentumConfig};
use burn::tensor::{Distribution, Tensor, TensorData, backend::Backend};
use burn::train::TrainStep;
use criterion::{Criterion, criterion_group, criterion_main};

fn inputs<B: Backend>(device: &B::Device) -> (Tensor<B, 5>, Tensor<B, 5>, Tensor<B, 2>) {
    let slow = Tensor::random([1, 3, 8, 224, 224], Distribution::Normal(0.0, 1.0), device);
    let fast = Tensor::random([1, 3, 32, 224, 224], Distribution::Normal(0.0, 1.0), device);
    let boxes = [
        [0.0, 10.0, 20.0, 100.0, 200.0],
        [0.0, 80.0, 30.0, 150.0, 220.0],
        [0.0, 120.0, 0.0, 220.0, 180.0],
        [0.0, 0.0, 60.0, 60.0, 223.0],
    ];
    let rois = Tensor::from_data(
        TensorData::new(
            boxes.iter().flatten().copied().collect::<Vec<f32>>(),
            [4, 5],
        ),
        device,
    );
    (slow, fast, rois)
}

/// The action model of `configs/action/<name>.toml`.
fn action_config(name: &str) -> ActionModelConfig {
    let path = format!("{}/configs/action/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    ActionFile::load(path).unwrap().network.model_config()
}

fn slowfast(c: &mut Criterion) {
    let config = action_config("slowfast_r50_32x2_ava");
    let device = Default::default();
    let mut group = c.benchmark_group("action");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));

    let model = config.init::<Flex>(&device);
    let (slow, fast, rois) = inputs::<Flex>(&device);
    group.bench_function("slowfast_r50_32x2_forward_224", |b| {
        b.iter(|| black_box(model.forward(slow.clone(), fast.clone(), rois.clone())))
    });

    type B = Autodiff<Flex>;
    let mut model: ActionModel<B> = config.init::<B>(&device);
    let (slow, fast, rois) = inputs::<B>(&device);
    let targets = Tensor::<B, 2>::zeros([4, 80], &device);
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .init::<B, ActionModel<B>>();
    group.bench_function("slowfast_r50_32x2_train_step_224", |b| {
        b.iter(|| {
            let logits =
                model
                    .classifier
                    .logits(model.features(slow.clone(), fast.clone(), rois.clone()));
            let loss = bce_with_logits_mean(logits, targets.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.001, model.clone(), grads);
        })
    });
    group.finish();
}

fn slowfast_synth(c: &mut Criterion) {
    let config = action_config("slowfast_synth");
    let device = Default::default();
    let boxes = [
        [0.0, 10.0, 10.0, 60.0, 100.0],
        [1.0, 20.0, 5.0, 80.0, 100.0],
        [2.0, 0.0, 0.0, 50.0, 100.0],
        [3.0, 60.0, 20.0, 100.0, 100.0],
    ];
    let rois = TensorData::new(
        boxes.iter().flatten().copied().collect::<Vec<f32>>(),
        [4, 5],
    );
    let mut group = c.benchmark_group("action");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));

    let model = config.init::<Flex>(&device);
    let clips =
        Tensor::<Flex, 5>::random([4, 3, 8, 112, 112], Distribution::Normal(0.0, 1.0), &device);
    group.bench_function("slowfast_synth_forward_4x8x112", |b| {
        b.iter(|| {
            black_box(model.clip_scores(
                clips.clone(),
                Tensor::from_data(rois.clone(), &device),
                None,
            ))
        })
    });

    type B = Autodiff<Flex>;
    let mut trainee = ActionTraining {
        model: config.init::<B>(&device),
        frozen_backbone: false,
    };
    let batch = ClipBatch::<B> {
        clips: Tensor::random([4, 3, 8, 112, 112], Distribution::Normal(0.0, 1.0), &device),
        rois: Tensor::from_data(rois.clone(), &device),
        labels: Tensor::zeros([4, config.num_classes], &device),
        keys: Vec::new(),
        roi_boxes_xyxy_norm: (0..4).map(|b| (b, [0.0; 4])).collect(),
        bank: None,
    };
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .init::<B, ActionTraining<B>>();
    group.bench_function("slowfast_synth_train_step_4x8x112", |b| {
        b.iter(|| {
            let output = trainee.step(batch.clone());
            trainee = optim.step(0.01, trainee.clone(), output.grads);
        })
    });
    group.finish();
}

fn arm_branch(c: &mut Criterion) {
    let body = action_config("slowfast_synth");
    let arm = action_config("slowfast_arm_synth");
    let device = Default::default();
    let mut group = c.benchmark_group("arm");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let rois = |rows: &[[f32; 5]]| {
        Tensor::<Flex, 2>::from_data(
            TensorData::new(
                rows.iter().flatten().copied().collect::<Vec<f32>>(),
                [rows.len(), 5],
            ),
            &device,
        )
    };
    let people = [
        [0.0, 10.0, 20.0, 50.0, 110.0],
        [0.0, 60.0, 10.0, 90.0, 100.0],
        [0.0, 100.0, 30.0, 140.0, 112.0],
    ];
    let arms: Vec<[f32; 5]> = people
        .iter()
        .flat_map(|p| {
            let (w, h) = (p[3] - p[1], p[4] - p[2]);
            [0.0, 0.5].map(|dx| {
                [
                    0.0,
                    p[1] + dx * w,
                    p[2],
                    p[1] + (dx + 0.5) * w,
                    p[2] + 0.4 * h,
                ]
            })
        })
        .collect();
    let both: Vec<[f32; 5]> = people.iter().copied().chain(arms.iter().copied()).collect();
    let frame =
        Tensor::<Flex, 5>::random([1, 3, 8, 112, 149], Distribution::Normal(0.0, 1.0), &device);
    let body_model = body.init::<Flex>(&device);
    group.bench_function("body_keyframe_3_people", |b| {
        b.iter(|| black_box(body_model.clip_scores(frame.clone(), rois(&people), None)))
    });
    group.bench_function("shared_backbone_keyframe_3_people_6_arms", |b| {
        b.iter(|| black_box(body_model.clip_scores(frame.clone(), rois(&both), None)))
    });
    let arm_model = arm.init::<Flex>(&device);
    group.bench_function("separate_full_frame_keyframe_6_arms", |b| {
        b.iter(|| black_box(arm_model.clip_scores(frame.clone(), rois(&arms), None)))
    });
    let zoomed =
        Tensor::<Flex, 5>::random([6, 3, 8, 64, 64], Distribution::Normal(0.0, 1.0), &device);
    let one_each: Vec<[f32; 5]> = (0..6).map(|i| [i as f32, 8.0, 8.0, 56.0, 56.0]).collect();
    group.bench_function("separate_zoomed_keyframe_6_arms", |b| {
        b.iter(|| black_box(arm_model.clip_scores(zoomed.clone(), rois(&one_each), None)))
    });
    group.finish();
}

fn fbo_nonlocal(c: &mut Criterion) {
    let device = Default::default();
    let config = FboConfig::new(2304, 2304).with_zero_init_out(false);
    let mut group = c.benchmark_group("action");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let fbo = config.init::<Flex>(&device);
    let short_term = Tensor::<Flex, 2>::random([64, 2304], Distribution::Normal(0.0, 1.0), &device);
    let bank = Tensor::<Flex, 3>::random([64, 500, 2304], Distribution::Normal(0.0, 1.0), &device);
    group.bench_function("fbo_nonlocal_forward_64x500x2304", |b| {
        b.iter(|| black_box(fbo.forward(short_term.clone(), bank.clone()).into_data()))
    });
    type B = Autodiff<Flex>;
    let fbo = config.init::<B>(&device);
    let short_term = Tensor::<B, 2>::from_inner(short_term).require_grad();
    let bank = Tensor::<B, 3>::from_inner(bank);
    group.bench_function("fbo_nonlocal_forward_backward_64x500x2304", |b| {
        b.iter(|| {
            let out = fbo.forward(short_term.clone(), bank.clone());
            black_box(out.sum().backward());
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // As the binary runs: freed memory kept for the next tensor (`fs::keep_freed_memory`).
    config = {
        avaloc::fs::keep_freed_memory();
        Criterion::default()
    };
    targets = slowfast, slowfast_synth, arm_branch, fbo_nonlocal
}
criterion_main!(benches);
