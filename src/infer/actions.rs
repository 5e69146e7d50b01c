//! The standard AVA test mode: for every keyframe the clip around it, and the action model's
//! scores for every given person box, averaged over the test views (short sides × flips; the
//! seed system sums six, which ranks identically).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;

use crate::backend::Job;
use crate::config::{ActionFile, TestViews};
use crate::data::bank::{Bank, BankView};
use crate::data::{
    AvaRow, BankWindows, ClipBatch, ClipBatcher, ClipTransform, KeyframeKey, KeyframeSample,
    LabelMap, Normalization, PersonScores, SeededBatcher,
};
use crate::models::action::{ActionModel, ActionSpec};
use crate::progress::Progress;
use crate::weights::{Checkpoint, LoadMode};

/// Scores every box of every sample, `views.batch_size` clips at a time, calling `progress`
/// with the number of samples done. A model with a feature bank reads, under each view, the
/// windows (best features first) of the bank built under that view (FAIR re-extracts the
/// bank per test view), or of the first bank where no bank has that view. Samples whose
/// frames cannot be read are skipped with a warning (by the batcher); their boxes are absent
/// from the result.
pub fn score_keyframes<B: Backend>(
    model: &ActionModel<B>,
    samples: &[KeyframeSample],
    views: &TestViews,
    norm: Normalization,
    banks: &[BankWindows],
    device: &B::Device,
    progress: impl FnMut(usize),
) -> Vec<PersonScores> {
    let mut heads = score_with_heads(model, &[], samples, views, norm, banks, device, progress);
    heads.swap_remove(0)
}

/// [`score_keyframes`] with more classifiers on the same backbone pass: `model`'s scores
/// first, then each of `heads`' (models whose backbone is `model`'s, e.g. an arm branch
/// trained with `freeze_backbone`; they read no bank), every box scored by each.
#[allow(clippy::too_many_arguments)]
pub fn score_with_heads<B: Backend>(
    model: &ActionModel<B>,
    heads: &[&ActionModel<B>],
    samples: &[KeyframeSample],
    views: &TestViews,
    norm: Normalization,
    banks: &[BankWindows],
    device: &B::Device,
    mut progress: impl FnMut(usize),
) -> Vec<Vec<PersonScores>> {
    let no_labels = LabelMap { labels: Vec::new() };
    let batchers: Vec<ClipBatcher> = views
        .views()
        .into_iter()
        .map(|view| {
            let BankView { short_side, flip } = view;
            let batcher = ClipBatcher::new(
                ClipTransform::Test { short_side, flip },
                norm,
                &no_labels,
                0,
            );
            let bank = banks
                .iter()
                .find(|b| b.bank.manifest.view == view)
                .or(banks.first());
            match bank {
                Some(bank) => batcher.with_bank(BankWindows {
                    random: false,
                    ..bank.clone()
                }),
                None => batcher,
            }
        })
        .collect();
    let mut order: Vec<(KeyframeKey, [f64; 4])> = Vec::new();
    let mut sums: HashMap<(KeyframeKey, [u64; 4]), Vec<Vec<f32>>> = HashMap::new();
    let mut done = 0;
    for chunk in samples.chunks(views.batch_size.max(1)) {
        for batcher in &batchers {
            // Test transforms draw nothing: any seed gives the same clips.
            let batch: ClipBatch<B> = batcher.batch(chunk.to_vec(), 0, device);
            if batch.roi_boxes_xyxy_norm.is_empty() {
                continue;
            }
            let maps = model.clip_maps(batch.clips);
            let mut scores = vec![model.map_logits(maps.clone(), batch.rois.clone(), batch.bank)];
            scores.extend(
                heads
                    .iter()
                    .map(|head| head.map_logits(maps.clone(), batch.rois.clone(), None)),
            );
            let scores: Vec<Vec<f32>> = scores
                .into_iter()
                .map(|logits| {
                    sigmoid(logits)
                        .into_data()
                        .convert::<f32>()
                        .into_vec::<f32>()
                        .expect("f32 scores")
                })
                .collect();
            let rois = batch.roi_boxes_xyxy_norm.len();
            for (r, (b, bbox)) in batch.roi_boxes_xyxy_norm.iter().enumerate() {
                let key = batch.keys[*b].clone();
                let sum = sums
                    .entry((key.clone(), bbox.map(f64::to_bits)))
                    .or_insert_with(|| {
                        order.push((key, *bbox));
                        scores.iter().map(|s| vec![0.0; s.len() / rois]).collect()
                    });
                for (head_sum, head_scores) in sum.iter_mut().zip(&scores) {
                    let classes = head_scores.len() / rois;
                    let row = &head_scores[r * classes..(r + 1) * classes];
                    for (s, v) in head_sum.iter_mut().zip(row) {
                        *s += v;
                    }
                }
            }
        }
        done += chunk.len();
        progress(done);
    }
    let views = batchers.len() as f32;
    let mut out = vec![Vec::with_capacity(order.len()); heads.len() + 1];
    for (key, bbox) in order {
        let per_head = sums
            .remove(&(key.clone(), bbox.map(f64::to_bits)))
            .expect("scored");
        for (list, head_sum) in out.iter_mut().zip(per_head) {
            list.push(PersonScores {
                key: key.clone(),
                box_xyxy_norm: bbox,
                scores: head_sum.into_iter().map(|s| s / views).collect(),
            });
        }
    }
    out
}

