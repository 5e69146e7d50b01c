//! The two steps the host-side parts of the ops and heads share: reading a tensor's values,
//! and putting rows computed in another order back into the input order.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// A tensor's values as f32, read to the host in one transfer.
pub fn to_host_f32<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 data after convert")
}

/// Rows of `rows` put back in input order, where `order[p]` is the input index of row `p`
/// (a permutation of `0..n`); rows already in order are returned as they are.
pub fn restore_order<B: Backend, const D: usize>(
    rows: Tensor<B, D>,
    order: &[usize],
) -> Tensor<B, D> {
    if order.iter().enumerate().all(|(p, &k)| p == k) {
        return rows;
    }
    let mut position = vec![0i64; order.len()];
    for (p, &k) in order.iter().enumerate() {
        position[k] = p as i64;
    }
    let device = rows.device();
    let index = Tensor::<B, 1, Int>::from_data(TensorData::new(position, [order.len()]), &device);
    rows.select(0, index)
}
