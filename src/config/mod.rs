//! Configuration files (`configs/*.toml`): loading, validation and dispatch on `[network]
//! kind`. Each model family owns its table and what it builds from it
//! ([`ResNetSpec`], [`DetectorSpec`], [`ActionSpec`]); commands load the typed file they need
//! ([`DetectorFile`], [`ActionFile`]), and a file of another kind, or without the table a
//! command needs, is a [`ConfigError`] naming the file.

mod arm_boxes;
mod inherit;
mod test_views;
mod train;

pub use arm_boxes::ArmBoxConfig;
pub use inherit::{config_digest, load_toml, merged_digest, read_toml};
pub use test_views::TestViews;
pub use train::{ActionSampling, DetectorSampling, OptimizerKind, PoseSampling, TrainSettings};

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use serde::Deserialize;

use crate::data::LabelMap;
use crate::models::action::ActionSpec;
use crate::models::detector::DetectorSpec;
use crate::models::pose::PoseSpec;
use crate::nn::ResNetSpec;
use crate::weights::{Checkpoint, LoadMode, LoadReport, WeightsError};

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
    #[error(
        "{}: not {expected} configuration (kind = \"{kind}\"); it describes kind = \"{found}\"",
        path.display()
    )]
    WrongKind {
        path: PathBuf,
        expected: &'static str,
        kind: &'static str,
        found: &'static str,
    },
    #[error("{}: no [{table}] table, which {purpose} needs", path.display())]
    MissingTable {
        path: PathBuf,
        table: &'static str,
        purpose: &'static str,
    },
}

/// The networks a configuration can describe, by `kind`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NetworkConfig {
    /// A torchvision-style ResNet / ResNeXt trunk, with a classifier when `num_classes` is set.
    Resnet(ResNetSpec),
    /// torchvision's Faster R-CNN on a ResNet/ResNeXt-FPN backbone.
    FasterRcnn(Box<DetectorSpec>),
    /// PySlowFast's SlowFast with the AVA RoI head.
    Slowfast(Box<ActionSpec>),
    /// CPN, the Cascaded Pyramid Network pose estimator.
    Cpn(Box<PoseSpec>),
}

impl NetworkConfig {
    /// The `kind` key.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Resnet(_) => "resnet",
            Self::FasterRcnn(_) => "faster_rcnn",
            Self::Slowfast(_) => "slowfast",
            Self::Cpn(_) => "cpn",
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            Self::Resnet(spec) => spec.validate(),
            Self::FasterRcnn(spec) => spec.validate(),
            Self::Slowfast(spec) => spec.validate(),
            Self::Cpn(spec) => spec.validate(),
        }
    }

    /// Builds the network and loads `checkpoint` into it through the network's source naming
    /// (or avaloc's own); the report says what fitted.
    pub fn load_weights<B: Backend>(
        &self,
        checkpoint: &Checkpoint,
        mode: LoadMode,
        device: &B::Device,
    ) -> Result<LoadReport, WeightsError> {
        match self {
            Self::Resnet(spec) => spec.load::<B>(checkpoint, mode, device).map(|(_, r)| r),
            Self::FasterRcnn(spec) => spec.load::<B>(checkpoint, mode, device).map(|(_, r)| r),
            Self::Slowfast(spec) => spec.load::<B>(checkpoint, mode, device).map(|(_, r)| r),
            Self::Cpn(spec) => spec.load::<B>(checkpoint, mode, device).map(|(_, r)| r),
        }
    }
}

/// A configuration file of any kind: `[network]`, and `[train]` / `[test]` where given.
#[derive(Debug, Clone)]
pub struct NetworkFile {
    pub path: PathBuf,
    pub network: NetworkConfig,
    /// How `avaloc train` trains the network (absent in inference-only configs).
    pub train: Option<TrainSettings>,
    /// How the action model is tested (`avaloc actions`, validation while training).
    pub test: TestViews,
    /// An arm branch's arm boxes (an action model trained and run at arm boxes).
    pub arm: Option<ArmBoxConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    network: NetworkConfig,
    train: Option<TrainSettings>,
    #[serde(default)]
    test: TestViews,
    arm: Option<ArmBoxConfig>,
}

