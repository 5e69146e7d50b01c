//! RoIAlign with the exact semantics of `torchvision.ops.roi_align`.
//!
//! RoIAlign is linear in the features, and its bilinear sampling is separable: a sample at
//! `(y, x)` puts weight `wy(row) * wx(col)` on the four surrounding pixels, and torchvision's
//! "outside the map" rule (`y < -1 || y > H || x < -1 || x > W` gives zero) is a product of a
//! row test and a column test. So for each RoI the output is `Ay · F · Bxᵀ` per channel, where
//! `Ay` (`[PH, rows]`) and `Bx` (`[PW, cols]`) hold the summed sample weights of each bin over
//! the rows and columns the RoI touches.
//!
//! The weights depend only on the RoIs: they are computed on the host from one read of the
//! `[K, 5]` RoI tensor (no per-RoI round trips). On the device, each RoI's support window of
//! the feature map is gathered once (one `select` of pixel rows), then one batched matmul
//! applies the bin weights. RoIs are processed in chunks of similar window size to bound
//! memory.
//! The gradient with respect to the features is the exact transpose of this linear map
//! (matmul and `select` backward), as in torchvision's backward kernel.
//!
//! On flex, `flex_pool` instead sums each bin's few taps directly (forward and backward, one
//! autodiff op): the dense matrix above holds every pixel of the window for every bin.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use super::OpError;
use super::host::{restore_order, to_host_f32};

#[cfg(feature = "flex")]
mod flex_pool;

const OP: &str = "roi_align";

/// Upper bound on the elements of the intermediates materialised per chunk of RoIs.
const CHUNK_ELEMENTS: usize = 1 << 23;

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

    let rois_host = to_host_f32(rois);
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
    let windows: Vec<Window> = rois_host
        .chunks_exact(5)
        .enumerate()
        .map(|(row, roi)| geometry.window(row, roi))
        .collect::<Result<_, _>>()?;
    #[cfg(feature = "flex")]
    let features = match flex_pool::try_pool(features, &windows, &geometry) {
        Ok(out) => return Ok(out),
        Err(features) => features,
    };

    // Similar window sizes share a chunk, so little is padded.
    let mut order: Vec<usize> = (0..num_rois).collect();
    order.sort_by_key(|&k| windows[k].rows * windows[k].cols);
    // Rows of the flattened map are pixels (b, y, x); columns are channels.
    let pixels = features
        .permute([0, 2, 3, 1])
        .reshape([batch * height * width, channels]);
    let mut outputs = Vec::new();
    let mut start = 0;
    while start < num_rois {
        let (end, rows, cols) = chunk_end(&windows, &order, start, &geometry, channels);
        let chunk: Vec<&Window> = order[start..end].iter().map(|&k| &windows[k]).collect();
        outputs.push(geometry.pool_chunk(pixels.clone(), &chunk, rows, cols, &device));
        start = end;
    }
    Ok(restore_order(Tensor::cat(outputs, 0), &order))
}

/// The sorted RoIs `order[start..end]` that fit in one chunk, with the chunk's window size.
fn chunk_end(
    windows: &[Window],
    order: &[usize],
    start: usize,
    geometry: &Geometry,
    channels: usize,
) -> (usize, usize, usize) {
    // The intermediates: gathered windows `[n, rows·cols, C]` and the output `[n, C, PH·PW]`.
    let bins = geometry.pooled_h * geometry.pooled_w;
    let elements = |n: usize, rows: usize, cols: usize| n * (rows * cols + bins) * channels;
    let first = &windows[order[start]];
    let (mut rows, mut cols) = (first.rows, first.cols);
    let mut end = start + 1;
    while end < order.len() {
        let w = &windows[order[end]];
        let (r, c) = (rows.max(w.rows), cols.max(w.cols));
        if elements(end + 1 - start, r, c) > CHUNK_ELEMENTS {
            break;
        }
        (rows, cols, end) = (r, c, end + 1);
    }
    (end, rows, cols)
}

