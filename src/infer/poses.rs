//! Keypoints for person boxes at keyframes, as tf-cpn tests: each box's crop (and its mirror
//! image, for the flip test) through CPN, the RefineNet heatmaps merged and decoded, the box
//! rescored by its keypoints.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::tensor::{Tensor, TensorData, backend::Backend};

use crate::backend::Job;
use crate::data::{
    DataError, KeyframeKey, PersonBox, PersonKeypoints, decode_frame, write_keypoints,
};
use image::RgbImage;

use crate::data::shard::VideoFiles;
use crate::models::pose::{
    Cpn, CropBox, PersonPose, PoseSpec, crop_person, decode_heatmaps, merge_flipped,
};
use crate::progress::Progress;
use crate::weights::{Checkpoint, LoadMode};

/// How poses are estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoseOptions {
    /// Average with the mirrored crop's heatmaps (tf-cpn's test does).
    pub flip: bool,
    /// Crops per forward pass (a flipped crop counts too).
    pub batch: usize,
}

/// The poses of the people in `image` whose boxes (`[x1, y1, x2, y2]` in pixels) and scores
/// are `boxes`, in their order, `options.batch` crops per forward pass.
pub fn poses_in_image<B: Backend>(
    model: &Cpn<B>,
    spec: &PoseSpec,
    image: &RgbImage,
    boxes: &[([f64; 4], f32)],
    options: PoseOptions,
    device: &B::Device,
) -> Vec<PersonPose> {
    let input_hw = spec.model_config().input_hw;
    let output_hw = spec.output_size();
    let mean = spec.pixel_mean();
    let per_box = if options.flip { 2 } else { 1 };
    let mut poses = Vec::with_capacity(boxes.len());
    for chunk in boxes.chunks((options.batch / per_box).max(1)) {
        let crops: Vec<CropBox> = chunk
            .iter()
            .map(|(b, _)| CropBox::around(*b, input_hw))
            .collect();
        let mut pixels = Vec::new();
        for crop in &crops {
            let plain = crop_person(image, crop, input_hw, mean);
            let flipped = options.flip.then(|| mirrored(&plain, input_hw));
            pixels.extend(plain);
            pixels.extend(flipped.into_iter().flatten());
        }
        let n = crops.len() * per_box;
        let input = Tensor::<B, 4>::from_data(
            TensorData::new(pixels, [n, 3, input_hw[0], input_hw[1]]),
            device,
        );
        let values: Vec<f32> = model
            .forward(input)
            .refine
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 heatmaps");
        let plane = values.len() / n;
        for (j, ((_, score), crop)) in chunk.iter().zip(&crops).enumerate() {
            // The crop's heatmaps, then its mirror image's.
            let at = |k: usize| &values[(j * per_box + k) * plane..][..plane];
            let mut heatmap = at(0).to_vec();
            if options.flip {
                merge_flipped(&mut heatmap, at(1), output_hw);
            }
            poses.push(decode_heatmaps(&heatmap, output_hw, crop, input_hw, *score));
        }
    }
    poses
}

/// The keypoints of every box in `people` on its keyframe's image in `images`, in the order
/// of `people`; `progress` gets the number of boxes done. A keyframe without an image, or one
/// that cannot be read, is an error naming it.
pub fn estimate_poses<B: Backend>(
    model: &Cpn<B>,
    spec: &PoseSpec,
    people: &[PersonBox],
    images: &BTreeMap<KeyframeKey, PathBuf>,
    options: PoseOptions,
    device: &B::Device,
    mut progress: impl FnMut(usize),
) -> Result<Vec<PersonKeypoints>, DataError> {
    let mut by_key: BTreeMap<&KeyframeKey, Vec<usize>> = BTreeMap::new();
    for (i, p) in people.iter().enumerate() {
        by_key.entry(&p.key).or_default().push(i);
    }
    let mut results: Vec<Option<PersonKeypoints>> = vec![None; people.len()];
    let mut done = 0;
    for (key, indices) in by_key {
        let path = images.get(key).ok_or_else(|| DataError::File {
            path: PathBuf::from(&key.video_id),
            message: format!("no frame for keyframe {}", key.timestamp_s),
        })?;
        let image = decode_frame(path)?;
        let (w, h) = (image.width() as f64, image.height() as f64);
        let boxes: Vec<([f64; 4], f32)> = indices
            .iter()
            .map(|&i| {
                let b = people[i].box_xyxy_norm;
                (
                    [b[0] * w, b[1] * h, b[2] * w, b[3] * h],
                    people[i].score as f32,
                )
            })
            .collect();
        let poses = poses_in_image(model, spec, &image, &boxes, options, device);
        for (&i, pose) in indices.iter().zip(poses) {
            let person = &people[i];
            results[i] = Some(PersonKeypoints {
                key: person.key.clone(),
                box_xyxy_norm: person.box_xyxy_norm,
                person_id: -1,
                score: pose.score as f64,
                keypoints: pose
                    .keypoints_px
                    .iter()
                    .zip(&pose.scores)
                    .map(|(&[x, y], &s)| [x / w, y / h, s as f64])
                    .collect(),
            });
        }
        done += indices.len();
        progress(done);
    }
    Ok(results.into_iter().flatten().collect())
}

/// `[3, H, W]` planes mirrored left to right.
fn mirrored(planes: &[f32], [h, w]: [usize; 2]) -> Vec<f32> {
    let mut out = planes.to_vec();
    for row in out.chunks_exact_mut(w) {
        row.reverse();
    }
    debug_assert_eq!(out.len(), 3 * h * w);
    out
}

/// `avaloc poses` as a job on any backend.
pub struct PoseEstimation {
    pub spec: PoseSpec,
    pub checkpoint: Checkpoint,
    pub people: Vec<PersonBox>,
    pub images: BTreeMap<KeyframeKey, PathBuf>,
    pub options: PoseOptions,
    /// Where given, each video's keypoints go into its own file there as soon as its people
    /// are done, so that a killed run keeps what it did.
    pub per_video: Option<VideoFiles>,
}

impl Job for PoseEstimation {
    type Output = Vec<PersonKeypoints>;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Vec<PersonKeypoints>> {
        let (model, _) = self
            .spec
            .load::<B>(&self.checkpoint, LoadMode::Strict, &device)?;
        let progress = Progress::new("poses", self.people.len(), "persons");
        let groups: Vec<Vec<PersonBox>> = match &self.per_video {
            Some(_) => {
                let mut by_video: BTreeMap<&str, Vec<PersonBox>> = BTreeMap::new();
                for p in &self.people {
                    by_video.entry(&p.key.video_id).or_default().push(p.clone());
                }
                by_video.into_values().collect()
            }
            None => vec![self.people],
        };
        let mut poses = Vec::new();
        let mut offset = 0;
        for people in groups {
            let before = poses.len();
            poses.extend(estimate_poses(
                &model,
                &self.spec,
                &people,
                &self.images,
                self.options,
                &device,
                |done| progress.set(offset + done, String::new),
            )?);
            offset += people.len();
            if let (Some(files), Some(first)) = (&self.per_video, people.first()) {
                let path = files.path(&first.key.video_id);
                write_keypoints(&path, &poses[before..])
                    .map_err(|source| DataError::Io { path, source })?;
            }
        }
        progress.finish();
        Ok(poses)
    }
}
