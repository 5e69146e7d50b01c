//! Fusion of the arm branch into the action model's scores. The seed system fuses "the results
//! of 15 classes significantly improved" by the arm branch; which classes, and how, is chosen
//! on one split ([`select`]) and applied on another ([`Fusion::apply`]).
//!
//! A person's arm score for a class is the maximum over its arm boxes (the arm detections CSV
//! of `avaloc actions --keypoints` holds it at the person's box). For each chosen class the
//! final score combines the body and the arm score; other classes, and persons without an arm
//! box, keep the body score.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::{AvaRow, KeyframeKey, LabelMap};
use crate::eval::{EvalOptions, evaluate};
use crate::ops::iou;

/// How a chosen class's body score `b` and arm score `a` combine, with the weight `w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FusionMode {
    /// `a`.
    Replace,
    /// `(1 − w)·b + w·a`.
    Mean,
    /// `max(b, w·a)`.
    Max,
}

/// A fusion config (`fusion.toml`, written by `avaloc fuse select`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fusion {
    pub mode: FusionMode,
    pub weight: f64,
    /// AVA ids of the classes whose scores are fused.
    pub classes: Vec<i64>,
}

/// What [`Fusion::apply`] matched, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FusionStats {
    /// Person boxes of the body detections.
    pub people: usize,
    /// ... of which have arm scores.
    pub with_arm: usize,
}

/// Arm detections at a box with at least this IoU belong to the body detection's person (the
/// same box, written to three decimals by both).
const SAME_PERSON_IOU: f64 = 0.9;

impl Fusion {
    /// Reads a fusion config; a malformed one is an error naming the file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let fusion: Self =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        fusion
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(fusion)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.weight.is_finite() && (0.0..=1.0).contains(&self.weight)) {
            return Err(format!("weight {} is not in [0, 1]", self.weight));
        }
        Ok(())
    }

    /// Writes the config atomically, `header` first as TOML comments.
    pub fn write(&self, path: &Path, header: &str) -> std::io::Result<()> {
        let mut text = String::new();
        for line in header.lines() {
            writeln!(text, "# {line}").unwrap();
        }
        text.push_str(&toml::to_string(self).map_err(std::io::Error::other)?);
        crate::fs::write_atomic(path, text.as_bytes())
    }

    /// The combined score of a chosen class.
    pub fn combine(&self, body: f64, arm: f64) -> f64 {
        match self.mode {
            FusionMode::Replace => arm,
            FusionMode::Mean => (1.0 - self.weight) * body + self.weight * arm,
            FusionMode::Max => body.max(self.weight * arm),
        }
    }

    /// The body detections with the chosen classes' scores fused with the arm detections of
    /// the same person (same keyframe, box IoU ≥ 0.9).
    pub fn apply(&self, body: &[AvaRow], arm: &[AvaRow]) -> (Vec<AvaRow>, FusionStats) {
        let classes: HashSet<i64> = self.classes.iter().copied().collect();
        let arm_people = ArmPeople::new(arm);
        let mut seen: HashSet<(&KeyframeKey, [u64; 4])> = HashSet::new();
        let mut stats = FusionStats::default();
        let rows = body
            .iter()
            .map(|row| {
                let person = arm_people.of(&row.key, &row.box_xyxy_norm);
                if seen.insert((&row.key, row.box_xyxy_norm.map(f64::to_bits))) {
                    stats.people += 1;
                    stats.with_arm += person.is_some() as usize;
                }
                let arm_score = person
                    .filter(|_| classes.contains(&row.action_id))
                    .and_then(|scores| scores.get(&row.action_id));
                match (arm_score, row.last) {
                    (Some(&a), Some(b)) => AvaRow {
                        last: Some(self.combine(b, a)),
                        ..row.clone()
                    },
                    _ => row.clone(),
                }
            })
            .collect();
        (rows, stats)
    }
}

/// A box with its score per class.
type ScoredBox = ([f64; 4], HashMap<i64, f64>);

/// Arm detections by keyframe.
struct ArmPeople<'a> {
    by_key: HashMap<&'a KeyframeKey, Vec<ScoredBox>>,
}

impl<'a> ArmPeople<'a> {
    fn new(rows: &'a [AvaRow]) -> Self {
        let mut by_key: HashMap<&KeyframeKey, Vec<ScoredBox>> = HashMap::new();
        for row in rows {
            let people = by_key.entry(&row.key).or_default();
            let at = people.iter().position(|(b, _)| *b == row.box_xyxy_norm);
            let i = at.unwrap_or_else(|| {
                people.push((row.box_xyxy_norm, HashMap::new()));
                people.len() - 1
            });
            people[i].1.insert(row.action_id, row.last.unwrap_or(0.0));
        }
        Self { by_key }
    }

