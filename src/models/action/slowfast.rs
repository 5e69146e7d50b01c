//! SlowFast 3-D ResNet as PySlowFast's `SlowFastModel` (its module names, so `.pyth`
//! checkpoints map with one rename): a slow pathway on every α-th frame and a fast pathway
//! with β of the channels on every frame, fused fast-to-slow by a time-strided convolution
//! after the stem and each of res2–res4; bottleneck blocks with PySlowFast's temporal kernels
//! (slow: 1, 1, 1, 3, 3; fast: 5, 3, 3, 3, 3 for conv1, res2..res5), the stride on the 3×3
//! convolution, and for AVA res5 at stride 1 with dilation 2 (stride-16 maps).

use burn::config::Config;
use burn::module::{Initializer, Module};
use burn::nn::PaddingConfig3d;
use burn::nn::conv::Conv3dConfig;
use burn::tensor::{Tensor, backend::Backend};

use super::nonlocal::{Instantiation, Nonlocal};
use crate::nn::{Conv3d, Norm, NormKind};
use crate::ops::{Pool3dOptions, max_pool3d};

const BN_EPS: f64 = 1e-5;
/// Temporal kernel of conv1 and res2..res5, slow and fast pathway ("slowfast" in PySlowFast).
const TEMPORAL_KERNELS: [[usize; 2]; 5] = [[1, 5], [1, 3], [1, 3], [3, 3], [3, 3]];

#[derive(Config, Debug)]
pub struct SlowFastConfig {
    /// Bottleneck blocks of res2..res5: `[3, 4, 6, 3]` for R50, `[3, 4, 23, 3]` for R101.
    pub blocks: [usize; 4],
    /// Blocks of each stage that use the stage's temporal kernel (the rest use 1), as
    /// PySlowFast's `NUM_BLOCK_TEMP_KERNEL`; `None`: all of them.
    #[config(default = "None")]
    pub temporal_blocks: Option<[usize; 4]>,
    #[config(default = 64)]
    pub width_per_group: usize,
    #[config(default = 1)]
    pub groups: usize,
    /// Frame-rate ratio between the pathways.
    #[config(default = 4)]
    pub alpha: usize,
    /// Channel ratio between the pathways, inverted (8: the fast pathway has 1/8).
    #[config(default = 8)]
    pub beta_inv: usize,
    #[config(default = 2)]
    pub fusion_channel_ratio: usize,
    #[config(default = 5)]
    pub fusion_kernel: usize,
    /// Spatial stride of res2..res5 (AVA: 1, 2, 2, 1).
    #[config(default = "[1, 2, 2, 1]")]
    pub spatial_strides: [usize; 4],
    /// Spatial dilation of res2..res5 (AVA: 1, 1, 1, 2).
    #[config(default = "[1, 1, 1, 2]")]
    pub spatial_dilations: [usize; 4],
    #[config(default = "NormKind::FrozenBn")]
    pub norm: NormKind,
    /// Start each block's last norm at weight 0, so every residual branch starts as the
    /// identity (PySlowFast's `RESNET.ZERO_INIT_FINAL_BN`, set in its AVA and Kinetics
    /// configs; Goyal et al. 2017). Only matters when training from scratch.
    #[config(default = false)]
    pub zero_init_final_norm: bool,
    /// Slow-pathway blocks of res2..res5 followed by a non-local block (PySlowFast's
    /// `NONLOCAL.LOCATION`; the R101 "50_50" AVA models: 6, 13 and 20 of res4).
    #[config(default = "[vec![], vec![], vec![], vec![]]")]
    pub nonlocal: [Vec<usize>; 4],
    #[config(default = "[1, 2, 2]")]
    pub nonlocal_pool: [usize; 3],
    #[config(default = "Instantiation::DotProduct")]
    pub nonlocal_instantiation: Instantiation,
}

impl SlowFastConfig {
    /// Output channels of res5, slow and fast (2048 and 256 for R50 with β = 1/8).
    pub fn out_channels(&self) -> [usize; 2] {
        let slow = self.width_per_group * 32;
        [slow, slow / self.beta_inv]
    }

