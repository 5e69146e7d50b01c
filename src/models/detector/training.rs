//! Faster R-CNN training losses as torchvision computes them: anchors matched to ground truth
//! at 0.7 / 0.3 (with low-quality matches) and sampled 256 per image at half positives for
//! the RPN; proposals plus the ground-truth boxes matched at 0.5 and sampled 512 per image at
//! a quarter positives for the box head; binary cross-entropy on objectness, cross-entropy on
//! classes, smooth-L1 (β = 1/9) on box codes of positives divided by the number sampled.

use burn::config::Config;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use rand::Rng;
use rand::seq::SliceRandom;

use super::{BELOW_LOW, FasterRcnn, Matcher, ProposalConfig};
use crate::nn::losses::{bce_with_logits_mean, cross_entropy_mean, smooth_l1_sum};
use crate::ops::host::to_host_f32;
use crate::ops::{BoxCoder, box_iou};

/// torchvision's smooth-L1 transition point for both heads.
const SMOOTH_L1_BETA: f32 = 1.0 / 9.0;

/// torchvision's training settings of `FasterRCNN`.
#[derive(Config, Debug)]
pub struct DetectorTrainingConfig {
    #[config(default = 256)]
    pub rpn_batch_per_image: usize,
    #[config(default = 0.5)]
    pub rpn_positive_fraction: f32,
    /// Proposal selection while training (torchvision: 2000 before and after NMS).
    #[config(default = "ProposalConfig::new().with_pre_nms_top_n(2000).with_post_nms_top_n(2000)")]
    pub proposals: ProposalConfig,
    #[config(default = 512)]
    pub box_batch_per_image: usize,
    #[config(default = 0.25)]
    pub box_positive_fraction: f32,
    /// Multi-scale training, as torchvision's transform with several `min_size`s: each batch
    /// is resized to one of these short sides, drawn at random (empty: the test size).
    #[config(default = "Vec::new()")]
    pub min_sizes: Vec<usize>,
}

/// Ground truth of one image: boxes in the image's own pixels and their classes (1.. ; 0 is
/// the background).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DetectionTarget {
    pub boxes: Vec<[f32; 4]>,
    pub labels: Vec<i64>,
}

/// torchvision's `BalancedPositiveNegativeSampler`: of labels ≥ 1 (positive) and 0
/// (negative; below 0 is ignored), at most `batch_per_image * positive_fraction` positives and
/// the rest of the batch in negatives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalancedSampler {
    pub batch_per_image: usize,
    pub positive_fraction: f32,
}

impl BalancedSampler {
    /// Sampled positive and negative indices, each ascending. With `rng` the subsets are
    /// random; without, the first ones in index order (deterministic, for parity tests).
    pub fn sample<R: Rng>(&self, labels: &[i64], rng: Option<&mut R>) -> (Vec<usize>, Vec<usize>) {
        let mut positives: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] >= 1).collect();
        let mut negatives: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
        let num_pos =
            ((self.batch_per_image as f32 * self.positive_fraction) as usize).min(positives.len());
        let num_neg = (self.batch_per_image - num_pos).min(negatives.len());
        if let Some(rng) = rng {
            positives.shuffle(rng);
            negatives.shuffle(rng);
        }
        positives.truncate(num_pos);
        negatives.truncate(num_neg);
        positives.sort_unstable();
        negatives.sort_unstable();
        (positives, negatives)
    }
}

/// The four training losses; [`DetectorLosses::total`] is their sum, as torchvision's.
#[derive(Debug, Clone)]
pub struct DetectorLosses<B: Backend> {
    pub rpn_objectness: Tensor<B, 1>,
    pub rpn_box: Tensor<B, 1>,
    pub classifier: Tensor<B, 1>,
    pub box_reg: Tensor<B, 1>,
}

impl<B: Backend> DetectorLosses<B> {
    pub fn total(&self) -> Tensor<B, 1> {
        self.rpn_objectness.clone()
            + self.rpn_box.clone()
            + self.classifier.clone()
            + self.box_reg.clone()
    }

