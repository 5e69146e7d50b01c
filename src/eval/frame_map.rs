//! Frame-level mAP at IoU 0.5, computing exactly what the official AVA evaluator computes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::data::{
    AvaRow, DataError, KeyframeKey, LabelMap, read_ava_csv, read_detections, read_exclusions,
};

use super::average_precision::{average_precision, precision_recall};
use crate::ops::iou;

const IOU_THRESHOLD: f64 = 0.5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalOptions {
    /// Detections kept per keyframe, highest scores first (the official 50); 0 keeps all.
    pub max_detections_per_frame: usize,
    /// Classes whose precision/recall curves to keep in the result (for plots).
    pub pr_curve_classes: Vec<i64>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            max_detections_per_frame: 50,
            pr_curve_classes: Vec::new(),
        }
    }
}

/// Per-class AP over the label map's classes (`None` where a class has no ground truth) and
/// their mean over the classes that have some.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameMapResult {
    pub map: f64,
    pub per_class: Vec<(i64, String, Option<f64>)>,
    /// `(recall, precision)` after each ranked detection, for `EvalOptions::pr_curve_classes`
    /// that have ground truth.
    pub pr_curves: Vec<(i64, Vec<(f64, f64)>)>,
}

/// Reads the files and evaluates: see [`evaluate`].
pub fn evaluate_files(
    groundtruth: &Path,
    detections: &Path,
    labelmap: &Path,
    exclusions: Option<&Path>,
    options: &EvalOptions,
) -> Result<FrameMapResult, DataError> {
    let (labels, excluded) = read_classes(labelmap, exclusions)?;
    let groundtruth = read_ava_csv(groundtruth)?;
    let detections = read_detections(detections)?;
    Ok(evaluate(
        &labels,
        &groundtruth,
        &detections,
        &excluded,
        options,
    ))
}

/// The evaluated classes and the excluded keyframes (none without a file).
pub fn read_classes(
    labelmap: &Path,
    exclusions: Option<&Path>,
) -> Result<(LabelMap, HashSet<KeyframeKey>), DataError> {
    let labels = LabelMap::read(labelmap)?;
    let excluded = match exclusions {
        Some(path) => read_exclusions(path)?,
        None => HashSet::new(),
    };
    Ok((labels, excluded))
}

/// Several ground-truth files evaluated as one (their union) and each alone on the
/// detections of the videos it names: AVA-Kinetics' AVA and Kinetics parts side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct PartsResult {
    pub union: FrameMapResult,
    /// Each file as given, with its result.
    pub parts: Vec<(PathBuf, FrameMapResult)>,
}

/// Reads the files and evaluates the union of `groundtruths` and each of them: see
/// [`PartsResult`] and [`evaluate`].
pub fn evaluate_parts(
    groundtruths: &[PathBuf],
    detections: &Path,
    labelmap: &Path,
    exclusions: Option<&Path>,
    options: &EvalOptions,
) -> Result<PartsResult, DataError> {
    let (labels, excluded) = read_classes(labelmap, exclusions)?;
    let detections = read_detections(detections)?;
    let mut union = Vec::new();
    let mut parts = Vec::new();
    for path in groundtruths {
        let rows = read_ava_csv(path)?;
        let videos: HashSet<&str> = rows.iter().map(|r| r.key.video_id.as_str()).collect();
        let own: Vec<AvaRow> = detections
            .iter()
            .filter(|r| videos.contains(r.key.video_id.as_str()))
            .cloned()
            .collect();
        parts.push((
            path.clone(),
            evaluate(&labels, &rows, &own, &excluded, options),
        ));
        union.extend(rows);
    }
    Ok(PartsResult {
        union: evaluate(&labels, &union, &detections, &excluded, options),
        parts,
    })
}

/// The official protocol: rows of classes outside the label map are dropped; at most
/// `max_detections_per_frame` detections per keyframe are kept (highest scores, as the
/// official heap keeps them); excluded keyframes are dropped on both sides; each class's
/// detections are matched greedily, in per-frame score order, to the unmatched ground truth
/// box of highest IoU (≥ 0.5); detections on keyframes without ground truth are false
/// positives; AP is Pascal VOC's.
pub fn evaluate(
    labels: &LabelMap,
    groundtruth: &[AvaRow],
    detections: &[AvaRow],
    excluded: &HashSet<KeyframeKey>,
    options: &EvalOptions,
) -> FrameMapResult {
    let num_classes = labels.labels.iter().map(|l| l.id).max().unwrap_or(0).max(0) as usize;
    let kept = |r: &&AvaRow| labels.contains(r.action_id) && !excluded.contains(&r.key);

    // Ground truth per keyframe, in file order.
    let mut gt_frames: HashMap<&KeyframeKey, Vec<(&[f64; 4], i64)>> = HashMap::new();
    let mut num_gt = vec![0usize; num_classes + 1];
    for row in groundtruth.iter().filter(kept) {
        gt_frames
            .entry(&row.key)
            .or_default()
            .push((&row.box_xyxy_norm, row.action_id));
        num_gt[row.action_id as usize] += 1;
    }

    // Detections per keyframe, frames in order of first appearance.
    let mut frame_order: Vec<&KeyframeKey> = Vec::new();
    let mut det_frames: HashMap<&KeyframeKey, TopDetections> = HashMap::new();
    for row in detections.iter().filter(kept) {
        let frame = det_frames.entry(&row.key).or_insert_with(|| {
            frame_order.push(&row.key);
            TopDetections::new(options.max_detections_per_frame)
        });
        let [x1, y1, x2, y2] = row.box_xyxy_norm;
        frame.push(Entry {
            score: row.last.unwrap_or(1.0),
            action_id: row.action_id,
            box_yxyx: [y1, x1, y2, x2],
        });
    }

    let mut scores: Vec<Vec<f64>> = vec![Vec::new(); num_classes + 1];
    let mut tps: Vec<Vec<bool>> = vec![Vec::new(); num_classes + 1];
    for key in frame_order {
        let entries = det_frames.remove(key).expect("frame seen").into_sorted();
        let gt = gt_frames.get(key).map(Vec::as_slice).unwrap_or(&[]);
        match_frame(&entries, gt, &mut scores, &mut tps);
    }

    let mut per_class = Vec::new();
    let mut aps = Vec::new();
    for label in &labels.labels {
        let class = label.id as usize;
        let ap = (label.id > 0 && num_gt[class] > 0)
            .then(|| average_precision(&scores[class], &tps[class], num_gt[class]));
        aps.extend(ap);
        per_class.push((label.id, label.name.clone(), ap));
    }
    let map = if aps.is_empty() {
        f64::NAN
    } else {
        aps.iter().sum::<f64>() / aps.len() as f64
    };
    let pr_curves = options
        .pr_curve_classes
        .iter()
        .filter(|&&id| labels.contains(id) && num_gt[id as usize] > 0)
        .map(|&id| {
            let class = id as usize;
            let (precision, recall) = precision_recall(&scores[class], &tps[class], num_gt[class]);
            (id, recall.into_iter().zip(precision).collect())
        })
        .collect();
    FrameMapResult {
        map,
        per_class,
        pr_curves,
    }
}

