//! The `[network.backbone]` table of a configuration file: a ResNet / ResNeXt trunk by depth
//! or blocks. Unset keys take [`ResNetConfig`]'s defaults (torchvision's), which are the one
//! place they are written.

use serde::Deserialize;

use super::{NormKind, ResNetConfig};

/// A ResNet / ResNeXt trunk: `depth` (50, 101, 152) or `blocks`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackboneSpec {
    pub depth: Option<usize>,
    pub blocks: Option<[usize; 4]>,
    /// Groups of the 3×3 convolutions (torchvision: 1; ResNeXt 32×8d: 32).
    pub groups: Option<usize>,
    /// Channels per group at the first stage (torchvision: 64).
    pub width_per_group: Option<usize>,
    /// Stem channels; stages have 1, 2, 4, 8 times as many planes (torchvision: 64).
    pub base_channels: Option<usize>,
    /// `"frozen_bn"` (pretrained weights, the default), `"group_norm"` (from scratch, small
    /// batches) or `"batch_norm"` (batch statistics while training, as PySlowFast fine-tunes).
    pub norm: Option<NormKind>,
}

/// `*field = value` where a value is given: a spec's key over its config's default.
pub(crate) fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

impl BackboneSpec {
    pub fn validate(&self) -> Result<(), String> {
        let blocks = match (self.depth, self.blocks) {
            (Some(d), None) => ResNetConfig::blocks_for_depth(d)
                .ok_or_else(|| format!("network.backbone.depth = {d}: expected 50, 101 or 152"))?,
            (None, Some(b)) => b,
            _ => {
                return Err(
                    "give exactly one of network.backbone.depth and network.backbone.blocks".into(),
                );
            }
        };
        if blocks.contains(&0) {
            return Err(format!(
                "network.backbone.blocks = {blocks:?}: every stage needs a block"
            ));
        }
        let config = self.resnet();
        if config.groups == 0 || config.width_per_group == 0 || config.base_channels == 0 {
            return Err(
                "network.backbone.groups, width_per_group and base_channels must be positive"
                    .into(),
            );
        }
        Ok(())
    }

    /// Blocks per stage (after [`Self::validate`]; a spec with neither gives no blocks).
    pub fn blocks(&self) -> [usize; 4] {
        self.blocks
            .or_else(|| self.depth.and_then(ResNetConfig::blocks_for_depth))
            .unwrap_or_default()
    }

    /// The trunk's configuration.
    pub fn resnet(&self) -> ResNetConfig {
        let mut config = ResNetConfig::new(self.blocks());
        set(&mut config.groups, self.groups);
        set(&mut config.width_per_group, self.width_per_group);
        set(&mut config.base_channels, self.base_channels);
        set(&mut config.norm, self.norm);
        config
    }
}

/// `kind = "resnet"`: a torchvision-style trunk, with a classifier when `num_classes` is set.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResNetSpec {
    pub backbone: BackboneSpec,
    pub num_classes: Option<usize>,
}

impl ResNetSpec {
    pub fn validate(&self) -> Result<(), String> {
        self.backbone.validate()
    }

    pub fn model_config(&self) -> ResNetConfig {
        self.backbone.resnet().with_num_classes(self.num_classes)
    }
}

impl ResNetSpec {
    /// The trunk with `checkpoint` loaded (torchvision naming, or avaloc's own).
    pub fn load<B: burn::tensor::backend::Backend>(
        &self,
        checkpoint: &crate::weights::Checkpoint,
        mode: crate::weights::LoadMode,
        device: &B::Device,
    ) -> Result<(super::ResNet<B>, crate::weights::LoadReport), crate::weights::WeightsError> {
        let source = crate::weights::torchvision_resnet(self.num_classes.is_some());
        let native = crate::weights::KeyMap::identity();
        crate::weights::load_checkpoint(
            self.model_config().init(device),
            checkpoint,
            source,
            native,
            mode,
        )
    }
}
