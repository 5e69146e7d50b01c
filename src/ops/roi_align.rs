//! RoIAlign with the exact semantics of `torchvision.ops.roi_align`.
//!
//! RoIAlign is linear in the features: every output value is a weighted sum of a few feature
//! pixels. The weights depend only on the RoIs, so they are computed on the host from one read
//! of the `[K, 5]` RoI tensor (no per-RoI round trips), and the sum itself runs on the device as
//! a gather of feature rows followed by a batched weighted reduction. The gradient with respect
//! to the features is therefore the exact transpose of the forward map (scatter-add through
//! `select`), as in torchvision's backward kernel.
//!
//! Bilinear sampling is separable: a sample at `(y, x)` puts weight `wy(row) * wx(col)` on the
//! four surrounding pixels, and torchvision's "outside the map" rule (`y < -1 || y > H || x < -1
//! || x > W` gives zero) is a product of a row test and a column test. So each output bin's
//! weights are the outer product of a per-row list and a per-column list, with duplicate
//! rows/columns merged; that keeps the number of gathered rows per bin small.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use super::OpError;

const OP: &str = "roi_align";

/// Upper bound on gathered elements (rows × channels) materialised per chunk of RoIs.
const CHUNK_ELEMENTS: usize = 1 << 24;

/// RoIAlign of `rois` (`[K, 5]`, rows `(batch_index, x1, y1, x2, y2)` in input pixels) over
/// `features` (`[N, C, H, W]`), giving `[K, C, output_h, output_w]`.
///
/// Semantics are those of `torchvision.ops.roi_align`: `spatial_scale` maps input pixels to
/// feature pixels, `sampling_ratio <= 0` samples `ceil(roi_size / output_size)` points per bin
/// and axis for each RoI, `aligned` shifts boxes by half a pixel (and, as in torchvision, then
/// allows RoIs smaller than one pixel). Boxes partly or wholly outside the map and empty boxes
/// are valid input.
///
/// # Panics
/// With the message of [`try_roi_align`]'s error when `rois` is not `[K, 5]`, a batch index is
/// not in `0..N`, or `output_size` has a zero.
pub fn roi_align<B: Backend>(
    features: Tensor<B, 4>,
    rois: Tensor<B, 2>,
    output_size: [usize; 2],
    spatial_scale: f32,
    sampling_ratio: i32,
    aligned: bool,
) -> Tensor<B, 4> {
    try_roi_align(
        features,
        rois,
        output_size,
        spatial_scale,
        sampling_ratio,
        aligned,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// [`roi_align`] returning an error instead of panicking on bad arguments.
pub fn try_roi_align<B: Backend>(
    features: Tensor<B, 4>,
    rois: Tensor<B, 2>,
    output_size: [usize; 2],
    spatial_scale: f32,
    sampling_ratio: i32,
    aligned: bool,
) -> Result<Tensor<B, 4>, OpError> {
    let [batch, channels, height, width] = features.dims();
    let [num_rois, cols] = rois.dims();
    if cols != 5 {
        return Err(OpError::Shape {
            op: OP,
            what: "rois",
            expected: "[K, 5] with rows (batch_index, x1, y1, x2, y2)",
            got: rois.dims().to_vec(),
        });
    }
    let [pooled_h, pooled_w] = output_size;
    if pooled_h == 0 || pooled_w == 0 {
        return Err(OpError::Argument {
            op: OP,
            message: format!("output_size must be positive, got {output_size:?}"),
        });
    }
    let device = features.device();
    if num_rois == 0 || height == 0 || width == 0 {
        return Ok(Tensor::zeros(
            [num_rois, channels, pooled_h, pooled_w],
            &device,
        ));
    }

    let rois_host: Vec<f32> = rois
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 data after convert");
    let geometry = Geometry {
        batch,
        height,
        width,
        pooled_h,
        pooled_w,
        spatial_scale,
        sampling_ratio,
        aligned,
    };
    let bins: Vec<Vec<(u32, f32)>> = rois_host
        .chunks_exact(5)
        .enumerate()
        .map(|(row, roi)| geometry.roi_bins(row, roi))
        .collect::<Result<_, _>>()?;

    // Rows of the flattened map are pixels (b, y, x); columns are channels.
    let pixels = features
        .permute([0, 2, 3, 1])
        .reshape([batch * height * width, channels]);
    let bins_per_roi = pooled_h * pooled_w;
    let mut outputs = Vec::new();
    let mut start = 0;
    while start < num_rois {
        let (end, taps) = chunk_end(&bins, start, bins_per_roi, channels);
        outputs.push(weighted_gather(
            pixels.clone(),
            &bins[start..end],
            bins_per_roi,
            taps,
            &device,
        ));
        start = end;
    }
    let pooled = Tensor::cat(outputs, 0);
    Ok(pooled
        .reshape([num_rois, pooled_h, pooled_w, channels])
        .permute([0, 3, 1, 2]))
}

/// The RoIs `[start, end)` that fit in one chunk, and the taps per bin to pad them to.
fn chunk_end(
    bins: &[Vec<(u32, f32)>],
    start: usize,
    bins_per_roi: usize,
    channels: usize,
) -> (usize, usize) {
    let taps_of = |roi: &Vec<(u32, f32)>| roi.len() / bins_per_roi;
    let mut taps = taps_of(&bins[start]).max(1);
    let mut end = start + 1;
    while end < bins.len() {
        let next_taps = taps.max(taps_of(&bins[end]));
        if (end + 1 - start) * bins_per_roi * next_taps * channels > CHUNK_ELEMENTS {
            break;
        }
        taps = next_taps;
        end += 1;
    }
    (end, taps)
}

/// Sum of `weight * pixels[index]` for each bin of the given RoIs: `[R * bins_per_roi, C]`.
fn weighted_gather<B: Backend>(
    pixels: Tensor<B, 2>,
    rois: &[Vec<(u32, f32)>],
    bins_per_roi: usize,
    taps: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let channels = pixels.dims()[1];
    let rows = rois.len() * bins_per_roi;
    let mut index = vec![0i32; rows * taps];
    let mut weight = vec![0f32; rows * taps];
    for (r, roi) in rois.iter().enumerate() {
        let roi_taps = roi.len() / bins_per_roi;
        for bin in 0..bins_per_roi {
            let dst = (r * bins_per_roi + bin) * taps;
            for (t, &(i, w)) in roi[bin * roi_taps..(bin + 1) * roi_taps].iter().enumerate() {
                index[dst + t] = i as i32;
                weight[dst + t] = w;
            }
        }
    }
    let index = Tensor::<B, 1, Int>::from_data(TensorData::new(index, [rows * taps]), device);
    let weight = Tensor::<B, 3>::from_data(TensorData::new(weight, [rows, taps, 1]), device);
    let gathered = pixels.select(0, index).reshape([rows, taps, channels]);
    (gathered * weight).sum_dim(1).reshape([rows, channels])
}

/// Everything about the feature map and the op's arguments that the bin weights depend on.
struct Geometry {
    batch: usize,
    height: usize,
    width: usize,
    pooled_h: usize,
    pooled_w: usize,
    spatial_scale: f32,
    sampling_ratio: i32,
    aligned: bool,
}

impl Geometry {
    /// The taps `(flat pixel index, weight)` of every bin of one RoI, bin-major, each bin padded
    /// to the same number of taps (index 0, weight 0).
    fn roi_bins(&self, row: usize, roi: &[f32]) -> Result<Vec<(u32, f32)>, OpError> {
        // torchvision truncates the batch index to an integer.
        let batch_index = roi[0];
        if !(batch_index >= 0.0 && (batch_index as usize) < self.batch) {
            return Err(OpError::BatchIndex {
                op: OP,
                row,
                index: batch_index,
                batch: self.batch,
            });
        }
        let base = batch_index as usize * self.height * self.width;
        // Same float arithmetic, in the same order, as torchvision's CPU kernel.
        let offset = if self.aligned { 0.5f32 } else { 0.0 };
        let start_w = roi[1] * self.spatial_scale - offset;
        let start_h = roi[2] * self.spatial_scale - offset;
        let end_w = roi[3] * self.spatial_scale - offset;
        let end_h = roi[4] * self.spatial_scale - offset;
        let mut roi_w = end_w - start_w;
        let mut roi_h = end_h - start_h;
        if !self.aligned {
            roi_w = roi_w.max(1.0);
            roi_h = roi_h.max(1.0);
        }
        let bin_h = roi_h / self.pooled_h as f32;
        let bin_w = roi_w / self.pooled_w as f32;
        let grid = |size: f32, pooled: usize| -> usize {
            if self.sampling_ratio > 0 {
                self.sampling_ratio as usize
            } else {
                (size / pooled as f32).ceil().max(0.0) as usize
            }
        };
        let grid_h = grid(roi_h, self.pooled_h);
        let grid_w = grid(roi_w, self.pooled_w);
        let count = (grid_h * grid_w).max(1) as f32;

        let rows: Vec<Vec<(usize, f32)>> = (0..self.pooled_h)
            .map(|p| axis_taps(start_h, bin_h, p, grid_h, self.height))
            .collect();
        let cols: Vec<Vec<(usize, f32)>> = (0..self.pooled_w)
            .map(|p| axis_taps(start_w, bin_w, p, grid_w, self.width))
            .collect();
        let taps = rows.iter().map(Vec::len).max().unwrap_or(0)
            * cols.iter().map(Vec::len).max().unwrap_or(0);
        let mut bins = Vec::with_capacity(self.pooled_h * self.pooled_w * taps);
        for row_taps in &rows {
            for col_taps in &cols {
                let before = bins.len();
                for &(y, wy) in row_taps {
                    for &(x, wx) in col_taps {
                        bins.push(((base + y * self.width + x) as u32, wy * wx / count));
                    }
                }
                bins.resize(before + taps, (0, 0.0));
            }
        }
        Ok(bins)
    }
}

/// Along one axis of length `size`: the pixels that bin `p`'s samples touch, with their summed
/// bilinear weights (not yet divided by the sample count).
fn axis_taps(start: f32, bin: f32, p: usize, grid: usize, size: usize) -> Vec<(usize, f32)> {
    let mut taps: Vec<(usize, f32)> = Vec::with_capacity(2 * grid);
    let mut add = |pixel: usize, w: f32| match taps.iter_mut().find(|(q, _)| *q == pixel) {
        Some((_, acc)) => *acc += w,
        None => taps.push((pixel, w)),
    };
    for i in 0..grid {
        let mut v = start + p as f32 * bin + (i as f32 + 0.5) * bin / grid as f32;
        if v < -1.0 || v > size as f32 {
            continue;
        }
        if v <= 0.0 {
            v = 0.0;
        }
        let mut low = v as usize;
        let high;
        if low >= size - 1 {
            low = size - 1;
            high = low;
            v = low as f32;
        } else {
            high = low + 1;
        }
        let frac = v - low as f32;
        add(low, 1.0 - frac);
        add(high, frac);
    }
    taps
}
