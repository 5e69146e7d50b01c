//! Hot ops on the CPU backend: RoIAlign at SlowFast-head scale (512 RoIs, 7×7, on a
//! `[2, 2304, 16, 29]` stride-16 map), forward and forward+backward, NMS on 5000 boxes, and
//! the demo SlowFast's fast stem (5×7×7, 3 → 2 channels, 4 clips of 8×112²) through
//! `nn::Conv3d` (flex's direct kernels) and through Burn's own convolution.
//! The torchvision numbers to compare with come from `tests/reference/bench_ops.py`.

use std::hint::black_box;
use std::time::Duration;

use avaloc::ops;
use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::tensor::{Distribution, ElementConversion, Tensor, TensorData, backend::Backend};
use criterion::{Criterion, criterion_group, criterion_main};

/// Deterministic pseudo-random numbers in [0, 1) (xorshift), so runs see the same inputs.
fn uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// `k` RoIs over a `width × height` image spread across `batch` images, each at least 16 px.
fn rois<B: Backend>(
    k: usize,
    batch: usize,
    width: f32,
    height: f32,
    device: &B::Device,
) -> Tensor<B, 2> {
    let u = uniform(5 * k, 7);
    let mut rows = Vec::with_capacity(5 * k);
    for r in u.chunks_exact(5) {
        let (w, h) = (
            16.0 + r[3] * (width - 16.0) * 0.5,
            16.0 + r[4] * (height - 16.0) * 0.5,
        );
        let (x1, y1) = (r[1] * (width - w), r[2] * (height - h));
        rows.extend([(r[0] * batch as f32).floor(), x1, y1, x1 + w, y1 + h]);
    }
    Tensor::from_data(TensorData::new(rows, [k, 5]), device)
}

/// Forces the computation (on lazy backends too) without timing a copy of the whole result,
/// which torchvision's timings do not include either.
fn first_value<B: Backend>(t: Tensor<B, 4>) -> f32 {
    t.slice([0..1, 0..1, 0..1, 0..1]).into_scalar().elem()
}

fn roi_align(c: &mut Criterion) {
    let device = Default::default();
    let features =
        Tensor::<Flex, 4>::random([2, 2304, 16, 29], Distribution::Normal(0.0, 1.0), &device);
    let boxes = rois::<Flex>(512, 2, 29.0 * 16.0, 16.0 * 16.0, &device);
    let mut group = c.benchmark_group("roi_align");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("forward_512x7x7_2304x16x29", |b| {
        b.iter(|| {
            let out = ops::roi_align(features.clone(), boxes.clone(), [7, 7], 1.0 / 16.0, 0, true);
            black_box(first_value(out))
        })
    });
    let features_ad = Tensor::<Autodiff<Flex>, 4>::from_inner(features.clone());
    let boxes_ad = Tensor::<Autodiff<Flex>, 2>::from_inner(boxes.clone());
    group.bench_function("forward_backward_512x7x7_2304x16x29", |b| {
        b.iter(|| {
            let x = features_ad.clone().require_grad();
            let out = ops::roi_align(x.clone(), boxes_ad.clone(), [7, 7], 1.0 / 16.0, 0, true);
            let grads = out.sum().backward();
            black_box(first_value(x.grad(&grads).unwrap()))
        })
    });
    group.finish();
}

fn nms(c: &mut Criterion) {
    let device = Default::default();
    let n = 5000;
    let u = uniform(5 * n, 11);
    let mut boxes = Vec::with_capacity(4 * n);
    let mut scores = Vec::with_capacity(n);
    for r in u.chunks_exact(5) {
        let (x, y, w, h) = (
            r[0] * 800.0,
            r[1] * 600.0,
            8.0 + r[2] * 120.0,
            8.0 + r[3] * 120.0,
        );
        boxes.extend([x, y, x + w, y + h]);
        scores.push(r[4]);
    }
    let boxes = Tensor::<Flex, 2>::from_data(TensorData::new(boxes, [n, 4]), &device);
    let scores = Tensor::<Flex, 1>::from_data(TensorData::new(scores, [n]), &device);
    c.bench_function("nms_5000_iou0.7", |b| {
        b.iter(|| black_box(ops::nms(boxes.clone(), scores.clone(), 0.7).into_data()))
    });
}

fn stem_conv3d(c: &mut Criterion) {
    use avaloc::nn::Conv3d;
    use burn::nn::PaddingConfig3d;
    use burn::nn::conv::Conv3dConfig;
    type Ad = Autodiff<Flex>;
    let device = Default::default();
    let config = Conv3dConfig::new([3, 2], [5, 7, 7])
        .with_stride([1, 2, 2])
        .with_padding(PaddingConfig3d::Explicit(2, 3, 3))
        .with_bias(false);
    let conv: Conv3d<Ad> = Conv3d::new(&config, &device);
    let burn_conv = |x| burn_conv3d(x, &conv);
    let x = Tensor::<Ad, 5>::random([4, 3, 8, 112, 112], Distribution::Normal(0.0, 1.0), &device);
    let mut group = c.benchmark_group("stem_conv3d");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let step = |out: Tensor<Ad, 5>| {
        let grads = out.sum().backward();
        let grad = conv.weight.grad(&grads).unwrap();
        black_box(
            grad.slice([0..1, 0..1, 0..1, 0..1, 0..1])
                .into_scalar()
                .elem::<f32>(),
        )
    };
    group.bench_function("direct_forward_backward_4x3x8x112", |b| {
        b.iter(|| step(conv.forward(x.clone())))
    });
    group.bench_function("burn_forward_backward_4x3x8x112", |b| {
        b.iter(|| step(burn_conv(x.clone())))
    });
    let plain = conv.valid();
    let x = x.inner();
    group.bench_function("direct_forward_4x3x8x112", |b| {
        b.iter(|| black_box(plain.forward(x.clone()).into_data()))
    });
    group.bench_function("burn_forward_4x3x8x112", |b| {
        b.iter(|| black_box(burn_conv3d(x.clone(), &plain).into_data()))
    });
    group.finish();
}