impl NetworkFile {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let raw: RawFile = load_toml(path)?;
        raw.network
            .validate()
            .and_then(|()| raw.train.as_ref().map_or(Ok(()), TrainSettings::validate))
            .and_then(|()| raw.test.validate())
            .and_then(|()| raw.arm.as_ref().map_or(Ok(()), ArmBoxConfig::validate))
            .map_err(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            network: raw.network,
            train: raw.train,
            test: raw.test,
            arm: raw.arm,
        })
    }

    fn wrong_kind(&self, expected: &'static str, kind: &'static str) -> ConfigError {
        ConfigError::WrongKind {
            path: self.path.clone(),
            expected,
            kind,
            found: self.network.kind(),
        }
    }
}

/// The `[train]` table of `file`, which `purpose` needs.
fn train_table(
    path: &Path,
    train: &Option<TrainSettings>,
    purpose: &'static str,
) -> Result<TrainSettings, ConfigError> {
    train.clone().ok_or_else(|| ConfigError::MissingTable {
        path: path.to_path_buf(),
        table: "train",
        purpose,
    })
}

/// A detector configuration (`kind = "faster_rcnn"`).
#[derive(Debug, Clone)]
pub struct DetectorFile {
    pub path: PathBuf,
    pub network: DetectorSpec,
    pub train: Option<TrainSettings>,
}

impl DetectorFile {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let file = NetworkFile::load(path)?;
        match file.network {
            NetworkConfig::FasterRcnn(network) => Ok(Self {
                path: file.path,
                network: *network,
                train: file.train,
            }),
            _ => Err(file.wrong_kind("a detector", "faster_rcnn")),
        }
    }

    /// The `[train]` table (`avaloc train detector` needs it).
    pub fn train_settings(&self) -> Result<TrainSettings, ConfigError> {
        train_table(&self.path, &self.train, "training")
    }
}

/// An action-model configuration (`kind = "slowfast"`).
#[derive(Debug, Clone)]
pub struct ActionFile {
    pub path: PathBuf,
    pub network: ActionSpec,
    pub train: Option<TrainSettings>,
    pub test: TestViews,
    /// The `[arm]` table of an arm branch (its defaults where absent).
    pub arm: ArmBoxConfig,
}

impl ActionFile {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let file = NetworkFile::load(path)?;
        match file.network {
            NetworkConfig::Slowfast(network) => Ok(Self {
                path: file.path,
                network: *network,
                train: file.train,
                test: file.test,
                arm: file.arm.unwrap_or_default(),
            }),
            _ => Err(file.wrong_kind("an action model", "slowfast")),
        }
    }

    /// The `[train]` table (`avaloc train action` needs it).
    pub fn train_settings(&self) -> Result<TrainSettings, ConfigError> {
        train_table(&self.path, &self.train, "training")
    }

    /// The model's classes must be the label map's (read from `labelmap`, where known).
    pub fn check_labels(
        &self,
        labels: &LabelMap,
        labelmap: Option<&Path>,
    ) -> Result<(), ConfigError> {
        let classes = self.network.num_classes;
        if labels.labels.len() == classes {
            return Ok(());
        }
        let file = labelmap.map_or(String::new(), |p| format!(" {}", p.display()));
        Err(self.invalid(format!(
            "network.num_classes = {classes} but the label map{file} has {} classes",
            labels.labels.len()
        )))
    }

    /// An error naming this file.
    pub fn invalid(&self, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            message,
        }
    }
}

/// A pose configuration (`kind = "cpn"`).
#[derive(Debug, Clone)]
pub struct PoseFile {
    pub path: PathBuf,
    pub network: PoseSpec,
    pub train: Option<TrainSettings>,
}

