//! The action model: SlowFast, the per-box features (short-term S, optionally the global
//! pooling feature G) and the action classifier, composed so that a feature-bank operator can
//! sit between the features and the classifier and an arm branch can reuse the features on
//! other boxes.

mod classifier;
mod fbo;
mod inputs;
mod nonlocal;
mod roi_features;
mod slowfast;
mod spec;

pub use classifier::{ActionClassifier, ActionClassifierConfig};
pub use fbo::{Fbo, FboConfig, FboKind, FboNonLocal, NonLocalLayer};
pub use inputs::{ClipSpec, WindowSpec};
pub use nonlocal::{Instantiation, Nonlocal};
pub use roi_features::{BoxFeatures, RoiFeatures, RoiFeaturesConfig};
pub use slowfast::{
    BasicStem, Bottleneck3d, Fuse, ResBlock, SlowFast, SlowFastConfig, Stage, Stem,
};
pub use spec::{ActionSpec, BankSpec, SlowFastSpec};

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Int, Tensor, TensorData, activation::sigmoid, backend::Backend};

/// The frames of a `t`-frame clip that the slow pathway sees, as PySlowFast's
/// `pack_pathway_output`: `linspace(0, t - 1, t / alpha)` truncated, in PyTorch's float32
/// arithmetic (the first half counted from the start, the second from the end).
pub fn slow_frame_indices(t: usize, alpha: usize) -> Vec<usize> {
    let steps = (t / alpha).max(1);
    if steps == 1 {
        return vec![0];
    }
    let end = (t - 1) as f32;
    let step = end / (steps - 1) as f32;
    (0..steps)
        .map(|i| {
            let v = if i < steps / 2 {
                step * i as f32
            } else {
                end - step * (steps - 1 - i) as f32
            };
            v as usize
        })
        .collect()
}

/// The slow and fast inputs of clips `[N, 3, T, H, W]`: every frame for the fast pathway,
/// [`slow_frame_indices`] for the slow one.
pub fn pack_pathways<B: Backend>(
    clips: Tensor<B, 5>,
    alpha: usize,
) -> (Tensor<B, 5>, Tensor<B, 5>) {
    let t = clips.dims()[2];
    let indices: Vec<i64> = slow_frame_indices(t, alpha)
        .into_iter()
        .map(|i| i as i64)
        .collect();
    let n = indices.len();
    let index = Tensor::<B, 1, Int>::from_data(TensorData::new(indices, [n]), &clips.device());
    (clips.clone().select(2, index), clips)
}

#[derive(Config, Debug)]
pub struct ActionModelConfig {
    pub backbone: SlowFastConfig,
    pub num_classes: usize,
    #[config(default = true)]
    pub aligned: bool,
    #[config(default = 0.5)]
    pub dropout: f64,
    #[config(default = false)]
    pub global_pool: bool,
    /// Width G is reduced to by a learned linear layer before the classifier (the seed
    /// system: 256); `None`: G enters as it is.
    #[config(default = "None")]
    pub global_dim: Option<usize>,
    /// The feature-bank operator reading a window of long-term features L (`None`: no bank).
    /// Its `short_term_dim` must be S's width.
    #[config(default = "None")]
    pub bank: Option<FboConfig>,
}

impl ActionModelConfig {
    pub fn roi_features(&self) -> RoiFeaturesConfig {
        RoiFeaturesConfig::new(self.backbone.out_channels())
            .with_scale_factor(self.backbone.feature_stride() as f32)
            .with_aligned(self.aligned)
            .with_global_pool(self.global_pool)
    }

    /// The classifier over `[S, L, G]`: S, the bank operator's output where there is a bank,
    /// G (reduced to `global_dim` where set) where there is a global feature.
    pub fn classifier(&self) -> ActionClassifierConfig {
        let features = self.roi_features();
        let global = match (features.global_dim(), self.global_dim) {
            (0, _) => 0,
            (_, Some(reduced)) => reduced,
            (raw, None) => raw,
        };
        let bank = self.bank.as_ref().map_or(0, FboConfig::out_dim);
        ActionClassifierConfig::new(features.short_term_dim() + bank + global, self.num_classes)
            .with_dropout(self.dropout)
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> ActionModel<B> {
        ActionModel {
            backbone: self.backbone.init(device),
            roi_features: self.roi_features().init(),
            global_reduction: self
                .global_dim
                .filter(|_| self.global_pool)
                .map(|d| LinearConfig::new(self.roi_features().global_dim(), d).init(device)),
            bank: self.bank.as_ref().map(|c| c.init(device)),
            classifier: self.classifier().init(device),
            alpha: self.backbone.alpha,
        }
    }
}

/// SlowFast, its box features and the classifier: scores for person boxes in a clip.
#[derive(Module, Debug)]
pub struct ActionModel<B: Backend> {
    pub backbone: SlowFast<B>,
    #[module(skip)]
    pub roi_features: RoiFeatures,
    /// G's learned reduction (`global_dim`).
    pub global_reduction: Option<Linear<B>>,
    /// The feature-bank operator.
    pub bank: Option<Fbo<B>>,
    pub classifier: ActionClassifier<B>,
    /// Frame rate ratio of the pathways, for [`pack_pathways`].
    #[module(skip)]
    pub alpha: usize,
}

impl<B: Backend> ActionModel<B> {
    /// S (and G) of boxes `rois` `[K, 5]` (batch index, x1, y1, x2, y2 in pixels) in clips
    /// `slow` `[N, 3, T/α, H, W]` and `fast` `[N, 3, T, H, W]`.
    pub fn box_features(
        &self,
        slow: Tensor<B, 5>,
        fast: Tensor<B, 5>,
        rois: Tensor<B, 2>,
    ) -> BoxFeatures<B> {
        self.roi_features
            .forward(self.backbone.forward(slow, fast), rois)
    }

