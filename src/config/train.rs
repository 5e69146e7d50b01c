//! The `[train]` table of a network configuration.

use serde::Deserialize;

use crate::data::ClipTransform;
use crate::models::detector::DetectorTrainingConfig;

/// How parameters are updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// SGD with `momentum` (dampening 0, as PyTorch) and L2 `weight_decay`: the recipes of
    /// PySlowFast, LFB and torchvision.
    #[default]
    Sgd,
    /// AdamW (β 0.9 / 0.999, ε 1e-5: Burn's defaults) with decoupled `weight_decay`;
    /// `momentum` is unused.
    /// Converges in fewer updates when training small networks from scratch.
    #[serde(rename = "adamw")]
    AdamW,
}

/// SGD with momentum (dampening 0, as PyTorch) or AdamW, weight decay, a warm-up and steps;
/// epochs of `batch_size` samples, gradients accumulated over `accumulation` batches per update.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    #[serde(default)]
    pub optimizer: OptimizerKind,
    #[serde(default = "momentum")]
    pub momentum: f64,
    #[serde(default = "weight_decay")]
    pub weight_decay: f64,
    /// Iterations (optimizer updates) of linear warm-up.
    #[serde(default)]
    pub warmup_iters: usize,
    #[serde(default = "warmup_factor")]
    pub warmup_factor: f64,
    /// Epochs after which the rate is multiplied by `gamma`.
    #[serde(default)]
    pub steps: Vec<usize>,
    #[serde(default = "gamma")]
    pub gamma: f64,
    #[serde(default = "one")]
    pub accumulation: usize,
    /// Decoding threads of the data loader.
    #[serde(default = "two")]
    pub workers: usize,
    #[serde(default)]
    pub seed: u64,
    /// Detector only (`[train.detector]`): anchors and RoIs sampled per image.
    #[serde(default)]
    pub detector: DetectorSampling,
    /// Action model only (`[train.action]`): the clip transform and the detected boxes added.
    #[serde(default)]
    pub action: ActionSampling,
    /// Pose network only (`[train.pose]`): targets and augmentation.
    #[serde(default)]
    pub pose: PoseSampling,
}

/// CPN's targets and tf-cpn's augmentation: each person's crop enlarged by `crop_scale`, then
/// one of four draws as tf-cpn makes four samples of each person — a zoom (always), with a
/// flip (one in four) or a rotation (two in four).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseSampling {
    /// GlobalNet's Gaussian kernel sizes, finest level first; RefineNet takes the smallest
    /// (tf-cpn at 256×192: [15, 11, 9, 7]; at 384×288: [23, 17, 13, 9]).
    #[serde(default = "pose_kernels")]
    pub kernels: [usize; 4],
    /// The training crop over the test crop (tf-cpn: 1.25).
    #[serde(default = "crop_scale")]
    pub crop_scale: f64,
    /// tf-cpn's zoom draw: the crop shrinks to `crop_scale / U(scale)` where that is below 1.
    #[serde(default = "pose_scale")]
    pub scale: [f64; 2],
    /// Largest rotation either way, in degrees (tf-cpn: 45).
    #[serde(default = "rotation")]
    pub rotation: f64,
}

impl Default for PoseSampling {
    fn default() -> Self {
        Self {
            kernels: pose_kernels(),
            crop_scale: crop_scale(),
            scale: pose_scale(),
            rotation: rotation(),
        }
    }
}

fn pose_kernels() -> [usize; 4] {
    [15, 11, 9, 7]
}
fn crop_scale() -> f64 {
    1.25
}
fn pose_scale() -> [f64; 2] {
    [0.7, 1.35]
}
fn rotation() -> f64 {
    45.0
}

