//! The `[network]` table of an action-model file (`kind = "slowfast"`) and what it builds: the
//! [`ActionModelConfig`], the clip it reads, and the model with a checkpoint loaded
//! (PySlowFast's naming, or avaloc's). Unset keys take the model configs' defaults
//! (PySlowFast's), which are the one place they are written.

use burn::tensor::backend::Backend;
use serde::Deserialize;

use super::{
    ActionModel, ActionModelConfig, ClipSpec, FboConfig, FboKind, Instantiation, SlowFastConfig,
    WindowSpec,
};
use crate::nn::{BackboneSpec, set};
use crate::weights::{
    Checkpoint, KeyMap, LoadMode, LoadReport, WeightsError, load_checkpoint, pyslowfast_slowfast,
};

/// PySlowFast's SlowFast with the AVA RoI head.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Depth (50, 101) or blocks, groups and width per group of both pathways.
    pub backbone: BackboneSpec,
    #[serde(default)]
    pub slowfast: SlowFastSpec,
    /// Action classes (80 for AVA's full list, 60 for the evaluated ones).
    pub num_classes: usize,
    /// PySlowFast's `DETECTION.ALIGNED` (true; false for the Caffe2-trained model zoo).
    pub aligned: Option<bool>,
    /// Dropout before the classifier (0.5).
    pub dropout: Option<f64>,
    /// Concatenate each pathway's clip average to every RoI feature (false).
    pub global_pool: Option<bool>,
    /// Reduce that global feature G to this width by a learned linear layer before the
    /// classifier (the seed system: 256); absent: G as it is.
    pub global_dim: Option<usize>,
    /// The long-term feature bank this model reads (`[network.bank]`); absent: none.
    pub bank: Option<BankSpec>,
    /// Frames of the fast pathway and the stride between them (32 × 2).
    pub frames: usize,
    pub sampling_rate: usize,
}

/// The `[network.slowfast]` table: PySlowFast's `SLOWFAST.*` and the AVA stride settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlowFastSpec {
    pub alpha: Option<usize>,
    pub beta_inv: Option<usize>,
    pub fusion_channel_ratio: Option<usize>,
    pub fusion_kernel: Option<usize>,
    /// `RESNET.NUM_BLOCK_TEMP_KERNEL` (same for both pathways); absent: every block.
    pub temporal_blocks: Option<[usize; 4]>,
    pub spatial_strides: Option<[usize; 4]>,
    pub spatial_dilations: Option<[usize; 4]>,
    /// Slow-pathway blocks of res2..res5 followed by a non-local block (`NONLOCAL.LOCATION`).
    pub nonlocal: Option<[Vec<usize>; 4]>,
    /// `NONLOCAL.POOL` (t, h, w) and `NONLOCAL.INSTANTIATION`.
    pub nonlocal_pool: Option<[usize; 3]>,
    pub nonlocal_instantiation: Option<Instantiation>,
    /// `RESNET.ZERO_INIT_FINAL_BN`: each block's last norm starts at weight 0 (training from
    /// scratch; imported weights replace it).
    pub zero_init_final_norm: Option<bool>,
}

/// The `[network.bank]` table: the window of long-term features each box reads, and the
/// feature-bank operator that reads it (FAIR's LFB; defaults as its AVA NL model).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BankSpec {
    /// `non_local` (default), `avg` or `max`.
    #[serde(default)]
    pub operator: FboKind,
    /// Seconds around the keyframe (the seed system: 100; FAIR's AVA configs: 60).
    pub window_s: usize,
    /// Features a second at most (5).
    pub per_second: usize,
    /// Width of the bank's features (default: this model's S).
    pub dim: Option<usize>,
    /// The non-local operator's channels, layers and dropout (512, 2, 0.2).
    pub latent: Option<usize>,
    pub layers: Option<usize>,
    pub dropout: Option<f64>,
}

impl ActionSpec {
    /// The bank window each box reads, for a model with a bank.
    pub fn bank_window(&self) -> Option<WindowSpec> {
        self.bank.as_ref().map(|b| WindowSpec {
            window_s: b.window_s,
            per_second: b.per_second,
        })
    }