    /// Names and values, read to the host in one transfer (for logs and metrics).
    pub fn values(&self) -> [(&'static str, f64); 4] {
        let all = to_host_f32(Tensor::cat(
            vec![
                self.rpn_objectness.clone(),
                self.rpn_box.clone(),
                self.classifier.clone(),
                self.box_reg.clone(),
            ],
            0,
        ));
        let names = ["rpn_objectness", "rpn_box", "classifier", "box_reg"];
        std::array::from_fn(|i| (names[i], all[i] as f64))
    }
}

/// Per-box match of `boxes` to `gt` (an index into `gt`, or the matcher's negative codes);
/// every box is background when there is no ground truth.
fn match_boxes<B: Backend>(
    gt: &[[f32; 4]],
    boxes: &[[f32; 4]],
    matcher: Matcher,
    device: &B::Device,
) -> Vec<i64> {
    if gt.is_empty() {
        return vec![BELOW_LOW; boxes.len()];
    }
    let iou = box_iou(box_tensor::<B>(gt, device), box_tensor::<B>(boxes, device));
    matcher.assign(&to_host_f32(iou), gt.len(), boxes.len())
}

fn box_tensor<B: Backend>(boxes: &[[f32; 4]], device: &B::Device) -> Tensor<B, 2> {
    let flat: Vec<f32> = boxes.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [boxes.len(), 4]), device)
}

fn index_tensor<B: Backend>(indices: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [indices.len()]), device)
}

/// Smooth-L1 of the predicted codes in `rows` of `codes` against the codes that move `from`
/// onto `to`, divided by `normaliser` (zero when there are no rows).
fn box_code_loss<B: Backend>(
    codes: Tensor<B, 2>,
    rows: &[usize],
    from: &[[f32; 4]],
    to: &[[f32; 4]],
    weights: [f32; 4],
    normaliser: usize,
) -> Tensor<B, 1> {
    let device = codes.device();
    if rows.is_empty() {
        return Tensor::zeros([1], &device);
    }
    let predicted = codes.select(0, index_tensor(rows, &device));
    let targets = BoxCoder::new(weights).encode(box_tensor(to, &device), box_tensor(from, &device));
    smooth_l1_sum(predicted, targets, SMOOTH_L1_BETA).div_scalar(normaliser.max(1) as f32)
}

