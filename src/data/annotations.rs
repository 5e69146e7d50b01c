//! Person boxes with multi-hot labels from AVA annotation rows.

use std::collections::{BTreeMap, HashMap};

use super::{AvaRow, KeyframeKey, LabelMap};

/// One person at one keyframe: its box and every action it was annotated with.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonAnnotation {
    pub key: KeyframeKey,
    pub box_xyxy_norm: [f64; 4],
    /// Action ids, ascending, each once.
    pub actions: Vec<i64>,
    /// The annotation's person id (absent in AVA-Kinetics' 7-column Kinetics files).
    pub person_id: Option<i64>,
}

/// What [`group_annotations`] skipped or changed, for the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnotationStats {
    /// Rows whose action id is not in the label map, per id (AVA's 80-class files evaluated
    /// over the 60-class map leave 20 ids out by design).
    pub unknown_actions: BTreeMap<i64, usize>,
    /// Rows whose box reached outside `[0, 1]` and was clamped.
    pub clamped_boxes: usize,
    /// Rows whose box has no area after clamping (line numbers).
    pub empty_boxes: Vec<usize>,
}

/// Merges the rows of one person at one keyframe — the rows with the same keyframe and the
/// same box, as PySlowFast and MMAction2 merge them — into one box with all its actions.
///
/// Rules for imperfect input: rows of actions outside `labels` are skipped and counted;
/// coordinates outside `[0, 1]` are clamped and counted; rows whose clamped box is empty are
/// skipped and their lines listed. People keep the order of their first row.
pub fn group_annotations(
    rows: &[AvaRow],
    labels: &LabelMap,
) -> (Vec<PersonAnnotation>, AnnotationStats) {
    let mut stats = AnnotationStats::default();
    let mut people: Vec<PersonAnnotation> = Vec::new();
    let mut index: HashMap<(&KeyframeKey, [u64; 4]), usize> = HashMap::new();
    for row in rows {
        if !labels.contains(row.action_id) {
            *stats.unknown_actions.entry(row.action_id).or_default() += 1;
            continue;
        }
        let clamped = row.box_xyxy_norm.map(|v| v.clamp(0.0, 1.0));
        if clamped != row.box_xyxy_norm {
            stats.clamped_boxes += 1;
        }
        let [x1, y1, x2, y2] = clamped;
        if x2 <= x1 || y2 <= y1 {
            stats.empty_boxes.push(row.line);
            continue;
        }
        let slot = *index
            .entry((&row.key, clamped.map(f64::to_bits)))
            .or_insert_with(|| {
                people.push(PersonAnnotation {
                    key: row.key.clone(),
                    box_xyxy_norm: clamped,
                    actions: Vec::new(),
                    person_id: row.last.map(|p| p as i64),
                });
                people.len() - 1
            });
        let actions = &mut people[slot].actions;
        if let Err(at) = actions.binary_search(&row.action_id) {
            actions.insert(at, row.action_id);
        }
    }
    (people, stats)
}
