//! Training the action model on an AVA-format dataset: one sample per annotated keyframe, its
//! ground-truth people (plus detected boxes that overlap one at IoU ≥ 0.9, labelled with its
//! actions, as the LFB / PySlowFast training lists), a binary cross-entropy over the
//! multi-hot labels; validation is the frame-mAP of the official protocol.

use std::collections::HashSet;

use burn::module::{AutodiffModule, Module};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::{TrainOutput, TrainStep};

use super::StepLosses;
use crate::config::TestViews;
use crate::data::{
    AvaKeyframes, AvaRow, BankWindows, ClipBatch, KeyframeKey, LabelMap, Normalization,
};
use crate::eval::{EvalOptions, FrameMapResult, evaluate};
use crate::infer::{detection_rows, score_keyframes};
use crate::models::action::{ActionModel, pack_pathways};
use crate::nn::losses::bce_with_logits_mean;

/// The action model as a training step.
#[derive(Module, Debug)]
pub struct ActionTraining<B: Backend> {
    pub model: ActionModel<B>,
    /// Train the heads only, on the backbone's features as they are (`[train.action]
    /// freeze_backbone`: an arm branch sharing the action model's backbone).
    #[module(skip)]
    pub frozen_backbone: bool,
}

impl<B: AutodiffBackend> TrainStep for ActionTraining<B> {
    type Input = ClipBatch<B>;
    type Output = StepLosses;

    fn step(&self, batch: ClipBatch<B>) -> TrainOutput<StepLosses> {
        let description = {
            let names: Vec<String> = batch.keys.iter().map(|k| k.to_string()).collect();
            format!("keyframes {}", names.join(" "))
        };
        let loss = if batch.roi_boxes_xyxy_norm.is_empty() {
            // Every box cropped away: a zero loss that still reaches the classifier.
            self.model.classifier.projection.weight.val().sum() * 0.0
        } else {
            let maps = if self.frozen_backbone {
                // Off the autodiff graph altogether: a detached branch would still be
                // recorded, and its nodes kept, every step.
                let backbone = self.model.backbone.valid();
                let (slow, fast) = pack_pathways(batch.clips.inner(), self.model.alpha);
                backbone.forward(slow, fast).map(Tensor::from_inner)
            } else {
                self.model.clip_maps(batch.clips)
            };
            let logits = self.model.map_logits(maps, batch.rois, batch.bank);
            bce_with_logits_mean(logits, batch.labels)
        };
        let value = loss
            .clone()
            .into_data()
            .convert::<f64>()
            .into_vec::<f64>()
            .expect("a scalar loss")[0];
        TrainOutput::new(
            self,
            loss.backward(),
            StepLosses {
                total: value,
                parts: vec![("bce", value)],
                batch: description,
            },
        )
    }
}

/// What validation needs: the samples to score, the ground truth, the evaluated classes and
/// the excluded keyframes.
pub struct ActionValidation {
    pub samples: AvaKeyframes,
    pub groundtruth: Vec<AvaRow>,
    pub labels: LabelMap,
    pub excluded: HashSet<KeyframeKey>,
    pub views: TestViews,
    /// The bank windows of a model with a feature bank.
    pub bank: Option<BankWindows>,
}

impl ActionValidation {
    /// Frame-mAP at IoU 0.5 (official protocol) of `model` on the validation samples.
    pub fn frame_map<B: Backend>(
        &self,
        model: &ActionModel<B>,
        device: &B::Device,
        progress: impl FnMut(usize),
    ) -> FrameMapResult {
        let people = score_keyframes(
            model,
            self.samples.samples(),
            &self.views,
            Normalization::default(),
            self.bank.as_slice(),
            device,
            progress,
        );
        evaluate(
            &self.labels,
            &self.groundtruth,
            &detection_rows(&people, &self.labels),
            &self.excluded,
            &EvalOptions::default(),
        )
    }
}
