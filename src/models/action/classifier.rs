//! The action classifier, as PySlowFast's head after its pooling: dropout, a linear layer
//! over the concatenated box features, a sigmoid (multi-label).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Tensor, activation::sigmoid, backend::Backend};

#[derive(Config, Debug)]
pub struct ActionClassifierConfig {
    /// Width of the box features it reads.
    pub in_features: usize,
    pub num_classes: usize,
    #[config(default = 0.5)]
    pub dropout: f64,
}

impl ActionClassifierConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> ActionClassifier<B> {
        ActionClassifier {
            projection: LinearConfig::new(self.in_features, self.num_classes).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

#[derive(Module, Debug)]
pub struct ActionClassifier<B: Backend> {
    pub projection: Linear<B>,
    pub dropout: Dropout,
}

impl<B: Backend> ActionClassifier<B> {
    /// Logits `[K, classes]` (training uses them with a binary cross-entropy).
    pub fn logits(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        self.projection.forward(self.dropout.forward(features))
    }

    /// Action probabilities `[K, classes]`.
    pub fn forward(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        sigmoid(self.logits(features))
    }
}
