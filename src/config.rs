//! TOML configuration files (`configs/`): serde structs mirroring them, validated on load.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use serde::Deserialize;

use crate::infer::TestViews;
use crate::models::action::{ActionModel, ActionModelConfig, Instantiation, SlowFastConfig};
use crate::models::detector::{
    Convention, DetectionConfig, FasterRcnn, FasterRcnnConfig, ImageTransformConfig,
    MultiScaleRoiAlign, ProposalConfig, ResNetFpnConfig,
};
use crate::nn::{NormKind, ResNetConfig};
use crate::train::TrainSettings;
use crate::weights::{
    Checkpoint, KeyMap, LoadMode, LoadReport, WeightsError, detectron2_faster_rcnn, load_into,
    pyslowfast_slowfast, torchvision_faster_rcnn, torchvision_resnet,
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// A configuration file that describes one network in its `[network]` table.
#[derive(Debug, Clone, Deserialize)]
pub struct NetworkFile {
    pub network: NetworkConfig,
    /// How `avaloc train` trains the network (absent in inference-only configs).
    pub train: Option<TrainSettings>,
    /// How the action model is tested (`avaloc actions`, validation while training).
    #[serde(default)]
    pub test: TestViews,
}

/// A ResNet / ResNeXt trunk (`[network.backbone]`): `depth` (50, 101, 152) or `blocks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneSpec {
    pub depth: Option<usize>,
    pub blocks: Option<[usize; 4]>,
    #[serde(default = "one")]
    pub groups: usize,
    #[serde(default = "sixty_four")]
    pub width_per_group: usize,
    /// Stem channels; stages have 1, 2, 4, 8 times as many planes (torchvision: 64).
    #[serde(default = "sixty_four")]
    pub base_channels: usize,
    /// `"frozen_bn"` (pretrained weights, the default), `"group_norm"` (from scratch, small
    /// batches) or `"batch_norm"` (batch statistics while training, as PySlowFast fine-tunes).
    #[serde(default)]
    pub norm: NormKind,
}

/// The networks a configuration can describe, by `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NetworkConfig {
    /// A torchvision-style ResNet / ResNeXt trunk, with a classifier when `num_classes` is set.
    Resnet {
        backbone: BackboneSpec,
        num_classes: Option<usize>,
    },
    /// torchvision's Faster R-CNN on a ResNet/ResNeXt-FPN backbone.
    FasterRcnn {
        backbone: BackboneSpec,
        /// Classes including the background: 91 for COCO, 2 for a person-only detector.
        num_classes: usize,
        #[serde(default = "two_fifty_six")]
        fpn_channels: usize,
        #[serde(default = "one_thousand_twenty_four")]
        representation: usize,
        #[serde(default = "eight_hundred")]
        min_size: usize,
        #[serde(default = "thirteen_thirty_three")]
        max_size: usize,
        /// `"torchvision"` (default), `"detectron2"` or `"detectron1"`: the weights' naming
        /// and the box, anchor and RoIAlign conventions they were trained with.
        #[serde(default)]
        convention: Convention,
        /// Input normalisation `(rgb - mean) / std` on the 0–255 scale, in RGB order;
        /// absent: ImageNet's (torchvision's and detectron2's X-101-32x8d).
        pixel_mean: Option<[f32; 3]>,
        pixel_std: Option<[f32; 3]>,
    },
    /// PySlowFast's SlowFast with the AVA RoI head.
    Slowfast {
        /// Depth (50, 101) or blocks, groups and width per group of both pathways.
        backbone: BackboneSpec,
        #[serde(default)]
        slowfast: Box<SlowFastSpec>,
        /// Action classes (80 for AVA's full list, 60 for the evaluated ones).
        num_classes: usize,
        /// PySlowFast's `DETECTION.ALIGNED` (False for the Caffe2-trained model zoo).
        #[serde(default = "yes")]
        aligned: bool,
        #[serde(default = "half")]
        dropout: f64,
        /// Concatenate each pathway's clip average to every RoI feature.
        #[serde(default)]
        global_pool: bool,
        /// Frames of the fast pathway and the stride between them (32 × 2).
        frames: usize,
        sampling_rate: usize,
    },
}