/// One RoI's support window on the map and its separable bin weights.
struct Window {
    /// Flat index `b * H * W` of the RoI's image in the `[N * H * W, C]` pixel rows.
    base: usize,
    /// First row and column of the window, and its size.
    y0: usize,
    x0: usize,
    rows: usize,
    cols: usize,
    /// `[PH][rows]` row weights, already divided by the bin's sample count.
    row_weights: Vec<f32>,
    /// `[PW][cols]` column weights.
    col_weights: Vec<f32>,
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
    /// The support window and bin weights of one RoI (`roi` is a `[5]` row).
    fn window(&self, row: usize, roi: &[f32]) -> Result<Window, OpError> {
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

        let row_taps: Vec<Vec<(usize, f32)>> = (0..self.pooled_h)
            .map(|p| axis_taps(start_h, bin_h, p, grid_h, self.height))
            .collect();
        let col_taps: Vec<Vec<(usize, f32)>> = (0..self.pooled_w)
            .map(|p| axis_taps(start_w, bin_w, p, grid_w, self.width))
            .collect();
        let (y0, rows, row_weights) = dense_weights(&row_taps, 1.0 / count);
        let (x0, cols, col_weights) = dense_weights(&col_taps, 1.0);
        Ok(Window {
            base: batch_index as usize * self.height * self.width,
            y0,
            x0,
            rows,
            cols,
            row_weights,
            col_weights,
        })
    }

    /// Pools a chunk of RoIs whose windows fit in `rows × cols`: `[R, C, PH, PW]`.
    ///
    /// The separable weights are expanded to one `[rows·cols, PH·PW]` matrix per RoI (their
    /// Kronecker product), so a single batched matmul of the transposed windows produces the
    /// output directly in torchvision's channel-major layout (a permute of the output would
    /// cost more than the arithmetic on CPU backends).
    fn pool_chunk<B: Backend>(
        &self,
        pixels: Tensor<B, 2>,
        chunk: &[&Window],
        rows: usize,
        cols: usize,
        device: &B::Device,
    ) -> Tensor<B, 4> {
        let (n, ph, pw) = (chunk.len(), self.pooled_h, self.pooled_w);
        let (taps, bins) = (rows * cols, ph * pw);
        let channels = pixels.dims()[1];
        let mut index = Vec::with_capacity(n * taps);
        let mut weights = vec![0f32; n * taps * bins];
        for (r, w) in chunk.iter().enumerate() {
            // Window positions past the map edge read its last row / column with zero weight.
            for i in 0..rows {
                let y = (w.y0 + i).min(self.height - 1);
                for j in 0..cols {
                    let x = (w.x0 + j).min(self.width - 1);
                    index.push((w.base + y * self.width + x) as i32);
                }
            }
            for i in 0..w.rows {
                for j in 0..w.cols {
                    let dst = (r * taps + i * cols + j) * bins;
                    for p in 0..ph {
                        let wy = w.row_weights[p * w.rows + i];
                        for q in 0..pw {
                            weights[dst + p * pw + q] = wy * w.col_weights[q * w.cols + j];
                        }
                    }
                }
            }
        }
        let index = Tensor::<B, 1, Int>::from_data(TensorData::new(index, [n * taps]), device);
        let weights = Tensor::<B, 3>::from_data(TensorData::new(weights, [n, taps, bins]), device);
        let windows = pixels.select(0, index).reshape([n, taps, channels]);
        if B::ad_enabled(device) {
            // `[n, bins, C]`, the axes swapped on the output: transposing the windows as
            // below hands their gradient to the reshape above permuted, and flex copies
            // every window tap through a strided index (fwd+bwd 2.04 → 1.43 s on the bench).
            weights
                .swap_dims(1, 2)
                .matmul(windows)
                .swap_dims(1, 2)
                .reshape([n, channels, ph, pw])
        } else {
            // The windows read transposed in place: no copy (the other order copies the
            // output, forward 283 → 640 ms).
            windows
                .swap_dims(1, 2)
                .matmul(weights)
                .reshape([n, channels, ph, pw])
        }
    }
}

/// Per-bin taps as a dense `[bins][len]` matrix over the contiguous range of pixels they
/// touch: `(first pixel, len, weights * scale)`. No taps (a RoI wholly off the map) gives one
/// zero-weight pixel.
fn dense_weights(taps: &[Vec<(usize, f32)>], scale: f32) -> (usize, usize, Vec<f32>) {
    let touched = taps.iter().flatten().map(|&(p, _)| p);
    let (Some(first), Some(last)) = (touched.clone().min(), touched.max()) else {
        return (0, 1, vec![0.0; taps.len()]);
    };
    let len = last - first + 1;
    let mut dense = vec![0f32; taps.len() * len];
    for (bin, bin_taps) in taps.iter().enumerate() {
        for &(p, w) in bin_taps {
            dense[bin * len + p - first] += w * scale;
        }
    }
    (first, len, dense)
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
