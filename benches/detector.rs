//! Faster R-CNN forward (transform, backbone, RPN, box branch) on one 800×1333 image with
//! random weights, R50-FPN (COCO heads). `tests/reference/bench_detector.py` times
//! torchvision's `fasterrcnn_resnet50_fpn` on the same input size.

use std::hint::black_box;
use std::time::Duration;

use avaloc::config::NetworkFile;
use burn::backend::Flex;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};

fn faster_rcnn(c: &mut Criterion) {
    let device = Default::default();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/detector/faster_rcnn_r50_fpn.toml"
    );
    let config = NetworkFile::load(path)
        .unwrap()
        .network
        .faster_rcnn()
        .unwrap();
    let model = config.init::<Flex>(&device);
    let image = Tensor::<Flex, 3>::random([3, 800, 1333], Distribution::Uniform(0.0, 1.0), &device);
    let mut group = c.benchmark_group("detector");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    group.bench_function("faster_rcnn_r50_fpn_800x1333", |b| {
        b.iter(|| black_box(model.detect(&config, vec![image.clone()])))
    });
    group.finish();
}

criterion_group!(benches, faster_rcnn);
criterion_main!(benches);
