//! Keyframe samples as a Burn `Dataset`, and the batcher that turns them into clip tensors,
//! RoIs and multi-hot labels.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::bank::{Bank, Pick, sample_window};
use super::loader::{SeededBatcher, mix_seed};
use super::{
    AVA_FPS, ClipTransform, DataError, FrameLayout, KeyframeKey, LabelMap, Normalization,
    PersonAnnotation, Region, TransformDraw, clip_frame_indices, keyframe_frame_index,
    kinetics_clip_start_s, list_frame_files, load_clip,
};
use crate::models::action::{ClipSpec, WindowSpec};

/// One keyframe with its people: the clip's frame paths, boxes and actions.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyframeSample {
    pub key: KeyframeKey,
    pub frames: Vec<PathBuf>,
    pub boxes_xyxy_norm: Vec<[f64; 4]>,
    pub actions: Vec<Vec<i64>>,
    /// A clip of its one box alone: every frame cut to [`Region::around`] the box with this
    /// zoom (the arm branch's arm-centred clips).
    pub zoom: Option<f64>,
}

/// Keyframes of a dataset on disk, one sample per keyframe.
pub struct AvaKeyframes {
    samples: Vec<KeyframeSample>,
}

impl AvaKeyframes {
    /// Samples for the annotated keyframes of videos stored under `root` in `layout`, each
    /// video starting at `video_start_s` (900 for AVA) but AVA-Kinetics' Kinetics clips
    /// (`<youtube_id>_<start:06>_<end:06>`), which start at their own second (their
    /// timestamps are the source video's). A video whose frame directory is
    /// missing or empty is an error naming the directory.
    pub fn new(
        people: &[PersonAnnotation],
        root: &Path,
        layout: FrameLayout,
        video_start_s: i64,
        clip: ClipSpec,
    ) -> Result<Self, DataError> {
        let mut frame_counts: HashMap<String, usize> = HashMap::new();
        let start = |id: &str| kinetics_clip_start_s(id).unwrap_or(video_start_s);
        Self::build(people, start, |video_id, center| {
            let count = match frame_counts.get(video_id) {
                Some(&n) => n,
                None => {
                    let n = count_frames(root, layout, video_id)?;
                    frame_counts.insert(video_id.to_string(), n);
                    n
                }
            };
            Ok(
                clip_frame_indices(center, clip.num_frames, clip.stride, count)
                    .into_iter()
                    .map(|i| layout.frame_path(root, video_id, i))
                    .collect(),
            )
        })
    }

    /// Samples for the keyframes of one video whose frames (at 30 fps from `video_start_s`)
    /// are `frames`, in order; people of other videos are an error naming `video_id`.
    pub fn from_frame_files(
        people: &[PersonAnnotation],
        video_id: &str,
        frames: &[PathBuf],
        video_start_s: i64,
        clip: ClipSpec,
    ) -> Result<Self, DataError> {
        Self::build(
            people,
            |_| video_start_s,
            |id, center| {
                if id != video_id {
                    return Err(DataError::File {
                        path: frames.first().cloned().unwrap_or_default(),
                        message: format!(
                            "the boxes name video {id:?}, but these frames are video {video_id:?}"
                        ),
                    });
                }
                Ok(
                    clip_frame_indices(center, clip.num_frames, clip.stride, frames.len())
                        .into_iter()
                        .map(|i| frames[i].clone())
                        .collect(),
                )
            },
        )
    }

    /// One sample per keyframe of `people`, its clip's frames from `clip_frames(video_id,
    /// keyframe frame index)`.
    fn build(
        people: &[PersonAnnotation],
        video_start_s: impl Fn(&str) -> i64,
        mut clip_frames: impl FnMut(&str, i64) -> Result<Vec<PathBuf>, DataError>,
    ) -> Result<Self, DataError> {
        let mut by_key: BTreeMap<&KeyframeKey, Vec<&PersonAnnotation>> = BTreeMap::new();
        for person in people {
            by_key.entry(&person.key).or_default().push(person);
        }
        let mut samples = Vec::with_capacity(by_key.len());
        for (key, people) in by_key {
            let center =
                keyframe_frame_index(key.timestamp_s, video_start_s(&key.video_id), AVA_FPS);
            samples.push(KeyframeSample {
                key: key.clone(),
                frames: clip_frames(&key.video_id, center)?,
                boxes_xyxy_norm: people.iter().map(|p| p.box_xyxy_norm).collect(),
                actions: people.iter().map(|p| p.actions.clone()).collect(),
                zoom: None,
            });
        }
        Ok(Self { samples })
    }
}

