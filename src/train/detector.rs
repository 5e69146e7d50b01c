//! Training the person detector on an AVA-format dataset: every annotated person box at every
//! keyframe is a "person" (class 1), each keyframe image one sample, flipped at random;
//! validation is person AP at IoU 0.5 on the validation keyframes, computed by the AVA
//! evaluator's own matching with a one-class label map.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::{TrainOutput, TrainStep};
use image::imageops;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::StepLosses;
use crate::data::{
    AVA_VIDEO_START_S, AvaKeyframes, AvaRow, ClipSpec, FrameLayout, KeyframeKey, KeyframeSample,
    Label, LabelMap, decode_frame, group_annotations, read_ava_csv,
};
use crate::eval::{EvalOptions, evaluate};
use crate::models::detector::{
    DetectionTarget, DetectorTrainingConfig, FasterRcnn, FasterRcnnConfig, rgb_to_tensor,
};

/// The class index of "person" in a detector trained here.
const PERSON: i64 = 1;

/// The detector with what its training step needs besides the weights.
#[derive(Module, Debug)]
pub struct DetectorTraining<B: Backend> {
    pub model: FasterRcnn<B>,
    #[module(skip)]
    pub config: FasterRcnnConfig,
    #[module(skip)]
    pub training: DetectorTrainingConfig,
}

/// Images `[3, H, W]` in `[0, 1]` with their ground truth in pixels, and the seed of the
/// batch's sampling draws.
#[derive(Debug, Clone)]
pub struct DetectionBatch<B: Backend> {
    pub images: Vec<Tensor<B, 3>>,
    pub targets: Vec<DetectionTarget>,
    pub keys: Vec<KeyframeKey>,
    pub seed: u64,
}

impl<B: AutodiffBackend> TrainStep for DetectorTraining<B> {
    type Input = DetectionBatch<B>;
    type Output = StepLosses;

    fn step(&self, batch: DetectionBatch<B>) -> TrainOutput<StepLosses> {
        let mut rng = StdRng::seed_from_u64(batch.seed);
        let losses = self.model.losses(
            &self.config,
            &self.training,
            batch.images,
            &batch.targets,
            Some(&mut rng),
        );
        let total = losses.total();
        let parts = losses.values().to_vec();
        let item = StepLosses {
            total: parts.iter().map(|(_, v)| v).sum(),
            parts,
            batch: describe(&batch.keys),
        };
        TrainOutput::new(self, total.backward(), item)
    }
}

fn describe(keys: &[KeyframeKey]) -> String {
    let names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    format!("keyframes {}", names.join(" "))
}

/// Keyframe images and person boxes from a batch of samples; horizontal flips when training.
/// A sample whose image cannot be read is skipped with a warning naming the file.
pub struct DetectionBatcher {
    flip: bool,
    seed: u64,
    draws: AtomicU64,
}

impl DetectionBatcher {
    pub fn new(flip: bool, seed: u64) -> Self {
        Self {
            flip,
            seed,
            draws: AtomicU64::new(0),
        }
    }
}

impl<B: Backend> Batcher<B, KeyframeSample, DetectionBatch<B>> for DetectionBatcher {
    fn batch(&self, items: Vec<KeyframeSample>, device: &B::Device) -> DetectionBatch<B> {
        let draw = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut rng = StdRng::seed_from_u64(self.seed ^ draw.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut batch = DetectionBatch {
            images: Vec::new(),
            targets: Vec::new(),
            keys: Vec::new(),
            seed: rng.random(),
        };
        for sample in items {
            let mut frame = match decode_frame(&sample.frames[0]) {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::warn!("skipping keyframe {}: {e}", sample.key);
                    continue;
                }
            };
            let (w, h) = (frame.width() as f32, frame.height() as f32);
            let flip = self.flip && rng.random_bool(0.5);
            if flip {
                imageops::flip_horizontal_in_place(&mut frame);
            }
            let boxes = sample
                .boxes_xyxy_norm
                .iter()
                .map(|b| {
                    let (x1, x2) = if flip {
                        (1.0 - b[2], 1.0 - b[0])
                    } else {
                        (b[0], b[2])
                    };
                    [
                        x1 as f32 * w,
                        b[1] as f32 * h,
                        x2 as f32 * w,
                        b[3] as f32 * h,
                    ]
                })
                .collect::<Vec<_>>();
            batch.images.push(rgb_to_tensor(&frame, device));
            batch.targets.push(DetectionTarget {
                labels: vec![PERSON; boxes.len()],
                boxes,
            });
            batch.keys.push(sample.key);
        }
        batch
    }
}

