//! Losses with PyTorch's exact definitions, for the detector and the action model.

use burn::tensor::{Int, Tensor, activation, backend::Backend};

/// `F.smooth_l1_loss(input, target, beta, reduction="sum")`: `0.5 d² / beta` where
/// `|d| < beta`, `|d| - 0.5 beta` elsewhere, summed.
pub fn smooth_l1_sum<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    target: Tensor<B, D>,
    beta: f32,
) -> Tensor<B, 1> {
    let d = (input - target).abs();
    let quadratic = d.clone().powi_scalar(2).mul_scalar(0.5 / beta);
    let linear = d.clone().sub_scalar(0.5 * beta);
    linear.mask_where(d.lower_elem(beta), quadratic).sum()
}

/// `F.binary_cross_entropy_with_logits(logits, targets)` averaged over every element, in the
/// stable form `max(x, 0) - x y + log(1 + exp(-|x|))`.
pub fn bce_with_logits_mean<B: Backend, const D: usize>(
    logits: Tensor<B, D>,
    targets: Tensor<B, D>,
) -> Tensor<B, 1> {
    let softplus = logits.clone().abs().neg().exp().log1p();
    (activation::relu(logits.clone()) - logits * targets + softplus).mean()
}

/// `F.cross_entropy(logits, labels)`: mean negative log-softmax of each row's label.
pub fn cross_entropy_mean<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
) -> Tensor<B, 1> {
    let [n, _] = logits.dims();
    let log_p = activation::log_softmax(logits, 1);
    log_p.gather(1, labels.reshape([n, 1])).neg().mean()
}