impl PoseFile {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let file = NetworkFile::load(path)?;
        match file.network {
            NetworkConfig::Cpn(network) => Ok(Self {
                path: file.path,
                network: *network,
                train: file.train,
            }),
            _ => Err(file.wrong_kind("a pose", "cpn")),
        }
    }

    /// The `[train]` table (`avaloc train pose` needs it).
    pub fn train_settings(&self) -> Result<TrainSettings, ConfigError> {
        train_table(&self.path, &self.train, "training")
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::models::detector::Convention;
    use crate::nn::NormKind;

    /// Every shipped network configuration parses and validates (system files, which name
    /// them, are loaded by `tests/localize_cli.rs`), and the seed recipe carries the report's
    /// numbers.
    #[test]
    fn shipped_configs_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut stack = vec![root.clone()];
        let mut count = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("system") {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "toml") {
                    NetworkFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
                    count += 1;
                }
            }
        }
        assert!(count >= 10, "{count} configs");
        let seed = ActionFile::load(root.join("ms_ava.toml")).unwrap();
        let train = seed.train_settings().unwrap();
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
        let model = seed.network.model_config();
        assert!(model.global_pool);
        assert_eq!(model.backbone.norm, NormKind::BatchNorm);
        // 2048 + 256 channels per box, twice with the global feature.
        assert_eq!(model.classifier().in_features, 2 * (2048 + 256));

        // The seed system's SlowFast + LFB: [S, L, G] = 2304 + 512 + 256; 100 s of 5 a second.
        let lfb = ActionFile::load(root.join("ms_ava_lfb.toml"))
            .unwrap()
            .network;
        let model = lfb.model_config();
        assert_eq!(model.classifier().in_features, 2304 + 512 + 256);
        let bank = model.bank.unwrap();
        assert_eq!((bank.latent, bank.layers, bank.bank_dim), (512, 2, 2304));
        assert_eq!(lfb.bank_window().unwrap().rows(), 500);
        let nl3 = ActionFile::load(root.join("ms_ava_lfb_nl3l.toml"))
            .unwrap()
            .network;
        assert_eq!(nl3.model_config().bank.unwrap().layers, 3);

        // FAIR's AVA detector: Detectron's conventions reach every stage, its BGR mean (RGB
        // order, on the 0–1 scale the transform sees) and no scaling.
        let ava = DetectorFile::load(
            root.join("detector/faster_rcnn_x101_32x8d_fpn_ava_detectron1.toml"),
        )
        .unwrap();
        let d1 = Convention::Detectron1;
        let detector = ava
            .network
            .model_config()
            .init::<burn::backend::Flex>(&Default::default());
        assert_eq!(
            (detector.convention, detector.rpn.proposals.convention),
            (d1, d1)
        );
        assert_eq!(
            (
                detector.detection.convention,
                detector.box_roi_pool.convention
            ),
            (d1, d1)
        );
        assert_eq!(
            (
                detector.transform.convention,
                detector.rpn.anchors.convention
            ),
            (d1, d1)
        );
        assert!(!detector.box_roi_pool.aligned && detector.box_roi_pool.sampling_ratio == 2);
        assert_eq!(
            detector.transform.mean,
            [122.7717 / 255.0, 115.9465 / 255.0, 102.9801 / 255.0]
        );
        assert_eq!(detector.transform.std, [1.0 / 255.0; 3]);
    }

    /// Unset keys take the model configs' defaults (torchvision's and PySlowFast's).
    #[test]
    fn unset_keys_take_the_model_defaults() {
        let detector: NetworkConfig =
            toml::from_str("kind = \"faster_rcnn\"\nnum_classes = 2\n[backbone]\ndepth = 50\n")
                .unwrap();
        let NetworkConfig::FasterRcnn(spec) = detector else {
            panic!("a detector")
        };
        let config = spec.model_config();
        assert_eq!(
            (
                config.backbone.out_channels,
                config.representation,
                config.transform.min_size,
                config.transform.max_size
            ),
            (256, 1024, 800, 1333)
        );
        assert_eq!(config.backbone.body.width_per_group, 64);
        let action: NetworkConfig = toml::from_str(
            "kind = \"slowfast\"\nnum_classes = 80\nframes = 32\nsampling_rate = 2\n\
             [backbone]\ndepth = 50\n",
        )
        .unwrap();
        let NetworkConfig::Slowfast(spec) = action else {
            panic!("an action model")
        };
        let config = spec.model_config();
        assert_eq!(
            (
                config.backbone.alpha,
                config.backbone.beta_inv,
                config.backbone.fusion_kernel,
                config.aligned,
                config.dropout,
                config.global_pool
            ),
            (4, 8, 5, true, 0.5, false)
        );
        assert_eq!(config.backbone.spatial_dilations, [1, 1, 1, 2]);
    }

    #[test]
    fn a_file_of_another_kind_or_without_train_is_an_error_naming_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let err = ActionFile::load(root.join("detector/faster_rcnn_tiny.toml")).unwrap_err();
        assert!(
            err.to_string().contains("faster_rcnn_tiny.toml")
                && err
                    .to_string()
                    .contains("not an action model configuration"),
            "{err}"
        );
        let err = DetectorFile::load(root.join("action/slowfast_tiny.toml")).unwrap_err();
        assert!(err.to_string().contains("kind = \"slowfast\""), "{err}");
        let tiny = ActionFile::load(root.join("action/slowfast_tiny.toml")).unwrap();
        let err = tiny.train_settings().unwrap_err().to_string();
        assert!(
            err.contains("slowfast_tiny.toml") && err.contains("no [train] table"),
            "{err}"
        );
    }
}
