//! What `bank build` is asked for — a model, a split and its boxes, a view, a storage type,
//! a share — resolved into a [`BankBuild`] job: the boxes read, the keyframe samples of
//! every second with boxes, and the manifest.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::BankBuild;
use crate::config::ActionFile;
use crate::data::bank::{BankDtype, BankManifest, BankView, BoxSource};
use crate::data::shard::Shard;
use crate::data::{
    DatasetFiles, PersonAnnotation, annotated_people, keyframe_samples, read_person_boxes,
    unlabelled_people,
};
use crate::fs::file_digest;
use crate::weights::Checkpoint;

/// Whose videos a bank holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Train,
    Val,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
        }
    }
}

/// A bank build as asked for.
#[derive(Debug, Clone)]
pub struct BankRequest {
    /// The baseline action model's config and weights (its features are what is stored).
    pub config: PathBuf,
    pub weights: PathBuf,
    pub dataset: DatasetFiles,
    /// The training split takes its ground-truth boxes unless `boxes` is given; the
    /// validation split its detections (`boxes`, default the dataset's
    /// `ava_detection_val_boxes_and_labels.csv`) scoring at least `box_threshold`.
    pub split: Split,
    pub boxes: Option<PathBuf>,
    pub box_threshold: f64,
    /// Short side of the clips (default: the config's first test.short_sides), and flipped.
    pub short_side: Option<u32>,
    pub flip: bool,
    pub dtype: BankDtype,
    /// One share of the videos.
    pub shard: Option<Shard>,
    pub out: PathBuf,
}

impl BankRequest {
    /// The job, with every file read.
    pub fn job(&self) -> Result<BankBuild> {
        let config = ActionFile::load(&self.config)?;
        let files = &self.dataset;
        let (people, scores, boxes): (Vec<PersonAnnotation>, HashMap<_, f32>, String) =
            match (&self.boxes, self.split) {
                (None, Split::Train) => {
                    let csv = files.train_csv();
                    let people = annotated_people(&csv)?;
                    let source = format!("ground truth: {}", csv.display());
                    (people, HashMap::new(), source)
                }
                (boxes, _) => {
                    let path = boxes.clone().unwrap_or_else(|| {
                        files
                            .root
                            .join("annotations/ava_detection_val_boxes_and_labels.csv")
                    });
                    let detected = read_person_boxes(&path, self.box_threshold)?;
                    let scores = detected
                        .iter()
                        .map(|b| {
                            let key = (b.key.clone(), b.box_xyxy_norm.map(f64::to_bits));
                            (key, b.score as f32)
                        })
                        .collect();
                    let source = path.display().to_string();
                    (unlabelled_people(&detected), scores, source)
                }
            };
        let mut by_video: BTreeMap<String, Vec<PersonAnnotation>> = BTreeMap::new();
        for p in people {
            by_video.entry(p.key.video_id.clone()).or_default().push(p);
        }
        let clip = config.network.clip_spec();
        // Videos already in the folder are skipped by the build itself, which opens each file
        // to check it (localize's bank stage builds with the same job).
        let videos = self
            .shard
            .unwrap_or(Shard::ALL)
            .work(
                by_video,
                |_| false,
                |_, people| {
                    keyframe_samples(&people, &files.root, clip)
                        .map(|s| s.samples().to_vec())
                        .with_context(|| format!("keyframes under {}", files.root.display()))
                },
            )?
            .todo;
        let ground_truth = self.boxes.is_none() && self.split == Split::Train;
        let manifest = BankManifest {
            format_version: 1,
            model_config: self.config.display().to_string(),
            config_digest: crate::config::config_digest(&self.config)?,
            weights_digest: file_digest(&self.weights)?,
            dim: config.network.bank_feature_dim(),
            dtype: self.dtype,
            view: BankView {
                short_side: self.short_side.unwrap_or(config.test.short_sides[0]),
                flip: self.flip,
            },
            splits: [(
                self.split.name().to_string(),
                BoxSource {
                    boxes,
                    box_threshold: if ground_truth {
                        0.0
                    } else {
                        self.box_threshold
                    },
                },
            )]
            .into(),
        };
        Ok(BankBuild {
            spec: config.network.clone(),
            checkpoint: Checkpoint::open(&self.weights)?,
            manifest,
            videos,
            scores,
            out: self.out.clone(),
            batch_size: config.test.batch_size,
        })
    }
}