/// AVA detection rows (one per box and class, the score last) for scores over `labels`'s
/// classes in order.
pub fn detection_rows(people: &[PersonScores], labels: &LabelMap) -> Vec<AvaRow> {
    people
        .iter()
        .flat_map(|p| {
            labels
                .labels
                .iter()
                .zip(&p.scores)
                .map(|(label, score)| AvaRow {
                    key: p.key.clone(),
                    box_xyxy_norm: p.box_xyxy_norm,
                    action_id: label.id,
                    last: Some(*score as f64),
                    line: 0,
                })
        })
        .collect()
}

/// Scoring a dataset's keyframes as a job on any backend: the action model of a config with
/// its checkpoint, over samples, under test views, with a progress bar.
pub struct ActionScoring {
    spec: ActionSpec,
    checkpoint: Checkpoint,
    samples: Vec<KeyframeSample>,
    views: TestViews,
    banks: Vec<BankWindows>,
}

impl ActionScoring {
    /// Checks that the model's classes are the label map's.
    pub fn new(
        config: &ActionFile,
        checkpoint: Checkpoint,
        labels: &LabelMap,
        samples: Vec<KeyframeSample>,
        views: TestViews,
    ) -> anyhow::Result<Self> {
        Self::with_banks(config, checkpoint, labels, samples, views, Vec::new())
    }

    /// The same for a model with a feature bank, reading `banks` (one per test view, or one
    /// for all; each checked against the model: its width, and every sample's video present).
    pub fn with_banks(
        config: &ActionFile,
        checkpoint: Checkpoint,
        labels: &LabelMap,
        samples: Vec<KeyframeSample>,
        views: TestViews,
        banks: Vec<Arc<Bank>>,
    ) -> anyhow::Result<Self> {
        config.check_labels(labels, None)?;
        let banks = if banks.is_empty() {
            bank_windows(config, None, &samples, false)?
                .into_iter()
                .collect()
        } else {
            banks
                .into_iter()
                .map(|b| bank_windows(config, Some(b), &samples, false))
                .collect::<anyhow::Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect()
        };
        Ok(Self {
            spec: config.network.clone(),
            checkpoint,
            samples,
            views,
            banks,
        })
    }
}

impl Job for ActionScoring {
    type Output = Vec<PersonScores>;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Vec<PersonScores>> {
        let (model, _) = self
            .spec
            .load::<B>(&self.checkpoint, LoadMode::Strict, &device)?;
        let progress = Progress::new("actions", self.samples.len(), "keyframes");
        let people = score_keyframes(
            &model,
            &self.samples,
            &self.views,
            Normalization::default(),
            &self.banks,
            &device,
            |done| progress.set(done, String::new),
        );
        progress.finish();
        Ok(people)
    }
}