/// The `[network.slowfast]` table: PySlowFast's `SLOWFAST.*` and the AVA stride settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlowFastSpec {
    pub alpha: usize,
    pub beta_inv: usize,
    pub fusion_channel_ratio: usize,
    pub fusion_kernel: usize,
    /// `RESNET.NUM_BLOCK_TEMP_KERNEL` (same for both pathways); absent: every block.
    pub temporal_blocks: Option<[usize; 4]>,
    pub spatial_strides: [usize; 4],
    pub spatial_dilations: [usize; 4],
    /// Slow-pathway blocks of res2..res5 followed by a non-local block (`NONLOCAL.LOCATION`).
    pub nonlocal: [Vec<usize>; 4],
    /// `NONLOCAL.POOL` (t, h, w) and `NONLOCAL.INSTANTIATION`.
    pub nonlocal_pool: [usize; 3],
    pub nonlocal_instantiation: Instantiation,
    /// `RESNET.ZERO_INIT_FINAL_BN`: each block's last norm starts at weight 0 (training from
    /// scratch; imported weights replace it).
    pub zero_init_final_norm: bool,
}

impl Default for SlowFastSpec {
    fn default() -> Self {
        Self {
            alpha: 4,
            beta_inv: 8,
            fusion_channel_ratio: 2,
            fusion_kernel: 5,
            temporal_blocks: None,
            spatial_strides: [1, 2, 2, 1],
            spatial_dilations: [1, 1, 1, 2],
            nonlocal: Default::default(),
            nonlocal_pool: [1, 2, 2],
            nonlocal_instantiation: Instantiation::DotProduct,
            zero_init_final_norm: false,
        }
    }
}

fn yes() -> bool {
    true
}
fn half() -> f64 {
    0.5
}

fn one() -> usize {
    1
}
fn sixty_four() -> usize {
    64
}
fn two_fifty_six() -> usize {
    256
}
fn one_thousand_twenty_four() -> usize {
    1024
}
fn eight_hundred() -> usize {
    800
}
fn thirteen_thirty_three() -> usize {
    1333
}

impl NetworkFile {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file: Self = toml::from_str(&text).map_err(|source| ConfigError::Toml {
            path: path.to_path_buf(),
            source,
        })?;
        file.network
            .validate()
            .and_then(|()| file.train.as_ref().map_or(Ok(()), TrainSettings::validate))
            .and_then(|()| file.test.validate())
            .map_err(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(file)
    }
}

impl BackboneSpec {
    fn validate(&self) -> Result<(), String> {
        match (self.depth, self.blocks) {
            (Some(d), None) if ResNetConfig::blocks_for_depth(d).is_none() => {
                return Err(format!(
                    "network.backbone.depth = {d}: expected 50, 101 or 152"
                ));
            }
            (Some(_), Some(_)) | (None, None) => {
                return Err(
                    "give exactly one of network.backbone.depth and network.backbone.blocks".into(),
                );
            }
            (_, Some(b)) if b.contains(&0) => {
                return Err(format!(
                    "network.backbone.blocks = {b:?}: every stage needs a block"
                ));
            }
            _ => {}
        }
        if self.groups == 0 || self.width_per_group == 0 || self.base_channels == 0 {
            return Err(
                "network.backbone.groups, width_per_group and base_channels must be positive"
                    .into(),
            );
        }
        Ok(())
    }

    /// The trunk's configuration (validated specs only).
    pub fn resnet(&self) -> ResNetConfig {
        let blocks = self
            .blocks
            .or_else(|| self.depth.and_then(ResNetConfig::blocks_for_depth))
            .expect("validated: depth or blocks");
        ResNetConfig::new(blocks)
            .with_groups(self.groups)
            .with_width_per_group(self.width_per_group)
            .with_base_channels(self.base_channels)
            .with_norm(self.norm)
    }
}

impl NetworkConfig {
    fn validate(&self) -> Result<(), String> {
        match self {
            Self::Resnet { backbone, .. } => backbone.validate(),
            Self::Slowfast {
                backbone,
                slowfast,
                frames,
                sampling_rate,
                ..
            } => {
                backbone.validate()?;
                let w = backbone.width_per_group;
                if slowfast.alpha == 0
                    || slowfast.beta_inv == 0
                    || w % slowfast.beta_inv != 0
                    || slowfast.fusion_channel_ratio == 0
                    || slowfast.beta_inv % slowfast.fusion_channel_ratio != 0
                {
                    return Err(format!(
                        "network.slowfast: width_per_group {w} must divide by beta_inv {}, \
                         which must divide by fusion_channel_ratio {} (all positive)",
                        slowfast.beta_inv, slowfast.fusion_channel_ratio
                    ));
                }
                let blocks = backbone.resnet().blocks;
                if let Some(stage) =
                    (0..4).find(|&i| slowfast.nonlocal[i].iter().any(|&b| b >= blocks[i]))
                {
                    return Err(format!(
                        "network.slowfast.nonlocal: res{} has only {} blocks",
                        stage + 2,
                        blocks[stage]
                    ));
                }
                if *frames == 0 || frames % slowfast.alpha != 0 {
                    return Err(format!(
                        "network.frames = {frames}: a positive multiple of alpha {}",
                        slowfast.alpha
                    ));
                }
                if *sampling_rate == 0 {
                    return Err("network.sampling_rate must be positive".into());
                }
                Ok(())
            }
            Self::FasterRcnn {
                backbone,
                num_classes,
                min_size,
                max_size,
                ..
            } => {
                backbone.validate()?;
                if *num_classes < 2 {
                    return Err("network.num_classes counts the background too: at least 2".into());
                }
                if min_size > max_size {
                    return Err(format!(
                        "network.min_size {min_size} is above max_size {max_size}"
                    ));
                }
                Ok(())
            }
        }
    }