/// One sample per annotated keyframe of an AVA annotation CSV, with every distinct person box
/// (whatever its actions), frames under `root` in PySlowFast's layout. Boxes are merged,
/// clamped and filtered by [`group_annotations`]'s rules, with every action id accepted.
pub fn detector_samples(root: &Path, annotations: &Path) -> Result<AvaKeyframes> {
    let rows = read_ava_csv(annotations)?;
    let ids: BTreeSet<i64> = rows.iter().map(|r| r.action_id).collect();
    let every_action = LabelMap {
        labels: ids
            .into_iter()
            .map(|id| Label {
                id,
                name: String::new(),
            })
            .collect(),
    };
    let (people, stats) = group_annotations(&rows, &every_action);
    if !stats.empty_boxes.is_empty() {
        tracing::warn!(
            "{}: skipped {} empty boxes (lines {:?})",
            annotations.display(),
            stats.empty_boxes.len(),
            stats.empty_boxes
        );
    }
    let spec = ClipSpec {
        num_frames: 1,
        stride: 1,
    };
    AvaKeyframes::new(
        &people,
        root,
        FrameLayout::PySlowFast,
        AVA_VIDEO_START_S,
        spec,
    )
    .with_context(|| format!("samples of {}", annotations.display()))
}

/// Person AP at IoU 0.5 (VOC AP, as the AVA evaluator computes it) of `model` on `samples`,
/// detecting `batch` images at a time.
pub fn person_ap<B: Backend>(
    model: &FasterRcnn<B>,
    config: &FasterRcnnConfig,
    samples: &[KeyframeSample],
    batch: usize,
    device: &B::Device,
) -> Result<f64> {
    let row = |key: &KeyframeKey, b: [f64; 4], score: Option<f64>| AvaRow {
        key: key.clone(),
        box_xyxy_norm: b,
        action_id: PERSON,
        last: score,
        line: 0,
    };
    let mut groundtruth = Vec::new();
    let mut detections = Vec::new();
    for chunk in samples.chunks(batch.max(1)) {
        let mut images = Vec::new();
        let mut sizes = Vec::new();
        for sample in chunk {
            let frame = decode_frame(&sample.frames[0])?;
            sizes.push((frame.width() as f64, frame.height() as f64));
            images.push(rgb_to_tensor(&frame, device));
            for b in &sample.boxes_xyxy_norm {
                groundtruth.push(row(&sample.key, *b, None));
            }
        }
        for ((sample, d), (w, h)) in chunk.iter().zip(model.detect(config, images)).zip(sizes) {
            for ((b, score), label) in d.boxes.iter().zip(&d.scores).zip(&d.labels) {
                if *label == PERSON {
                    let b = [
                        b[0] as f64 / w,
                        b[1] as f64 / h,
                        b[2] as f64 / w,
                        b[3] as f64 / h,
                    ];
                    detections.push(row(&sample.key, b, Some(*score as f64)));
                }
            }
        }
    }
    let labels = LabelMap {
        labels: vec![Label {
            id: PERSON,
            name: "person".into(),
        }],
    };
    let options = EvalOptions {
        max_detections_per_frame: 0,
        pr_curve_classes: Vec::new(),
    };
    Ok(evaluate(
        &labels,
        &groundtruth,
        &detections,
        &HashSet::new(),
        &options,
    )
    .map)
}
