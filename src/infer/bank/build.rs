//! Building a bank (`avaloc bank build`): a trained baseline action model's short-term
//! features S (FAIR's `box_pooled`) for every person box at every second of every video that
//! has boxes, under one test view, one file per video. Videos already in the folder are
//! skipped, so a killed build resumes; a [`crate::data::shard::Shard`] builds one share of the
//! videos, so that several machines fill one folder with no merge step.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::Result;
use burn::tensor::backend::Backend;

use crate::backend::Job;
use crate::data::bank::{
    BankEntry, BankError, BankManifest, VideoBank, file_bytes, video_path, write_video,
};
use crate::data::{
    ClipBatch, ClipBatcher, ClipTransform, KeyframeKey, KeyframeSample, LabelMap, Normalization,
    SeededBatcher,
};
use crate::models::action::ActionSpec;
use crate::progress::Progress;
use crate::weights::{Checkpoint, LoadMode};

/// The detection score of each detected box (keyframe, box bits); boxes not in it
/// (ground truth) score 1.
pub type ScoredBoxes = HashMap<(KeyframeKey, [u64; 4]), f32>;

/// Everything a build needs, resolved before a backend starts.
pub struct BankBuild {
    pub spec: ActionSpec,
    pub checkpoint: Checkpoint,
    pub manifest: BankManifest,
    /// Each video's keyframe samples (every second with boxes).
    pub videos: BTreeMap<String, Vec<KeyframeSample>>,
    pub scores: ScoredBoxes,
    pub out: PathBuf,
    /// Clips per forward pass.
    pub batch_size: usize,
}

/// What a build did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BuildSummary {
    pub written: usize,
    pub skipped: usize,
    pub features: usize,
}

impl BankBuild {
    /// Checks the folder's manifest against this build's (writing it into a new folder):
    /// a folder of another model, view or box source is an error naming the field.
    pub fn prepare_folder(&self) -> Result<(), BankError> {
        std::fs::create_dir_all(&self.out).map_err(|source| BankError::Io {
            path: self.out.clone(),
            source,
        })?;
        self.manifest.join_folder(&self.out)
    }

    /// Whether `video_id` is in the folder already, complete (writes are atomic; a damaged
    /// file is rebuilt).
    fn done(&self, video_id: &str) -> bool {
        VideoBank::open(&video_path(&self.out, video_id)).is_ok()
    }
}

impl Job for BankBuild {
    type Output = BuildSummary;

    fn run<B: Backend>(self, device: B::Device) -> Result<BuildSummary> {
        self.prepare_folder()?;
        // Opening a video's file checks all of it: once, here.
        let done: std::collections::HashSet<&String> =
            self.videos.keys().filter(|v| self.done(v)).collect();
        let boxes: usize = self
            .videos
            .iter()
            .filter(|(video_id, _)| !done.contains(video_id))
            .flat_map(|(_, samples)| samples.iter().map(|s| s.boxes_xyxy_norm.len()))
            .sum();
        crate::fs::check_free_space(
            &self.out,
            file_bytes(boxes, self.manifest.dim, self.manifest.dtype) as u64,
            "the bank",
        )?;
        let (model, _) = self
            .spec
            .load::<B>(&self.checkpoint, LoadMode::Strict, &device)?;
        let view = self.manifest.view;
        let batcher = ClipBatcher::new(
            ClipTransform::Test {
                short_side: view.short_side,
                flip: view.flip,
            },
            Normalization::default(),
            &LabelMap { labels: Vec::new() },
            0,
        );
        let keyframes = self.videos.values().map(Vec::len).sum();
        let progress = Progress::new("bank", keyframes, "keyframes");
        let mut summary = BuildSummary::default();
        for (video_id, samples) in &self.videos {
            if done.contains(video_id) {
                summary.skipped += 1;
                progress.advance(samples.len(), String::new);
                continue;
            }
            let mut entries = Vec::new();
            for chunk in samples.chunks(self.batch_size.max(1)) {
                let batch: ClipBatch<B> = batcher.batch(chunk.to_vec(), 0, &device);
                if !batch.roi_boxes_xyxy_norm.is_empty() {
                    let features = model
                        .clip_box_features(batch.clips, batch.rois)
                        .short_term
                        .into_data()
                        .convert::<f32>()
                        .into_vec::<f32>()
                        .map_err(|e| anyhow::anyhow!("reading features back: {e:?}"))?;
                    let dim = self.manifest.dim;
                    for ((b, bbox), feature) in
                        batch.roi_boxes_xyxy_norm.iter().zip(features.chunks(dim))
                    {
                        let key = &batch.keys[*b];
                        let score = self
                            .scores
                            .get(&(key.clone(), bbox.map(f64::to_bits)))
                            .copied()
                            .unwrap_or(1.0);
                        entries.push(BankEntry {
                            second: key.timestamp_s,
                            score,
                            box_xyxy_norm: bbox.map(|v| v as f32),
                            feature: feature.to_vec(),
                        });
                    }
                }
                progress.advance(chunk.len(), String::new);
            }
            summary.features += entries.len();
            write_video(
                &self.out,
                video_id,
                &entries,
                self.manifest.dim,
                self.manifest.dtype,
            )?;
            summary.written += 1;
        }
        progress.finish();
        Ok(summary)
    }
}
