//! `avaloc actions` as a library call: an action model's scores for given person boxes at
//! their keyframes, under the test views (reading its feature banks, where it has one), and
//! an arm branch's where asked — the model itself at the people's arm boxes, or a branch
//! sharing its backbone scored in the same pass.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::{
    ActionScoring, ArmPerson, SharedArmScoring, arm_box_people, arm_people_in_frames,
    person_arm_scores,
};
use crate::backend::{self, BackendChoice};
use crate::config::{ActionFile, ArmBoxConfig, TestViews};
use crate::data::bank::Bank;
use crate::data::{
    AvaKeyframes, DataError, KeyframeKey, KeyframeSample, LabelMap, PersonAnnotation, PersonScores,
    Video, keyframe_samples, read_keypoints,
};
use crate::weights::Checkpoint;

/// Where the keyframes' frames are.
pub enum Frames<'a> {
    /// A dataset in AVA's layout (`frames/<video>/`).
    Dataset(&'a Path),
    /// One video's frames.
    Video(&'a Video),
}

/// An arm branch scored with the action model.
pub enum ArmBranch<'a> {
    /// The model itself is an arm branch, scored at the people's arm boxes.
    Itself { keypoints: &'a Path },
    /// A branch sharing the model's backbone (heads trained on it), scored in the same pass.
    Shared {
        keypoints: &'a Path,
        file: &'a ActionFile,
        weights: &'a Path,
    },
}

/// What to score.
pub struct BoxScoring<'a> {
    pub config: &'a ActionFile,
    pub weights: &'a Path,
    pub labels: &'a LabelMap,
    pub views: TestViews,
    /// One bank per test view, for a model with a bank.
    pub banks: Vec<PathBuf>,
    pub people: Vec<PersonAnnotation>,
    pub frames: Frames<'a>,
    pub arm: Option<ArmBranch<'a>>,
}

/// The scores: of each person (at its own box; with the model an arm branch, of those with
/// arm boxes), of each person by a shared arm branch, and the keyframes scored.
pub struct BoxScores {
    pub people: Vec<PersonScores>,
    pub shared_arm: Option<Vec<PersonScores>>,
    pub samples: Vec<KeyframeSample>,
}

impl BoxScoring<'_> {
    fn samples(&self, people: &[PersonAnnotation]) -> Result<Vec<KeyframeSample>> {
        let clip = self.config.network.clip_spec();
        let samples = match self.frames {
            Frames::Video(video) => AvaKeyframes::from_frame_files(
                people,
                &video.id,
                &video.frames,
                video.start_s,
                clip,
            )?,
            Frames::Dataset(root) => keyframe_samples(people, root, clip)
                .with_context(|| format!("keyframes under {}", root.display()))?,
        };
        Ok(samples.into_samples())
    }

    /// The people's arm boxes from `keypoints` (frame sizes from `samples`).
    fn arm_people(
        &self,
        keypoints: &Path,
        config: &ArmBoxConfig,
        samples: &[KeyframeSample],
    ) -> Result<Vec<ArmPerson>> {
        let poses = read_keypoints(keypoints)?;
        let first: HashMap<&str, &PathBuf> = samples
            .iter()
            .map(|s| (s.key.video_id.as_str(), &s.frames[0]))
            .collect();
        let frame_of = |p: &PersonAnnotation| {
            first
                .get(p.key.video_id.as_str())
                .map(|f| f.to_path_buf())
                .ok_or_else(|| DataError::File {
                    path: keypoints.to_path_buf(),
                    message: format!("video {:?} has no keyframe to score", p.key.video_id),
                })
        };
        let (arm, stats) =
            arm_people_in_frames(&self.people, &poses, self.labels, frame_of, config)?;
        tracing::info!(
            "{} of {} people have arm boxes ({} arm boxes); without matching keypoints {}, \
             without an arm box {}",
            arm.len(),
            self.people.len(),
            arm.iter().map(|p| p.arm_boxes.len()).sum::<usize>(),
            stats.without_keypoints,
            stats.without_arm_box
        );
        Ok(arm)
    }

    /// Scores the boxes on the chosen backend.
    pub fn run(self, backend_choice: BackendChoice) -> Result<BoxScores> {
        let mut samples = self.samples(&self.people)?;
        let banks = self
            .banks
            .iter()
            .map(|dir| Bank::open(dir).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let checkpoint = Checkpoint::open(self.weights)?;
        let scoring = |samples: &[KeyframeSample]| {
            ActionScoring::with_banks(
                self.config,
                checkpoint,
                self.labels,
                samples.to_vec(),
                self.views.clone(),
                banks,
            )
        };
        let (people, shared_arm) = match &self.arm {
            Some(ArmBranch::Shared {
                keypoints,
                file,
                weights,
            }) => {
                // One backbone pass: the people's boxes and their arm boxes in the same clips.
                if file.arm.zoom.is_some() {
                    bail!(
                        "{}: an arm branch on arm-centred clips ([arm] zoom) has its own \
                         backbone pass: score it alone (--config it --keypoints K)",
                        file.path.display()
                    );
                }
                let arm = self.arm_people(keypoints, &file.arm, &samples)?;
                let mut both = self.people.clone();
                both.extend(arm_box_people(&arm));
                samples = self.samples(&both)?;
                let job = SharedArmScoring {
                    scoring: scoring(&samples)?,
                    arm_spec: file.network.clone(),
                    arm_checkpoint: Checkpoint::open(weights)?,
                };
                let (body, arm_scores) = backend::run(backend_choice, job)?;
                let persons: HashSet<(KeyframeKey, [u64; 4])> = self
                    .people
                    .iter()
                    .map(|p| (p.key.clone(), p.box_xyxy_norm.map(f64::to_bits)))
                    .collect();
                let body = body
                    .into_iter()
                    .filter(|p| {
                        persons.contains(&(p.key.clone(), p.box_xyxy_norm.map(f64::to_bits)))
                    })
                    .collect();
                (body, Some(person_arm_scores(&arm, &arm_scores)))
            }
            Some(ArmBranch::Itself { keypoints }) => {
                let arm = self.arm_people(keypoints, &self.config.arm, &samples)?;
                samples = self.samples(&arm_box_people(&arm))?;
                if let Some(zoom) = self.config.arm.zoom {
                    samples = AvaKeyframes::from_samples(samples)
                        .zoomed(zoom)
                        .into_samples();
                }
                let job = scoring(&samples)?;
                let scored = backend::run(backend_choice, job)?;
                (person_arm_scores(&arm, &scored), None)
            }
            None => (backend::run(backend_choice, scoring(&samples)?)?, None),
        };
        Ok(BoxScores {
            people,
            shared_arm,
            samples,
        })
    }
}