    /// The scores of the arm person best overlapping `b` at `key`, if any overlaps enough.
    fn of(&self, key: &KeyframeKey, b: &[f64; 4]) -> Option<&HashMap<i64, f64>> {
        self.by_key
            .get(key)?
            .iter()
            .map(|(other, scores)| (iou(other, b), scores))
            .filter(|(overlap, _)| *overlap >= SAME_PERSON_IOU)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, scores)| scores)
    }
}

/// Which classes [`select`] keeps: the `Top(n)` largest gains (positive ones only), or every
/// class gaining at least `MinGain(x)` (a negative `x` admits losses).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Choice {
    Top(usize),
    MinGain(f64),
}

/// One class's AP with the body scores and with its arm score fused.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassGain {
    pub id: i64,
    pub name: String,
    pub base: Option<f64>,
    pub fused: Option<f64>,
    pub chosen: bool,
}

impl ClassGain {
    fn gain(&self) -> Option<f64> {
        Some(self.fused? - self.base?)
    }
}

/// The evaluation inputs of [`select`]: ground truth, its label map and excluded keyframes.
pub struct Groundtruth<'a> {
    pub rows: &'a [AvaRow],
    pub labels: &'a LabelMap,
    pub excluded: &'a HashSet<KeyframeKey>,
}

/// Chooses the classes to fuse: every class of the label map that the arm detections score is
/// fused on its own (fusion of one class leaves the others' AP as it is), and those whose AP
/// rises most are kept. Returns the fusion and the per-class table (label map order).
pub fn select(
    body: &[AvaRow],
    arm: &[AvaRow],
    truth: &Groundtruth,
    mode: FusionMode,
    weight: f64,
    choice: Choice,
) -> (Fusion, Vec<ClassGain>) {
    let arm_classes: BTreeSet<i64> = arm.iter().map(|r| r.action_id).collect();
    let every = Fusion {
        mode,
        weight,
        classes: arm_classes.iter().copied().collect(),
    };
    let (fused, _) = every.apply(body, arm);
    let options = EvalOptions::default();
    let base = evaluate(truth.labels, truth.rows, body, truth.excluded, &options);
    let all = evaluate(truth.labels, truth.rows, &fused, truth.excluded, &options);
    let mut table: Vec<ClassGain> = base
        .per_class
        .iter()
        .zip(&all.per_class)
        .map(|((id, name, b), (_, _, f))| ClassGain {
            id: *id,
            name: name.clone(),
            base: *b,
            fused: if arm_classes.contains(id) { *f } else { *b },
            chosen: false,
        })
        .collect();
    let mut ranked: Vec<(usize, f64)> = table
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, c.gain()?)))
        .filter(|&(i, _)| arm_classes.contains(&table[i].id))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let kept: Vec<usize> = match choice {
        Choice::Top(n) => ranked
            .iter()
            .filter(|r| r.1 > 0.0)
            .take(n)
            .map(|r| r.0)
            .collect(),
        Choice::MinGain(x) => ranked.iter().filter(|r| r.1 >= x).map(|r| r.0).collect(),
    };
    for &i in &kept {
        table[i].chosen = true;
    }
    let classes = table.iter().filter(|c| c.chosen).map(|c| c.id).collect();
    (
        Fusion {
            mode,
            weight,
            classes,
        },
        table,
    )
}

/// The mAP of the body scores and of the chosen fusion, from a selection's table: a class's
/// AP depends on its own scores alone, so fusing the chosen classes gives each its fused AP
/// and leaves the others' as they were.
pub fn chosen_maps(table: &[ClassGain]) -> (f64, f64) {
    let evaluated: Vec<&ClassGain> = table.iter().filter(|c| c.base.is_some()).collect();
    let mean = |ap: &dyn Fn(&ClassGain) -> Option<f64>| {
        evaluated.iter().filter_map(|c| ap(c)).sum::<f64>() / evaluated.len() as f64
    };
    (
        mean(&|c| c.base),
        mean(&|c| if c.chosen { c.fused } else { c.base }),
    )
}

