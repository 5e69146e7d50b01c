//! Samples from annotations and boxes: the people of a keyframe (ground truth over a label map,
//! optionally joined by overlapping detections; or detected boxes to score) and the keyframe
//! samples (clip frames, boxes, actions) of a dataset in PySlowFast's frame layout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{
    AVA_VIDEO_START_S, AvaKeyframes, ClipSpec, DataError, FrameLayout, KeyframeKey, Label,
    LabelMap, PersonAnnotation, PersonBox, group_annotations, read_ava_csv,
};
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

/// One sample per annotated keyframe of an AVA annotation CSV, with every distinct person box
/// (whatever its actions), frames under `root` in PySlowFast's layout. Boxes are merged,
/// clamped and filtered by [`group_annotations`]'s rules, with every action id accepted.
pub fn detector_samples(root: &Path, annotations: &Path) -> Result<AvaKeyframes, DataError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Label;

    #[test]
    fn detected_boxes_join_the_ground_truth_person_they_overlap() {
        let dir = std::env::temp_dir().join(format!("avaloc-people-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("train.csv");
        // Person 0 stands and talks (id 80 is outside the label map), person 1 sits.
        std::fs::write(
            &csv,
            "v,0902,0.100,0.100,0.300,0.500,12,0\n\
             v,0902,0.100,0.100,0.300,0.500,80,0\n\
             v,0902,0.600,0.200,0.800,0.900,11,1\n",
        )
        .unwrap();
        let labels = LabelMap {
            labels: [(11, "sit"), (12, "stand")]
                .map(|(id, name)| Label {
                    id,
                    name: name.into(),
                })
                .to_vec(),
        };
        let key = KeyframeKey {
            video_id: "v".into(),
            timestamp_s: 902,
        };
        let detection = |b: [f64; 4]| PersonBox {
            key: key.clone(),
            box_xyxy_norm: b,
            score: 0.9,
        };
        let detected = [
            // IoU with person 0: 0.2 × 0.39 / (0.2 × 0.4) = 0.975.
            detection([0.100, 0.110, 0.300, 0.500]),
            // IoU with person 0: 0.08 / 0.084 = 0.952.
            detection([0.100, 0.100, 0.310, 0.500]),
            // IoU with person 1: 0.2 × 0.6 / (0.2 × 0.7) = 0.857 < 0.9.
            detection([0.600, 0.300, 0.800, 0.900]),
            // The ground-truth box itself is not added twice.
            detection([0.600, 0.200, 0.800, 0.900]),
        ];
        let people = action_people(&csv, &labels, Some((&detected, 0.9))).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let summary: Vec<([f64; 4], Vec<i64>)> = people
            .iter()
            .map(|p| (p.box_xyxy_norm, p.actions.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ([0.1, 0.1, 0.3, 0.5], vec![12]),
                ([0.6, 0.2, 0.8, 0.9], vec![11]),
                ([0.1, 0.11, 0.3, 0.5], vec![12]),
                ([0.1, 0.1, 0.31, 0.5], vec![12]),
            ]
        );
        assert!((iou(&[0.1, 0.1, 0.3, 0.5], &[0.1, 0.1, 0.31, 0.5]) - 0.08 / 0.084).abs() < 1e-12);
    }
}
