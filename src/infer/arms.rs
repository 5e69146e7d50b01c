//! Arm boxes: the seed system replaces a person's box with "the moderately enlarged arm box"
//! when "the key points of the elbow and wrist" are inside the image. Per arm (COCO-17:
//! shoulder 5 / 6, elbow 7 / 8, wrist 9 / 10, left then right): when elbow and wrist score at
//! least `min_score` and lie inside the frame, the box around shoulder (where located), elbow,
//! wrist and the hand beyond the wrist, enlarged by `scale` about its centre, each side at least
//! `min_size` of the person box's height, clipped to the frame.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::ArmBoxConfig;
use crate::data::PersonScores;
use crate::data::{
    AVA_FPS, AVA_VIDEO_START_S, AvaRow, DataError, FrameLayout, KeyframeKey, LabelMap,
    PersonAnnotation, PersonKeypoints, annotated_people, keyframe_frame_index, read_keypoints,
};
use crate::ops::iou;

/// COCO-17 indices of (shoulder, elbow, wrist) for the left and the right arm.
pub const ARMS: [(usize, usize, usize); 2] = [(5, 7, 9), (6, 8, 10)];

/// How far the hand reaches beyond the wrist, as a share of the forearm.
const HAND: f64 = 0.25;

/// The left and right arm boxes of `person` (`[x1, y1, x2, y2]` normalised to the frame) in a
/// frame of `frame_wh` pixels; `None` for an arm without one.
pub fn arm_boxes(
    person: &PersonKeypoints,
    frame_wh: [f64; 2],
    config: &ArmBoxConfig,
) -> [Option<[f64; 4]>; 2] {
    let [w, h] = frame_wh;
    let px = |k: usize| {
        let [x, y, s] = person.keypoints.get(k).copied().unwrap_or([0.0, 0.0, 0.0]);
        ([x * w, y * h], s)
    };
    let inside = |[x, y]: [f64; 2]| (0.0..=w).contains(&x) && (0.0..=h).contains(&y);
    let person_height = (person.box_xyxy_norm[3] - person.box_xyxy_norm[1]) * h;
    ARMS.map(|(shoulder, elbow, wrist)| {
        let (e, es) = px(elbow);
        let (r, rs) = px(wrist);
        if es < config.min_score || rs < config.min_score || !inside(e) || !inside(r) {
            return None;
        }
        let hand = [r[0] + HAND * (r[0] - e[0]), r[1] + HAND * (r[1] - e[1])];
        let mut points = vec![e, r, hand];
        let (s, ss) = px(shoulder);
        if ss >= config.min_score && inside(s) {
            points.push(s);
        }
        let (x1, x2) = bounds(points.iter().map(|p| p[0]));
        let (y1, y2) = bounds(points.iter().map(|p| p[1]));
        let least = config.min_size * person_height;
        let half = |lo: f64, hi: f64| ((hi - lo) * config.scale).max(least) / 2.0;
        let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        let (hw, hh) = (half(x1, x2), half(y1, y2));
        Some([
            (cx - hw).clamp(0.0, w) / w,
            (cy - hh).clamp(0.0, h) / h,
            (cx + hw).clamp(0.0, w) / w,
            (cy + hh).clamp(0.0, h) / h,
        ])
    })
}

/// A person of the arm dataset: its annotation's keyframe and box, its arm boxes, and its
/// actions restricted to the arm set (empty: a negative).
#[derive(Debug, Clone, PartialEq)]
pub struct ArmPerson {
    pub key: KeyframeKey,
    pub box_xyxy_norm: [f64; 4],
    pub arm_boxes: Vec<[f64; 4]>,
    pub actions: Vec<i64>,
}

/// Who [`arm_people`] left out, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArmDatasetStats {
    /// Persons whose keyframe has no keypoints of a box overlapping theirs (IoU ≥ 0.5).
    pub without_keypoints: usize,
    /// Persons with keypoints but no arm box.
    pub without_arm_box: usize,
}

