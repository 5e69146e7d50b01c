//! Samples from annotations and boxes: the people of a keyframe (ground truth over a label map,
//! optionally joined by overlapping detections; or detected boxes to score) and the keyframe
//! samples (clip frames, boxes, actions) of a dataset in PySlowFast's frame layout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{
    AVA_VIDEO_START_S, AvaKeyframes, DataError, FrameLayout, KeyframeKey, Label, LabelMap,
    PersonAnnotation, PersonBox, group_annotations, read_ava_csv,
};
use crate::models::action::ClipSpec;
use crate::ops::iou;

/// The people of an annotation CSV over `labels` (rows of other classes are skipped and
/// logged), and with `detected` boxes the detections of IoU ≥ `min_iou` with a ground-truth
/// person at the same keyframe, labelled with that person's actions.
pub fn action_people(
    annotations: &Path,
    labels: &LabelMap,
    detected: Option<(&[PersonBox], f64)>,
) -> Result<Vec<PersonAnnotation>, DataError> {
    let rows = read_ava_csv(annotations)?;
    let (mut people, stats) = group_annotations(&rows, labels);
    if !stats.unknown_actions.is_empty() {
        tracing::info!(
            "{}: skipped rows of action ids outside the label map: {:?}",
            annotations.display(),
            stats.unknown_actions
        );
    }
    if !stats.empty_boxes.is_empty() {
        tracing::warn!(
            "{}: skipped empty boxes at lines {:?}",
            annotations.display(),
            stats.empty_boxes
        );
    }
    if let Some((boxes, min_iou)) = detected {
        let mut by_key: BTreeMap<&KeyframeKey, Vec<&PersonAnnotation>> = BTreeMap::new();
        for p in &people {
            by_key.entry(&p.key).or_default().push(p);
        }
        let mut extra = Vec::new();
        for d in boxes {
            let Some(gt) = by_key.get(&d.key) else {
                continue;
            };
            let best = gt
                .iter()
                .map(|p| (iou(&p.box_xyxy_norm, &d.box_xyxy_norm), p))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((overlap, p)) = best
                && overlap >= min_iou
                && p.box_xyxy_norm != d.box_xyxy_norm
            {
                extra.push(PersonAnnotation {
                    key: d.key.clone(),
                    box_xyxy_norm: d.box_xyxy_norm,
                    actions: p.actions.clone(),
                    person_id: p.person_id,
                });
            }
        }
        tracing::info!(
            "added {} detected boxes with IoU ≥ {min_iou} to a ground-truth box",
            extra.len()
        );
        people.extend(extra);
    }
    Ok(people)
}

/// People as keyframe samples: clips of `clip` frames around each keyframe, frames under
/// `root` in PySlowFast's layout.
pub fn keyframe_samples(
    people: &[PersonAnnotation],
    root: &Path,
    clip: ClipSpec,
) -> Result<AvaKeyframes, DataError> {
    AvaKeyframes::new(
        people,
        root,
        FrameLayout::PySlowFast,
        AVA_VIDEO_START_S,
        clip,
    )
}

/// Person boxes (from a detector) as people without actions, to be scored.
pub fn unlabelled_people(boxes: &[PersonBox]) -> Vec<PersonAnnotation> {
    boxes
        .iter()
        .map(|b| PersonAnnotation {
            key: b.key.clone(),
            box_xyxy_norm: b.box_xyxy_norm,
            actions: Vec::new(),
            person_id: None,
        })
        .collect()
}

/// Every distinct person box of an AVA annotation CSV (whatever its actions), merged,
/// clamped and filtered by [`group_annotations`]'s rules with every action id accepted.
pub fn annotated_people(annotations: &Path) -> Result<Vec<PersonAnnotation>, DataError> {
    let rows = read_ava_csv(annotations)?;
    let ids: BTreeSet<i64> = rows.iter().map(|r| r.action_id).collect();
    let every_action = LabelMap {
        labels: ids
            .into_iter()
            .map(|id| Label {
                id,
                name: String::new(),
            })
            .collect(),
    };
    let (people, stats) = group_annotations(&rows, &every_action);
    if !stats.empty_boxes.is_empty() {
        tracing::warn!(
            "{}: skipped {} empty boxes (lines {:?})",
            annotations.display(),
            stats.empty_boxes.len(),
            stats.empty_boxes
        );
    }
    Ok(people)
}

/// One sample per annotated keyframe of an AVA annotation CSV with its
/// [`annotated_people`], the keyframe's own frame under `root` in PySlowFast's layout.
pub fn detector_samples(root: &Path, annotations: &Path) -> Result<AvaKeyframes, DataError> {
    let people = annotated_people(annotations)?;
    let spec = ClipSpec {
        num_frames: 1,
        stride: 1,
    };
    AvaKeyframes::new(
        &people,
        root,
        FrameLayout::PySlowFast,
        AVA_VIDEO_START_S,
        spec,
    )
}