    /// The classifier's input `[K, D]`: `[S, G]`, or S alone (a model without a bank).
    pub fn features(
        &self,
        slow: Tensor<B, 5>,
        fast: Tensor<B, 5>,
        rois: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        self.classifier_input(self.box_features(slow, fast, rois), None)
    }

    /// `[S, L, G]`: S; the bank operator's reading of `bank` (`[K, M, D]`, one window per
    /// box) where the model has one; G, reduced where configured.
    ///
    /// # Panics
    /// When the model has a bank operator and no window is given, or the reverse: the
    /// caller's data must match the model (checked against the config before running).
    pub fn classifier_input(
        &self,
        features: BoxFeatures<B>,
        bank: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 2> {
        let mut parts = vec![features.short_term.clone()];
        match (&self.bank, bank) {
            (Some(fbo), Some(window)) => parts.push(fbo.forward(features.short_term, window)),
            (None, None) => {}
            (Some(_), None) => panic!("this action model reads a feature bank: give its windows"),
            (None, Some(_)) => panic!("bank windows given to an action model without a bank"),
        }
        if let Some(global) = features.global {
            parts.push(match &self.global_reduction {
                Some(reduce) => reduce.forward(global),
                None => global,
            });
        }
        Tensor::cat(parts, 1)
    }

    /// Action probabilities `[K, classes]`.
    pub fn forward(
        &self,
        slow: Tensor<B, 5>,
        fast: Tensor<B, 5>,
        rois: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        self.classifier.forward(self.features(slow, fast, rois))
    }

    /// S (and G) of boxes in clips `[N, 3, T, H, W]` (the fast pathway's frames; the slow
    /// pathway's are picked by [`pack_pathways`]).
    pub fn clip_box_features(&self, clips: Tensor<B, 5>, rois: Tensor<B, 2>) -> BoxFeatures<B> {
        self.roi_features.forward(self.clip_maps(clips), rois)
    }

    /// The backbone's slow and fast res5 maps of clips `[N, 3, T, H, W]`.
    pub fn clip_maps(&self, clips: Tensor<B, 5>) -> [Tensor<B, 5>; 2] {
        let (slow, fast) = pack_pathways(clips, self.alpha);
        self.backbone.forward(slow, fast)
    }

    /// Logits `[K, classes]` of boxes `rois` in the backbone's maps (and bank windows).
    pub fn map_logits(
        &self,
        maps: [Tensor<B, 5>; 2],
        rois: Tensor<B, 2>,
        bank: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 2> {
        let features = self.roi_features.forward(maps, rois);
        self.classifier
            .logits(self.classifier_input(features, bank))
    }

    /// Logits `[K, classes]` for clips `[N, 3, T, H, W]` (and, for a model with a bank, each
    /// box's window `[K, M, D]`).
    pub fn clip_logits(
        &self,
        clips: Tensor<B, 5>,
        rois: Tensor<B, 2>,
        bank: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 2> {
        self.map_logits(self.clip_maps(clips), rois, bank)
    }

    /// Action probabilities `[K, classes]` for clips `[N, 3, T, H, W]` (and bank windows).
    pub fn clip_scores(
        &self,
        clips: Tensor<B, 5>,
        rois: Tensor<B, 2>,
        bank: Option<Tensor<B, 3>>,
    ) -> Tensor<B, 2> {
        sigmoid(self.clip_logits(clips, rois, bank))
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    #[test]
    fn slow_frames_follow_pyslowfast() {
        // torch.linspace(0, 31, 8).long(), linspace(0, 7, 2), linspace(0, 15, 4).
        assert_eq!(slow_frame_indices(32, 4), vec![0, 4, 8, 13, 17, 22, 26, 31]);
        assert_eq!(slow_frame_indices(8, 4), vec![0, 7]);
        assert_eq!(slow_frame_indices(16, 4), vec![0, 5, 10, 15]);
        // torch.linspace(0, 63, 16).long(): 64×2 clips.
        assert_eq!(
            slow_frame_indices(64, 4),
            vec![0, 4, 8, 12, 16, 21, 25, 29, 33, 37, 42, 46, 50, 54, 58, 63]
        );
        assert_eq!(slow_frame_indices(3, 4), vec![0]);
        let values: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let clips = Tensor::<burn::backend::Flex, 5>::from_data(
            TensorData::new(values, [1, 1, 8, 1, 1]),
            &Default::default(),
        );
        let (slow, fast) = pack_pathways(clips, 4);
        assert_eq!(slow.dims(), [1, 1, 2, 1, 1]);
        assert_eq!(fast.dims(), [1, 1, 8, 1, 1]);
        assert_eq!(slow.into_data().to_vec::<f32>().unwrap(), vec![0.0, 7.0]);
    }
}