/// The arm dataset, derived on the fly: each annotated person matched to the keypoints of
/// the best-overlapping box at its keyframe (IoU ≥ 0.5: ground-truth keypoints share the
/// box, `avaloc poses` ones come from detections), kept when at least one arm has a box, its
/// actions restricted to `arm_labels`. `frame_wh` gives each keyframe's frame size.
pub fn arm_people(
    people: &[PersonAnnotation],
    keypoints: &[PersonKeypoints],
    arm_labels: &LabelMap,
    frame_wh: impl Fn(&KeyframeKey) -> [f64; 2],
    config: &ArmBoxConfig,
) -> (Vec<ArmPerson>, ArmDatasetStats) {
    let mut by_key: HashMap<&KeyframeKey, Vec<&PersonKeypoints>> = HashMap::new();
    for k in keypoints {
        by_key.entry(&k.key).or_default().push(k);
    }
    let mut stats = ArmDatasetStats::default();
    let mut out = Vec::new();
    for person in people {
        let best = by_key.get(&person.key).and_then(|candidates| {
            candidates
                .iter()
                .map(|k| (iou(&k.box_xyxy_norm, &person.box_xyxy_norm), *k))
                .filter(|(overlap, _)| *overlap >= 0.5)
                .max_by(|a, b| a.0.total_cmp(&b.0))
        });
        let Some((_, pose)) = best else {
            stats.without_keypoints += 1;
            continue;
        };
        let arm_boxes: Vec<[f64; 4]> = arm_boxes(pose, frame_wh(&person.key), config)
            .into_iter()
            .flatten()
            .collect();
        if arm_boxes.is_empty() {
            stats.without_arm_box += 1;
            continue;
        }
        out.push(ArmPerson {
            key: person.key.clone(),
            box_xyxy_norm: person.box_xyxy_norm,
            arm_boxes,
            actions: person
                .actions
                .iter()
                .copied()
                .filter(|&a| arm_labels.contains(a))
                .collect(),
        });
    }
    (out, stats)
}

/// The arm dataset of an AVA-format annotation CSV and its keypoints, as an action model
/// trains on it: one person per arm box (with the person's arm actions; none for a negative),
/// and the ground-truth rows at the arm boxes that validation scores against. Frame sizes come
/// from each keyframe's image under `root` (AVA's layout).
pub struct ArmAnnotations {
    pub people: Vec<PersonAnnotation>,
    pub groundtruth: Vec<AvaRow>,
    pub stats: ArmDatasetStats,
}

impl ArmAnnotations {
    pub fn read(
        annotations: &Path,
        keypoints: &Path,
        arm_labels: &LabelMap,
        root: &Path,
        config: &ArmBoxConfig,
    ) -> Result<Self, DataError> {
        // Every action of the file, so that people without arm actions stay (as negatives).
        let people = annotated_people(annotations)?;
        let poses = read_keypoints(keypoints)?;
        let frame_of = |p: &PersonAnnotation| {
            let index = keyframe_frame_index(p.key.timestamp_s, AVA_VIDEO_START_S, AVA_FPS);
            Ok(FrameLayout::PySlowFast.frame_path(root, &p.key.video_id, index.max(0) as usize))
        };
        let (arm, stats) = arm_people_in_frames(&people, &poses, arm_labels, frame_of, config)?;
        let groundtruth = arm
            .iter()
            .flat_map(|person| {
                person.arm_boxes.iter().flat_map(move |&b| {
                    person.actions.iter().map(move |&action_id| AvaRow {
                        key: person.key.clone(),
                        box_xyxy_norm: b,
                        action_id,
                        last: None,
                        line: 0,
                    })
                })
            })
            .collect();
        Ok(Self {
            people: arm_box_people(&arm),
            groundtruth,
            stats,
        })
    }
}

/// One person per arm box, with the arm's person's actions.
pub fn arm_box_people(arm: &[ArmPerson]) -> Vec<PersonAnnotation> {
    arm.iter()
        .flat_map(|person| {
            person.arm_boxes.iter().map(|&b| PersonAnnotation {
                key: person.key.clone(),
                box_xyxy_norm: b,
                actions: person.actions.clone(),
                person_id: None,
            })
        })
        .collect()
}

/// [`arm_people`] in the frames on disk: each video's frame size read once, from the frame
/// `frame_of` gives for the first of its people (or the error it gives).
pub fn arm_people_in_frames(
    people: &[PersonAnnotation],
    keypoints: &[PersonKeypoints],
    arm_labels: &LabelMap,
    frame_of: impl Fn(&PersonAnnotation) -> Result<PathBuf, DataError>,
    config: &ArmBoxConfig,
) -> Result<(Vec<ArmPerson>, ArmDatasetStats), DataError> {
    let mut sizes: HashMap<String, [f64; 2]> = HashMap::new();
    for p in people {
        if !sizes.contains_key(&p.key.video_id) {
            sizes.insert(p.key.video_id.clone(), frame_size(&frame_of(p)?)?);
        }
    }
    let (arm, stats) = arm_people(
        people,
        keypoints,
        arm_labels,
        |k| sizes[&k.video_id],
        config,
    );
    Ok((arm, stats))
}

