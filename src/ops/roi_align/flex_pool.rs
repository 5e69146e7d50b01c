//! RoIAlign on flex: each bin sums its few taps straight from a channel-blocked copy of the
//! map, and under autodiff one op whose backward adds the output gradient back along the same
//! taps. The generic route's matmul expands every RoI's separable weights into a dense
//! `[rows·cols, PH·PW]` matrix: for a RoI 15 × 40 pixels wide on the map that is 600 taps
//! per bin where the bin reads 9 (2 × 2 samples, 3 × 3 pixels), and its gather and the
//! output's reorder back to input order each cost a pass and their own backward.
//!
//! The map is held as `[N, C/LANES, H·W, LANES]` (channels past `C` zero), so a tap reads
//! `LANES` consecutive channels of one pixel, and the backward, parallel over (image, channel
//! block), owns the block it adds into.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use rayon::prelude::*;

use super::{Geometry, Window};
use crate::ops::flex::{flex_f32, flex_tensor, unary_op, values};

/// Channels of one block: two AVX vectors, four SSE ones.
const LANES: usize = 8;

/// One RoI's taps: its image, and per output row and per output column the map rows and
/// columns its samples touch with their summed weights (the rows' already divided by the
/// bin's sample count). Bin `(ph, pw)` reads every pair of a row tap and a column tap.
#[derive(Debug, Clone)]
struct RoiTaps {
    image: usize,
    rows: Vec<Vec<(usize, f32)>>,
    cols: Vec<Vec<(usize, f32)>>,
}

/// The shapes of one call: the map `[N, C, H, W]` and the bins.
#[derive(Debug, Clone, Copy)]
struct Shape {
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    pooled: [usize; 2],
}

impl Shape {
    fn blocks(&self) -> usize {
        self.channels.div_ceil(LANES)
    }

    fn pixels(&self) -> usize {
        self.height * self.width
    }

    fn bins(&self) -> usize {
        self.pooled[0] * self.pooled[1]
    }
}

/// The RoIs' taps and the call's shapes: everything the backward needs (the op is linear).
#[derive(Debug, Clone)]
struct Plan {
    shape: Shape,
    rois: Vec<RoiTaps>,
}

/// RoIAlign of `features` over `windows` on flex (or on flex under autodiff), in the RoIs'
/// order; `features` back on other backends and dtypes.
pub(super) fn try_pool<B: Backend>(
    features: Tensor<B, 4>,
    windows: &[Window],
    geometry: &Geometry,
) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
    if !flex_f32(&features) {
        return Err(features);
    }
    let [batch, channels, height, width] = features.dims();
    let plan = Plan {
        shape: Shape {
            batch,
            channels,
            height,
            width,
            pooled: [geometry.pooled_h, geometry.pooled_w],
        },
        rois: windows.iter().map(|w| roi_taps(w, geometry)).collect(),
    };
    Ok(unary_op(features, FlexRoiAlign, plan, forward))
}

/// The nonzero entries of a window's dense per-bin weights, as map rows or columns.
fn sparse(dense: &[f32], len: usize, first: usize) -> Vec<Vec<(usize, f32)>> {
    dense
        .chunks_exact(len)
        .map(|bin| {
            (bin.iter().enumerate())
                .filter(|&(_, &w)| w != 0.0)
                .map(|(i, &w)| (first + i, w))
                .collect()
        })
        .collect()
}

fn roi_taps(window: &Window, geometry: &Geometry) -> RoiTaps {
    RoiTaps {
        image: window.base / (geometry.height * geometry.width),
        rows: sparse(&window.row_weights, window.rows, window.y0),
        cols: sparse(&window.col_weights, window.cols, window.x0),
    }
}