/// `(name, input, weight, stride, padding, dilation)`.
type Layer = (
    &'static str,
    [usize; 5],
    [usize; 5],
    [usize; 3],
    [usize; 3],
    [usize; 3],
);

/// The convolutions that carry SlowFast's and the detector's time, through `nn::Conv3d`
/// (flex: per-tap products) and through Burn's own convolution, forward and forward +
/// backward (input and weight gradients). AVA's SlowFast keeps res5 at 14 × 14, dilated.
#[rustfmt::skip]
const LAYERS: [Layer; 9] = [
    ("slow_res2_1x3x3", [1, 64, 8, 56, 56], [64, 64, 1, 3, 3], [1, 1, 1], [0, 1, 1], [1; 3]),
    ("slow_res3_1x3x3_s2", [1, 128, 8, 56, 56], [128, 128, 1, 3, 3], [1, 2, 2], [0, 1, 1], [1; 3]),
    ("slow_res4_1x3x3", [1, 256, 8, 14, 14], [256, 256, 1, 3, 3], [1, 1, 1], [0, 1, 1], [1; 3]),
    ("slow_res4_3x1x1", [1, 1024, 8, 14, 14], [256, 1024, 3, 1, 1], [1, 1, 1], [1, 0, 0], [1; 3]),
    ("slow_res5_1x3x3", [1, 512, 8, 7, 7], [512, 512, 1, 3, 3], [1, 1, 1], [0, 1, 1], [1; 3]),
    ("ava_res5_1x3x3_dilated", [1, 512, 8, 14, 14], [512, 512, 1, 3, 3], [1, 1, 1], [0, 2, 2], [1, 2, 2]),
    ("fast_res2_1x3x3", [1, 8, 32, 56, 56], [8, 8, 1, 3, 3], [1, 1, 1], [0, 1, 1], [1; 3]),
    ("fast_res4_3x1x1", [1, 128, 32, 14, 14], [32, 128, 3, 1, 1], [1, 1, 1], [1, 0, 0], [1; 3]),
    ("fpn_3x3_200x336", [1, 256, 1, 200, 336], [256, 256, 1, 3, 3], [1, 1, 1], [0, 1, 1], [1; 3]),
];

fn conv3d_layers(c: &mut Criterion) {
    use avaloc::nn::Conv3d;
    use burn::nn::PaddingConfig3d;
    use burn::nn::conv::Conv3dConfig;
    type Ad = Autodiff<Flex>;
    let device = Default::default();
    let mut group = c.benchmark_group("conv3d");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for (name, input, weight, stride, [pt, ph, pw], dilation) in LAYERS {
        let config = Conv3dConfig::new([weight[1], weight[0]], [weight[2], weight[3], weight[4]])
            .with_stride(stride)
            .with_dilation(dilation)
            .with_padding(PaddingConfig3d::Explicit(pt, ph, pw))
            .with_bias(false);
        let conv: Conv3d<Ad> = Conv3d::new(&config, &device);
        let burn_conv = |x| burn_conv3d(x, &conv);
        let x = Tensor::<Ad, 5>::random(input, Distribution::Normal(0.0, 1.0), &device);
        let step = |x: Tensor<Ad, 5>, out: Tensor<Ad, 5>| {
            let grads = out.sum().backward();
            let (gx, gw) = (x.grad(&grads).unwrap(), conv.weight.grad(&grads).unwrap());
            black_box((first(gx), first(gw)))
        };
        group.bench_function(format!("{name}/forward_backward"), |b| {
            b.iter(|| {
                let x = x.clone().require_grad();
                step(x.clone(), conv.forward(x))
            })
        });
        group.bench_function(format!("{name}/burn_forward_backward"), |b| {
            b.iter(|| {
                let x = x.clone().require_grad();
                step(x.clone(), burn_conv(x))
            })
        });
        let plain = conv.valid();
        let x = x.inner();
        group.bench_function(format!("{name}/forward"), |b| {
            b.iter(|| black_box(first(plain.forward(x.clone()))))
        });
        group.bench_function(format!("{name}/burn_forward"), |b| {
            b.iter(|| black_box(first(burn_conv3d(x.clone(), &plain))))
        });
    }
    group.finish();
}

/// `conv`'s convolution through Burn's own `conv3d` (on flex: its im2col forward).
fn burn_conv3d<B: Backend>(x: Tensor<B, 5>, conv: &avaloc::nn::Conv3d<B>) -> Tensor<B, 5> {
    burn::tensor::module::conv3d(x, conv.weight.val(), None, conv.options.clone())
}

/// One element, which makes the backend finish the tensor.
fn first<B: Backend>(t: Tensor<B, 5>) -> f32 {
    t.slice([0..1, 0..1, 0..1, 0..1, 0..1])
        .into_scalar()
        .elem::<f32>()
}

criterion_group! {
    name = benches;
    // As the binary runs: freed memory kept for the next tensor (`io::keep_freed_memory`).
    config = {
        avaloc::fs::keep_freed_memory();
        Criterion::default()
    };
    targets = roi_align, nms, stem_conv3d, conv3d_layers
}
criterion_main!(benches);