    /// Input pixels per res5 cell: 4 for the stem (stride-2 conv, stride-2 pool) times the
    /// stages' spatial strides (16 for AVA's SlowFast, whose res5 is dilated instead).
    pub fn feature_stride(&self) -> usize {
        4 * self.spatial_strides.iter().product::<usize>()
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> SlowFast<B> {
        let w = self.width_per_group;
        let beta = self.beta_inv;
        let out_dim_ratio = beta / self.fusion_channel_ratio;
        let norm = |c| Norm::new(c, self.norm, BN_EPS, device);
        let stem = |pathway: usize, out: usize| {
            let t = TEMPORAL_KERNELS[0][pathway];
            BasicStem {
                conv: msra_conv3d(
                    3,
                    out,
                    [t, 7, 7],
                    [1, 2, 2],
                    [t / 2, 3, 3],
                    [1; 3],
                    1,
                    device,
                ),
                bn: norm(out),
            }
        };
        let fuse = |fast_channels: usize| {
            let out = fast_channels * self.fusion_channel_ratio;
            let k = self.fusion_kernel;
            Fuse {
                conv_f2s: msra_conv3d(
                    fast_channels,
                    out,
                    [k, 1, 1],
                    [self.alpha, 1, 1],
                    [k / 2, 0, 0],
                    [1; 3],
                    1,
                    device,
                ),
                bn: norm(out),
            }
        };
        let temporal_blocks = self.temporal_blocks.unwrap_or(self.blocks);
        let stage = |i: usize, slow_in: usize, fast_in: usize| {
            let scale = 1 << i;
            let (slow_out, slow_inner) = (w * 4 * scale, self.groups * w * scale);
            let pathway = |p: usize, dim_in: usize, dim_out: usize, inner: usize| {
                (0..self.blocks[i])
                    .map(|b| {
                        let temporal = if b < temporal_blocks[i] {
                            TEMPORAL_KERNELS[i + 1][p]
                        } else {
                            1
                        };
                        ResBlock::new(
                            BlockShape {
                                dim_in: if b == 0 { dim_in } else { dim_out },
                                dim_out,
                                inner,
                                temporal,
                                stride: if b == 0 { self.spatial_strides[i] } else { 1 },
                                dilation: self.spatial_dilations[i],
                                groups: self.groups,
                            },
                            self.norm,
                            self.zero_init_final_norm,
                            device,
                        )
                    })
                    .collect()
            };
            Stage {
                pathway0: pathway(0, slow_in, slow_out, slow_inner),
                pathway1: pathway(1, fast_in, slow_out / beta, slow_inner / beta),
                pathway0_nonlocal: (0..self.blocks[i])
                    .map(|b| {
                        self.nonlocal[i].contains(&b).then(|| {
                            Nonlocal::new(
                                slow_out,
                                self.nonlocal_pool,
                                self.nonlocal_instantiation,
                                self.norm,
                                device,
                            )
                        })
                    })
                    .collect(),
            }
        };
        let fused = |slow: usize| slow + slow / out_dim_ratio;
        SlowFast {
            s1: Stem {
                pathway0_stem: stem(0, w),
                pathway1_stem: stem(1, w / beta),
            },
            s1_fuse: fuse(w / beta),
            s2: stage(0, fused(w), w / beta),
            s2_fuse: fuse(w * 4 / beta),
            s3: stage(1, fused(w * 4), w * 4 / beta),
            s3_fuse: fuse(w * 8 / beta),
            s4: stage(2, fused(w * 8), w * 8 / beta),
            s4_fuse: fuse(w * 16 / beta),
            s5: stage(3, fused(w * 16), w * 16 / beta),
        }
    }
}

/// A bias-free 3-D convolution initialised as PySlowFast's `c2_msra_fill` (Kaiming normal,
/// fan-out, ReLU gain).
#[allow(clippy::too_many_arguments)]
fn msra_conv3d<B: Backend>(
    in_channels: usize,
    out_channels: usize,
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    dilation: [usize; 3],
    groups: usize,
    device: &B::Device,
) -> Conv3d<B> {
    let config = Conv3dConfig::new([in_channels, out_channels], kernel)
        .with_stride(stride)
        .with_padding(PaddingConfig3d::Explicit(
            padding[0], padding[1], padding[2],
        ))
        .with_dilation(dilation)
        .with_groups(groups)
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        });
    Conv3d::new(&config, device)
}

