//! Heatmaps to keypoints, as tf-cpn's `mptest.py::test_net` (pytorch-cpn's `test.py` is the
//! same line for line): each channel divided by its maximum, zero-padded by 10, blurred with
//! OpenCV's 21×21 Gaussian (σ 3.5, reflect-101 border); the arg-max moved a quarter pixel
//! towards the second-highest pixel; stride 4 plus 2 into the crop, then into the image. A
//! keypoint's score is the un-normalised heatmap at the rounded peak, / 255 + 0.5 (targets peak
//! at 255); the person's score is the box score times the mean keypoint score.

use super::gaussian::{blur, gaussian_kernel};
use super::{COCO_FLIP_PAIRS, CropBox, HEATMAP_STRIDE};

const BLUR_SIZE: usize = 21;
const BLUR_PAD: usize = 10;

/// One person's keypoints in image pixels with their scores, and the rescored box.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonPose {
    pub keypoints_px: Vec<[f64; 2]>,
    pub scores: Vec<f32>,
    /// The box score times the mean keypoint score.
    pub score: f32,
}

/// Decodes `heatmaps` (`[K, h, w]`, row-major) of the crop `crop` of an input of `input_hw`.
pub fn decode_heatmaps(
    heatmaps: &[f32],
    [h, w]: [usize; 2],
    crop: &CropBox,
    input_hw: [usize; 2],
    box_score: f32,
) -> PersonPose {
    let plane = h * w;
    let k = heatmaps.len() / plane.max(1);
    let kernel = gaussian_kernel(BLUR_SIZE);
    let mut keypoints_px = Vec::with_capacity(k);
    let mut scores = Vec::with_capacity(k);
    for raw in heatmaps.chunks_exact(plane) {
        let peak = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (ph, pw) = (h + 2 * BLUR_PAD, w + 2 * BLUR_PAD);
        let mut padded = vec![0.0f32; ph * pw];
        for y in 0..h {
            for x in 0..w {
                padded[(y + BLUR_PAD) * pw + x + BLUR_PAD] = raw[y * w + x] / peak;
            }
        }
        let mut blurred = blur(&padded, [ph, pw], &kernel);
        let first = argmax(&blurred);
        blurred[first] = 0.0;
        let second = argmax(&blurred);
        let (fy, fx) = ((first / pw) as f64, (first % pw) as f64);
        let (dy, dx) = ((second / pw) as f64 - fy, (second % pw) as f64 - fx);
        let (mut y, mut x) = (fy - BLUR_PAD as f64, fx - BLUR_PAD as f64);
        let len = (dx * dx + dy * dy).sqrt();
        if len > 1e-3 {
            x += 0.25 * dx / len;
            y += 0.25 * dy / len;
        }
        let x = x.clamp(0.0, (w - 1) as f64);
        let y = y.clamp(0.0, (h - 1) as f64);
        let stride = HEATMAP_STRIDE as f64;
        let in_crop = [x * stride + 2.0, y * stride + 2.0];
        keypoints_px.push(crop.to_image(in_crop, input_hw));
        let (ry, rx) = (round_half_even(y), round_half_even(x));
        scores.push(raw[ry * w + rx] / 255.0 + 0.5);
    }
    let mean = scores.iter().sum::<f32>() / scores.len().max(1) as f32;
    PersonPose {
        keypoints_px,
        scores,
        score: box_score * mean,
    }
}

/// The flip test's second half: `flipped` (heatmaps of the mirrored crop, `[K, h, w]`) mirrored
/// back, its left/right channels swapped, averaged with `plain` in place.
pub fn merge_flipped(plain: &mut [f32], flipped: &[f32], [h, w]: [usize; 2]) {
    let plane = h * w;
    let k = plain.len() / plane.max(1);
    let mut source: Vec<usize> = (0..k).collect();
    for &(a, b) in &COCO_FLIP_PAIRS {
        if a < k && b < k {
            source.swap(a, b);
        }
    }
    for (channel, &from) in source.iter().enumerate() {
        for y in 0..h {
            for x in 0..w {
                let mirrored = flipped[from * plane + y * w + (w - 1 - x)];
                let value = &mut plain[channel * plane + y * w + x];
                *value = (*value + mirrored) / 2.0;
            }
        }
    }
}

