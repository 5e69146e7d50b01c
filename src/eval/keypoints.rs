//! COCO keypoint AP, exactly as pycocotools' `COCOeval(iouType="keypoints")`: object keypoint
//! similarity with COCO's 17 sigmas (the box-based distance for people without labelled
//! keypoints), ten OKS thresholds .50:.05:.95, area ranges all / medium / large, 20
//! detections per image, crowds and people without keypoints ignored, greedy matching by
//! falling score, 101-point interpolated precision; the ten numbers of `summarize()`.

use std::collections::{BTreeMap, BTreeSet};

use crate::data::{CocoKeypointResult, CocoKeypoints, CocoPerson};

/// COCO's per-keypoint OKS sigmas (pycocotools `computeOks`).
pub const COCO_SIGMAS: [f64; 17] = [
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
    0.087, 0.087, 0.089, 0.089,
];

const MAX_DETS: usize = 20;
const AREA_RANGES: [[f64; 2]; 3] = [[0.0, 1e10], [32.0 * 32.0, 96.0 * 96.0], [96.0 * 96.0, 1e10]];
const THRESHOLDS: usize = 10;
const RECALL_POINTS: usize = 101;

/// `summarize()`'s numbers: AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl (−1 where
/// undefined).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeypointStats(pub [f64; 10]);

impl KeypointStats {
    pub const NAMES: [&'static str; 10] = [
        "AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl",
    ];

    pub fn ap(&self) -> f64 {
        self.0[0]
    }
}

/// A detection with what `loadRes` derives: its area (of the keypoints' extent).
#[derive(Clone, Copy)]
struct Detection<'a> {
    result: &'a CocoKeypointResult,
    area: f64,
}

/// One image × category × area range evaluation (`evaluateImg`).
struct ImageEval {
    /// Per threshold, per detection (by falling score, at most 20): matched, ignored.
    matched: Vec<Vec<bool>>,
    ignored: Vec<Vec<bool>>,
    scores: Vec<f64>,
    /// Ground truths not ignored.
    positives: usize,
}

/// `np.linspace(.5, .95, 10)[t]`, to the bit: `t · step + start`, the last exactly `stop`.
fn iou_threshold(t: usize) -> f64 {
    if t == THRESHOLDS - 1 {
        0.95
    } else {
        t as f64 * ((0.95 - 0.5) / 9.0) + 0.5
    }
}

/// `np.linspace(0, 1, 101)[r]`, to the bit (a recall of exactly 0.03 falls below `3 · 0.01`).
fn recall_threshold(r: usize) -> f64 {
    if r == RECALL_POINTS - 1 {
        1.0
    } else {
        r as f64 * 0.01
    }
}

