//! Action scores per person box: what the action model gives at a keyframe, and the same read
//! back from an AVA detections CSV.

use std::collections::HashMap;

use super::{AvaRow, KeyframeKey, LabelMap};

/// One person box at one keyframe with its probability for each class of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonScores {
    pub key: KeyframeKey,
    pub box_xyxy_norm: [f64; 4],
    pub scores: Vec<f32>,
}

/// The people of a detections CSV with their scores in the label map's order (classes the
/// file lacks score 0), in the file's order of first appearance.
pub fn people_from_rows(rows: &[AvaRow], labels: &LabelMap) -> Vec<PersonScores> {
    let index: HashMap<i64, usize> = labels
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id, i))
        .collect();
    let mut order: HashMap<(KeyframeKey, [u64; 4]), usize> = HashMap::new();
    let mut people: Vec<PersonScores> = Vec::new();
    for r in rows {
        let key = (r.key.clone(), r.box_xyxy_norm.map(f64::to_bits));
        let at = *order.entry(key).or_insert_with(|| {
            people.push(PersonScores {
                key: r.key.clone(),
                box_xyxy_norm: r.box_xyxy_norm,
                scores: vec![0.0; labels.labels.len()],
            });
            people.len() - 1
        });
        if let (Some(&c), Some(score)) = (index.get(&r.action_id), r.last) {
            people[at].scores[c] = score as f32;
        }
    }
    people
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_people_with_scores_in_label_order() {
        let labels = LabelMap {
            labels: vec![
                crate::data::Label {
                    id: 5,
                    name: "a".into(),
                },
                crate::data::Label {
                    id: 9,
                    name: "b".into(),
                },
            ],
        };
        let key = KeyframeKey {
            video_id: "v".into(),
            timestamp_s: 902,
        };
        let row = |b: f64, id: i64, s: f64| AvaRow {
            key: key.clone(),
            box_xyxy_norm: [b, 0.1, 0.5, 0.5],
            action_id: id,
            last: Some(s),
            line: 1,
        };
        let people = people_from_rows(
            &[row(0.1, 9, 0.7), row(0.2, 5, 0.4), row(0.1, 5, 0.2)],
            &labels,
        );
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].scores, vec![0.2, 0.7]);
        assert_eq!(people[1].scores, vec![0.4, 0.0]);
    }
}
