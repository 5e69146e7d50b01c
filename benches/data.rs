//! Clip loading throughput: decode + train transform + normalise of a 32-frame clip of
//! 320×240 JPEGs (the synthetic dataset's size), one clip per iteration on one thread.
//! Clips/s = 1 / time; the data loader runs this on parallel workers.
//!
//! Bank windows: a video of 900 s with 3 people a second, 2304-wide float16 features (an AVA
//! video's bank, 12.5 MB); a batch is the 100 s × 5 windows of 64 RoIs at random keyframes,
//! with seeded draws (training). Batches/s = 1 / time.

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

fn bank_windows(c: &mut Criterion) {
    use avaloc::data::bank::{BankDtype, BankEntry, Pick, VideoBank, sample_window, write_video};
    use avaloc::models::action::WindowSpec;
    use rand::Rng;
    let dir = std::env::temp_dir().join(format!("avaloc-bench-bank-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dim = 2304;
    let entries: Vec<BankEntry> = (900..1800)
        .flat_map(|second| {
            (0..3).map(move |p| BankEntry {
                second,
                score: 0.9 + p as f32 * 0.01,
                box_xyxy_norm: [0.1, 0.1, 0.5, 0.9],
                feature: (0..dim).map(|i| ((i + p) % 17) as f32 * 0.1).collect(),
            })
        })
        .collect();
    let path = write_video(&dir, "video", &entries, dim, BankDtype::F16).unwrap();
    let bank = VideoBank::open(&path).unwrap();
    let spec = WindowSpec {
        window_s: 100,
        per_second: 5,
    };
    let mut rng = StdRng::seed_from_u64(0);
    let mut group = c.benchmark_group("data");
    group.sample_size(20);
    group.bench_function("bank_windows_64x500x2304_f16", |b| {
        b.iter(|| {
            for r in 0..64u64 {
                let t = rng.random_range(902..1798);
                black_box(sample_window(&bank, t, spec, Pick::Random(r)));
            }
        })
    });
    group.finish();
    std::fs::remove_dir_all(dir).unwrap();
}

criterion_group! {
    name = benches;
    // As the binary runs: freed memory kept for the next tensor (`io::keep_freed_memory`).
    config = {
        avaloc::fs::keep_freed_memory();
        Criterion::default()
    };
    targets = clip_loading, bank_windows
}
criterion_main!(benches);
