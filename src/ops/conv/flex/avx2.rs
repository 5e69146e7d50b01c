//! Matrix products of the convolutions on x86-64 CPUs with AVX2 and FMA, for the forward
//! passes and the per-tap input gradient of convolutions with few channels:
//! `Y[r, j] (+)= Σ_k W[r, k] · X[k, j]` over a weight packed once per convolution and the
//! input's (or output gradient's) rows as they lie.
//!
//! gemm (see [`super::matrix`]) packs the input side of a product anew for every block of
//! output channels it sweeps; with few channels that packing is a large share of the work.
//! Here the weight is packed once per convolution in blocks of 6 rows, each 16-position panel
//! of the input is copied once per task (a chunk of at most 96 rows), a few rows ahead fetched
//! by software, and a 6 × 16 tile of the output is 12 accumulator registers swept over panels
//! while its weight rows stay in L1. See [`applies`] for where they win.

use std::arch::x86_64::*;

use rayon::prelude::*;

/// Output channels per tile: each a broadcast weight.
const ROWS: usize = 6;

/// Positions per tile: two 8-lane vectors.
const COLS: usize = 16;

/// Panel rows at most: a block's weight rows for them, 128 × 6, take 3 KiB of L1.
const DEPTH: usize = 128;

/// Rows ahead of the copy that are fetched.
const AHEAD: usize = 4;

/// Output elements a task writes at most: 128 KiB, in L2 beside the panels.
pub(super) const TILE: usize = 32 * 1024;

/// Output channels a task writes at most: 16 blocks, over each of which a panel is read from
/// L2, while each block's weight rows are read from L1 by every panel of a run long enough
/// (`TILE / 96` = 341 positions).
const CHUNK: usize = 16 * ROWS;

/// `channels` split into the chunks tasks write: as even as blocks of 6 allow, at most
/// [`CHUNK`] each.
pub(super) fn chunks(channels: usize) -> Vec<std::ops::Range<usize>> {
    let (blocks, parts) = (channels.div_ceil(ROWS), channels.div_ceil(CHUNK));
    (0..parts)
        .map(|i| (i * blocks / parts * ROWS)..((i + 1) * blocks / parts * ROWS).min(channels))
        .collect()
}

/// Whether this CPU runs the kernels.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Channels (input and output) up to which a convolution takes the kernels rather than gemm.
/// On few channels gemm's packing of the input for every block of output channels is a large
/// share of the work, and the kernels won in every measurement (slow res2 1×3×3 19.8 → 13.8
/// ms forward, res3 stride 2 19.2 → 15.3 ms); on more, gemm's kernels ran faster whenever
/// this machine was quiet (dilated res5 47 against 63 ms, the FPN's 3×3 at 200 × 336 506
/// against 570 ms), though slower under load from its neighbours (75 against 65 ms).
const MAX_CHANNELS: usize = 128;

/// Whether a convolution of `channels_in` to `channels_out` takes the kernels.
pub(super) fn applies(channels_in: usize, channels_out: usize) -> bool {
    channels_in.max(channels_out) <= MAX_CHANNELS && available()
}

/// A convolution's weight as `[taps, ⌈channels / 6⌉, depth, 6]`: per (temporal, vertical) tap
/// and block of 6 rows of the product, the tile's broadcasts in the order the kernel reads
/// them (the last block's missing rows zero).
pub(super) struct PackedWeight {
    data: Vec<f32>,
    channels: usize,
    depth: usize,
}

impl PackedWeight {
    /// The forward's: `weight` `[C_out, C_in, kt, kh, kw]` (`kernel`) with the output channels
    /// as rows and (input channel, horizontal tap) as the inner dimension.
    pub(super) fn new(weight: &[f32], channels: usize, [kt, kh, kw]: [usize; 3]) -> Self {
        let (taps, volume) = (kt * kh, weight.len() / channels.max(1));
        Self::pack([taps, channels, volume / taps], |tap, o, k| {
            weight[o * volume + (k / kw * taps + tap) * kw + k % kw]
        })
    }