    /// The detector's configuration, for `kind = "faster_rcnn"`.
    pub fn faster_rcnn(&self) -> Option<FasterRcnnConfig> {
        match self {
            Self::FasterRcnn {
                backbone,
                num_classes,
                fpn_channels,
                representation,
                min_size,
                max_size,
                convention,
                pixel_mean,
                pixel_std,
            } => {
                let pooler = match convention {
                    Convention::Torchvision | Convention::Detectron1 => MultiScaleRoiAlign::new(),
                    Convention::Detectron2 => MultiScaleRoiAlign::new()
                        .with_aligned(true)
                        .with_sampling_ratio(0),
                };
                let mut transform = ImageTransformConfig::new()
                    .with_min_size(*min_size)
                    .with_max_size(*max_size)
                    .with_convention(*convention);
                if let Some(mean) = pixel_mean {
                    transform.mean = mean.map(|m| m / 255.0);
                }
                if let Some(std) = pixel_std {
                    transform.std = std.map(|s| s / 255.0);
                }
                Some(
                    FasterRcnnConfig::new(
                        ResNetFpnConfig::new(backbone.resnet()).with_out_channels(*fpn_channels),
                        *num_classes,
                    )
                    .with_representation(*representation)
                    .with_transform(transform)
                    .with_convention(*convention)
                    .with_proposals(ProposalConfig::new().with_convention(*convention))
                    .with_box_roi_pool(pooler.with_convention(*convention))
                    .with_detection(DetectionConfig::new().with_convention(*convention)),
                )
            }
            Self::Resnet { .. } | Self::Slowfast { .. } => None,
        }
    }

    /// The action model of a `kind = "slowfast"` config.
    pub fn action_model(&self) -> Option<ActionModelConfig> {
        let Self::Slowfast {
            backbone,
            slowfast,
            num_classes,
            aligned,
            dropout,
            global_pool,
            ..
        } = self
        else {
            return None;
        };
        let trunk = backbone.resnet();
        let net = SlowFastConfig::new(trunk.blocks)
            .with_temporal_blocks(slowfast.temporal_blocks)
            .with_width_per_group(backbone.width_per_group)
            .with_groups(backbone.groups)
            .with_alpha(slowfast.alpha)
            .with_beta_inv(slowfast.beta_inv)
            .with_fusion_channel_ratio(slowfast.fusion_channel_ratio)
            .with_fusion_kernel(slowfast.fusion_kernel)
            .with_spatial_strides(slowfast.spatial_strides)
            .with_spatial_dilations(slowfast.spatial_dilations)
            .with_nonlocal(slowfast.nonlocal.clone())
            .with_nonlocal_pool(slowfast.nonlocal_pool)
            .with_nonlocal_instantiation(slowfast.nonlocal_instantiation)
            .with_zero_init_final_norm(slowfast.zero_init_final_norm)
            .with_norm(backbone.norm);
        Some(
            ActionModelConfig::new(net, *num_classes)
                .with_aligned(*aligned)
                .with_dropout(*dropout)
                .with_global_pool(*global_pool),
        )
    }

    /// Builds the network and loads `checkpoint` into it through the network's source naming
    /// (or as it is, for checkpoints avaloc wrote).
    pub fn load_weights<B: Backend>(
        &self,
        checkpoint: &Checkpoint,
        mode: LoadMode,
        device: &B::Device,
    ) -> Result<LoadReport, WeightsError> {
        let native = checkpoint.is_native();
        let keymap = |source: KeyMap| if native { KeyMap::identity() } else { source };
        match self {
            Self::Resnet {
                backbone,
                num_classes,
            } => {
                let net = backbone
                    .resnet()
                    .with_num_classes(*num_classes)
                    .init::<B>(device);
                load_into(
                    net,
                    checkpoint,
                    &keymap(torchvision_resnet(num_classes.is_some())),
                    mode,
                )
                .map(|(_, r)| r)
            }
            Self::FasterRcnn { .. } => self
                .detector_with_weights::<B>(checkpoint, mode, device)
                .map(|(_, r)| r),
            Self::Slowfast { .. } => self
                .action_with_weights::<B>(checkpoint, mode, device)
                .map(|(_, r)| r),
        }
    }

