//! Training the person detector on an AVA-format dataset: every annotated person box at every
//! keyframe is a "person" (class 1), each keyframe image one sample, flipped at random;
//! validation is person AP at IoU 0.5 on the validation keyframes, computed by the AVA
//! evaluator's own matching with a one-class label map.

use std::collections::HashSet;

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::{TrainOutput, TrainStep};
use image::imageops;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::StepLosses;
use crate::data::{
    AvaRow, DataError, FrameTime, KeyframeKey, KeyframeSample, Label, LabelMap, SeededBatcher,
    decode_frame, mix_seed,
};
use crate::eval::{EvalOptions, evaluate};
use crate::infer::{PersonFilter, PersonFrame, detect_persons};
use crate::models::detector::{DetectionTarget, DetectorTrainingConfig, FasterRcnn, rgb_to_tensor};

/// The class index of "person" in a detector trained here.
const PERSON: i64 = 1;

/// The detector with what its training step needs besides the weights.
#[derive(Module, Debug)]
pub struct DetectorTraining<B: Backend> {
    pub model: FasterRcnn<B>,
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
        let losses =
            self.model
                .losses(&self.training, batch.images, &batch.targets, Some(&mut rng));
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
}

impl DetectionBatcher {
    pub fn new(flip: bool, seed: u64) -> Self {
        Self { flip, seed }
    }
}

impl<B: Backend> SeededBatcher<B, KeyframeSample, DetectionBatch<B>> for DetectionBatcher {
    fn batch(
        &self,
        items: Vec<KeyframeSample>,
        seed: u64,
        device: &B::Device,
    ) -> DetectionBatch<B> {
        let mut rng = StdRng::seed_from_u64(mix_seed(&[self.seed, seed]));
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

/// Person AP at IoU 0.5 (VOC AP, as the AVA evaluator computes it) of `model` on `samples`,
/// detecting `batch` images at a time.
pub fn person_ap<B: Backend>(
    model: &FasterRcnn<B>,
    samples: &[KeyframeSample],
    batch: usize,
    device: &B::Device,
) -> Result<f64, DataError> {
    let row = |key: &KeyframeKey, b: [f64; 4], score: Option<f64>| AvaRow {
        key: key.clone(),
        box_xyxy_norm: b,
        action_id: PERSON,
        last: score,
        line: 0,
    };
    let groundtruth: Vec<AvaRow> = samples
        .iter()
        .flat_map(|s| s.boxes_xyxy_norm.iter().map(|b| row(&s.key, *b, None)))
        .collect();
    let frames: Vec<PersonFrame> = samples
        .iter()
        .map(|s| PersonFrame {
            video_id: s.key.video_id.clone(),
            time: FrameTime::Keyframe(s.key.timestamp_s),
            path: s.frames[0].clone(),
        })
        .collect();
    let filter = PersonFilter {
        threshold: f32::NEG_INFINITY,
        person_label: PERSON,
        batch,
    };
    let detections: Vec<AvaRow> = detect_persons(model, &frames, filter, device, |_| {})?
        .into_iter()
        .map(|p| {
            let FrameTime::Keyframe(timestamp_s) = p.time else {
                unreachable!("keyframes in, keyframes out")
            };
            let key = KeyframeKey {
                video_id: p.video_id,
                timestamp_s,
            };
            row(&key, p.box_xyxy_norm, Some(p.score))
        })
        .collect();
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
