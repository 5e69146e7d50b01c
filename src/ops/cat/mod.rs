//! Concatenation with contiguous gradients; the flex fast path is [`flex`].

#[cfg(feature = "flex")]
mod flex;

use burn::tensor::{Tensor, backend::Backend};

/// `Tensor::cat([a, b], dim)`, whose gradients on flex under autodiff are contiguous (Burn's
/// are strided slices, which the ops reading them walk element by element); see `flex`.
pub fn cat_pair<B: Backend, const D: usize>(
    a: Tensor<B, D>,
    b: Tensor<B, D>,
    dim: usize,
) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    let (a, b) = match flex::try_cat_pair(a, b, dim) {
        Ok(out) => return out,
        Err(pair) => pair,
    };
    Tensor::cat(vec![a, b], dim)
}