/// The per-class table of a selection: base AP, fused AP, gain, and whether it was chosen.
pub fn gain_table(table: &[ClassGain]) -> String {
    let width = table.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
    let ap = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    let mut out = String::new();
    writeln!(
        out,
        "{:>4}  {:<width$}  {:>8}  {:>8}  {:>8}  chosen",
        "id", "name", "base AP", "fused AP", "gain"
    )
    .unwrap();
    for c in table {
        let gain = c.gain().map_or(String::new(), |g| format!("{g:+.4}"));
        writeln!(
            out,
            "{:>4}  {:<width$}  {:>8}  {:>8}  {gain:>8}  {}",
            c.id,
            c.name,
            ap(c.base),
            ap(c.fused),
            if c.chosen { "*" } else { "" }
        )
        .unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Label;

    fn key() -> KeyframeKey {
        KeyframeKey {
            video_id: "v".into(),
            timestamp_s: 902,
        }
    }

    /// Person A at x 0.1–0.3, person B at x 0.6–0.8.
    const A: [f64; 4] = [0.1, 0.1, 0.3, 0.9];
    const B: [f64; 4] = [0.6, 0.1, 0.8, 0.9];

    fn row(b: [f64; 4], action_id: i64, score: Option<f64>) -> AvaRow {
        AvaRow {
            key: key(),
            box_xyxy_norm: b,
            action_id,
            last: score,
            line: 0,
        }
    }

    #[test]
    fn the_modes_combine_as_documented() {
        let fusion = |mode, weight| Fusion {
            mode,
            weight,
            classes: vec![],
        };
        assert_eq!(fusion(FusionMode::Replace, 0.5).combine(0.2, 0.8), 0.8);
        assert!((fusion(FusionMode::Mean, 0.25).combine(0.2, 0.8) - 0.35).abs() < 1e-12);
        assert_eq!(fusion(FusionMode::Max, 0.5).combine(0.2, 0.8), 0.4);
        assert_eq!(fusion(FusionMode::Max, 0.5).combine(0.6, 0.8), 0.6);
        assert!(fusion(FusionMode::Mean, 1.5).validate().is_err());
    }

    /// Only the chosen class of the person with arm scores changes; the arm box, written to
    /// three decimals, still matches.
    #[test]
    fn apply_fuses_the_chosen_classes_of_people_with_arm_scores() {
        let fusion = Fusion {
            mode: FusionMode::Mean,
            weight: 0.5,
            classes: vec![69],
        };
        let body = vec![
            row(A, 69, Some(0.2)),
            row(A, 12, Some(0.9)),
            row(B, 69, Some(0.4)),
        ];
        let arm = vec![
            row([0.1001, 0.1, 0.3, 0.9], 69, Some(0.8)),
            row([0.1001, 0.1, 0.3, 0.9], 12, Some(0.0)),
        ];
        let (fused, stats) = fusion.apply(&body, &arm);
        let scores: Vec<f64> = fused.iter().map(|r| r.last.unwrap()).collect();
        assert_eq!(scores, vec![0.5, 0.9, 0.4]);
        assert_eq!(
            stats,
            FusionStats {
                people: 2,
                with_arm: 1
            }
        );
    }

    /// Hand wave (69) is A's; the body model ranks B above A (AP 0.5), the fused scores A 0.6,
    /// B 0.3 (AP 1.0): chosen, +0.5. Stand (12) is B's; the body model is right (AP 1.0), the
    /// arm scores turn it round (A 0.55, B 0.45: AP 0.5): not chosen.
    #[test]
    fn select_keeps_the_classes_whose_ap_rises() {
        let body = vec![
            row(A, 69, Some(0.2)),
            row(B, 69, Some(0.6)),
            row(A, 12, Some(0.1)),
            row(B, 12, Some(0.9)),
        ];
        let arm = vec![
            row(A, 69, Some(1.0)),
            row(B, 69, Some(0.0)),
            row(A, 12, Some(1.0)),
            row(B, 12, Some(0.0)),
        ];
        let gt = vec![row(A, 69, None), row(B, 12, None)];
        let labels = LabelMap {
            labels: [(12, "stand"), (69, "hand wave")]
                .map(|(id, name)| Label {
                    id,
                    name: name.into(),
                })
                .to_vec(),
        };
        let truth = Groundtruth {
            rows: &gt,
            labels: &labels,
            excluded: &HashSet::new(),
        };
        let (fusion, table) = select(&body, &arm, &truth, FusionMode::Mean, 0.5, Choice::Top(15));
        assert_eq!(fusion.classes, vec![69]);
        let gains: Vec<(i64, Option<f64>, Option<f64>, bool)> = table
            .iter()
            .map(|c| (c.id, c.base, c.fused, c.chosen))
            .collect();
        assert_eq!(
            gains,
            vec![
                (12, Some(1.0), Some(0.5), false),
                (69, Some(0.5), Some(1.0), true)
            ]
        );
        let (_, table) = select(
            &body,
            &arm,
            &truth,
            FusionMode::Mean,
            0.5,
            Choice::MinGain(0.6),
        );
        assert!(table.iter().all(|c| !c.chosen));
        assert!(gain_table(&table).contains("+0.5000"));
        let (fusion, _) = select(
            &body,
            &arm,
            &truth,
            FusionMode::Mean,
            0.5,
            Choice::MinGain(-1.0),
        );
        assert_eq!(
            fusion.classes,
            vec![12, 69],
            "a negative minimum admits losses"
        );
    }
}
