//! The `[network]` table of a detector file (`kind = "faster_rcnn"`) and what it builds: the
//! [`FasterRcnnConfig`], and the detector with a checkpoint loaded through the key map of its
//! convention. Unset keys take the model configs' defaults (torchvision's).

use burn::tensor::backend::Backend;
use serde::Deserialize;

use super::{Convention, FasterRcnn, FasterRcnnConfig, ResNetFpnConfig};
use crate::nn::{BackboneSpec, set};
use crate::weights::{
    Checkpoint, KeyMap, LoadMode, LoadReport, WeightsError, detectron2_faster_rcnn,
    load_checkpoint, torchvision_faster_rcnn,
};

/// torchvision's Faster R-CNN on a ResNet/ResNeXt-FPN backbone.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DetectorSpec {
    pub backbone: BackboneSpec,
    /// Classes including the background: 91 for COCO, 2 for a person-only detector.
    pub num_classes: usize,
    /// FPN channels (256).
    pub fpn_channels: Option<usize>,
    /// Width of the box head's two layers (1024).
    pub representation: Option<usize>,
    /// Short side the images are resized to, and the cap on the long side (800, 1333).
    pub min_size: Option<usize>,
    pub max_size: Option<usize>,
    /// `"torchvision"` (default), `"detectron2"` or `"detectron1"`: the weights' naming
    /// and the box, anchor and RoIAlign conventions they were trained with.
    #[serde(default)]
    pub convention: Convention,
    /// Input normalisation `(rgb - mean) / std` on the 0–255 scale, in RGB order;
    /// absent: ImageNet's (torchvision's and detectron2's X-101-32x8d).
    pub pixel_mean: Option<[f32; 3]>,
    pub pixel_std: Option<[f32; 3]>,
}

impl DetectorSpec {
    pub fn validate(&self) -> Result<(), String> {
        self.backbone.validate()?;
        if self.num_classes < 2 {
            return Err("network.num_classes counts the background too: at least 2".into());
        }
        let transform = self.model_config().transform;
        if transform.min_size > transform.max_size {
            return Err(format!(
                "network.min_size {} is above max_size {}",
                transform.min_size, transform.max_size
            ));
        }
        Ok(())
    }

    /// The detector's configuration.
    pub fn model_config(&self) -> FasterRcnnConfig {
        let mut backbone = ResNetFpnConfig::new(self.backbone.resnet());
        set(&mut backbone.out_channels, self.fpn_channels);
        let mut config =
            FasterRcnnConfig::new(backbone, self.num_classes).with_convention(self.convention);
        set(&mut config.representation, self.representation);
        let transform = &mut config.transform;
        set(&mut transform.min_size, self.min_size);
        set(&mut transform.max_size, self.max_size);
        set(
            &mut transform.mean,
            self.pixel_mean.map(|m| m.map(|v| v / 255.0)),
        );
        set(
            &mut transform.std,
            self.pixel_std.map(|s| s.map(|v| v / 255.0)),
        );
        config
    }

    /// The detector with `checkpoint` loaded: torchvision's naming, detectron2's for both
    /// Detectrons (whose files the model_zoo converters give detectron2's names), or avaloc's.
    pub fn load<B: Backend>(
        &self,
        checkpoint: &Checkpoint,
        mode: LoadMode,
        device: &B::Device,
    ) -> Result<(FasterRcnn<B>, LoadReport), WeightsError> {
        let source = match self.convention {
            Convention::Torchvision => torchvision_faster_rcnn(),
            Convention::Detectron2 | Convention::Detectron1 => detectron2_faster_rcnn(),
        };
        // The RPN head's weights were `rpn_head.*` before the detector held an `Rpn`.
        let native = KeyMap::identity().rename(r"^rpn_head\.", "rpn.head.");
        load_checkpoint(
            self.model_config().init(device),
            checkpoint,
            source,
            native,
            mode,
        )
    }
}