/// A frame's `[width, height]`, naming the file when it cannot be read.
pub fn frame_size(frame: &Path) -> Result<[f64; 2], DataError> {
    let (w, h) = image::image_dimensions(frame).map_err(|e| DataError::File {
        path: frame.to_path_buf(),
        message: format!("cannot read the frame's size: {e}"),
    })?;
    Ok([w as f64, h as f64])
}

/// Each person's arm scores, the maximum over its arm boxes' (`scores` at the arm boxes), at
/// the person's box: the arm branch's result per person, as fusion reads it. People none of
/// whose arm boxes were scored are left out.
pub fn person_arm_scores(arm: &[ArmPerson], scores: &[PersonScores]) -> Vec<PersonScores> {
    let at: HashMap<(&KeyframeKey, [u64; 4]), &[f32]> = scores
        .iter()
        .map(|s| {
            (
                (&s.key, s.box_xyxy_norm.map(f64::to_bits)),
                s.scores.as_slice(),
            )
        })
        .collect();
    arm.iter()
        .filter_map(|person| {
            let mut best: Option<Vec<f32>> = None;
            for b in &person.arm_boxes {
                if let Some(row) = at.get(&(&person.key, b.map(f64::to_bits))) {
                    best = Some(match best {
                        Some(best) => best.iter().zip(*row).map(|(a, b)| a.max(*b)).collect(),
                        None => row.to_vec(),
                    });
                }
            }
            Some(PersonScores {
                key: person.key.clone(),
                box_xyxy_norm: person.box_xyxy_norm,
                scores: best?,
            })
        })
        .collect()
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::KeyframeKey;

    /// A 200 × 100 frame; a person box 100 px tall (y 0.0–1.0); keypoints in pixels.
    fn person(points: &[(usize, [f64; 3])]) -> PersonKeypoints {
        let mut keypoints = vec![[0.5, 0.5, 2.0]; 17];
        for &(k, [x, y, s]) in points {
            keypoints[k] = [x / 200.0, y / 100.0, s];
        }
        PersonKeypoints {
            key: KeyframeKey {
                video_id: "v".into(),
                timestamp_s: 902,
            },
            box_xyxy_norm: [0.4, 0.0, 0.6, 1.0],
            person_id: 1,
            score: 1.0,
            keypoints,
        }
    }

    fn px(b: [f64; 4]) -> [f64; 4] {
        [b[0] * 200.0, b[1] * 100.0, b[2] * 200.0, b[3] * 100.0].map(|v| (v * 1e9).round() / 1e9)
    }

    #[test]
    fn an_arm_s_box_covers_shoulder_to_hand_enlarged() {
        // Left arm held out: shoulder (100, 30), elbow (120, 30), wrist (140, 30); the hand
        // reaches to x 145. Tight box x 100–145, y 30–30; ×1.5 → 67.5 wide about x 122.5;
        // the height takes the minimum, 0.3 × 100 = 30, about y 30.
        let p = person(&[
            (5, [100.0, 30.0, 2.0]),
            (7, [120.0, 30.0, 2.0]),
            (9, [140.0, 30.0, 2.0]),
            (10, [100.0, 30.0, 0.0]),
        ]);
        let [left, right] = arm_boxes(&p, [200.0, 100.0], &ArmBoxConfig::default());
        assert_eq!(px(left.unwrap()), [88.75, 15.0, 156.25, 45.0]);
        assert_eq!(right, None, "the right wrist is not located");
    }

    #[test]
    fn both_arms_and_the_frame_edge() {
        // Both arms down; the right one reaches past the frame's top after enlargement: the
        // box is clipped. Right: shoulder (90, 5), elbow (88, 2), wrist (86, 1), hand (85.5, 0.75).
        let p = person(&[
            (5, [110.0, 30.0, 2.0]),
            (7, [112.0, 50.0, 2.0]),
            (9, [114.0, 70.0, 2.0]),
            (6, [90.0, 5.0, 2.0]),
            (8, [88.0, 2.0, 2.0]),
            (10, [86.0, 1.0, 2.0]),
        ]);
        let [left, right] = arm_boxes(&p, [200.0, 100.0], &ArmBoxConfig::default());
        // Left: x 110–114.5 (hand at 114.5), y 30–75; widths ×1.5: 6.75 → at least 30; 67.5.
        assert_eq!(px(left.unwrap()), [97.25, 18.75, 127.25, 86.25]);
        // Right: x 85.5–90 → 30 wide about 87.75; y 0.75–5 → 30 tall about 2.875, clipped at 0.
        assert_eq!(px(right.unwrap()), [72.75, 0.0, 102.75, 17.875]);
    }

    /// configs/arm/ava_arm_actions.pbtxt: 27 distinct AVA ids, the seed's named arm classes
    /// and every synthetic arm action among them, no whole-body movement.
    #[test]
    fn the_arm_label_set() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("configs/arm/ava_arm_actions.pbtxt");
        let labels = crate::data::LabelMap::read(&path).unwrap().labels;
        let ids: std::collections::BTreeSet<i64> = labels.iter().map(|l| l.id).collect();
        assert_eq!((labels.len(), ids.len()), (27, 27));
        assert!(
            ids.iter().all(|id| (15..=80).contains(id)),
            "no PERSON_MOVEMENT (1-14)"
        );
        for id in [34, 24, 43, 58, 69] {
            assert!(ids.contains(&id), "{id}");
        }
        // Names as AVA's list (and the synthetic set's) spell them.
        for (id, name, _) in crate::data::synth::SYNTH_LABELS {
            if let Some(l) = labels.iter().find(|l| l.id == id) {
                assert_eq!(l.name, name);
            }
        }
    }

    /// Three annotated people at one keyframe: one with an arm box and a wave (kept, labels
    /// cut to the arm set), one with an arm box and body actions only (kept: a negative), one
    /// whose wrists are unlocated (left out), and one without keypoints (left out).
    #[test]
    fn the_arm_dataset_keeps_people_with_an_arm_box_and_their_arm_labels() {
        let arm = |x: f64| {
            let mut p = person(&[
                (5, [x, 30.0, 2.0]),
                (7, [x + 10.0, 40.0, 2.0]),
                (9, [x + 20.0, 50.0, 2.0]),
                (6, [x, 30.0, 0.0]),
                (10, [x, 30.0, 0.0]),
            ]);
            p.box_xyxy_norm = [x / 200.0, 0.1, (x + 30.0) / 200.0, 0.9];
            p
        };
        let mut unlocated = arm(130.0);
        unlocated.keypoints[9][2] = 0.0;
        let keypoints = vec![arm(10.0), arm(70.0), unlocated];
        let annotation = |x: f64, actions: Vec<i64>| PersonAnnotation {
            key: keypoints[0].key.clone(),
            // Slightly off the keypoints' box, as a detection would be.
            box_xyxy_norm: [x / 200.0 + 0.005, 0.1, (x + 30.0) / 200.0, 0.88],
            actions,
            person_id: None,
        };
        let people = vec![
            annotation(10.0, vec![12, 69]),
            annotation(70.0, vec![14]),
            annotation(130.0, vec![43]),
            annotation(170.0, vec![58]),
        ];
        let labels = LabelMap {
            labels: [43, 58, 69]
                .map(|id| crate::data::Label {
                    id,
                    name: id.to_string(),
                })
                .to_vec(),
        };
        let (arm_people, stats) = arm_people(
            &people,
            &keypoints,
            &labels,
            |_| [200.0, 100.0],
            &ArmBoxConfig::default(),
        );
        let kept: Vec<(f64, Vec<i64>, usize)> = arm_people
            .iter()
            .map(|p| {
                (
                    (p.box_xyxy_norm[0] * 200.0).round(),
                    p.actions.clone(),
                    p.arm_boxes.len(),
                )
            })
            .collect();
        assert_eq!(kept, vec![(11.0, vec![69], 1), (71.0, vec![], 1)]);
        assert_eq!(
            stats,
            ArmDatasetStats {
                without_keypoints: 1,
                without_arm_box: 1
            }
        );
    }

    #[test]
    fn an_arm_leaving_the_frame_or_poorly_located_gets_no_box() {
        // The left wrist is outside the frame; the right elbow scores below the threshold.
        let p = person(&[
            (7, [190.0, 30.0, 2.0]),
            (9, [210.0, 30.0, 2.0]),
            (8, [80.0, 40.0, 0.52]),
            (10, [70.0, 50.0, 0.9]),
        ]);
        let config = ArmBoxConfig::default();
        assert_eq!(arm_boxes(&p, [200.0, 100.0], &config), [None, None]);
        // With a lower threshold the right arm qualifies (its shoulder too, at the default
        // (100, 50) of this fixture).
        let lenient = ArmBoxConfig {
            min_score: 0.5,
            ..config
        };
        let [left, right] = arm_boxes(&p, [200.0, 100.0], &lenient);
        assert_eq!(left, None);
        assert!(right.is_some());
    }
}
