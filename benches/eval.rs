//! AVA frame-mAP on a random AVA-like input: 5000 keyframes, ~100k detection rows, 60
//! classes (a tenth of AVA val). `tests/reference/ava_eval_bench.py` times the official
//! evaluator on a full-size input for comparison.

use std::collections::HashSet;
use std::hint::black_box;
use std::path::Path;

use avaloc::data::{AvaRow, KeyframeKey, LabelMap};
use avaloc::eval::{EvalOptions, evaluate};
use criterion::{Criterion, criterion_group, criterion_main};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn input() -> (LabelMap, Vec<AvaRow>, Vec<AvaRow>) {
    let text: String = (1..=60)
        .map(|i| format!("item {{\n  name: \"a{i}\"\n  id: {i}\n}}\n"))
        .collect();
    let labels = LabelMap::parse(&text, Path::new("bench")).unwrap();
    let mut rng = Rng(7);
    let (mut gt, mut det) = (Vec::new(), Vec::new());
    let row = |t: i64, b: [f64; 4], a: i64, last: f64| AvaRow {
        key: KeyframeKey {
            video_id: format!("video{:03}", t / 1000),
            timestamp_s: t % 1000,
        },
        box_xyxy_norm: b,
        action_id: a,
        last: Some(last),
        line: 0,
    };
    for t in 0..5000 {
        for p in 0..1 + (rng.next() * 3.0) as usize {
            let (w, h) = (0.1 + 0.3 * rng.next(), 0.3 + 0.4 * rng.next());
            let (x, y) = ((1.0 - w) * rng.next(), (1.0 - h) * rng.next());
            for _ in 0..2 {
                gt.push(row(
                    t,
                    [x, y, x + w, y + h],
                    1 + (rng.next() * 60.0) as i64,
                    p as f64,
                ));
            }
            for _ in 0..10 {
                let j: Vec<f64> = (0..4).map(|_| 0.06 * rng.next() - 0.03).collect();
                let b = [x + j[0], y + j[1], x + w + j[2], y + h + j[3]];
                det.push(row(t, b, 1 + (rng.next() * 60.0) as i64, rng.next()));
            }
        }
    }
    (labels, gt, det)
}

fn frame_map(c: &mut Criterion) {
    let (labels, gt, det) = input();
    let excluded = HashSet::new();
    let mut group = c.benchmark_group("ava_eval");
    group.sample_size(10);
    group.bench_function(format!("frame_map_{}_detections", det.len()), |b| {
        b.iter(|| black_box(evaluate(&labels, &gt, &det, &excluded, &EvalOptions::default()).map))
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
    targets = frame_map
}
criterion_main!(benches);
