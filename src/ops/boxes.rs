//! Box utilities with torchvision's arithmetic. Boxes are `[N, 4]` as `(x1, y1, x2, y2)`.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// `(x2 - x1) * (y2 - y1)` per box: `[N]`.
pub fn box_area<B: Backend>(boxes: Tensor<B, 2>) -> Tensor<B, 1> {
    let [x1, y1, x2, y2] = columns(boxes);
    ((x2 - x1) * (y2 - y1)).squeeze_dim(1)
}

/// IoU of two boxes given as `[y1, x1, y2, x2]` or `[x1, y1, x2, y2]` (both the same), in
/// the arithmetic of the AVA evaluator's `np_box_ops.iou`.
pub fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let area = |r: &[f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    let h = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let w = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = h * w;
    inter / (area(a) + area(b) - inter)
}

/// Pairwise IoU `[N, M]` of two box sets, as `torchvision.ops.box_iou`.
pub fn box_iou<B: Backend>(boxes1: Tensor<B, 2>, boxes2: Tensor<B, 2>) -> Tensor<B, 2> {
    let area1 = box_area(boxes1.clone()).unsqueeze_dim::<2>(1);
    let area2 = box_area(boxes2.clone()).unsqueeze_dim::<2>(0);
    let [ax1, ay1, ax2, ay2] = columns(boxes1);
    let [bx1, by1, bx2, by2] = columns(boxes2).map(|c| c.transpose());
    let w = (ax2.min_pair(bx2) - ax1.max_pair(bx1)).clamp_min(0.0);
    let h = (ay2.min_pair(by2) - ay1.max_pair(by1)).clamp_min(0.0);
    let inter = w * h;
    let union = area1 + area2 - inter.clone();
    inter / union
}

/// Clamp x to `[0, width]` and y to `[0, height]`, as `torchvision.ops.clip_boxes_to_image`
/// with `size = (height, width)`.
pub fn clip_boxes_to_image<B: Backend>(boxes: Tensor<B, 2>, size_hw: [usize; 2]) -> Tensor<B, 2> {
    let [h, w] = size_hw.map(|s| s as f32);
    let [x1, y1, x2, y2] = columns(boxes);
    Tensor::cat(
        vec![
            x1.clamp(0.0, w),
            y1.clamp(0.0, h),
            x2.clamp(0.0, w),
            y2.clamp(0.0, h),
        ],
        1,
    )
}

/// [`clip_boxes_to_image`] for one host box `[x1, y1, x2, y2]` (the first four values of
/// `b`), for post-processing that runs on the host. With `offset` 1 (Detectron's legacy
/// convention) the last pixel is `w - 1`, the bound that Detectron's `clip_tiled_boxes` uses.
pub fn clip_box(b: &[f32], [h, w]: [usize; 2], offset: f32) -> [f32; 4] {
    let (h, w) = (h as f32 - offset, w as f32 - offset);
    [
        b[0].clamp(0.0, w),
        b[1].clamp(0.0, h),
        b[2].clamp(0.0, w),
        b[3].clamp(0.0, h),
    ]
}

/// Indices of the boxes whose width and height are both at least `min_size`, in input order,
/// as `torchvision.ops.remove_small_boxes`.
pub fn remove_small_boxes<B: Backend>(boxes: Tensor<B, 2>, min_size: f32) -> Tensor<B, 1, Int> {
    let device = boxes.device();
    let [x1, y1, x2, y2] = columns(boxes);
    let keep = (x2 - x1)
        .greater_equal_elem(min_size)
        .bool_and((y2 - y1).greater_equal_elem(min_size));
    let keep: Vec<bool> = keep.into_data().to_vec().expect("bool data");
    let kept: Vec<i64> = (0..keep.len() as i64)
        .filter(|&i| keep[i as usize])
        .collect();
    let n = kept.len();
    Tensor::from_data(TensorData::new(kept, [n]), &device)
}

/// The four coordinate columns of `[N, 4]` boxes, each `[N, 1]`.
fn columns<B: Backend>(boxes: Tensor<B, 2>) -> [Tensor<B, 2>; 4] {
    let [_, cols] = boxes.dims();
    assert!(cols == 4, "boxes must be [N, 4], got {:?}", boxes.dims());
    [0, 1, 2, 3].map(|i| boxes.clone().narrow(1, i, 1))
}

/// Encodes boxes relative to reference boxes and back, as torchvision's
/// `models.detection._utils.BoxCoder`: `(dx, dy, dw, dh)` scaled by `weights`, with `dw, dh`
/// clamped to `bbox_xform_clip` when decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxCoder {
    pub weights: [f32; 4],
    pub bbox_xform_clip: f32,
    /// 1 for Detectron's `bbox_transform`: widths are `x2 - x1 + 1`, and a decoded box ends
    /// at `ctr + w / 2 - 1`; 0 for torchvision and detectron2.
    pub offset: f32,
}

impl BoxCoder {
    /// torchvision's default clamp, `log(1000 / 16)`.
    pub fn new(weights: [f32; 4]) -> Self {
        Self {
            weights,
            bbox_xform_clip: (1000.0f32 / 16.0).ln(),
            offset: 0.0,
        }
    }

    /// With Detectron's legacy "+1" widths (`offset` 1).
    pub fn with_offset(mut self, offset: f32) -> Self {
        self.offset = offset;
        self
    }

