//! Non-maximum suppression with torchvision's kept indices and order.
//!
//! NMS is a sequential, data-dependent loop that no network differentiates through, so it
//! runs on the host after one read of the boxes and scores (as torchvision's CPU kernel and
//! burn-vision's do); unlike burn-vision's it needs only `B: Backend`, and works on autodiff
//! tensors directly.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use super::host::to_host_f32;

/// Indices of the boxes kept by greedy NMS, highest score first, as `torchvision.ops.nms`:
/// a box is dropped when its IoU with a kept, higher-scoring box is greater than
/// `iou_threshold`. `boxes` is `[N, 4]` as `(x1, y1, x2, y2)`; equal scores keep input order.
///
/// # Panics
/// When `boxes` is not `[N, 4]` or `scores` does not have `N` entries.
pub fn nms<B: Backend>(
    boxes: Tensor<B, 2>,
    scores: Tensor<B, 1>,
    iou_threshold: f32,
) -> Tensor<B, 1, Int> {
    let device = boxes.device();
    let (boxes, scores) = host_inputs("nms", boxes, scores);
    indices_tensor(nms_host(&boxes, &scores, iou_threshold), &device)
}

/// NMS done independently per category `idxs`, as `torchvision.ops.batched_nms`: the kept
/// indices of all categories, sorted by decreasing score.
///
/// # Panics
/// When `boxes` is not `[N, 4]` or `scores` or `idxs` do not have `N` entries.
pub fn batched_nms<B: Backend>(
    boxes: Tensor<B, 2>,
    scores: Tensor<B, 1>,
    idxs: Tensor<B, 1, Int>,
    iou_threshold: f32,
) -> Tensor<B, 1, Int> {
    let device = boxes.device();
    let (boxes, scores) = host_inputs("batched_nms", boxes, scores);
    let idxs: Vec<i64> = idxs
        .into_data()
        .convert::<i64>()
        .to_vec()
        .expect("i64 data after convert");
    assert_eq!(
        idxs.len(),
        scores.len(),
        "batched_nms: idxs must have one entry per box ({}), got {}",
        scores.len(),
        idxs.len()
    );
    indices_tensor(
        batched_nms_host(&boxes, &scores, &idxs, iou_threshold, false),
        &device,
    )
}

/// [`nms`] on host slices: `boxes` holds `4 * N` values.
pub fn nms_host(boxes: &[f32], scores: &[f32], iou_threshold: f32) -> Vec<usize> {
    let order = order_by_score(scores, 0..scores.len());
    suppress(boxes, &order, iou_threshold, false)
}

/// [`batched_nms`] on host slices. `legacy` selects Detectron's arithmetic (its Cython
/// `nms`): "+1" box widths, and a box is dropped when its IoU *reaches* the threshold.
pub fn batched_nms_host(
    boxes: &[f32],
    scores: &[f32],
    idxs: &[i64],
    iou_threshold: f32,
    legacy: bool,
) -> Vec<usize> {
    let mut categories: Vec<i64> = idxs.to_vec();
    categories.sort_unstable();
    categories.dedup();
    let mut kept = Vec::new();
    for category in categories {
        let members = (0..scores.len()).filter(|&i| idxs[i] == category);
        let order = order_by_score(scores, members);
        kept.extend(suppress(boxes, &order, iou_threshold, legacy));
    }
    kept.sort_unstable();
    order_by_score(scores, kept)
}

fn host_inputs<B: Backend>(
    op: &str,
    boxes: Tensor<B, 2>,
    scores: Tensor<B, 1>,
) -> (Vec<f32>, Vec<f32>) {
    let [n, cols] = boxes.dims();
    assert!(cols == 4, "{op}: boxes must be [N, 4], got [{n}, {cols}]");
    let [m] = scores.dims();
    assert!(
        m == n,
        "{op}: scores must have one entry per box ({n}), got {m}"
    );
    (to_host_f32(boxes), to_host_f32(scores))
}

fn indices_tensor<B: Backend>(kept: Vec<usize>, device: &B::Device) -> Tensor<B, 1, Int> {
    let n = kept.len();
    let kept: Vec<i64> = kept.into_iter().map(|i| i as i64).collect();
    Tensor::from_data(TensorData::new(kept, [n]), device)
}

/// The given indices sorted by decreasing score, ties in index order.
fn order_by_score(scores: &[f32], indices: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut order: Vec<usize> = indices.into_iter().collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Greedy suppression over boxes visited in `order`; torchvision's CPU kernel arithmetic, or
/// Detectron's with `legacy`.
fn suppress(boxes: &[f32], order: &[usize], iou_threshold: f32, legacy: bool) -> Vec<usize> {
    let offset = if legacy { 1.0 } else { 0.0 };
    let coords = |i: usize| -> [f32; 4] { boxes[4 * i..4 * i + 4].try_into().unwrap() };
    let area = |b: [f32; 4]| (b[2] - b[0] + offset) * (b[3] - b[1] + offset);
    let mut suppressed = vec![false; order.len()];
    let mut kept = Vec::new();
    for (a, &i) in order.iter().enumerate() {
        if suppressed[a] {
            continue;
        }
        kept.push(i);
        let bi = coords(i);
        let area_i = area(bi);
        for (b, &j) in order.iter().enumerate().skip(a + 1) {
            if suppressed[b] {
                continue;
            }
            let bj = coords(j);
            let w = (bi[2].min(bj[2]) - bi[0].max(bj[0]) + offset).max(0.0);
            let h = (bi[3].min(bj[3]) - bi[1].max(bj[1]) + offset).max(0.0);
            let inter = w * h;
            let iou = inter / (area_i + area(bj) - inter);
            if iou > iou_threshold || (legacy && iou == iou_threshold) {
                suppressed[b] = true;
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 10-pixel boxes ("+1": `[0, 9]` and `[5, 14]`) overlapping by 5 columns: IoU 50 / 150
    /// in Detectron's arithmetic, 36 / 126 in torchvision's.
    #[test]
    fn legacy_nms_counts_pixels_and_drops_at_the_threshold() {
        let boxes = [0.0, 0.0, 9.0, 9.0, 5.0, 0.0, 14.0, 9.0];
        let (scores, idxs) = ([0.9, 0.8], [0, 0]);
        assert_eq!(batched_nms_host(&boxes, &scores, &idxs, 0.3, false), [0, 1]);
        assert_eq!(batched_nms_host(&boxes, &scores, &idxs, 0.3, true), [0]);
        let third = 50.0f32 / 150.0;
        assert_eq!(batched_nms_host(&boxes, &scores, &idxs, third, true), [0]);
        assert_eq!(batched_nms_host(&boxes, &scores, &idxs, 0.34, true), [0, 1]);
    }
}