/// The seed system's training augmentation — short side drawn from `short_side`, a random
/// `crop × crop` window, random flips — and the IoU at which a detected box counts as a
/// ground-truth person (LFB: 0.9).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSampling {
    #[serde(default = "short_side")]
    pub short_side: [u32; 2],
    #[serde(default = "crop")]
    pub crop: u32,
    #[serde(default = "detected_iou")]
    pub detected_iou: f64,
    /// Train the heads alone on a fixed backbone (from --weights): an arm branch that shares
    /// the action model's backbone, so that one backbone pass serves both at test.
    #[serde(default)]
    pub freeze_backbone: bool,
}

impl Default for ActionSampling {
    fn default() -> Self {
        Self {
            short_side: short_side(),
            crop: crop(),
            detected_iou: detected_iou(),
            freeze_backbone: false,
        }
    }
}

fn short_side() -> [u32; 2] {
    [256, 320]
}
fn crop() -> u32 {
    224
}
fn detected_iou() -> f64 {
    0.9
}

impl ActionSampling {
    pub fn transform(&self) -> ClipTransform {
        ClipTransform::Train {
            short_side: self.short_side,
            crop: self.crop,
        }
    }
}

/// torchvision's per-image sample sizes; fewer RoIs train a small detector faster.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSampling {
    #[serde(default = "two_fifty_six")]
    pub rpn_batch_per_image: usize,
    #[serde(default = "five_twelve")]
    pub box_batch_per_image: usize,
    /// Short sides drawn per batch for multi-scale training (empty: the network's min_size).
    #[serde(default)]
    pub min_sizes: Vec<usize>,
}

impl Default for DetectorSampling {
    fn default() -> Self {
        Self {
            rpn_batch_per_image: 256,
            box_batch_per_image: 512,
            min_sizes: Vec::new(),
        }
    }
}

fn two_fifty_six() -> usize {
    256
}
fn five_twelve() -> usize {
    512
}

impl DetectorSampling {
    pub fn training_config(&self) -> DetectorTrainingConfig {
        DetectorTrainingConfig::new()
            .with_rpn_batch_per_image(self.rpn_batch_per_image)
            .with_box_batch_per_image(self.box_batch_per_image)
            .with_min_sizes(self.min_sizes.clone())
    }
}

fn momentum() -> f64 {
    0.9
}
fn weight_decay() -> f64 {
    1e-4
}
fn warmup_factor() -> f64 {
    0.001
}
fn gamma() -> f64 {
    0.1
}
fn one() -> usize {
    1
}
fn two() -> usize {
    2
}

impl TrainSettings {
    /// Problems with the values, for the configuration loader's message.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 || self.batch_size == 0 || self.accumulation == 0 {
            return Err("train.epochs, batch_size and accumulation must be positive".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(format!("train.lr = {}: must be positive", self.lr));
        }
        let a = &self.action;
        if a.short_side[0] == 0 || a.short_side[0] > a.short_side[1] || a.crop == 0 {
            return Err(format!(
                "train.action: short_side {:?} must be an ascending positive range and crop \
                 {} positive",
                a.short_side, a.crop
            ));
        }
        let p = &self.pose;
        if p.kernels.iter().any(|k| k % 2 == 0) || p.crop_scale <= 0.0 || p.scale[0] <= 0.0 {
            return Err(format!(
                "train.pose: kernels {:?} must be odd, crop_scale and scale positive",
                p.kernels
            ));
        }
        if self.steps.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("train.steps = {:?}: must be ascending", self.steps));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<TrainSettings, toml::de::Error> {
        toml::from_str(&format!("epochs = 1\nbatch_size = 2\nlr = 0.01\n{extra}"))
    }

    #[test]
    fn the_optimizer_is_sgd_unless_adamw_is_asked_for() {
        assert_eq!(parse("").unwrap().optimizer, OptimizerKind::Sgd);
        assert_eq!(
            parse("optimizer = \"adamw\"").unwrap().optimizer,
            OptimizerKind::AdamW
        );
        let err = parse("optimizer = \"adam\"").unwrap_err().to_string();
        assert!(err.contains("adamw") && err.contains("sgd"), "{err}");
    }
}