impl AvaKeyframes {
    pub fn from_samples(samples: Vec<KeyframeSample>) -> Self {
        Self { samples }
    }

    pub fn samples(&self) -> &[KeyframeSample] {
        &self.samples
    }

    pub fn into_samples(self) -> Vec<KeyframeSample> {
        self.samples
    }

    /// One sample per box instead of per keyframe, each a clip zoomed in on its box.
    pub fn zoomed(self, zoom: f64) -> Self {
        let samples = self
            .samples
            .into_iter()
            .flat_map(|s| {
                s.boxes_xyxy_norm
                    .iter()
                    .zip(&s.actions)
                    .map(|(b, actions)| KeyframeSample {
                        key: s.key.clone(),
                        frames: s.frames.clone(),
                        boxes_xyxy_norm: vec![*b],
                        actions: vec![actions.clone()],
                        zoom: Some(zoom),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        Self { samples }
    }
}

impl Dataset<KeyframeSample> for AvaKeyframes {
    fn get(&self, index: usize) -> Option<KeyframeSample> {
        self.samples.get(index).cloned()
    }

    fn len(&self) -> usize {
        self.samples.len()
    }
}

/// Number of frames of a video in `layout` (the files in its frame directory).
fn count_frames(root: &Path, layout: FrameLayout, video_id: &str) -> Result<usize, DataError> {
    let first = layout.frame_path(root, video_id, 0);
    let dir = first.parent().expect("frame paths have a directory");
    Ok(list_frame_files(dir)?.len())
}

/// A batch of clips: `clips` `[B, 3, T, H, W]` (zero-padded at the right and bottom to the
/// largest frame in the batch), `rois` `[K, 5]` rows `(batch_index, x1, y1, x2, y2)` in input
/// pixels, `labels` `[K, classes]` multi-hot over the label map's order; `keys` per clip and
/// `roi_boxes_xyxy_norm` (each RoI's box in the original frame) per RoI, for writing results.
/// Boxes that a training crop cut away entirely are left out.
#[derive(Debug, Clone)]
pub struct ClipBatch<B: Backend> {
    pub clips: Tensor<B, 5>,
    pub rois: Tensor<B, 2>,
    pub labels: Tensor<B, 2>,
    pub keys: Vec<KeyframeKey>,
    pub roi_boxes_xyxy_norm: Vec<(usize, [f64; 4])>,
    /// Each RoI's window of the long-term feature bank `[K, M, D]`, for a model with one.
    pub bank: Option<Tensor<B, 3>>,
}

/// Where a batcher reads bank windows: the bank, the window, and whether to draw features at
/// random (training) or take the best (test).
#[derive(Debug, Clone)]
pub struct BankWindows {
    pub bank: std::sync::Arc<Bank>,
    pub window: WindowSpec,
    pub random: bool,
}

/// Decodes and transforms the clips of a batch. A sample whose frames cannot be read is
/// skipped with a warning naming the file (one bad JPEG should not stop an epoch).
pub struct ClipBatcher {
    transform: ClipTransform,
    norm: Normalization,
    classes: Vec<i64>,
    seed: u64,
    bank: Option<BankWindows>,
}

impl ClipBatcher {
    /// Also read each RoI's bank window (a model with a feature bank).
    pub fn with_bank(mut self, bank: BankWindows) -> Self {
        self.bank = Some(bank);
        self
    }

    /// The windows of the RoIs `(clip, box)` of keyframes `keys`, `[K, M, D]` row-major.
    fn windows(
        &self,
        keys: &[KeyframeKey],
        rois: &[(usize, [f64; 4])],
        seed: u64,
    ) -> Option<(Vec<f32>, [usize; 3])> {
        let windows = self.bank.as_ref()?;
        let (rows, dim) = (windows.window.rows(), windows.bank.manifest.dim);
        let mut values = vec![0f32; rois.len() * rows * dim];
        for (r, (b, _)) in rois.iter().enumerate() {
            let key = &keys[*b];
            let pick = if windows.random {
                Pick::Random(mix_seed(&[self.seed, seed, r as u64, 2]))
            } else {
                Pick::Best
            };
            match windows.bank.video(&key.video_id) {
                Ok(video) => {
                    let w = sample_window(&video, key.timestamp_s, windows.window, pick);
                    values[r * rows * dim..(r + 1) * rows * dim].copy_from_slice(&w.features);
                }
                // Runs check every video up front; an empty window is all that is left to do.
                Err(e) => tracing::warn!("keyframe {key}: an empty bank window: {e}"),
            }
        }
        Some((values, [rois.len(), rows, dim]))
    }

    pub fn new(
        transform: ClipTransform,
        norm: Normalization,
        labels: &LabelMap,
        seed: u64,
    ) -> Self {
        Self {
            transform,
            norm,
            classes: labels.labels.iter().map(|l| l.id).collect(),
            seed,
            bank: None,
        }
    }

    /// The clip of `sample` under the transform drawn from `seed`.
    fn load(
        &self,
        sample: &KeyframeSample,
        seed: u64,
    ) -> Result<(super::ClipPixels, Vec<[f32; 4]>), DataError> {
        let first = &sample.frames[0];
        let (width, height) = image::image_dimensions(first).map_err(|e| DataError::File {
            path: first.clone(),
            message: format!("cannot read image size: {e}"),
        })?;
        let mut rng = StdRng::seed_from_u64(seed);
        let region = match (sample.zoom, sample.boxes_xyxy_norm.as_slice()) {
            (Some(zoom), [one]) => Some(Region::around(*one, zoom, [width, height])),
            _ => None,
        };
        let [w, h] = region.map_or([width, height], |r| [r.px[2], r.px[3]]);
        let draw = TransformDraw {
            region,
            ..self.transform.draw(w, h, &mut rng)
        };
        let clip = load_clip(&sample.frames, &draw, &self.norm)?;
        let boxes = sample
            .boxes_xyxy_norm
            .iter()
            .map(|b| draw.apply_to_box(*b))
            .collect();
        Ok((clip, boxes))
    }
}

impl<B: Backend> SeededBatcher<B, KeyframeSample, ClipBatch<B>> for ClipBatcher {
    /// Each sample's transform is drawn from the batcher's seed, `seed` and its place in the
    /// batch (test transforms draw nothing).
    fn batch(&self, items: Vec<KeyframeSample>, seed: u64, device: &B::Device) -> ClipBatch<B> {
        let mut loaded = Vec::with_capacity(items.len());
        for (i, sample) in items.into_iter().enumerate() {
            match self.load(&sample, mix_seed(&[self.seed, seed, i as u64])) {
                Ok((clip, boxes)) => loaded.push((sample, clip, boxes)),
                Err(e) => tracing::warn!("skipping keyframe {}: {e}", sample.key),
            }
        }
        let t = loaded.first().map_or(0, |(_, c, _)| c.shape[1]);
        let h = loaded.iter().map(|(_, c, _)| c.shape[2]).max().unwrap_or(0);
        let w = loaded.iter().map(|(_, c, _)| c.shape[3]).max().unwrap_or(0);
        let mut clips = vec![0f32; loaded.len() * 3 * t * h * w];
        let mut rois = Vec::new();
        let mut labels = Vec::new();
        let mut keys = Vec::with_capacity(loaded.len());
        let mut roi_boxes_xyxy_norm = Vec::new();
        for (b, (sample, clip, boxes)) in loaded.iter().enumerate() {
            let [_, _, ch, cw] = clip.shape;
            for plane in 0..3 * t {
                for y in 0..ch {
                    let src = (plane * ch + y) * cw;
                    let dst = ((b * 3 * t + plane) * h + y) * w;
                    clips[dst..dst + cw].copy_from_slice(&clip.values[src..src + cw]);
                }
            }
            let people = boxes
                .iter()
                .zip(&sample.actions)
                .zip(&sample.boxes_xyxy_norm);
            for ((bbox, actions), original) in people {
                if bbox[2] <= bbox[0] || bbox[3] <= bbox[1] {
                    continue;
                }
                roi_boxes_xyxy_norm.push((b, *original));
                rois.extend([b as f32, bbox[0], bbox[1], bbox[2], bbox[3]]);
                labels.extend(
                    self.classes
                        .iter()
                        .map(|c| actions.contains(c) as u8 as f32),
                );
            }
            keys.push(sample.key.clone());
        }
        let k = rois.len() / 5;
        let bank = self
            .windows(&keys, &roi_boxes_xyxy_norm, seed)
            .map(|(values, shape)| Tensor::from_data(TensorData::new(values, shape), device));
        ClipBatch {
            clips: Tensor::from_data(TensorData::new(clips, [loaded.len(), 3, t, h, w]), device),
            rois: Tensor::from_data(TensorData::new(rois, [k, 5]), device),
            labels: Tensor::from_data(TensorData::new(labels, [k, self.classes.len()]), device),
            keys,
            roi_boxes_xyxy_norm,
            bank,
        }
    }
}