    /// Regression targets `[N, 4]` that move `proposals` onto `gt_boxes` (row by row).
    pub fn encode<B: Backend>(
        &self,
        gt_boxes: Tensor<B, 2>,
        proposals: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let [wx, wy, ww, wh] = self.weights;
        let (ex_ctr_x, ex_ctr_y, ex_w, ex_h) = centres(proposals, self.offset);
        let (gt_ctr_x, gt_ctr_y, gt_w, gt_h) = centres(gt_boxes, self.offset);
        let dx = (gt_ctr_x - ex_ctr_x).mul_scalar(wx) / ex_w.clone();
        let dy = (gt_ctr_y - ex_ctr_y).mul_scalar(wy) / ex_h.clone();
        let dw = (gt_w / ex_w).log().mul_scalar(ww);
        let dh = (gt_h / ex_h).log().mul_scalar(wh);
        Tensor::cat(vec![dx, dy, dw, dh], 1)
    }

    /// Boxes `[N, 4K]` from codes `[N, 4K]` (K boxes per row, e.g. one per class) applied to
    /// reference boxes `[N, 4]`.
    pub fn decode<B: Backend>(&self, codes: Tensor<B, 2>, boxes: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, cols] = codes.dims();
        assert!(
            cols % 4 == 0,
            "box codes must be [N, 4K], got {:?}",
            codes.dims()
        );
        let k = cols / 4;
        let [wx, wy, ww, wh] = self.weights;
        let (ctr_x, ctr_y, widths, heights) = centres(boxes, self.offset);
        let codes = codes.reshape([n, k, 4]);
        let code = |i: usize, weight: f32| {
            codes
                .clone()
                .narrow(2, i, 1)
                .reshape([n, k])
                .div_scalar(weight)
        };
        let dx = code(0, wx);
        let dy = code(1, wy);
        let dw = code(2, ww).clamp_max(self.bbox_xform_clip);
        let dh = code(3, wh).clamp_max(self.bbox_xform_clip);
        let pred_ctr_x = dx * widths.clone() + ctr_x;
        let pred_ctr_y = dy * heights.clone() + ctr_y;
        let half_w = (dw.exp() * widths).mul_scalar(0.5);
        let half_h = (dh.exp() * heights).mul_scalar(0.5);
        Tensor::stack::<3>(
            vec![
                pred_ctr_x.clone() - half_w.clone(),
                pred_ctr_y.clone() - half_h.clone(),
                (pred_ctr_x + half_w).sub_scalar(self.offset),
                (pred_ctr_y + half_h).sub_scalar(self.offset),
            ],
            2,
        )
        .reshape([n, cols])
    }
}

/// `(ctr_x, ctr_y, width, height)`, each `[N, 1]`, with `x1 + 0.5 * w` centres (widths
/// `x2 - x1 + offset`).
fn centres<B: Backend>(
    boxes: Tensor<B, 2>,
    offset: f32,
) -> (Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>) {
    let [x1, y1, x2, y2] = columns(boxes);
    let w = (x2 - x1.clone()).add_scalar(offset);
    let h = (y2 - y1.clone()).add_scalar(offset);
    (
        x1 + w.clone().mul_scalar(0.5),
        y1 + h.clone().mul_scalar(0.5),
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    /// Box `[0, 0, 9, 19]` moved by `(0.1, -0.2, ln 2, 0)`: 10 × 20 pixels centred on (5, 10)
    /// to Detectron, 9 × 19 centred on (4.5, 9.5) to torchvision (worked by hand).
    #[test]
    fn legacy_decoding_counts_pixels() {
        let device = Default::default();
        let anchor = Tensor::<Flex, 2>::from_floats([[0.0, 0.0, 9.0, 19.0]], &device);
        let codes = Tensor::<Flex, 2>::from_floats([[0.1, -0.2, 2f32.ln(), 0.0]], &device);
        let decode = |offset| {
            let coder = BoxCoder::new([1.0; 4]).with_offset(offset);
            let boxes = coder.decode(codes.clone(), anchor.clone());
            let round_trip = coder.encode(boxes.clone(), anchor.clone());
            let values = boxes.into_data().to_vec::<f32>().unwrap();
            (values, round_trip.into_data().to_vec::<f32>().unwrap())
        };
        let expected = [
            (1.0, [-4.0, -4.0, 15.0, 15.0]),
            (0.0, [-3.6, -3.8, 14.4, 15.2]),
        ];
        for (offset, boxes) in expected {
            let (values, codes) = decode(offset);
            for (v, e) in
                values
                    .iter()
                    .zip(boxes)
                    .chain(codes.iter().zip([0.1, -0.2, 2f32.ln(), 0.0]))
            {
                assert!(
                    (v - e).abs() < 1e-5,
                    "offset {offset}: {values:?} / {codes:?}"
                );
            }
        }
        assert_eq!(
            clip_box(&[-4.0, -4.0, 15.0, 15.0], [12, 10], 1.0),
            [0.0, 0.0, 9.0, 11.0]
        );
        assert_eq!(
            clip_box(&[-4.0, -4.0, 15.0, 15.0], [12, 10], 0.0),
            [0.0, 0.0, 10.0, 12.0]
        );
    }
}