    /// The input gradient's: the transposed products, (input channel, horizontal tap) as rows
    /// and the output channels as the inner dimension.
    pub(super) fn transposed(
        weight: &[f32],
        channels_out: usize,
        [kt, kh, kw]: [usize; 3],
    ) -> Self {
        let (taps, volume) = (kt * kh, weight.len() / channels_out.max(1));
        Self::pack([taps, volume / taps, channels_out], |tap, q, o| {
            weight[o * volume + (q / kw * taps + tap) * kw + q % kw]
        })
    }

    /// `[taps, channels, depth]` given element by element.
    fn pack(
        [taps, channels, depth]: [usize; 3],
        at: impl Fn(usize, usize, usize) -> f32 + Sync,
    ) -> Self {
        let blocks = channels.div_ceil(ROWS);
        let mut data = vec![0.0f32; taps * blocks * depth * ROWS];
        data.par_chunks_mut((depth * ROWS).max(1))
            .enumerate()
            .for_each(|(i, dst)| {
                let (tap, block) = (i / blocks, i % blocks);
                let (dst, _) = dst.as_chunks_mut::<ROWS>();
                for r in 0..ROWS.min(channels - block * ROWS) {
                    for (k, dst) in dst.iter_mut().enumerate() {
                        dst[r] = at(tap, block * ROWS + r, k);
                    }
                }
            });
        Self {
            data,
            channels,
            depth,
        }
    }

    /// Tap `tap`'s block `block`, rows `ks` of it.
    fn block(&self, tap: usize, block: usize, ks: &std::ops::Range<usize>) -> &[[f32; ROWS]] {
        let blocks = self.channels.div_ceil(ROWS);
        let (all, _) = self.data[(tap * blocks + block) * self.depth * ROWS..].as_chunks();
        &all[ks.clone()]
    }
}

/// One row of a panel, aligned for the kernel's loads.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Row([f32; COLS]);

/// `dst[co, j] = Σ_k W_tap[co, k] · x[k·x_rs + j]` for the output channels `channels` (one of
/// [`chunks`]; `dst` at the first) and `j < cols`, or `+=` with `accumulate`; `dst`'s rows
/// `dst_rs` apart. Every element's sum runs in the same order wherever its column lies, so
/// results do not depend on how a caller splits the columns.
///
/// # Panics
/// If the operand leaves `x` (a bug in the layout, not input).
///
/// # Safety
/// The CPU has AVX2 and FMA ([`available`]); the `channels × cols` block at `dst` is valid for
/// writes (and for reads with `accumulate`, written before) and touched by no one else
/// meanwhile.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn product(
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    (weight, tap): (&PackedWeight, usize),
    channels: std::ops::Range<usize>,
    x: &[f32],
    [cols, x_rs]: [usize; 2],
) {
    let depth = weight.depth;
    assert!(
        cols * depth == 0 || (depth - 1) * x_rs + cols <= x.len(),
        "product out of bounds"
    );
    assert!(
        channels.start.is_multiple_of(ROWS) && channels.end <= weight.channels,
        "channels not a chunk"
    );
    if depth == 0 {
        // An empty sum: zeros, which the caller's promise to write every element needs.
        for r in (0..channels.len()).filter(|_| !accumulate) {
            // SAFETY: row `r` of the caller's block.
            unsafe { std::ptr::write_bytes(dst.add(r * dst_rs), 0, cols) };
        }
        return;
    }
    let parts = depth.div_ceil(DEPTH);
    let (panels, rows) = (cols.div_ceil(COLS), depth.min(DEPTH));
    let mut panel = vec![Row([0.0; COLS]); panels * rows];
    for part in 0..parts {
        let ks = part * depth / parts..(part + 1) * depth / parts;
        let add = accumulate || part > 0;
        // The input's rows `ks` as panels `[panel, k, 16]`, read along each row, a few rows
        // ahead fetched meanwhile: rows far apart are more streams than the hardware
        // prefetcher follows, and the input is read from L3 (for each chunk of channels).
        for (i, k) in ks.clone().enumerate() {
            if let Some(ahead) = x.get((k + AHEAD) * x_rs..).filter(|_| k + AHEAD < ks.end) {
                for line in ahead[..cols].iter().step_by(16) {
                    _mm_prefetch::<_MM_HINT_T0>((line as *const f32).cast());
                }
            }
            let (full, tail) = x[k * x_rs..][..cols].as_chunks::<COLS>();
            for (p, src) in full.iter().enumerate() {
                panel[p * rows + i].0 = *src;
            }
            if !tail.is_empty() {
                let row = &mut panel[full.len() * rows + i].0;
                row[..tail.len()].copy_from_slice(tail);
                row[tail.len()..].fill(0.0);
            }
        }
        // Each block's weight rows stay in L1 while the panels stream past from L2.
        for block in channels.start / ROWS..channels.end.div_ceil(ROWS) {
            let w = weight.block(tap, block, &ks);
            let rows_here = ROWS.min(channels.end - block * ROWS);
            for (p, panel) in panel.chunks_exact(rows).enumerate() {
                let (j, panel) = (p * COLS, &panel[..ks.len()]);
                let width = COLS.min(cols - j);
                // SAFETY: rows `block·6 ..` and columns `j ..` of the caller's block.
                let dst = unsafe { dst.add((block * ROWS - channels.start) * dst_rs + j) };
                // SAFETY (both): forwarded from the caller.
                if width <= COLS / 2 {
                    unsafe { tile::<1>(panel, w, dst, dst_rs, [rows_here, width], add) };
                } else {
                    unsafe { tile::<2>(panel, w, dst, dst_rs, [rows_here, width], add) };
                }
            }
        }
    }
}