#[derive(Module, Debug)]
pub struct SlowFast<B: Backend> {
    pub s1: Stem<B>,
    pub s1_fuse: Fuse<B>,
    pub s2: Stage<B>,
    pub s2_fuse: Fuse<B>,
    pub s3: Stage<B>,
    pub s3_fuse: Fuse<B>,
    pub s4: Stage<B>,
    pub s4_fuse: Fuse<B>,
    pub s5: Stage<B>,
}

impl<B: Backend> SlowFast<B> {
    /// res5 features `[slow, fast]` of a slow clip `[N, 3, T/α, H, W]` and a fast clip
    /// `[N, 3, T, H, W]`.
    pub fn forward(&self, slow: Tensor<B, 5>, fast: Tensor<B, 5>) -> [Tensor<B, 5>; 2] {
        let x = [
            self.s1.pathway0_stem.forward(slow),
            self.s1.pathway1_stem.forward(fast),
        ];
        let x = self.s1_fuse.forward(x);
        let x = self.s2_fuse.forward(self.s2.forward(x));
        let x = self.s3_fuse.forward(self.s3.forward(x));
        let x = self.s4_fuse.forward(self.s4.forward(x));
        self.s5.forward(x)
    }
}

#[derive(Module, Debug)]
pub struct Stem<B: Backend> {
    pub pathway0_stem: BasicStem<B>,
    pub pathway1_stem: BasicStem<B>,
}

/// Convolution, norm, ReLU, then a 1×3×3 max pool at spatial stride 2.
#[derive(Module, Debug)]
pub struct BasicStem<B: Backend> {
    pub conv: Conv3d<B>,
    pub bn: Norm<B>,
}

impl<B: Backend> BasicStem<B> {
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let x = self.conv.forward_norm_relu(x, &self.bn, None);
        max_pool3d(
            x,
            Pool3dOptions::new([1, 3, 3])
                .with_stride([1, 2, 2])
                .with_padding([0, 1, 1]),
        )
    }
}

/// Fast-to-slow lateral connection: the fast features, time-strided by α, concatenated to
/// the slow ones.
#[derive(Module, Debug)]
pub struct Fuse<B: Backend> {
    pub conv_f2s: Conv3d<B>,
    pub bn: Norm<B>,
}

impl<B: Backend> Fuse<B> {
    pub fn forward(&self, [slow, fast]: [Tensor<B, 5>; 2]) -> [Tensor<B, 5>; 2] {
        let lateral = self
            .conv_f2s
            .forward_norm_relu(fast.clone(), &self.bn, None);
        [crate::ops::cat_pair(slow, lateral, 1), fast]
    }
}

#[derive(Module, Debug)]
pub struct Stage<B: Backend> {
    pub pathway0: Vec<ResBlock<B>>,
    pub pathway1: Vec<ResBlock<B>>,
    /// Non-local blocks after the slow pathway's blocks (PySlowFast's
    /// `pathway0_nonlocal{i}`), one entry per block.
    pub pathway0_nonlocal: Vec<Option<Nonlocal<B>>>,
}

impl<B: Backend> Stage<B> {
    pub fn forward(&self, [slow, fast]: [Tensor<B, 5>; 2]) -> [Tensor<B, 5>; 2] {
        let mut slow = slow;
        for (i, block) in self.pathway0.iter().enumerate() {
            slow = block.forward(slow);
            if let Some(Some(nonlocal)) = self.pathway0_nonlocal.get(i) {
                slow = nonlocal.forward(slow);
            }
        }
        let fast = self.pathway1.iter().fold(fast, |x, b| b.forward(x));
        [slow, fast]
    }
}

