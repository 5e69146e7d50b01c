//! Detector input as torchvision's `GeneralizedRCNNTransform`: normalise, resize so the short
//! side is `min_size` without the long side passing `max_size` (bilinear, half-pixel
//! centres), zero-pad the batch to a multiple of 32; boxes map back to each original image.
//! Under [`Convention::Detectron1`] the sizes are Detectron's `prep_im_for_blob`'s.

use burn::config::Config;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Tensor, TensorData, backend::Backend};
use image::RgbImage;

use super::Convention;

#[derive(Config, Debug)]
pub struct ImageTransformConfig {
    #[config(default = 800)]
    pub min_size: usize,
    #[config(default = 1333)]
    pub max_size: usize,
    #[config(default = "[0.485, 0.456, 0.406]")]
    pub mean: [f32; 3],
    #[config(default = "[0.229, 0.224, 0.225]")]
    pub std: [f32; 3],
    #[config(default = 32)]
    pub size_divisible: usize,
    /// Detectron's sizes under [`Convention::Detectron1`]: one f64 scale for both sides
    /// (the long side's cap checked on the rounded size), sizes rounded as `cv2.resize`.
    #[config(default = "Convention::Torchvision")]
    pub convention: Convention,
}

/// A padded batch and the sizes needed to undo the transform.
#[derive(Debug, Clone)]
pub struct ImageBatch<B: Backend> {
    /// `[N, 3, H, W]`, normalised, zero-padded at the bottom and right.
    pub images: Tensor<B, 4>,
    /// Each image's `[h, w]` after resizing, before padding.
    pub sizes_hw: Vec<[usize; 2]>,
    pub original_hw: Vec<[usize; 2]>,
}

impl ImageTransformConfig {
    /// Size after resizing, as torchvision computes it in eager mode (a Python float scale,
    /// floor of `size * scale` in f64), or Detectron.
    pub fn resized_hw(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        if self.convention == Convention::Detectron1 {
            let scale = self.detectron1_scale([h, w]);
            return [h, w].map(|s| (s as f64 * scale).round_ties_even() as usize);
        }
        let (short, long) = (h.min(w) as f64, h.max(w) as f64);
        let scale = (self.min_size as f64 / short).min(self.max_size as f64 / long);
        [
            (h as f64 * scale).floor() as usize,
            (w as f64 * scale).floor() as usize,
        ]
    }

    /// Detectron's `im_scale`: short side to `min_size`, unless the long side would then
    /// round to more than `max_size`.
    pub fn detectron1_scale(&self, [h, w]: [usize; 2]) -> f64 {
        let (short, long) = (h.min(w) as f64, h.max(w) as f64);
        let scale = self.min_size as f64 / short;
        if (scale * long).round_ties_even() > self.max_size as f64 {
            self.max_size as f64 / long
        } else {
            scale
        }
    }

    /// Transforms `[3, H, W]` RGB images with values in `[0, 1]`.
    pub fn apply<B: Backend>(&self, images: Vec<Tensor<B, 3>>) -> ImageBatch<B> {
        let device = images[0].device();
        // `[3, 1]` against `[3, H·W]`: flex's contiguous broadcast (`[3, 1, 1]` against the
        // image walks a strided index).
        let mean = Tensor::<B, 1>::from_floats(self.mean, &device).reshape([3, 1]);
        let std = Tensor::<B, 1>::from_floats(self.std, &device).reshape([3, 1]);
        let mut resized = Vec::with_capacity(images.len());
        let (mut sizes_hw, mut original_hw) = (Vec::new(), Vec::new());
        for image in images {
            let [_, h, w] = image.dims();
            let size = self.resized_hw([h, w]);
            let pixels = image.reshape([3, h * w]);
            let normalised = ((pixels - mean.clone()) / std.clone()).reshape([1, 3, h, w]);
            let options =
                InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false);
            resized.push(interpolate(normalised, size, options));
            sizes_hw.push(size);
            original_hw.push([h, w]);
        }
        let d = self.size_divisible;
        let pad_h = sizes_hw.iter().map(|s| s[0]).max().unwrap_or(0).div_ceil(d) * d;
        let pad_w = sizes_hw.iter().map(|s| s[1]).max().unwrap_or(0).div_ceil(d) * d;
        let mut batch = Tensor::zeros([resized.len(), 3, pad_h, pad_w], &device);
        for (i, (image, [h, w])) in resized.into_iter().zip(&sizes_hw).enumerate() {
            batch = batch.slice_assign([i..i + 1, 0..3, 0..*h, 0..*w], image);
        }
        ImageBatch {
            images: batch,
            sizes_hw,
            original_hw,
        }
    }
}

/// Boxes of a resized image in the original image's pixels (torchvision's `resize_boxes`).
pub fn boxes_to_original(
    boxes: &[[f32; 4]],
    resized_hw: [usize; 2],
    original_hw: [usize; 2],
) -> Vec<[f32; 4]> {
    let ratio_h = original_hw[0] as f32 / resized_hw[0] as f32;
    let ratio_w = original_hw[1] as f32 / resized_hw[1] as f32;
    boxes
        .iter()
        .map(|b| {
            [
                b[0] * ratio_w,
                b[1] * ratio_h,
                b[2] * ratio_w,
                b[3] * ratio_h,
            ]
        })
        .collect()
}

/// An RGB image as the detector's input: `[3, H, W]` with values in `[0, 1]`.
pub fn rgb_to_tensor<B: Backend>(image: &RgbImage, device: &B::Device) -> Tensor<B, 3> {
    let (w, h) = image.dimensions();
    let pixels: Vec<f32> = (0..3)
        .flat_map(|c| image.pixels().map(move |p| p[c] as f32 / 255.0))
        .collect();
    Tensor::from_data(TensorData::new(pixels, [3, h as usize, w as usize]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 480 × 640 to short side 800 (the scale 800 / 480 in f64): torchvision floors the long
    /// side, 1066.67, to 1066 (its `GeneralizedRCNNTransform` prints (800, 1066)), Detectron
    /// rounds it to 1067. With a cap of 1000 on 240 × 320, Detectron's scale is 1000 / 320.
    #[test]
    fn detectron1_rounds_sizes_and_caps_on_the_rounded_side() {
        let tv = ImageTransformConfig::new();
        let d1 = ImageTransformConfig::new().with_convention(Convention::Detectron1);
        assert_eq!(tv.resized_hw([480, 640]), [800, 1066]);
        assert_eq!(d1.resized_hw([480, 640]), [800, 1067]);
        let capped = d1.clone().with_max_size(1000);
        assert_eq!(capped.detectron1_scale([240, 320]), 3.125);
        assert_eq!(capped.resized_hw([240, 320]), [750, 1000]);
    }
}