impl<B: Backend> FasterRcnn<B> {
    /// Training losses for `[3, H, W]` RGB images in `[0, 1]` and their ground truth (in the
    /// images' own pixels). Sampling draws from `rng`, or takes the first candidates without.
    pub fn losses<R: Rng>(
        &self,
        training: &DetectorTrainingConfig,
        images: Vec<Tensor<B, 3>>,
        targets: &[DetectionTarget],
        mut rng: Option<&mut R>,
    ) -> DetectorLosses<B> {
        let device = images[0].device();
        let mut transform = self.transform.clone();
        if let (Some(rng), false) = (rng.as_deref_mut(), training.min_sizes.is_empty()) {
            transform.min_size = training.min_sizes[rng.random_range(0..training.min_sizes.len())];
        }
        let front = self.front(&transform, images);
        let [n, total] = front.objectness.dims();
        // Ground truth in the resized images' pixels, as torchvision's `resize_boxes`.
        let gt: Vec<Vec<[f32; 4]>> = targets
            .iter()
            .zip(front.batch.sizes_hw.iter().zip(&front.batch.original_hw))
            .map(|(t, (resized, original))| {
                let (rh, rw) = (
                    resized[0] as f32 / original[0] as f32,
                    resized[1] as f32 / original[1] as f32,
                );
                t.boxes
                    .iter()
                    .map(|b| [b[0] * rw, b[1] * rh, b[2] * rw, b[3] * rh])
                    .collect()
            })
            .collect();

        // RPN: anchors against ground truth.
        let rpn_sampler = BalancedSampler {
            batch_per_image: training.rpn_batch_per_image,
            positive_fraction: training.rpn_positive_fraction,
        };
        let (mut sampled, mut sampled_labels) = (Vec::new(), Vec::new());
        let (mut positive_rows, mut positive_anchors, mut positive_gt) =
            (Vec::new(), Vec::new(), Vec::new());
        for (image, gt) in gt.iter().enumerate() {
            let matches = match_boxes::<B>(gt, &front.anchors, Matcher::rpn(), &device);
            let labels: Vec<i64> = matches
                .iter()
                .map(|&m| match m {
                    m if m >= 0 => 1,
                    BELOW_LOW => 0,
                    _ => -1,
                })
                .collect();
            let (pos, neg) = rpn_sampler.sample(&labels, rng.as_deref_mut());
            for &p in &pos {
                positive_rows.push(image * total + p);
                positive_anchors.push(front.anchors[p]);
                positive_gt.push(gt[matches[p] as usize]);
            }
            sampled_labels.extend(pos.iter().map(|_| 1.0f32).chain(neg.iter().map(|_| 0.0)));
            sampled.extend(pos.into_iter().chain(neg).map(|i| image * total + i));
        }
        let objectness = front
            .objectness
            .clone()
            .reshape([n * total])
            .select(0, index_tensor(&sampled, &device));
        let rpn_objectness = bce_with_logits_mean(
            objectness,
            Tensor::from_data(TensorData::new(sampled_labels, [sampled.len()]), &device),
        );
        let rpn_box = box_code_loss(
            front.deltas.clone().reshape([n * total, 4]),
            &positive_rows,
            &positive_anchors,
            &positive_gt,
            [1.0; 4],
            sampled.len(),
        );

        // Box head: proposals (and the ground truth itself) against ground truth.
        let proposals = training.proposals.select(
            front.objectness.detach(),
            front.deltas.detach(),
            &front.anchors,
            &front.counts,
            &front.batch.sizes_hw,
        );
        let box_sampler = BalancedSampler {
            batch_per_image: training.box_batch_per_image,
            positive_fraction: training.box_positive_fraction,
        };
        let (mut rois, mut labels) = (Vec::new(), Vec::new());
        let (mut positive_rows, mut positive_rois, mut positive_gt) =
            (Vec::new(), Vec::new(), Vec::new());
        for ((proposals, gt), target) in proposals.into_iter().zip(&gt).zip(targets) {
            let mut candidates = proposals.boxes;
            candidates.extend(gt.iter().copied());
            let matches = match_boxes::<B>(gt, &candidates, Matcher::box_head(), &device);
            let candidate_labels: Vec<i64> = matches
                .iter()
                .map(|&m| match m {
                    m if m >= 0 => target.labels[m as usize],
                    BELOW_LOW => 0,
                    _ => -1,
                })
                .collect();
            let (pos, neg) = box_sampler.sample(&candidate_labels, rng.as_deref_mut());
            let mut chosen: Vec<usize> = pos.into_iter().chain(neg).collect();
            chosen.sort_unstable();
            let image_rois: Vec<[f32; 4]> = chosen.iter().map(|&i| candidates[i]).collect();
            for &i in &chosen {
                let label = candidate_labels[i];
                if label > 0 {
                    positive_rows.push((labels.len(), label as usize));
                    positive_rois.push(candidates[i]);
                    positive_gt.push(gt[matches[i] as usize]);
                }
                labels.push(label);
            }
            rois.push(image_rois);
        }
        let largest = [0, 1].map(|d| front.batch.sizes_hw.iter().map(|s| s[d]).max().unwrap_or(0));
        let levels = &front.levels[..front.levels.len() - 1];
        let pooled = self.box_roi_pool.forward(levels, &rois, largest);
        let (logits, regression) = self.box_head.forward(pooled);
        let [k, classes] = logits.dims();
        let classifier = cross_entropy_mean(
            logits,
            Tensor::from_data(TensorData::new(labels, [k]), &device),
        );
        let rows: Vec<usize> = positive_rows
            .iter()
            .map(|&(r, c)| r * classes + c)
            .collect();
        let box_reg = box_code_loss(
            regression.reshape([k * classes, 4]),
            &rows,
            &positive_rois,
            &positive_gt,
            self.detection.box_weights,
            k,
        );
        DetectorLosses {
            rpn_objectness,
            rpn_box,
            classifier,
            box_reg,
        }
    }
}