/// Python's `round` (half to even) on a non-negative coordinate.
fn round_half_even(v: f64) -> usize {
    let r = v.round();
    let r = if (v - v.trunc() - 0.5).abs() < f64::EPSILON && r % 2.0 != 0.0 {
        r - 1.0
    } else {
        r
    };
    r as usize
}

/// The first maximum in row-major order (NumPy's `argmax`).
fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: [usize; 2] = [256, 192];

    fn crop() -> CropBox {
        // A crop the size of the input at (100, 50): crop pixels map to image pixels + offset.
        CropBox {
            x1: 100.0,
            y1: 50.0,
            x2: 292.0,
            y2: 306.0,
        }
    }

    /// One heatmap channel with `peaks` (y, x, value) on zeros.
    fn channel(peaks: &[(usize, usize, f32)]) -> Vec<f32> {
        let mut m = vec![0.0; 64 * 48];
        for &(y, x, v) in peaks {
            m[y * 48 + x] = v;
        }
        m
    }

    #[test]
    fn a_peak_moves_a_quarter_pixel_towards_its_neighbour() {
        // Peak at (20, 10) with a lower right neighbour: the blur keeps the arg-max at the
        // peak, the second-highest pixel is the right neighbour, so x moves by +0.25:
        // crop x = 10.25 · 4 + 2 = 43, y = 20 · 4 + 2 = 82; image = crop + (100, 50).
        let map = channel(&[(20, 10, 255.0), (20, 11, 128.0)]);
        let pose = decode_heatmaps(&map, [64, 48], &crop(), INPUT, 0.9);
        assert_eq!(pose.keypoints_px, vec![[143.0, 132.0]]);
        // Score at the rounded peak: 255 / 255 + 0.5; the box score times the mean.
        assert_eq!(pose.scores, vec![1.5]);
        assert!((pose.score - 0.9 * 1.5).abs() < 1e-6);
    }

    #[test]
    fn a_lone_peak_moves_towards_the_blur_s_first_runner_up() {
        // A single pixel: the blurred map is symmetric; the runner-up is the first of the four
        // equal neighbours in row-major order, the one above: y moves by -0.25.
        let map = channel(&[(30, 20, 100.0)]);
        let pose = decode_heatmaps(&map, [64, 48], &crop(), INPUT, 1.0);
        assert_eq!(
            pose.keypoints_px,
            vec![[100.0 + 82.0, 50.0 + 29.75 * 4.0 + 2.0]]
        );
        assert_eq!(pose.scores, vec![100.0 / 255.0 + 0.5]);
    }

    #[test]
    fn peaks_at_the_border_stay_inside_the_map() {
        // The top-left corner with a lower neighbour below it: y moves down a quarter, x stays
        // at 0 (crop 2) rather than leaving the map.
        let map = channel(&[(0, 0, 10.0), (1, 0, 9.0)]);
        let pose = decode_heatmaps(&map, [64, 48], &crop(), INPUT, 1.0);
        assert_eq!(pose.keypoints_px, vec![[102.0, 50.0 + 0.25 * 4.0 + 2.0]]);
    }

    #[test]
    fn flipped_heatmaps_are_mirrored_back_and_their_sides_swapped() {
        // Three keypoints (nose, left eye, right eye), 1×3 maps.
        let mut plain = vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 4.0];
        // The flipped crop: the nose mirrored to x 2; its "left eye" is the right eye.
        let flipped = vec![0.0, 0.0, 3.0, 6.0, 0.0, 0.0, 0.0, 8.0, 0.0];
        merge_flipped(&mut plain, &flipped, [1, 3]);
        assert_eq!(plain, vec![2.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 5.0]);
    }

    #[test]
    fn rounding_is_python_s() {
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(3.25), 3);
    }
}
