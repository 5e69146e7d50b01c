//! 3-D max and average pooling with the semantics of `torch.nn.functional.max_pool3d` and
//! `avg_pool3d`, for `[N, C, T, H, W]` tensors.
//!
//! Burn 0.21 has only 2-D pooling. Both poolings are separable over a box window: a 3-D max is
//! the max over time of spatial maxima, and a 3-D average (whose divisor, with or without
//! padding counted, is a product of per-axis counts) is the temporal average of spatial
//! averages. So each is one spatial 2-D pool followed by one temporal 2-D pool with a `kt × 1`
//! kernel, and inherits Burn's gradients for both.

use burn::tensor::{Tensor, TensorData, backend::Backend, module};

/// Kernel, stride, padding and dilation per axis `(t, h, w)`, as PyTorch's pooling arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool3dOptions {
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub ceil_mode: bool,
}

impl Pool3dOptions {
    /// Stride equal to the kernel and no padding: PyTorch's default when `stride` is omitted.
    pub fn new(kernel: [usize; 3]) -> Self {
        Self {
            kernel,
            stride: kernel,
            padding: [0; 3],
            ceil_mode: false,
        }
    }

    pub fn with_stride(mut self, stride: [usize; 3]) -> Self {
        self.stride = stride;
        self
    }

    pub fn with_padding(mut self, padding: [usize; 3]) -> Self {
        self.padding = padding;
        self
    }

    pub fn with_ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// PyTorch's output length along `axis`. In ceil mode the last window must start inside
    /// the input or its left padding; Burn 0.21's 2-D pools omit that rule and can produce one
    /// extra (all-padding) window, which [`separable`] drops.
    fn output_len(&self, axis: usize, len: usize) -> usize {
        let (k, s, p) = (self.kernel[axis], self.stride[axis], self.padding[axis]);
        let span = len + 2 * p - k;
        let mut out = if self.ceil_mode {
            span.div_ceil(s)
        } else {
            span / s
        } + 1;
        if self.ceil_mode && (out - 1) * s >= len + p {
            out -= 1;
        }
        out
    }

    fn check(&self, op: &str) {
        for axis in 0..3 {
            assert!(
                self.kernel[axis] > 0 && self.stride[axis] > 0,
                "{op}: kernel and stride must be positive, got kernel {:?} stride {:?}",
                self.kernel,
                self.stride
            );
            assert!(
                2 * self.padding[axis] <= self.kernel[axis],
                "{op}: padding must be at most half the kernel, got padding {:?} kernel {:?}",
                self.padding,
                self.kernel
            );
        }
    }
}

/// `max_pool3d(x, kernel, stride, padding, ceil_mode=...)` with dilation 1.
///
/// # Panics
/// On a zero kernel or stride, or padding over half the kernel (PyTorch's checks).
pub fn max_pool3d<B: Backend>(x: Tensor<B, 5>, options: Pool3dOptions) -> Tensor<B, 5> {
    options.check("max_pool3d");
    separable(x, options, |x, [a, b]| {
        module::max_pool2d(
            x,
            [a.k, b.k],
            [a.s, b.s],
            [a.p, b.p],
            [1, 1],
            options.ceil_mode,
        )
        .narrow(2, 0, a.out)
        .narrow(3, 0, b.out)
    })
}

/// `avg_pool3d(x, kernel, stride, padding, ceil_mode=..., count_include_pad=...)`.
///
/// # Panics
/// On a zero kernel or stride, or padding over half the kernel (PyTorch's checks).
pub fn avg_pool3d<B: Backend>(
    x: Tensor<B, 5>,
    options: Pool3dOptions,
    count_include_pad: bool,
) -> Tensor<B, 5> {
    options.check("avg_pool3d");
    separable(x, options, |x, axes| {
        avg_pool2d_exact(x, axes, count_include_pad)
    })
}

/// One axis of a 2-D pool: kernel, stride, padding, input and (PyTorch's) output length.
#[derive(Debug, Clone, Copy)]
struct Axis {
    k: usize,
    s: usize,
    p: usize,
    len: usize,
    out: usize,
}

impl Axis {
    /// PyTorch's divisor for each output position: the window clipped to the padded input
    /// (`count_include_pad`) or to the input itself.
    fn divisors(&self, count_include_pad: bool) -> Vec<f32> {
        (0..self.out)
            .map(|o| {
                let start = (o * self.s) as isize - self.p as isize;
                let end = (start + self.k as isize).min((self.len + self.p) as isize);
                let size = if count_include_pad {
                    end - start
                } else {
                    end.min(self.len as isize) - start.max(0)
                };
                size as f32
            })
            .collect()
    }
}

/// Average pooling with PyTorch's divisors, built from Burn's sum-exact path: zeros appended
/// for ceil-mode windows, a floor-mode pool that divides by the full kernel, then rescaling by
/// `kernel / divisor`. (Burn 0.21's own ceil-mode average pool computes its gradient with
/// floor-mode divisors.)
fn avg_pool2d_exact<B: Backend>(
    x: Tensor<B, 4>,
    [a, b]: [Axis; 2],
    count_include_pad: bool,
) -> Tensor<B, 4> {
    let device = x.device();
    let mut x = x;
    for (dim, axis) in [(2, a), (3, b)] {
        let needed = (axis.out - 1) * axis.s + axis.k;
        let extra = needed.saturating_sub(axis.len + 2 * axis.p);
        if extra > 0 {
            let mut shape = x.dims();
            shape[dim] = extra;
            x = Tensor::cat(vec![x, Tensor::zeros(shape, &device)], dim);
        }
    }
    let pooled = module::avg_pool2d(x, [a.k, b.k], [a.s, b.s], [a.p, b.p], true, false)
        .narrow(2, 0, a.out)
        .narrow(3, 0, b.out);
    let (da, db) = (a.divisors(count_include_pad), b.divisors(count_include_pad));
    let kernel = (a.k * b.k) as f32;
    let scale: Vec<f32> = da
        .iter()
        .flat_map(|&u| db.iter().map(move |&v| kernel / (u * v)))
        .collect();
    pooled * Tensor::<B, 4>::from_data(TensorData::new(scale, [1, 1, a.out, b.out]), &device)
}

/// A spatial pool over `(h, w)` then a temporal pool over `t` (with a `kt × 1` window), each
/// given PyTorch's output lengths.
fn separable<B: Backend>(
    x: Tensor<B, 5>,
    options: Pool3dOptions,
    pool2d: impl Fn(Tensor<B, 4>, [Axis; 2]) -> Tensor<B, 4>,
) -> Tensor<B, 5> {
    let [n, c, t, h, w] = x.dims();
    let axis = |i: usize, len: usize| Axis {
        k: options.kernel[i],
        s: options.stride[i],
        p: options.padding[i],
        len,
        out: options.output_len(i, len),
    };
    let (at, ah, aw) = (axis(0, t), axis(1, h), axis(2, w));
    let unit = Axis {
        k: 1,
        s: 1,
        p: 0,
        len: ah.out * aw.out,
        out: ah.out * aw.out,
    };
    let spatial = pool2d(x.reshape([n, c * t, h, w]), [ah, aw]);
    let temporal = pool2d(spatial.reshape([n, c, t, ah.out * aw.out]), [at, unit]);
    temporal.reshape([n, c, at.out, ah.out, aw.out])
}
