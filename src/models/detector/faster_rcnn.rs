//! Faster R-CNN (inference) as torchvision's `FasterRCNN`: transform, ResNet-FPN backbone,
//! RPN, multi-scale RoIAlign box branch, boxes back in original-image pixels. The module owns
//! its settings (as torchvision's and detectron2's do): `detect(images)`.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

use super::transform::{ImageBatch, boxes_to_original};
use super::{
    AnchorGenerator, BoxHead, BoxHeadConfig, Convention, DetectionConfig, Detections,
    ImageTransformConfig, MultiScaleRoiAlign, ProposalConfig, ResNetFpn, ResNetFpnConfig, Rpn,
    RpnHeadConfig,
};

#[derive(Config, Debug)]
pub struct FasterRcnnConfig {
    pub backbone: ResNetFpnConfig,
    /// Classes including the background (91 for COCO; 2 for a person-only detector).
    pub num_classes: usize,
    #[config(default = 1024)]
    pub representation: usize,
    #[config(default = "ImageTransformConfig::new()")]
    pub transform: ImageTransformConfig,
    #[config(default = "vec![32.0, 64.0, 128.0, 256.0, 512.0]")]
    pub anchor_sizes: Vec<f32>,
    #[config(default = "vec![0.5, 1.0, 2.0]")]
    pub aspect_ratios: Vec<f32>,
    #[config(default = "ProposalConfig::new()")]
    pub proposals: ProposalConfig,
    #[config(default = "MultiScaleRoiAlign::new()")]
    pub box_roi_pool: MultiScaleRoiAlign,
    #[config(default = "DetectionConfig::new()")]
    pub detection: DetectionConfig,
    /// Whose conventions every stage follows (anchors, proposals, pooler, detection,
    /// transform): set here once; `init` hands it to each stage (under detectron2's, the
    /// pooler is aligned with adaptive sampling, its `ROIAlignV2`).
    #[config(default = "Convention::Torchvision")]
    pub convention: Convention,
}

impl FasterRcnnConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> FasterRcnn<B> {
        let channels = self.backbone.out_channels;
        let pooled = self.box_roi_pool.output_size;
        let convention = self.convention;
        let anchors = AnchorGenerator::new(self.anchor_sizes.clone(), self.aspect_ratios.clone())
            .with_convention(convention);
        FasterRcnn {
            backbone: self.backbone.init(device),
            rpn: Rpn {
                head: RpnHeadConfig::new(channels, self.aspect_ratios.len()).init(device),
                anchors,
                proposals: self.proposals.clone().with_convention(convention),
            },
            box_head: BoxHeadConfig::new(channels * pooled * pooled, self.num_classes)
                .with_representation(self.representation)
                .init(device),
            transform: self.transform.clone().with_convention(convention),
            box_roi_pool: match convention {
                // detectron2's pooler is `ROIAlignV2`: aligned, adaptive sampling.
                Convention::Detectron2 => self
                    .box_roi_pool
                    .clone()
                    .with_aligned(true)
                    .with_sampling_ratio(0),
                Convention::Torchvision | Convention::Detectron1 => self.box_roi_pool.clone(),
            }
            .with_convention(convention),
            detection: self.detection.clone().with_convention(convention),
            convention,
        }
    }
}

#[derive(Module, Debug)]
pub struct FasterRcnn<B: Backend> {
    pub backbone: ResNetFpn<B>,
    pub rpn: Rpn<B>,
    pub box_head: BoxHead<B>,
    #[module(skip)]
    pub transform: ImageTransformConfig,
    #[module(skip)]
    pub box_roi_pool: MultiScaleRoiAlign,
    #[module(skip)]
    pub detection: DetectionConfig,
    #[module(skip)]
    pub convention: Convention,
}

/// What detection and training share: the transformed batch, the pyramid, the RPN's outputs
/// and the anchors (with their per-level counts).
pub(super) struct Front<B: Backend> {
    pub batch: ImageBatch<B>,
    pub levels: Vec<Tensor<B, 4>>,
    pub objectness: Tensor<B, 2>,
    pub deltas: Tensor<B, 3>,
    pub anchors: Vec<[f32; 4]>,
    pub counts: Vec<usize>,
}

impl<B: Backend> FasterRcnn<B> {
    pub(super) fn front(
        &self,
        transform: &ImageTransformConfig,
        images: Vec<Tensor<B, 3>>,
    ) -> Front<B> {
        let batch = transform.apply(images);
        let [_, _, pad_h, pad_w] = batch.images.dims();
        let levels = self.backbone.forward(batch.images.clone());
        let (objectness, deltas) = self.rpn.head.forward(&levels);
        let levels_hw: Vec<[usize; 2]> =
            levels.iter().map(|l| [l.dims()[2], l.dims()[3]]).collect();
        let (anchors, counts) = self.rpn.anchors.grid([pad_h, pad_w], &levels_hw);
        Front {
            batch,
            levels,
            objectness,
            deltas,
            anchors,
            counts,
        }
    }

    /// Detections for `[3, H, W]` RGB images in `[0, 1]`, in their original pixels.
    pub fn detect(&self, images: Vec<Tensor<B, 3>>) -> Vec<Detections> {
        let Front {
            batch,
            levels,
            objectness,
            deltas,
            anchors,
            counts,
        } = self.front(&self.transform, images);
        let detectron1 = self.convention == Convention::Detectron1;
        // Detectron clips proposals to the padded input (its `im_info` is the blob's size).
        let padded_hw =
            vec![[batch.images.dims()[2], batch.images.dims()[3]]; batch.sizes_hw.len()];
        let bounds = if detectron1 {
            &padded_hw
        } else {
            &batch.sizes_hw
        };
        let proposals = self
            .rpn
            .proposals
            .select(objectness, deltas, &anchors, &counts, bounds);
        let boxes: Vec<Vec<[f32; 4]>> = proposals.into_iter().map(|p| p.boxes).collect();
        // The pooler infers each level's scale from the largest unpadded image.
        let largest = [0, 1].map(|d| batch.sizes_hw.iter().map(|s| s[d]).max().unwrap_or(0));
        let pooled = self
            .box_roi_pool
            .forward(&levels[..levels.len() - 1], &boxes, largest);
        let (logits, box_deltas) = self.box_head.forward(pooled);
        if detectron1 {
            // Detectron decodes the final boxes in the original image's pixels.
            let original: Vec<Vec<[f32; 4]>> = boxes
                .iter()
                .zip(&batch.original_hw)
                .map(|(b, &hw)| {
                    let scale = self.transform.detectron1_scale(hw) as f32;
                    b.iter().map(|b| b.map(|v| v / scale)).collect()
                })
                .collect();
            return self
                .detection
                .postprocess(logits, box_deltas, &original, &batch.original_hw);
        }
        let mut detections =
            self.detection
                .postprocess(logits, box_deltas, &boxes, &batch.sizes_hw);
        for (d, (resized, original)) in detections
            .iter_mut()
            .zip(batch.sizes_hw.iter().zip(&batch.original_hw))
        {
            d.boxes = boxes_to_original(&d.boxes, *resized, *original);
        }
        detections
    }
}
