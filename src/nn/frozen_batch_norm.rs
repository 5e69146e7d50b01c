use burn::module::{Module, Param};
use burn::tensor::{Tensor, backend::Backend};

/// Batch norm with fixed statistics and affine parameters, as torchvision's and detectron2's
/// `FrozenBatchNorm2d`: `y = (x - mean) / sqrt(var + eps) * weight + bias`. Detection and
/// video backbones train with it (batches are too small for batch statistics). Its parameters
/// keep PyTorch's names (`weight`, `bias`, `running_mean`, `running_var`) so checkpoints map
/// onto it directly, and none of them receives gradients.
#[derive(Module, Debug)]
pub struct FrozenBatchNorm2d<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
    pub bias: Param<Tensor<B, 1>>,
    pub running_mean: Param<Tensor<B, 1>>,
    pub running_var: Param<Tensor<B, 1>>,
    pub eps: f64,
}

impl<B: Backend> FrozenBatchNorm2d<B> {
    /// Identity statistics (weight 1, bias 0, mean 0, var 1), torchvision's initial state.
    pub fn new(channels: usize, eps: f64, device: &B::Device) -> Self {
        let frozen = |t: Tensor<B, 1>| Param::from_tensor(t).set_require_grad(false);
        Self {
            weight: frozen(Tensor::ones([channels], device)),
            bias: frozen(Tensor::zeros([channels], device)),
            running_mean: frozen(Tensor::zeros([channels], device)),
            running_var: frozen(Tensor::ones([channels], device)),
            eps,
        }
    }

    /// `x`: `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        // torchvision's arithmetic: scale = w * rsqrt(var + eps); shift = b - mean * scale.
        let scale = self.weight.val() * (self.running_var.val() + self.eps).sqrt().recip();
        let shift = self.bias.val() - self.running_mean.val() * scale.clone();
        let c = scale.dims()[0];
        x * scale.reshape([1, c, 1, 1]) + shift.reshape([1, c, 1, 1])
    }
}
