//! Clip loading throughput: decode + train transform + normalise of a 32-frame clip of
//! 320×240 JPEGs (the synthetic dataset's size), one clip per iteration on one thread.
//! Clips/s = 1 / time; the data loader runs this on parallel workers.

use std::hint::black_box;
use std::path::PathBuf;

use avaloc::data::{ClipTransform, Normalization, load_clip};
use criterion::{Criterion, criterion_group, criterion_main};
use image::{Rgb, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn frames(dir: &std::path::Path, n: u32) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let path = dir.join(format!("img_{:05}.jpg", i + 1));
            let img = RgbImage::from_fn(320, 240, |x, y| {
                Rgb([(x + i) as u8, (y * 2) as u8, ((x ^ y) + i) as u8])
            });
            img.save(&path).unwrap();
            path
        })
        .collect()
}

fn clip_loading(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("avaloc-bench-clips-{}", std::process::id()));
    let paths = frames(&dir, 32);
    let transform = ClipTransform::Train {
        short_side: [256, 320],
        crop: 224,
    };
    let norm = Normalization::default();
    let mut rng = StdRng::seed_from_u64(0);
    let mut group = c.benchmark_group("data");
    group.sample_size(20);
    group.bench_function("load_clip_32x320x240_train", |b| {
        b.iter(|| {
            let draw = transform.draw(320, 240, &mut rng);
            black_box(load_clip(&paths, &draw, &norm).unwrap())
        })
    });
    group.finish();
    std::fs::remove_dir_all(dir).unwrap();
}

criterion_group!(benches, clip_loading);
criterion_main!(benches);