/// OKS between a detection and a ground-truth person (pycocotools `computeOks`).
fn oks(dt: &[f64], gt: &CocoPerson) -> f64 {
    let k = COCO_SIGMAS
        .len()
        .min(gt.keypoints.len() / 3)
        .min(dt.len() / 3);
    let labelled = (0..k).filter(|&j| gt.keypoints[3 * j + 2] > 0.0).count();
    let [bx, by, bw, bh] = gt.bbox;
    let (x0, x1, y0, y1) = (bx - bw, bx + bw * 2.0, by - bh, by + bh * 2.0);
    let mut sum = 0.0;
    let mut count = 0;
    for j in 0..k {
        let (xg, yg, vg) = (
            gt.keypoints[3 * j],
            gt.keypoints[3 * j + 1],
            gt.keypoints[3 * j + 2],
        );
        let (xd, yd) = (dt[3 * j], dt[3 * j + 1]);
        let (dx, dy) = if labelled > 0 {
            (xd - xg, yd - yg)
        } else {
            (
                (x0 - xd).max(0.0) + (xd - x1).max(0.0),
                (y0 - yd).max(0.0) + (yd - y1).max(0.0),
            )
        };
        if labelled > 0 && vg <= 0.0 {
            continue;
        }
        let var = (COCO_SIGMAS[j] * 2.0).powi(2);
        let e = (dx * dx + dy * dy) / var / (gt.area + f64::EPSILON) / 2.0;
        sum += (-e).exp();
        count += 1;
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

fn evaluate_image(
    gts: &[&CocoPerson],
    dts: &[Detection],
    ious: &[Vec<f64>],
    range: [f64; 2],
) -> Option<ImageEval> {
    if gts.is_empty() && dts.is_empty() {
        return None;
    }
    let ignore_of = |g: &CocoPerson| {
        g.iscrowd != 0 || g.num_keypoints == 0 || g.area < range[0] || g.area > range[1]
    };
    // Ground truths not ignored first (a stable sort, as mergesort).
    let mut order: Vec<usize> = (0..gts.len()).collect();
    order.sort_by_key(|&g| ignore_of(gts[g]));
    let gt_ignored: Vec<bool> = order.iter().map(|&g| ignore_of(gts[g])).collect();
    let crowd: Vec<bool> = order.iter().map(|&g| gts[g].iscrowd != 0).collect();
    let n_dt = dts.len().min(MAX_DETS);
    let mut matched = vec![vec![false; n_dt]; THRESHOLDS];
    let mut ignored = vec![vec![false; n_dt]; THRESHOLDS];
    for t in 0..THRESHOLDS {
        let mut gt_taken = vec![false; order.len()];
        for d in 0..n_dt {
            let mut best = iou_threshold(t).min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for (gi, &g) in order.iter().enumerate() {
                if gt_taken[gi] && !crowd[gi] {
                    continue;
                }
                if let Some(mi) = m
                    && !gt_ignored[mi]
                    && gt_ignored[gi]
                {
                    break;
                }
                let iou = ious[d][g];
                if iou < best {
                    continue;
                }
                best = iou;
                m = Some(gi);
            }
            if let Some(mi) = m {
                ignored[t][d] = gt_ignored[mi];
                matched[t][d] = true;
                gt_taken[mi] = true;
            }
        }
        // Unmatched detections outside the area range are ignored.
        for d in 0..n_dt {
            let area = dts[d].area;
            if !matched[t][d] && (area < range[0] || area > range[1]) {
                ignored[t][d] = true;
            }
        }
    }
    Some(ImageEval {
        matched,
        ignored,
        scores: dts[..n_dt].iter().map(|d| d.result.score).collect(),
        positives: gt_ignored.iter().filter(|&&i| !i).count(),
    })
}

/// Precision at the 101 recall points and the final recall of one threshold's pooled
/// detections (`accumulate`), or `None` without positives.
fn precision_recall(evals: &[&ImageEval], t: usize) -> Option<(Vec<f64>, f64)> {
    let positives: usize = evals.iter().map(|e| e.positives).sum();
    if positives == 0 {
        return None;
    }
    let mut pooled: Vec<(f64, bool, bool)> = evals
        .iter()
        .flat_map(|e| {
            e.scores
                .iter()
                .zip(&e.matched[t])
                .zip(&e.ignored[t])
                .map(|((&s, &m), &i)| (s, m, i))
        })
        .collect();
    // Stable, by falling score (np.argsort(-scores, kind="mergesort")).
    pooled.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    let mut recall = Vec::with_capacity(pooled.len());
    let mut precision = Vec::with_capacity(pooled.len());
    for &(_, m, i) in &pooled {
        if i {
            // Ignored detections add to neither count but keep their place.
        } else if m {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        recall.push(tp / positives as f64);
        precision.push(tp / (fp + tp + f64::EPSILON));
    }
    let final_recall = recall.last().copied().unwrap_or(0.0);
    for i in (1..precision.len()).rev() {
        if precision[i] > precision[i - 1] {
            precision[i - 1] = precision[i];
        }
    }
    let q = (0..RECALL_POINTS)
        .map(|r| {
            let threshold = recall_threshold(r);
            let at = recall.partition_point(|&rc| rc < threshold);
            precision.get(at).copied().unwrap_or(0.0)
        })
        .collect();
    Some((q, final_recall))
}

/// pycocotools' keypoint evaluation of `results` against `truth`; results for images the
/// ground truth does not list are an error (pycocotools' "Results do not correspond").
pub fn evaluate_keypoints(
    truth: &CocoKeypoints,
    results: &[CocoKeypointResult],
) -> Result<KeypointStats, String> {
    let categories: BTreeSet<i64> = if truth.categories.is_empty() {
        truth.annotations.iter().map(|a| a.category_id).collect()
    } else {
        truth.categories.iter().map(|c| c.id).collect()
    };
    let images: BTreeSet<i64> = truth.images.iter().map(|i| i.id).collect();
    if let Some(r) = results.iter().find(|r| !images.contains(&r.image_id)) {
        return Err(format!(
            "a result names image {}, which the ground truth does not list",
            r.image_id
        ));
    }
    let mut gts: BTreeMap<(i64, i64), Vec<&CocoPerson>> = BTreeMap::new();
    for a in &truth.annotations {
        gts.entry((a.image_id, a.category_id)).or_default().push(a);
    }
    let mut dts: BTreeMap<(i64, i64), Vec<Detection>> = BTreeMap::new();
    for r in results {
        let (xs, ys): (Vec<f64>, Vec<f64>) = r.keypoints.chunks(3).map(|p| (p[0], p[1])).unzip();
        let span = |v: &[f64]| {
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                - v.iter().copied().fold(f64::INFINITY, f64::min)
        };
        dts.entry((r.image_id, r.category_id))
            .or_default()
            .push(Detection {
                result: r,
                area: span(&xs) * span(&ys),
            });
    }
    // Per (category, area range): the image evaluations; (precision, recall) summaries.
    let mut precisions = vec![vec![Vec::new(); AREA_RANGES.len()]; THRESHOLDS];
    let mut recalls = vec![vec![Vec::new(); AREA_RANGES.len()]; THRESHOLDS];
    for &category in &categories {
        let mut per_range: Vec<Vec<ImageEval>> =
            (0..AREA_RANGES.len()).map(|_| Vec::new()).collect();
        for &image in &images {
            let g = gts.get(&(image, category)).map_or(&[][..], Vec::as_slice);
            let mut d: Vec<Detection> = dts
                .get(&(image, category))
                .map_or(Vec::new(), |v| v.to_vec());
            d.sort_by(|a, b| b.result.score.total_cmp(&a.result.score));
            d.truncate(MAX_DETS);
            let ious: Vec<Vec<f64>> = d
                .iter()
                .map(|x| g.iter().map(|gt| oks(&x.result.keypoints, gt)).collect())
                .collect();
            for (a, range) in AREA_RANGES.iter().enumerate() {
                per_range[a].extend(evaluate_image(g, &d, &ious, *range));
            }
        }
        for (a, evals) in per_range.iter().enumerate() {
            let evals: Vec<&ImageEval> = evals.iter().collect();
            for t in 0..THRESHOLDS {
                if let Some((q, r)) = precision_recall(&evals, t) {
                    precisions[t][a].extend(q);
                    recalls[t][a].push(r);
                }
            }
        }
    }
    let mean = |values: Vec<f64>| {
        if values.is_empty() {
            -1.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    };
    let gather = |table: &Vec<Vec<Vec<f64>>>, thresholds: &[usize], a: usize| {
        mean(
            thresholds
                .iter()
                .flat_map(|&t| table[t][a].iter().copied())
                .collect(),
        )
    };
    let all: Vec<usize> = (0..THRESHOLDS).collect();
    Ok(KeypointStats([
        gather(&precisions, &all, 0),
        gather(&precisions, &[0], 0),
        gather(&precisions, &[5], 0),
        gather(&precisions, &all, 1),
        gather(&precisions, &all, 2),
        gather(&recalls, &all, 0),
        gather(&recalls, &[0], 0),
        gather(&recalls, &[5], 0),
        gather(&recalls, &all, 1),
        gather(&recalls, &all, 2),
    ]))
}