/// An action model and an arm branch sharing its backbone (trained with `[train.action]
/// freeze_backbone` from the model's weights), scored in one backbone pass per clip: the
/// model's scores and the arm branch's, for every box. The two backbones must be equal.
pub struct SharedArmScoring {
    pub scoring: ActionScoring,
    pub arm_spec: ActionSpec,
    pub arm_checkpoint: Checkpoint,
}

impl Job for SharedArmScoring {
    type Output = (Vec<PersonScores>, Vec<PersonScores>);

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Self::Output> {
        let Self {
            scoring,
            arm_spec,
            arm_checkpoint,
        } = self;
        let (model, _) = scoring
            .spec
            .load::<B>(&scoring.checkpoint, LoadMode::Strict, &device)?;
        let (arm, _) = arm_spec.load::<B>(&arm_checkpoint, LoadMode::Strict, &device)?;
        if backbone_values(&model) != backbone_values(&arm) {
            anyhow::bail!(
                "{}: the arm branch's backbone is not the action model's ({}): train it with \
                 [train.action] freeze_backbone from these weights, or score it separately",
                arm_checkpoint.path().display(),
                scoring.checkpoint.path().display()
            );
        }
        let progress = Progress::new("actions", scoring.samples.len(), "keyframes");
        let mut scored = score_with_heads(
            &model,
            &[&arm],
            &scoring.samples,
            &scoring.views,
            Normalization::default(),
            &scoring.banks,
            &device,
            |done| progress.set(done, String::new),
        );
        progress.finish();
        let arm_scores = scored.pop().expect("the arm head's scores");
        Ok((scored.pop().expect("the model's scores"), arm_scores))
    }
}

/// Every backbone weight of `model`, in visiting order.
fn backbone_values<B: Backend>(model: &ActionModel<B>) -> Vec<burn::tensor::TensorData> {
    struct Values(Vec<burn::tensor::TensorData>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Values {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
            self.0.push(param.val().into_data());
        }
    }
    let mut values = Values(Vec::new());
    burn::module::Module::visit(&model.backbone, &mut values);
    values.0
}

/// Each keyframe's own frame: the middle of its clip.
pub fn keyframe_images(samples: &[KeyframeSample]) -> BTreeMap<KeyframeKey, PathBuf> {
    samples
        .iter()
        .map(|s| (s.key.clone(), s.frames[s.frames.len() / 2].clone()))
        .collect()
}

/// The bank windows a model reads, checked: a model with a bank needs one (`random` draws at
/// training), its features must be the width the model reads, and every sample's video must
/// be in it; a model without a bank takes none.
pub fn bank_windows(
    config: &ActionFile,
    bank: Option<Arc<Bank>>,
    samples: &[KeyframeSample],
    random: bool,
) -> anyhow::Result<Option<BankWindows>> {
    let model = config.network.model_config();
    match (model.bank, bank, config.network.bank_window()) {
        (None, None, _) => Ok(None),
        (None, Some(bank), _) => Err(config
            .invalid(format!(
                "the model has no [network.bank] table, yet a bank ({}) was given",
                bank.dir().display()
            ))
            .into()),
        (Some(_), None, _) => Err(config
            .invalid("the model reads a feature bank ([network.bank]): give one with --bank".into())
            .into()),
        (Some(fbo), Some(bank), Some(window)) => {
            bank.check_dim(fbo.bank_dim)?;
            let videos: std::collections::BTreeSet<&str> =
                samples.iter().map(|s| s.key.video_id.as_str()).collect();
            for video in videos {
                bank.video(video)?;
            }
            Ok(Some(BankWindows {
                bank,
                window,
                random,
            }))
        }
        (Some(_), Some(_), None) => unreachable!("a bank operator comes with its window"),
    }
}