    pub fn validate(&self) -> Result<(), String> {
        self.backbone.validate()?;
        if let Some(bank) = &self.bank
            && (bank.window_s == 0 || bank.per_second == 0 || bank.layers == Some(0))
        {
            return Err("network.bank: window_s, per_second and layers must be positive".into());
        }
        if self.global_dim == Some(0) {
            return Err("network.global_dim must be positive".into());
        }
        let net = self.model_config().backbone;
        let w = net.width_per_group;
        if net.alpha == 0
            || net.beta_inv == 0
            || !w.is_multiple_of(net.beta_inv)
            || net.fusion_channel_ratio == 0
            || !net.beta_inv.is_multiple_of(net.fusion_channel_ratio)
        {
            return Err(format!(
                "network.slowfast: width_per_group {w} must divide by beta_inv {}, \
                 which must divide by fusion_channel_ratio {} (all positive)",
                net.beta_inv, net.fusion_channel_ratio
            ));
        }
        if let Some(stage) = (0..4).find(|&i| net.nonlocal[i].iter().any(|&b| b >= net.blocks[i])) {
            return Err(format!(
                "network.slowfast.nonlocal: res{} has only {} blocks",
                stage + 2,
                net.blocks[stage]
            ));
        }
        if self.frames == 0 || !self.frames.is_multiple_of(net.alpha) {
            return Err(format!(
                "network.frames = {}: a positive multiple of alpha {}",
                self.frames, net.alpha
            ));
        }
        if self.sampling_rate == 0 {
            return Err("network.sampling_rate must be positive".into());
        }
        Ok(())
    }

    /// The action model's configuration.
    pub fn model_config(&self) -> ActionModelConfig {
        let trunk = self.backbone.resnet();
        let s = &self.slowfast;
        let mut net = SlowFastConfig::new(trunk.blocks)
            .with_width_per_group(trunk.width_per_group)
            .with_groups(trunk.groups)
            .with_norm(trunk.norm);
        set(&mut net.temporal_blocks, s.temporal_blocks.map(Some));
        set(&mut net.alpha, s.alpha);
        set(&mut net.beta_inv, s.beta_inv);
        set(&mut net.fusion_channel_ratio, s.fusion_channel_ratio);
        set(&mut net.fusion_kernel, s.fusion_kernel);
        set(&mut net.spatial_strides, s.spatial_strides);
        set(&mut net.spatial_dilations, s.spatial_dilations);
        set(&mut net.nonlocal, s.nonlocal.clone());
        set(&mut net.nonlocal_pool, s.nonlocal_pool);
        set(&mut net.nonlocal_instantiation, s.nonlocal_instantiation);
        set(&mut net.zero_init_final_norm, s.zero_init_final_norm);
        let mut config = ActionModelConfig::new(net, self.num_classes);
        set(&mut config.aligned, self.aligned);
        set(&mut config.dropout, self.dropout);
        set(&mut config.global_pool, self.global_pool);
        config.global_dim = self.global_dim;
        let short_term = config.roi_features().short_term_dim();
        config.bank = self.bank.as_ref().map(|b| {
            let mut fbo =
                FboConfig::new(short_term, b.dim.unwrap_or(short_term)).with_kind(b.operator);
            set(&mut fbo.latent, b.latent);
            set(&mut fbo.layers, b.layers);
            set(&mut fbo.dropout, b.dropout);
            set(&mut fbo.layer_dropout, b.dropout);
            fbo
        });
        config
    }

    /// The feature width a bank built with this model stores: S, the pathways' channels.
    pub fn bank_feature_dim(&self) -> usize {
        self.model_config().roi_features().short_term_dim()
    }

    /// Frames per clip and the stride between them.
    pub fn clip_spec(&self) -> ClipSpec {
        ClipSpec {
            num_frames: self.frames,
            stride: self.sampling_rate,
        }
    }

    /// The model with `checkpoint` loaded (PySlowFast's naming, or avaloc's).
    pub fn load<B: Backend>(
        &self,
        checkpoint: &Checkpoint,
        mode: LoadMode,
        device: &B::Device,
    ) -> Result<(ActionModel<B>, LoadReport), WeightsError> {
        let model = self.model_config().init(device);
        // The classifier was `head.projection` before the features were split from it.
        let native = KeyMap::identity().rename(r"^head\.projection\.", "classifier.projection.");
        load_checkpoint(model, checkpoint, pyslowfast_slowfast(), native, mode)
    }
}