/// One tile of 6 rows by `V` vectors (the panel's first `8·V` columns): `dst (+)= W · panel`
/// over the panel's rows, stored to its first `rows` rows and `cols` columns.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const V: usize>(
    panel: &[Row],
    w: &[[f32; ROWS]],
    dst: *mut f32,
    dst_rs: usize,
    [rows, cols]: [usize; 2],
    add: bool,
) {
    let mut acc = [[_mm256_setzero_ps(); V]; ROWS];
    for (row, w) in panel.iter().zip(w) {
        let mut x = [_mm256_setzero_ps(); V];
        for (v, x) in x.iter_mut().enumerate() {
            // SAFETY: a row holds two vectors, 64-byte aligned.
            *x = unsafe { _mm256_load_ps(&row.0[8 * v]) };
        }
        for (acc, &w) in acc.iter_mut().zip(w) {
            let w = _mm256_set1_ps(w);
            for (acc, &x) in acc.iter_mut().zip(&x) {
                *acc = _mm256_fmadd_ps(w, x, *acc);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate().take(rows) {
        // SAFETY: row `r` of the caller's block.
        let d = unsafe { dst.add(r * dst_rs) };
        if cols == 8 * V {
            for (v, &acc) in acc.iter().enumerate() {
                // SAFETY: 8 columns of the caller's block, read only where written before.
                unsafe {
                    let d = d.add(8 * v);
                    let sum = if add {
                        _mm256_add_ps(_mm256_loadu_ps(d), acc)
                    } else {
                        acc
                    };
                    _mm256_storeu_ps(d, sum);
                }
            }
        } else {
            let mut sums = [0.0f32; COLS];
            for (v, &acc) in acc.iter().enumerate() {
                // SAFETY: `sums` holds two vectors.
                unsafe { _mm256_storeu_ps(&mut sums[8 * v], acc) };
            }
            for (c, &v) in sums.iter().enumerate().take(cols) {
                // SAFETY: column `c < cols` of the caller's block, read only where written.
                unsafe { *d.add(c) = if add { *d.add(c) + v } else { v } };
            }
        }
    }
}