    /// The action model of a `kind = "slowfast"` config with `checkpoint` loaded (PySlowFast
    /// naming, or as it is for checkpoints avaloc wrote).
    ///
    /// # Panics
    /// When the config describes another kind of network.
    pub fn action_with_weights<B: Backend>(
        &self,
        checkpoint: &Checkpoint,
        mode: LoadMode,
        device: &B::Device,
    ) -> Result<(ActionModel<B>, LoadReport), WeightsError> {
        let net = self
            .action_model()
            .expect("a slowfast config")
            .init::<B>(device);
        let keymap = if checkpoint.is_native() {
            KeyMap::identity()
        } else {
            pyslowfast_slowfast()
        };
        load_into(net, checkpoint, &keymap, mode)
    }

    /// Frames per clip and the stride between them, for an action model.
    pub fn clip_spec(&self) -> Option<crate::data::ClipSpec> {
        match self {
            Self::Slowfast {
                frames,
                sampling_rate,
                ..
            } => Some(crate::data::ClipSpec {
                num_frames: *frames,
                stride: *sampling_rate,
            }),
            _ => None,
        }
    }

    /// The detector of a `kind = "faster_rcnn"` config with `checkpoint` loaded (torchvision
    /// naming, or as it is for checkpoints avaloc wrote).
    ///
    /// # Panics
    /// When the config describes another kind of network.
    pub fn detector_with_weights<B: Backend>(
        &self,
        checkpoint: &Checkpoint,
        mode: LoadMode,
        device: &B::Device,
    ) -> Result<(FasterRcnn<B>, LoadReport), WeightsError> {
        let net = self
            .faster_rcnn()
            .expect("a faster_rcnn config")
            .init::<B>(device);
        let keymap = match self {
            _ if checkpoint.is_native() => KeyMap::identity(),
            Self::FasterRcnn {
                convention: Convention::Detectron2 | Convention::Detectron1,
                ..
            } => detectron2_faster_rcnn(),
            _ => torchvision_faster_rcnn(),
        };
        load_into(net, checkpoint, &keymap, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped configuration parses and validates, and the seed recipe carries the
    /// report's numbers.
    #[test]
    fn shipped_configs_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut stack = vec![root.clone()];
        let mut count = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "toml") {
                    NetworkFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
                    count += 1;
                }
            }
        }
        assert!(count >= 10, "{count} configs");
        let seed = NetworkFile::load(root.join("ms_ava.toml")).unwrap();
        let train = seed.train.unwrap();
        assert_eq!(
            (train.epochs, train.lr, train.steps.clone(), train.gamma),
            (26, 0.01, vec![15, 20], 0.1)
        );
        assert_eq!(train.batch_size * train.accumulation, 64);
        assert_eq!(
            (train.action.short_side, train.action.crop),
            ([256, 320], 224)
        );
        assert_eq!(
            (seed.test.short_sides.clone(), seed.test.flip),
            (vec![224, 256, 320], true)
        );
        let model = seed.network.action_model().unwrap();
        assert!(model.global_pool);
        assert_eq!(model.backbone.norm, NormKind::BatchNorm);
        // 2048 + 256 channels per box, twice with the global feature.
        assert_eq!(model.head().feature_dim(), 2 * (2048 + 256));

        // FAIR's AVA detector: Detectron's conventions reach every stage, its BGR mean (RGB
        // order, on the 0–1 scale the transform sees) and no scaling.
        let ava =
            NetworkFile::load(root.join("detector/faster_rcnn_x101_32x8d_fpn_ava_detectron1.toml"));
        let detector = ava.unwrap().network.faster_rcnn().unwrap();
        let d1 = Convention::Detectron1;
        assert_eq!(
            (detector.convention, detector.proposals.convention),
            (d1, d1)
        );
        assert_eq!(
            (
                detector.detection.convention,
                detector.box_roi_pool.convention
            ),
            (d1, d1)
        );
        assert_eq!(detector.transform.convention, d1);
        assert!(!detector.box_roi_pool.aligned && detector.box_roi_pool.sampling_ratio == 2);
        assert_eq!(
            detector.transform.mean,
            [122.7717 / 255.0, 115.9465 / 255.0, 102.9801 / 255.0]
        );
        assert_eq!(detector.transform.std, [1.0 / 255.0; 3]);
    }
}