struct BlockShape {
    dim_in: usize,
    dim_out: usize,
    inner: usize,
    temporal: usize,
    stride: usize,
    dilation: usize,
    groups: usize,
}

/// PySlowFast's `ResBlock`: a projection shortcut (`branch1`) where shape changes, and a
/// bottleneck (`branch2`: T×1×1, 1×3×3 strided and dilated, 1×1×1).
#[derive(Module, Debug)]
pub struct ResBlock<B: Backend> {
    pub branch1: Option<Conv3d<B>>,
    pub branch1_bn: Option<Norm<B>>,
    pub branch2: Bottleneck3d<B>,
}

#[derive(Module, Debug)]
pub struct Bottleneck3d<B: Backend> {
    pub a: Conv3d<B>,
    pub a_bn: Norm<B>,
    pub b: Conv3d<B>,
    pub b_bn: Norm<B>,
    pub c: Conv3d<B>,
    pub c_bn: Norm<B>,
}

impl<B: Backend> ResBlock<B> {
    fn new(shape: BlockShape, norm: NormKind, zero_init_final: bool, device: &B::Device) -> Self {
        let BlockShape {
            dim_in,
            dim_out,
            inner,
            temporal,
            stride,
            dilation,
            groups,
        } = shape;
        let bn = |c| Norm::new(c, norm, BN_EPS, device);
        let projection = dim_in != dim_out || stride != 1;
        Self {
            branch1: projection.then(|| {
                msra_conv3d(
                    dim_in,
                    dim_out,
                    [1; 3],
                    [1, stride, stride],
                    [0; 3],
                    [1; 3],
                    1,
                    device,
                )
            }),
            branch1_bn: projection.then(|| bn(dim_out)),
            branch2: Bottleneck3d {
                a: msra_conv3d(
                    dim_in,
                    inner,
                    [temporal, 1, 1],
                    [1; 3],
                    [temporal / 2, 0, 0],
                    [1; 3],
                    1,
                    device,
                ),
                a_bn: bn(inner),
                b: msra_conv3d(
                    inner,
                    inner,
                    [1, 3, 3],
                    [1, stride, stride],
                    [0, dilation, dilation],
                    [1, dilation, dilation],
                    groups,
                    device,
                ),
                b_bn: bn(inner),
                c: msra_conv3d(inner, dim_out, [1; 3], [1; 3], [0; 3], [1; 3], 1, device),
                c_bn: if zero_init_final {
                    bn(dim_out).with_zero_weight()
                } else {
                    bn(dim_out)
                },
            },
        }
    }

    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let shortcut = match (&self.branch1, &self.branch1_bn) {
            (Some(conv), Some(bn)) => conv.forward_norm(x.clone(), bn),
            _ => x.clone(),
        };
        let b = &self.branch2;
        let y = b.a.forward_norm_relu(x, &b.a_bn, None);
        let y = b.b.forward_norm_relu(y, &b.b_bn, None);
        b.c.forward_norm_relu(y, &b.c_bn, Some(shortcut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::{Distribution, activation::relu};

    #[test]
    fn zero_initialised_final_norms_make_blocks_start_as_the_identity() {
        let _generator = crate::generator_lock();
        let device = Default::default();
        let config = SlowFastConfig::new([1, 2, 1, 1])
            .with_width_per_group(8)
            .with_norm(NormKind::GroupNorm);
        // res3's second slow block (64 channels in and out) has an identity shortcut, so
        // with a zero residual branch it computes relu(x).
        let x =
            Tensor::<Flex, 5>::random([1, 64, 2, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        let zeroed = config
            .clone()
            .with_zero_init_final_norm(true)
            .init::<Flex>(&device);
        let y = zeroed.s3.pathway0[1].forward(x.clone());
        y.into_data()
            .assert_approx_eq::<f32>(&relu(x.clone()).into_data(), Default::default());
        let plain = config.init::<Flex>(&device);
        let y = plain.s3.pathway0[1].forward(x.clone());
        let diff = (y - relu(x)).abs().max().into_scalar();
        assert!(diff > 0.1, "an ordinary block is not the identity ({diff})");
    }
}
