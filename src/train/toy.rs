//! A toy network for the training loop's tests: a linear regression (after a training-mode
//! batch norm, optionally) on rows `x0 x1 x2 y0 y1`.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use burn::train::{TrainOutput, TrainStep};

use super::StepLosses;
use crate::data::SeededBatcher;
use crate::nn::Norm;

/// A linear regression, after a training-mode batch norm where `norm` is set.
#[derive(Module, Debug)]
pub struct Line<B: Backend> {
    pub norm: Option<Norm<B>>,
    pub linear: Linear<B>,
}

impl<B: AutodiffBackend> TrainStep for Line<B> {
    type Input = (Tensor<B, 2>, Tensor<B, 2>);
    type Output = StepLosses;

    fn step(&self, (x, y): Self::Input) -> TrainOutput<StepLosses> {
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        let loss = (self.linear.forward(x) - y).powf_scalar(2.0).mean();
        let total = loss.clone().into_scalar().elem::<f64>();
        let grads = loss.backward();
        let losses = StepLosses {
            total,
            parts: vec![("mse", total)],
            batch: String::new(),
        };
        TrainOutput::new(self, grads, losses)
    }
}

/// Rows `x0 x1 x2 y0 y1`.
pub struct Rows;

impl<B: Backend> SeededBatcher<B, [f32; 5], (Tensor<B, 2>, Tensor<B, 2>)> for Rows {
    fn batch(
        &self,
        items: Vec<[f32; 5]>,
        _seed: u64,
        device: &B::Device,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let n = items.len();
        let x: Vec<f32> = items.iter().flat_map(|r| r[..3].to_vec()).collect();
        let y: Vec<f32> = items.iter().flat_map(|r| r[3..].to_vec()).collect();
        (
            Tensor::from_data(TensorData::new(x, [n, 3]), device),
            Tensor::from_data(TensorData::new(y, [n, 2]), device),
        )
    }
}
