//! The `[network]` table of a pose file (`kind = "cpn"`) and what it builds.

use burn::tensor::backend::Backend;
use serde::Deserialize;

use super::{Cpn, CpnConfig, CpnConvention};
use crate::nn::{BackboneSpec, set};
use crate::weights::{
    Checkpoint, KeyMap, LoadMode, LoadReport, WeightsError, load_checkpoint, pytorch_cpn,
};

/// tf-cpn's and pytorch-cpn's pixel means (RGB, 0–255); pixels are divided by 255, no std.
pub const CPN_PIXEL_MEAN: [f32; 3] = [122.7717, 115.9465, 102.9801];

/// CPN on a ResNet trunk.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoseSpec {
    pub backbone: BackboneSpec,
    /// Input crop `[height, width]`, multiples of 32 (`[256, 192]`, `[384, 288]`).
    pub input_size: Option<[usize; 2]>,
    /// Keypoints (17, COCO's order).
    pub keypoints: Option<usize>,
    /// GlobalNet's and RefineNet's width (256).
    pub channels: Option<usize>,
    /// RefineNet's bottleneck width (128).
    pub refine_width: Option<usize>,
    /// `"tf_cpn"` (default) or `"pytorch_cpn"`: whose layers, resize grid and weight names.
    #[serde(default)]
    pub convention: CpnConvention,
    /// Subtracted from RGB pixels on the 0–255 scale before dividing by 255 (CPN's mean).
    pub pixel_mean: Option<[f32; 3]>,
}

impl PoseSpec {
    pub fn validate(&self) -> Result<(), String> {
        self.backbone.validate()?;
        let config = self.model_config();
        let [h, w] = config.input_hw;
        if h == 0 || w == 0 || h % 32 != 0 || w % 32 != 0 {
            return Err(format!(
                "network.input_size = [{h}, {w}]: both must be positive multiples of 32 \
                 (the trunk's stride)"
            ));
        }
        if config.keypoints == 0 || config.channels == 0 || config.refine_width == 0 {
            return Err("network.keypoints, channels and refine_width must be positive".into());
        }
        Ok(())
    }

    pub fn model_config(&self) -> CpnConfig {
        let mut config = CpnConfig::new_for(self.backbone.resnet(), self.convention);
        set(&mut config.input_hw, self.input_size);
        set(&mut config.keypoints, self.keypoints);
        set(&mut config.channels, self.channels);
        set(&mut config.refine_width, self.refine_width);
        config
    }

    pub fn pixel_mean(&self) -> [f32; 3] {
        self.pixel_mean.unwrap_or(CPN_PIXEL_MEAN)
    }

    /// Heatmap size `[h, w]`.
    pub fn output_size(&self) -> [usize; 2] {
        self.model_config().output_hw()
    }

    /// The network with `checkpoint` loaded: pytorch-cpn's naming for that convention; for
    /// tf-cpn, the names `model_zoo/convert_tf_cpn.py` writes, which are avaloc's own.
    pub fn load<B: Backend>(
        &self,
        checkpoint: &Checkpoint,
        mode: LoadMode,
        device: &B::Device,
    ) -> Result<(Cpn<B>, LoadReport), WeightsError> {
        let source = match self.convention {
            CpnConvention::PytorchCpn => pytorch_cpn(),
            CpnConvention::TfCpn => KeyMap::identity(),
        };
        load_checkpoint(
            self.model_config().init(device),
            checkpoint,
            source,
            KeyMap::identity(),
            mode,
        )
    }
}
