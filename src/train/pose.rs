//! Training CPN on COCO keypoint ground truth: each labelled, non-crowd person one sample,
//! cropped and augmented as tf-cpn does (`dataset.py::Preprocessing` and
//! `data_augmentation`), targets and losses as `network.py`; validation is COCO keypoint AP
//! (pycocotools' numbers) of the flip-tested network on the validation people's boxes.
//!
//! tf-cpn applies its crop, zoom, rotation and flip one after another to the image; here they
//! compose into one affine map sampled once (the same geometry, one interpolation).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use burn::train::{TrainOutput, TrainStep};
use image::RgbImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::StepLosses;
use crate::config::PoseSampling;
use crate::data::{
    CocoKeypointResult, CocoKeypoints, DataError, SeededBatcher, decode_frame, mix_seed,
};
use crate::eval::{KeypointStats, evaluate_keypoints};
use crate::infer::{PoseOptions, poses_in_image};
use crate::models::pose::{
    COCO_FLIP_PAIRS, Cpn, CpnConvention, CpnTargets, CropBox, PoseSpec, cpn_loss,
};

/// One person to learn from: the image, the box and keypoints (`x, y, v`) in its pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct PoseSample {
    pub image: PathBuf,
    pub box_xyxy_px: [f64; 4],
    pub keypoints: Vec<[f64; 3]>,
    /// The annotation's id, for messages.
    pub id: i64,
}

/// The people of `truth` with at least one labelled keypoint and not crowds (tf-cpn's
/// `min_kps = 1`), their images under `root`.
pub fn pose_samples(truth: &CocoKeypoints, root: &Path) -> Vec<PoseSample> {
    let files: BTreeMap<i64, &str> = truth
        .images
        .iter()
        .map(|i| (i.id, i.file_name.as_str()))
        .collect();
    truth
        .annotations
        .iter()
        .filter(|a| a.iscrowd == 0 && a.num_keypoints > 0)
        .map(|a| {
            let [x, y, w, h] = a.bbox;
            PoseSample {
                image: root.join(files[&a.image_id]),
                box_xyxy_px: [x, y, x + w, y + h],
                keypoints: a.keypoints.chunks(3).map(|k| [k[0], k[1], k[2]]).collect(),
                id: a.id,
            }
        })
        .collect()
}

/// CPN with what its training step needs besides the weights.
#[derive(Module, Debug)]
pub struct PoseTraining<B: Backend> {
    pub model: Cpn<B>,
    #[module(skip)]
    pub kernels: [usize; 4],
    #[module(skip)]
    pub convention: CpnConvention,
}

/// Normalised crops `[N, 3, H, W]` with their keypoints (`x, y, v` in crop pixels).
#[derive(Debug, Clone)]
pub struct PoseBatch<B: Backend> {
    pub crops: Tensor<B, 4>,
    pub keypoints: Vec<Vec<[f64; 3]>>,
    pub ids: Vec<i64>,
}

impl<B: AutodiffBackend> TrainStep for PoseTraining<B> {
    type Input = PoseBatch<B>;
    type Output = StepLosses;

    fn step(&self, batch: PoseBatch<B>) -> TrainOutput<StepLosses> {
        let [_, _, h, w] = batch.crops.dims();
        let device = batch.crops.device();
        let targets = CpnTargets::new(
            &batch.keypoints,
            [h, w],
            self.kernels,
            self.convention,
            &device,
        );
        let out = self.model.forward(batch.crops);
        let loss = cpn_loss(&out, &targets, self.convention);
        let scalar = |t: &Tensor<B, 1>| t.clone().into_scalar().elem::<f64>();
        let (global, refine) = (scalar(&loss.global), scalar(&loss.refine));
        let ids: Vec<String> = batch.ids.iter().map(i64::to_string).collect();
        let item = StepLosses {
            total: global + refine,
            parts: vec![("global", global), ("refine", refine)],
            batch: format!("persons {}", ids.join(" ")),
        };
        TrainOutput::new(self, loss.total.backward(), item)
    }
}

/// Crops and augments samples (see the module docs). A sample whose image cannot be read is
/// skipped with a warning naming the file.
pub struct PoseBatcher {
    pub input_hw: [usize; 2],
    pub mean: [f32; 3],
    pub sampling: PoseSampling,
    pub seed: u64,
}

/// How one crop is drawn: image pixel centres from crop pixel centres.
#[derive(Debug, Clone, Copy)]
struct CropMap {
    centre: [f64; 2],
    /// Image pixels per crop pixel, x and y.
    scale: [f64; 2],
    /// Rotation in radians (counter-clockwise in the image as seen).
    angle: f64,
    flip: bool,
    input_hw: [usize; 2],
}

