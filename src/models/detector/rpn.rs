//! Region proposal network as torchvision's `RPNHead` and `RegionProposalNetwork` (inference):
//! a shared 3×3 conv, objectness and box-delta 1×1 convs per level; proposals are the
//! top-scoring anchors per level, decoded, clipped, filtered and merged by per-level NMS.
//! [`Rpn`] holds the head with its anchors and proposal settings.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Tensor, TensorData, activation::relu, backend::Backend};

use super::{AnchorGenerator, Convention};
use crate::nn::Conv2d;
use crate::ops::host::to_host_f32;
use crate::ops::nms::batched_nms_host;
use crate::ops::{BoxCoder, clip_box};

#[derive(Config, Debug)]
pub struct RpnHeadConfig {
    pub channels: usize,
    pub num_anchors: usize,
}

impl RpnHeadConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> RpnHead<B> {
        let conv = |o, k: usize| {
            let p = k / 2;
            let config = Conv2dConfig::new([self.channels, o], [k, k])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p));
            Conv2d::new(&config, device)
        };
        RpnHead {
            conv: conv(self.channels, 3),
            cls_logits: conv(self.num_anchors, 1),
            bbox_pred: conv(4 * self.num_anchors, 1),
        }
    }
}

/// The RPN: its head (weights `rpn.head.*`, as torchvision's), the anchors it scores and
/// how proposals are selected from them.
#[derive(Module, Debug)]
pub struct Rpn<B: Backend> {
    pub head: RpnHead<B>,
    #[module(skip)]
    pub anchors: AnchorGenerator,
    #[module(skip)]
    pub proposals: ProposalConfig,
}

#[derive(Module, Debug)]
pub struct RpnHead<B: Backend> {
    pub conv: Conv2d<B>,
    pub cls_logits: Conv2d<B>,
    pub bbox_pred: Conv2d<B>,
}

impl<B: Backend> RpnHead<B> {
    /// Objectness logits `[N, total]` and box deltas `[N, total, 4]` over all levels, in the
    /// anchors' order (level, row, column, anchor).
    pub fn forward(&self, levels: &[Tensor<B, 4>]) -> (Tensor<B, 2>, Tensor<B, 3>) {
        let (mut objectness, mut deltas) = (Vec::new(), Vec::new());
        for level in levels {
            let t = relu(self.conv.forward(level.clone()));
            let logits = self.cls_logits.forward(t.clone());
            let [n, a, h, w] = logits.dims();
            objectness.push(logits.permute([0, 2, 3, 1]).reshape([n, h * w * a]));
            let boxes = self.bbox_pred.forward(t).reshape([n, a, 4, h, w]);
            deltas.push(boxes.permute([0, 3, 4, 1, 2]).reshape([n, h * w * a, 4]));
        }
        (Tensor::cat(objectness, 1), Tensor::cat(deltas, 1))
    }
}

/// torchvision's inference settings for proposal selection.
#[derive(Config, Debug)]
pub struct ProposalConfig {
    #[config(default = 1000)]
    pub pre_nms_top_n: usize,
    #[config(default = 1000)]
    pub post_nms_top_n: usize,
    #[config(default = 0.7)]
    pub nms_thresh: f32,
    #[config(default = 1e-3)]
    pub min_size: f32,
    #[config(default = 0.0)]
    pub score_thresh: f32,
    /// Under [`Convention::Detectron1`], Detectron's `GenerateProposals` with its default
    /// `RPN_MIN_SIZE` of 0: "+1" decoding and clipping, boxes kept when at least one pixel
    /// wide and centred inside the image, Detectron's NMS (`min_size` and `score_thresh`
    /// unused). The caller passes the padded input size, which is what Detectron clips to.
    #[config(default = "Convention::Torchvision")]
    pub convention: Convention,
}

/// Proposals of one image: boxes `[x1, y1, x2, y2]` in pixels and objectness probabilities,
/// highest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposals {
    pub boxes: Vec<[f32; 4]>,
    pub scores: Vec<f32>,
}

impl ProposalConfig {
    /// Selects each image's proposals from the head's outputs and the anchors (with their
    /// per-level counts); `images_hw` are the images' sizes before padding.
    pub fn select<B: Backend>(
        &self,
        objectness: Tensor<B, 2>,
        deltas: Tensor<B, 3>,
        anchors: &[[f32; 4]],
        counts: &[usize],
        images_hw: &[[usize; 2]],
    ) -> Vec<Proposals> {
        let [n, total] = objectness.dims();
        let device = deltas.device();
        let anchor_tensor = Tensor::<B, 2>::from_data(
            TensorData::new(
                anchors.iter().flatten().copied().collect::<Vec<f32>>(),
                [total, 4],
            ),
            &device,
        );
        let decoded = BoxCoder::new([1.0; 4])
            .with_offset(self.convention.box_offset())
            .decode(
                deltas.reshape([n * total, 4]),
                anchor_tensor
                    .unsqueeze_dim::<3>(0)
                    .repeat_dim(0, n)
                    .reshape([n * total, 4]),
            );
        let (logits, boxes) = (to_host_f32(objectness), to_host_f32(decoded));
        (0..n)
            .map(|image| {
                let logits = &logits[image * total..(image + 1) * total];
                let boxes = &boxes[image * total * 4..(image + 1) * total * 4];
                self.select_image(logits, boxes, counts, images_hw[image])
            })
            .collect()
    }

    fn select_image(
        &self,
        logits: &[f32],
        boxes: &[f32],
        counts: &[usize],
        [h, w]: [usize; 2],
    ) -> Proposals {
        // Top pre_nms_top_n anchors of each level by objectness.
        let mut picked: Vec<(usize, i64)> = Vec::new();
        let mut start = 0;
        for (level, &count) in counts.iter().enumerate() {
            let mut order: Vec<usize> = (start..start + count).collect();
            order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
            picked.extend(
                order
                    .into_iter()
                    .take(self.pre_nms_top_n)
                    .map(|i| (i, level as i64)),
            );
            start += count;
        }
        let legacy = self.convention == Convention::Detectron1;
        let (mut kept_boxes, mut scores, mut levels) = (Vec::new(), Vec::new(), Vec::new());
        for (i, level) in picked {
            let clipped = clip_box(&boxes[4 * i..], [h, w], self.convention.box_offset());
            let score = 1.0 / (1.0 + (-logits[i]).exp());
            let [x1, y1, x2, y2] = clipped;
            let keep = if legacy {
                let centre = |a: f32, b: f32| a + (b - a + 1.0) / 2.0;
                x2 >= x1 && y2 >= y1 && centre(x1, x2) < w as f32 && centre(y1, y2) < h as f32
            } else {
                x2 - x1 >= self.min_size && y2 - y1 >= self.min_size && score >= self.score_thresh
            };
            if !keep {
                continue;
            }
            kept_boxes.extend(clipped);
            scores.push(score);
            levels.push(level);
        }
        let keep = batched_nms_host(&kept_boxes, &scores, &levels, self.nms_thresh, legacy);
        let keep = &keep[..keep.len().min(self.post_nms_top_n)];
        Proposals {
            boxes: keep
                .iter()
                .map(|&k| kept_boxes[4 * k..4 * k + 4].try_into().unwrap())
                .collect(),
            scores: keep.iter().map(|&k| scores[k]).collect(),
        }
    }
}