/// Matches one keyframe's detections (score order) with its ground truth, class by class.
fn match_frame(
    entries: &[Entry],
    gt: &[(&[f64; 4], i64)],
    scores: &mut [Vec<f64>],
    tps: &mut [Vec<bool>],
) {
    // The official evaluator drops boxes with y2 <= y1 or x2 <= x1 before anything else.
    let valid = |e: &&Entry| e.box_yxyx[0] < e.box_yxyx[2] && e.box_yxyx[1] < e.box_yxyx[3];
    let mut classes: Vec<i64> = entries.iter().filter(valid).map(|e| e.action_id).collect();
    classes.sort_unstable();
    classes.dedup();
    for class in classes {
        let gt_boxes: Vec<[f64; 4]> = gt
            .iter()
            .filter(|(_, c)| *c == class)
            .map(|(b, _)| [b[1], b[0], b[3], b[2]])
            .collect();
        let mut detected = vec![false; gt_boxes.len()];
        for entry in entries
            .iter()
            .filter(valid)
            .filter(|e| e.action_id == class)
        {
            let mut tp = false;
            // First box of maximal IoU, as numpy's argmax (detection boxes are valid, so
            // their IoU is never NaN).
            let mut best: Option<(usize, f64)> = None;
            for (j, g) in gt_boxes.iter().enumerate() {
                let overlap = iou(&entry.box_yxyx, g);
                if best.is_none_or(|(_, b)| overlap > b) {
                    best = Some((j, overlap));
                }
            }
            if let Some((j, overlap)) = best
                && overlap >= IOU_THRESHOLD
                && !detected[j]
            {
                detected[j] = true;
                tp = true;
            }
            scores[class as usize].push(entry.score);
            tps[class as usize].push(tp);
        }
    }
}

/// One detection: the official reader's heap tuple `(score, action_id, y1, x1, y2, x2)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry {
    score: f64,
    action_id: i64,
    box_yxyx: [f64; 4],
}

impl Entry {
    /// Python's tuple ordering.
    fn less(&self, other: &Self) -> bool {
        let a = (self.score, self.action_id as f64, self.box_yxyx);
        let b = (other.score, other.action_id as f64, other.box_yxyx);
        a.partial_cmp(&b) == Some(std::cmp::Ordering::Less)
    }
}

/// The official reader's per-frame min-heap of capacity `cap` (Python's `heapq`, replicated
/// operation for operation so that ties resolve the same way).
struct TopDetections {
    cap: usize,
    heap: Vec<Entry>,
}

impl TopDetections {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            heap: Vec::new(),
        }
    }

    fn push(&mut self, item: Entry) {
        if self.cap == 0 || self.heap.len() < self.cap {
            self.heap.push(item);
            let last = self.heap.len() - 1;
            self.sift_down(0, last);
        } else if item.score > self.heap[0].score {
            self.heap[0] = item;
            self.sift_up(0);
        }
    }

    /// `heapq._siftdown`: move the item at `pos` up towards `start` while smaller than its parent.
    fn sift_down(&mut self, start: usize, mut pos: usize) {
        let item = self.heap[pos];
        while pos > start {
            let parent = (pos - 1) >> 1;
            if item.less(&self.heap[parent]) {
                self.heap[pos] = self.heap[parent];
                pos = parent;
            } else {
                break;
            }
        }
        self.heap[pos] = item;
    }

    /// `heapq._siftup`: bubble the smaller child up to a leaf, then sift the item down.
    fn sift_up(&mut self, mut pos: usize) {
        let end = self.heap.len();
        let start = pos;
        let item = self.heap[pos];
        let mut child = 2 * pos + 1;
        while child < end {
            let right = child + 1;
            if right < end && !self.heap[child].less(&self.heap[right]) {
                child = right;
            }
            self.heap[pos] = self.heap[child];
            pos = child;
            child = 2 * pos + 1;
        }
        self.heap[pos] = item;
        self.sift_down(start, pos);
    }

    /// `sorted(entries, key=lambda t: -t[0])`: stable, by decreasing score.
    fn into_sorted(mut self) -> Vec<Entry> {
        self.heap.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.heap
    }
}