/// `[K, C, PH, PW]`, parallel over RoIs.
fn forward(features: &FlexTensor, plan: &Plan) -> FlexTensor {
    let s = plan.shape;
    let blocked = to_blocks(&values(features), s);
    let (bins, blocks, pixels) = (s.bins(), s.blocks(), s.pixels());
    let mut out = vec![0.0f32; plan.rois.len() * s.channels * bins];
    out.par_chunks_mut(s.channels * bins)
        .zip(&plan.rois)
        .for_each(|(out, roi)| {
            for block in 0..blocks {
                let map = &blocked[(roi.image * blocks + block) * pixels..][..pixels];
                let lanes = LANES.min(s.channels - block * LANES);
                for (ph, rows) in roi.rows.iter().enumerate() {
                    for (pw, cols) in roi.cols.iter().enumerate() {
                        let mut acc = [0.0f32; LANES];
                        for &(y, wy) in rows {
                            let line = &map[y * s.width..][..s.width];
                            for &(x, wx) in cols {
                                let w = wy * wx;
                                for (a, v) in acc.iter_mut().zip(&line[x]) {
                                    *a += w * v;
                                }
                            }
                        }
                        let bin = ph * s.pooled[1] + pw;
                        for (l, a) in acc[..lanes].iter().enumerate() {
                            out[(block * LANES + l) * bins + bin] = *a;
                        }
                    }
                }
            }
        });
    let [ph, pw] = s.pooled;
    flex_tensor(out, vec![plan.rois.len(), s.channels, ph, pw])
}

/// The map's gradient `[N, C, H, W]` from the output's: parallel over (image, channel block),
/// each adding the gradient of its image's RoIs along their taps.
fn backward(grad: &[f32], plan: &Plan) -> FlexTensor {
    let s = plan.shape;
    let (bins, blocks, pixels) = (s.bins(), s.blocks(), s.pixels());
    let mut blocked = vec![[0.0f32; LANES]; s.batch * blocks * pixels];
    blocked
        .par_chunks_mut(pixels)
        .enumerate()
        .for_each(|(index, map)| {
            let (image, block) = (index / blocks, index % blocks);
            let lanes = LANES.min(s.channels - block * LANES);
            let own = plan
                .rois
                .iter()
                .enumerate()
                .filter(|(_, r)| r.image == image);
            for (k, roi) in own {
                let dy = &grad[(k * s.channels + block * LANES) * bins..];
                for (ph, rows) in roi.rows.iter().enumerate() {
                    for (pw, cols) in roi.cols.iter().enumerate() {
                        let bin = ph * s.pooled[1] + pw;
                        let mut g = [0.0f32; LANES];
                        for (l, g) in g[..lanes].iter_mut().enumerate() {
                            *g = dy[l * bins + bin];
                        }
                        for &(y, wy) in rows {
                            let line = &mut map[y * s.width..][..s.width];
                            for &(x, wx) in cols {
                                let w = wy * wx;
                                for (d, g) in line[x].iter_mut().zip(&g) {
                                    *d += w * g;
                                }
                            }
                        }
                    }
                }
            }
        });
    flex_tensor(
        from_blocks(&blocked, s),
        vec![s.batch, s.channels, s.height, s.width],
    )
}

/// `[N, C, H, W]` as `[N, C/LANES, H·W, LANES]`, the channels past `C` zero.
fn to_blocks(x: &[f32], s: Shape) -> Vec<[f32; LANES]> {
    let (blocks, pixels) = (s.blocks(), s.pixels());
    let mut out = vec![[0.0f32; LANES]; s.batch * blocks * pixels];
    out.par_chunks_mut(pixels)
        .enumerate()
        .for_each(|(index, dst)| {
            let (image, block) = (index / blocks, index % blocks);
            let first = image * s.channels + block * LANES;
            let lanes = LANES.min(s.channels - block * LANES);
            for l in 0..lanes {
                let plane = &x[(first + l) * pixels..][..pixels];
                for (d, &v) in dst.iter_mut().zip(plane) {
                    d[l] = v;
                }
            }
        });
    out
}

/// The inverse of [`to_blocks`].
fn from_blocks(blocked: &[[f32; LANES]], s: Shape) -> Vec<f32> {
    let pixels = s.pixels();
    let mut out = vec![0.0f32; s.batch * s.channels * pixels];
    out.par_chunks_mut(pixels)
        .enumerate()
        .for_each(|(index, plane)| {
            let (image, channel) = (index / s.channels, index % s.channels);
            let block = image * s.blocks() + channel / LANES;
            let src = &blocked[block * pixels..][..pixels];
            for (d, v) in plane.iter_mut().zip(src) {
                *d = v[channel % LANES];
            }
        });
    out
}

#[derive(Debug)]
struct FlexRoiAlign;

impl Backward<Flex, 1> for FlexRoiAlign {
    type State = Plan;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            grads.register::<Flex>(node.id, backward(&values(&grad), &ops.state));
        }
    }
}
