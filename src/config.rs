//! TOML configuration files (`configs/`): serde structs mirroring them, validated on load.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use serde::Deserialize;

use crate::nn::ResNetConfig;
use crate::weights::{
    Checkpoint, KeyMap, LoadMode, LoadReport, WeightsError, load_into, torchvision_resnet,
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
}

/// The networks a configuration can describe, by `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NetworkConfig {
    /// A torchvision-style ResNet / ResNeXt trunk.
    Resnet {
        /// 50, 101 or 152 ...
        depth: Option<usize>,
        /// ... or bottleneck blocks per stage, for other sizes.
        blocks: Option<[usize; 4]>,
        #[serde(default = "one")]
        groups: usize,
        #[serde(default = "sixty_four")]
        width_per_group: usize,
        /// Classification head size; absent for a backbone.
        num_classes: Option<usize>,
    },
}

fn one() -> usize {
    1
}

fn sixty_four() -> usize {
    64
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
            .map_err(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(file)
    }
}

impl NetworkConfig {
    fn validate(&self) -> Result<(), String> {
        match self {
            Self::Resnet {
                depth,
                blocks,
                groups,
                width_per_group,
                ..
            } => {
                match (depth, blocks) {
                    (Some(d), None) if ResNetConfig::blocks_for_depth(*d).is_none() => {
                        return Err(format!("network.depth = {d}: expected 50, 101 or 152"));
                    }
                    (Some(_), Some(_)) | (None, None) => {
                        return Err("give exactly one of network.depth and network.blocks".into());
                    }
                    (_, Some(b)) if b.contains(&0) => {
                        return Err(format!("network.blocks = {b:?}: every stage needs a block"));
                    }
                    _ => {}
                }
                if *groups == 0 || *width_per_group == 0 {
                    return Err(
                        "network.groups and network.width_per_group must be positive".into(),
                    );
                }
                Ok(())
            }
        }
    }

    /// Builds the network and loads `checkpoint` into it through the network's source naming.
    pub fn load_weights<B: Backend>(
        &self,
        checkpoint: &Checkpoint,
        mode: LoadMode,
        device: &B::Device,
    ) -> Result<LoadReport, WeightsError> {
        match self {
            Self::Resnet {
                depth,
                blocks,
                groups,
                width_per_group,
                num_classes,
            } => {
                let blocks = blocks
                    .or_else(|| depth.and_then(ResNetConfig::blocks_for_depth))
                    .expect("validated: depth or blocks");
                let net = ResNetConfig::new(blocks)
                    .with_groups(*groups)
                    .with_width_per_group(*width_per_group)
                    .with_num_classes(*num_classes)
                    .init::<B>(device);
                let keymap: KeyMap = if checkpoint.is_native() {
                    KeyMap::identity()
                } else {
                    torchvision_resnet(num_classes.is_some())
                };
                load_into(net, checkpoint, &keymap, mode).map(|(_, report)| report)
            }
        }
    }
}
