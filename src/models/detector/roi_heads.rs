//! Box branch of Faster R-CNN as torchvision's `RoIHeads` (inference): multi-scale RoIAlign
//! with the canonical level mapping, the two-FC box head, class and box predictors, and
//! detection post-processing (class-specific decoding, score threshold, per-class NMS).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Tensor, TensorData, activation, backend::Backend};

use super::Convention;
use crate::ops::host::{restore_order, to_host_f32};
use crate::ops::nms::batched_nms_host;
use crate::ops::{BoxCoder, clip_box, roi_align};

/// torchvision's `MultiScaleRoIAlign` over the FPN levels P2–P5: a box of area `A` goes to
/// level `floor(4 + log2(sqrt(A) / 224) + 1e-6)`, clamped to the levels present (Detectron's
/// `map_rois_to_fpn_levels`: `floor(4 + log2(sqrt(A) / 224 + 1e-6))`, "+1" areas).
#[derive(Config, Debug)]
pub struct MultiScaleRoiAlign {
    #[config(default = 7)]
    pub output_size: usize,
    #[config(default = 2)]
    pub sampling_ratio: i32,
    #[config(default = 224.0)]
    pub canonical_scale: f32,
    #[config(default = 4.0)]
    pub canonical_level: f32,
    /// Half-pixel box offset (detectron2's `ROIAlignV2`); torchvision's pooler is unaligned.
    #[config(default = false)]
    pub aligned: bool,
    /// Detectron's level mapping under [`Convention::Detectron1`].
    #[config(default = "Convention::Torchvision")]
    pub convention: Convention,
}

impl MultiScaleRoiAlign {
    /// Pooled features `[K, C, S, S]` for the boxes of every image (in order), from `levels`
    /// (finest first) of a batch whose largest image is `batch_hw`.
    pub fn forward<B: Backend>(
        &self,
        levels: &[Tensor<B, 4>],
        boxes: &[Vec<[f32; 4]>],
        batch_hw: [usize; 2],
    ) -> Tensor<B, 4> {
        let device = levels[0].device();
        // Each level's scale is the power of two nearest its height ratio, as torchvision infers it.
        let scales: Vec<f32> = levels
            .iter()
            .map(|l| 2f32.powf((l.dims()[2] as f32 / batch_hw[0] as f32).log2().round()))
            .collect();
        let (k_min, k_max) = (-scales[0].log2(), -scales[scales.len() - 1].log2());
        let mut per_level: Vec<(Vec<f32>, Vec<usize>)> =
            vec![(Vec::new(), Vec::new()); levels.len()];
        let mut k = 0usize;
        for (image, image_boxes) in boxes.iter().enumerate() {
            for b in image_boxes {
                let level = self.level(b).clamp(k_min, k_max);
                let (rois, ids) = &mut per_level[(level - k_min) as usize];
                rois.extend([image as f32, b[0], b[1], b[2], b[3]]);
                ids.push(k);
                k += 1;
            }
        }
        let s = self.output_size;
        let mut pooled = Vec::new();
        let mut order = Vec::new();
        for ((rois, ids), (level, scale)) in per_level.into_iter().zip(levels.iter().zip(&scales)) {
            if ids.is_empty() {
                continue;
            }
            let rois = Tensor::<B, 2>::from_data(TensorData::new(rois, [ids.len(), 5]), &device);
            pooled.push(roi_align(
                level.clone(),
                rois,
                [s, s],
                *scale,
                self.sampling_ratio,
                self.aligned,
            ));
            order.extend(ids);
        }
        let channels = levels[0].dims()[1];
        if pooled.is_empty() {
            return Tensor::zeros([0, channels, s, s], &device);
        }
        restore_order(Tensor::cat(pooled, 0), &order)
    }

    /// The pyramid level of a box, before clamping.
    fn level(&self, b: &[f32; 4]) -> f32 {
        let offset = self.convention.box_offset();
        let size = ((b[2] - b[0] + offset) * (b[3] - b[1] + offset)).sqrt();
        let ratio = size / self.canonical_scale;
        let level = match self.convention {
            Convention::Detectron1 => (ratio + 1e-6).log2(),
            Convention::Torchvision | Convention::Detectron2 => ratio.log2() + 1e-6,
        };
        (self.canonical_level + level).floor()
    }
}

#[derive(Config, Debug)]
pub struct BoxHeadConfig {
    /// Pooled channels × 7 × 7.
    pub in_features: usize,
    #[config(default = 1024)]
    pub representation: usize,
    /// Classes including the background at index 0 (91 for COCO, 2 for a person detector).
    pub num_classes: usize,
}

impl BoxHeadConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> BoxHead<B> {
        BoxHead {
            fc6: LinearConfig::new(self.in_features, self.representation).init(device),
            fc7: LinearConfig::new(self.representation, self.representation).init(device),
            cls_score: LinearConfig::new(self.representation, self.num_classes).init(device),
            bbox_pred: LinearConfig::new(self.representation, 4 * self.num_classes).init(device),
        }
    }
}