impl CropMap {
    fn to_image(self, [u, v]: [f64; 2]) -> [f64; 2] {
        let [h, w] = self.input_hw;
        let mut p = [u + 0.5 - w as f64 / 2.0, v + 0.5 - h as f64 / 2.0];
        if self.flip {
            p[0] = -p[0];
        }
        let (s, c) = self.angle.sin_cos();
        let q = [c * p[0] + s * p[1], -s * p[0] + c * p[1]];
        [
            self.centre[0] + self.scale[0] * q[0] - 0.5,
            self.centre[1] + self.scale[1] * q[1] - 0.5,
        ]
    }

    fn to_crop(self, [x, y]: [f64; 2]) -> [f64; 2] {
        let [h, w] = self.input_hw;
        let q = [
            (x + 0.5 - self.centre[0]) / self.scale[0],
            (y + 0.5 - self.centre[1]) / self.scale[1],
        ];
        let (s, c) = self.angle.sin_cos();
        let mut p = [c * q[0] - s * q[1], s * q[0] + c * q[1]];
        if self.flip {
            p[0] = -p[0];
        }
        [p[0] + w as f64 / 2.0 - 0.5, p[1] + h as f64 / 2.0 - 0.5]
    }
}

impl PoseBatcher {
    fn draw(&self, sample: &PoseSample, rng: &mut StdRng) -> CropMap {
        let crop = CropBox::around(sample.box_xyxy_px, self.input_hw);
        let p = &self.sampling;
        // tf-cpn keeps min(1, U(scale) / crop_scale) of the enlarged crop.
        let extent = rng.random_range(p.scale[0]..=p.scale[1]).min(p.crop_scale);
        let op = rng.random_range(0..4);
        let angle = if op >= 2 {
            rng.random_range(-p.rotation..=p.rotation).to_radians()
        } else {
            0.0
        };
        let [h, w] = self.input_hw;
        CropMap {
            centre: [(crop.x1 + crop.x2) / 2.0, (crop.y1 + crop.y2) / 2.0],
            scale: [
                crop.width() * extent / w as f64,
                crop.height() * extent / h as f64,
            ],
            angle,
            flip: op == 1,
            input_hw: self.input_hw,
        }
    }

    /// The crop's normalised planes and the keypoints in it.
    fn crop(
        &self,
        image: &RgbImage,
        sample: &PoseSample,
        map: &CropMap,
    ) -> (Vec<f32>, Vec<[f64; 3]>) {
        let [h, w] = self.input_hw;
        let plane = h * w;
        let mut pixels = vec![0.0f32; 3 * plane];
        let (iw, ih) = (image.width() as f64, image.height() as f64);
        for v in 0..h {
            for u in 0..w {
                let [x, y] = map.to_image([u as f64, v as f64]);
                let value = bilinear(image, [x, y], [iw, ih], self.mean);
                for ch in 0..3 {
                    pixels[ch * plane + v * w + u] = (value[ch] - self.mean[ch]) / 255.0;
                }
            }
        }
        let mut keypoints: Vec<[f64; 3]> = sample
            .keypoints
            .iter()
            .map(|&[x, y, vis]| {
                let [u, v] = map.to_crop([x, y]);
                let inside = u >= 0.0 && v >= 0.0 && u < w as f64 && v < h as f64;
                [u, v, if vis > 0.0 && inside { vis } else { 0.0 }]
            })
            .collect();
        if map.flip {
            for &(a, b) in &COCO_FLIP_PAIRS {
                if b < keypoints.len() {
                    keypoints.swap(a, b);
                }
            }
        }
        (pixels, keypoints)
    }
}

/// Bilinear sample of `image` at `[x, y]` (pixel-centre coordinates), `outside` beyond it.
fn bilinear(image: &RgbImage, [x, y]: [f64; 2], [w, h]: [f64; 2], outside: [f32; 3]) -> [f32; 3] {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
    let mut out = [0.0f32; 3];
    for (dy, wy) in [(0.0, 1.0 - fy), (1.0, fy)] {
        for (dx, wx) in [(0.0, 1.0 - fx), (1.0, fx)] {
            let (px, py) = (x0 + dx, y0 + dy);
            let weight = wx * wy;
            if weight == 0.0 {
                continue;
            }
            let p = if px >= 0.0 && py >= 0.0 && px < w && py < h {
                image.get_pixel(px as u32, py as u32).0.map(f32::from)
            } else {
                outside
            };
            for ch in 0..3 {
                out[ch] += weight * p[ch];
            }
        }
    }
    out
}