/// torchvision's `TwoMLPHead` and `FastRCNNPredictor` together.
#[derive(Module, Debug)]
pub struct BoxHead<B: Backend> {
    pub fc6: Linear<B>,
    pub fc7: Linear<B>,
    pub cls_score: Linear<B>,
    pub bbox_pred: Linear<B>,
}

impl<B: Backend> BoxHead<B> {
    /// Class logits `[K, classes]` and box deltas `[K, 4 * classes]` of pooled features.
    pub fn forward(&self, pooled: Tensor<B, 4>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let [k, c, h, w] = pooled.dims();
        let x = activation::relu(self.fc6.forward(pooled.reshape([k, c * h * w])));
        let x = activation::relu(self.fc7.forward(x));
        (self.cls_score.forward(x.clone()), self.bbox_pred.forward(x))
    }
}

/// torchvision's detection post-processing settings.
#[derive(Config, Debug)]
pub struct DetectionConfig {
    #[config(default = 0.05)]
    pub score_thresh: f32,
    #[config(default = 0.5)]
    pub nms_thresh: f32,
    #[config(default = 100)]
    pub detections_per_img: usize,
    #[config(default = "[10.0, 10.0, 5.0, 5.0]")]
    pub box_weights: [f32; 4],
    /// Under [`Convention::Detectron1`]: "+1" decoding, clipping to the last pixel, no
    /// minimum box size, Detectron's NMS. (The caller passes proposals and image sizes in the
    /// original image's pixels, where Detectron decodes.)
    #[config(default = "Convention::Torchvision")]
    pub convention: Convention,
}

/// Detections of one image, highest score first; `labels` index the classes (0 is background).
#[derive(Debug, Clone, PartialEq)]
pub struct Detections {
    pub boxes: Vec<[f32; 4]>,
    pub scores: Vec<f32>,
    pub labels: Vec<i64>,
}

impl DetectionConfig {
    /// Turns head outputs for the proposals of each image into detections.
    pub fn postprocess<B: Backend>(
        &self,
        class_logits: Tensor<B, 2>,
        box_regression: Tensor<B, 2>,
        proposals: &[Vec<[f32; 4]>],
        images_hw: &[[usize; 2]],
    ) -> Vec<Detections> {
        let [k, classes] = class_logits.dims();
        let device = class_logits.device();
        let flat: Vec<f32> = proposals.iter().flatten().flatten().copied().collect();
        let reference = Tensor::<B, 2>::from_data(TensorData::new(flat, [k, 4]), &device);
        let offset = self.convention.box_offset();
        let legacy = self.convention == Convention::Detectron1;
        let boxes = BoxCoder::new(self.box_weights)
            .with_offset(offset)
            .decode(box_regression, reference);
        let scores = activation::softmax(class_logits, 1);
        let (boxes, scores) = (to_host_f32(boxes), to_host_f32(scores));
        let mut start = 0;
        proposals
            .iter()
            .zip(images_hw)
            .map(|(image_proposals, &[h, w])| {
                let rows = start..start + image_proposals.len();
                start = rows.end;
                let (mut kept, mut kept_scores, mut labels) = (Vec::new(), Vec::new(), Vec::new());
                for r in rows {
                    for class in 1..classes {
                        let score = scores[r * classes + class];
                        let b = clip_box(&boxes[(r * classes + class) * 4..], [h, w], offset);
                        let big_enough = legacy || (b[2] - b[0] >= 1e-2 && b[3] - b[1] >= 1e-2);
                        if score > self.score_thresh && big_enough {
                            kept.extend(b);
                            kept_scores.push(score);
                            labels.push(class as i64);
                        }
                    }
                }
                let keep = batched_nms_host(&kept, &kept_scores, &labels, self.nms_thresh, legacy);
                let keep = &keep[..keep.len().min(self.detections_per_img)];
                Detections {
                    boxes: keep
                        .iter()
                        .map(|&i| kept[4 * i..4 * i + 4].try_into().unwrap())
                        .collect(),
                    scores: keep.iter().map(|&i| kept_scores[i]).collect(),
                    labels: keep.iter().map(|&i| labels[i]).collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box `[0, 223]` is 224 pixels wide to Detectron, 223 to torchvision: level 4 against 3.
    #[test]
    fn detectron1_maps_levels_on_pixel_counts() {
        let tv = MultiScaleRoiAlign::new();
        let d1 = MultiScaleRoiAlign::new().with_convention(Convention::Detectron1);
        let canonical = [0.0, 0.0, 223.0, 223.0];
        assert_eq!((tv.level(&canonical), d1.level(&canonical)), (3.0, 4.0));
        let double = [10.0, 10.0, 457.0, 457.0];
        assert_eq!((tv.level(&double), d1.level(&double)), (4.0, 5.0));
        let exact = [0.0, 0.0, 224.0, 224.0];
        assert_eq!((tv.level(&exact), d1.level(&exact)), (4.0, 4.0));
    }
}