impl<B: Backend> SeededBatcher<B, PoseSample, PoseBatch<B>> for PoseBatcher {
    fn batch(&self, items: Vec<PoseSample>, seed: u64, device: &B::Device) -> PoseBatch<B> {
        let mut rng = StdRng::seed_from_u64(mix_seed(&[self.seed, seed]));
        let (mut pixels, mut keypoints, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for sample in items {
            let map = self.draw(&sample, &mut rng);
            let image = match decode_frame(&sample.image) {
                Ok(image) => image,
                Err(e) => {
                    tracing::warn!("skipping person {}: {e}", sample.id);
                    continue;
                }
            };
            let (p, k) = self.crop(&image, &sample, &map);
            pixels.extend(p);
            keypoints.push(k);
            ids.push(sample.id);
        }
        let [h, w] = self.input_hw;
        PoseBatch {
            crops: Tensor::from_data(TensorData::new(pixels, [ids.len(), 3, h, w]), device),
            keypoints,
            ids,
        }
    }
}

/// COCO keypoint AP of `model` on the people of `truth` (their boxes, score 1, flip test),
/// images under `root`.
pub fn keypoint_ap<B: Backend>(
    model: &Cpn<B>,
    spec: &PoseSpec,
    truth: &CocoKeypoints,
    root: &Path,
    device: &B::Device,
) -> Result<KeypointStats, DataError> {
    let mut by_image: BTreeMap<i64, Vec<[f64; 4]>> = BTreeMap::new();
    for a in truth.annotations.iter().filter(|a| a.iscrowd == 0) {
        let [x, y, w, h] = a.bbox;
        by_image
            .entry(a.image_id)
            .or_default()
            .push([x, y, x + w, y + h]);
    }
    let options = PoseOptions {
        flip: true,
        batch: 32,
    };
    let mut results = Vec::new();
    for image in &truth.images {
        let Some(boxes) = by_image.get(&image.id) else {
            continue;
        };
        let frame = decode_frame(&root.join(&image.file_name))?;
        let scored: Vec<([f64; 4], f32)> = boxes.iter().map(|&b| (b, 1.0)).collect();
        for pose in poses_in_image(model, spec, &frame, &scored, options, device) {
            results.push(CocoKeypointResult {
                image_id: image.id,
                category_id: 1,
                keypoints: pose
                    .keypoints_px
                    .iter()
                    .flat_map(|&[x, y]| [x, y, 1.0])
                    .collect(),
                score: pose.score as f64,
            });
        }
    }
    evaluate_keypoints(truth, &results).map_err(|message| DataError::File {
        path: root.to_path_buf(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_maps_invert_and_flip_about_the_centre() {
        let map = CropMap {
            centre: [100.0, 80.0],
            scale: [2.0, 1.5],
            angle: 0.4,
            flip: true,
            input_hw: [64, 48],
        };
        for p in [[0.0, 0.0], [47.0, 63.0], [12.5, 30.25]] {
            let back = map.to_crop(map.to_image(p));
            assert!((back[0] - p[0]).abs() < 1e-9 && (back[1] - p[1]).abs() < 1e-9);
        }
        // Without rotation, the crop's centre is the image point, and a flip mirrors x.
        let plain = CropMap { angle: 0.0, ..map };
        let centre = plain.to_image([23.5, 31.5]);
        assert!((centre[0] - 99.5).abs() < 1e-12 && (centre[1] - 79.5).abs() < 1e-12);
        let left = plain.to_image([0.0, 31.5]);
        assert!(
            left[0] > centre[0],
            "flipped: crop x 0 is the image's right"
        );
    }
    /// A white dot at the nose keypoint of a black image: whatever zoom, rotation and flip a
    /// seed draws, the crop's brightest pixel is where the keypoint lands.
    #[test]
    fn augmented_keypoints_follow_the_pixels() {
        let dir = std::env::temp_dir().join(format!("avaloc-poseaug-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dot.png");
        let mut image = RgbImage::new(200, 150);
        for y in 69..=71 {
            for x in 119..=121 {
                image.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        image.save(&path).unwrap();
        let mut keypoints = vec![[120.0, 70.0, 2.0]];
        keypoints.extend((1..17).map(|k| [90.0 + 3.0 * k as f64, 100.0, 1.0]));
        let sample = PoseSample {
            image: path,
            box_xyxy_px: [90.0, 40.0, 150.0, 130.0],
            keypoints,
            id: 1,
        };
        let batcher = PoseBatcher {
            input_hw: [64, 48],
            mean: [0.0; 3],
            sampling: PoseSampling::default(),
            seed: 0,
        };
        let mut flips = 0;
        for seed in 0..12 {
            let mut rng = StdRng::seed_from_u64(seed);
            let map = batcher.draw(&sample, &mut rng);
            flips += map.flip as usize;
            let (pixels, kps) = batcher.crop(&image, &sample, &map);
            let red = &pixels[..64 * 48];
            let best = (0..red.len())
                .max_by(|&a, &b| red[a].total_cmp(&red[b]))
                .unwrap();
            let (bx, by) = ((best % 48) as f64, (best / 48) as f64);
            let [u, v, vis] = kps[0];
            assert_eq!(vis, 2.0);
            assert!(
                (bx - u).abs() <= 1.0 && (by - v).abs() <= 1.0,
                "seed {seed}: dot at ({bx}, {by}), keypoint at ({u:.2}, {v:.2}), {map:?}"
            );
        }
        assert!(flips > 0, "some draws flip");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
