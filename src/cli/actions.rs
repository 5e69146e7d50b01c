//! `avaloc actions`: the standard AVA test mode with given person boxes (as PySlowFast's test
//! with precomputed boxes) — every keyframe's clip, the action model's scores for every box,
//! written as an AVA detections CSV that `avaloc eval` scores; optionally annotated keyframes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::config::ActionFile;
use crate::config::ArmBoxConfig;
use crate::data::bank::Bank;
use crate::data::{
    AVA_VIDEO_START_S, AvaKeyframes, KeyframeKey, KeyframeSample, LabelMap, PersonAnnotation,
    Video, annotated_people, default_labelmap, keyframe_samples, read_keypoints, read_person_boxes,
    unlabelled_people, write_ava_csv,
};
use crate::infer::{
    ActionScoring, ArmPerson, SharedArmScoring, arm_box_people, arm_people_in_frames,
    detection_rows, keyframe_images, person_arm_scores,
};
use crate::render::keyframes::{Shown, draw_keyframes};
use crate::weights::Checkpoint;

#[derive(Debug, Args)]
pub struct ActionsArgs {
    /// An action model configuration (configs/action/*.toml); its [test] table gives the views.
    #[arg(long)]
    pub config: PathBuf,
    /// Action model weights (PySlowFast-named .pyth/.safetensors, or saved by avaloc).
    #[arg(long)]
    pub weights: PathBuf,
    /// Dataset root with frames/<video>/<video>_%06d.jpg (30 fps from second 900); its
    /// annotations/ hold the default label map.
    #[arg(long, default_value = "data/synth")]
    pub data: PathBuf,
    /// Instead of --data: one video's frames at 30 fps (sorted by name; the directory's name
    /// is the video id, as `avaloc persons --frames` writes it). Needs --labelmap.
    #[arg(long, requires = "labelmap")]
    pub frames: Option<PathBuf>,
    /// Instead of --data: a video file, decoded at 30 fps by the `ffmpeg` program (its file
    /// name without extension is the video id). Needs --labelmap.
    #[arg(long, requires = "labelmap", conflicts_with = "frames")]
    pub video: Option<PathBuf>,
    /// With --frames or --video: time of the first frame in seconds (AVA videos start at 900).
    #[arg(long, default_value_t = AVA_VIDEO_START_S)]
    pub start: i64,
    /// Person boxes (PySlowFast's CSV, e.g. from `avaloc persons`).
    #[arg(long, required_unless_present = "annotated")]
    pub boxes: Option<PathBuf>,
    /// Instead of --boxes: the annotated people's boxes of an AVA annotation CSV (scoring at
    /// ground-truth boxes, as validation does).
    #[arg(long, conflicts_with = "boxes")]
    pub annotated: Option<PathBuf>,
    /// Score an arm branch (a model trained at arm boxes, with its config's [arm] table): each
    /// person's arm boxes from these keypoints (keypoint CSV, from `avaloc poses` or the
    /// synthetic set), the person's score for a class the maximum over its arm boxes, written
    /// at the person's box. People without an arm box are left out (fusion keeps their body
    /// scores).
    #[arg(long)]
    pub keypoints: Option<PathBuf>,
    /// Minimum person-box score (the seed system: 0.8 on AVA, 0.7 on Kinetics).
    #[arg(long, default_value_t = 0.8)]
    pub threshold: f64,
    /// Label map of the model's classes, in its output order (default: as `train action`).
    #[arg(long)]
    pub labelmap: Option<PathBuf>,
    /// Override the config's test.short_sides (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub short_sides: Vec<u32>,
    /// Also score flipped clips (overrides test.flip).
    #[arg(long)]
    pub flip: bool,
    /// Write each keyframe with its boxes and top actions as a PNG into this folder.
    #[arg(long)]
    pub pictures: Option<PathBuf>,
    /// The long-term feature bank of a model with one ([network.bank]), holding these videos.
    /// Repeat it with one bank per test view (`bank build --short-side S [--flip]`, as FAIR
    /// re-extracts the bank per view); a view without its own bank reads the first.
    #[arg(long)]
    pub bank: Vec<PathBuf>,
    /// With --keypoints: an arm branch sharing this model's backbone (trained with
    /// [train.action] freeze_backbone from --weights, e.g.
    /// configs/action/slowfast_arm_shared_synth.toml), scored in the same backbone pass; its
    /// per-person scores go to --arm-out, this model's to --out.
    #[arg(long, requires_all = ["arm_weights", "arm_labelmap", "arm_out", "keypoints"])]
    pub arm_config: Option<PathBuf>,
    /// The shared arm branch's weights.
    #[arg(long, requires = "arm_config")]
    pub arm_weights: Option<PathBuf>,
    /// The shared arm branch's label map (configs/arm/ava_arm_actions.pbtxt).
    #[arg(long, requires = "arm_config")]
    pub arm_labelmap: Option<PathBuf>,
    /// Where the shared arm branch's detections CSV goes.
    #[arg(long, requires = "arm_config")]
    pub arm_out: Option<PathBuf>,
    /// The AVA detections CSV to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: ActionsArgs, backend_choice: BackendChoice) -> Result<()> {
    let config = ActionFile::load(&args.config)?;
    crate::fs::check_writable(&args.out)?;
    let mut views = config.test.clone();
    if !args.short_sides.is_empty() {
        views.short_sides = args.short_sides.clone();
    }
    views.flip |= args.flip;
    views.validate().map_err(anyhow::Error::msg)?;
    let labelmap = args
        .labelmap
        .clone()
        .unwrap_or_else(|| default_labelmap(&args.data));
    let labels = LabelMap::read(&labelmap)?;
    let (people, boxes_file) = match (&args.boxes, &args.annotated) {
        (Some(boxes), _) => (
            unlabelled_people(&read_person_boxes(boxes, args.threshold)?),
            boxes,
        ),
        (None, Some(annotated)) => (annotated_people(annotated)?, annotated),
        (None, None) => bail!("give the person boxes: --boxes or --annotated"),
    };
    let clip = config.network.clip_spec();
    let video = Video::open(args.frames.as_deref(), args.video.as_deref(), args.start)?;
    let samples_of = |people: &[PersonAnnotation]| -> Result<Vec<KeyframeSample>> {
        let samples = match &video {
            Some(video) => AvaKeyframes::from_frame_files(
                people,
                &video.id,
                &video.frames,
                video.start_s,
                clip,
            )?,
            None => keyframe_samples(people, &args.data, clip)
                .with_context(|| format!("keyframes under {}", args.data.display()))?,
        };
        Ok(samples.into_samples())
    };
    let people = match &video {
        Some(video) => {
            let video_id = &video.id;
            let total = people.len();
            let people: Vec<_> = people
                .into_iter()
                .filter(|p| &p.key.video_id == video_id)
                .collect();
            if people.is_empty() {
                bail!("{}: no boxes of video {video_id:?}", boxes_file.display());
            }
            if people.len() < total {
                println!(
                    "scoring the {} boxes of video {video_id:?}; {} boxes of other videos left out",
                    people.len(),
                    total - people.len()
                );
            }
            people
        }
        None => people,
    };
    let mut samples = samples_of(&people)?;
    // The arm branch's config: this model's own (a separate branch) or --arm-config's.
    let arm_file = args
        .arm_config
        .as_deref()
        .map(ActionFile::load)
        .transpose()?;
    let arm_boxes =
        |arm_config: &ArmBoxConfig, samples: &[KeyframeSample]| -> Result<Vec<ArmPerson>> {
            let path = args
                .keypoints
                .as_deref()
                .expect("clap requires --keypoints");
            let poses = read_keypoints(path)?;
            let first: HashMap<&str, &PathBuf> = samples
                .iter()
                .map(|s| (s.key.video_id.as_str(), &s.frames[0]))
                .collect();
            let frame_of = |p: &PersonAnnotation| first[p.key.video_id.as_str()].clone();
            Ok(arm_people_in_frames(&people, &poses, &labels, frame_of, arm_config)?.0)
        };
    let checkpoint = Checkpoint::open(&args.weights)?;
    let banks = args
        .bank
        .iter()
        .map(|dir| Bank::open(dir).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    // Exactly one branch below scores.
    let (config_ref, labels_ref) = (&config, &labels);
    let scoring = move |samples: &[KeyframeSample]| {
        ActionScoring::with_banks(
            config_ref,
            checkpoint,
            labels_ref,
            samples.to_vec(),
            views,
            banks,
        )
    };
    let people = match (&arm_file, &args.keypoints) {
        (Some(arm_file), _) => {
            // One backbone pass: the people's boxes and their arm boxes in the same clips.
            if arm_file.arm.zoom.is_some() {
                bail!(
                    "{}: an arm branch on arm-centred clips ([arm] zoom) has its own backbone \
                     pass: score it alone (--config it --keypoints K)",
                    arm_file.path.display()
                );
            }
            let arm_labelmap = args.arm_labelmap.as_deref().expect("clap requires it");
            let arm_labels = LabelMap::read(arm_labelmap)?;
            arm_file.check_labels(&arm_labels, Some(arm_labelmap))?;
            let arm = arm_boxes(&arm_file.arm, &samples)?;
            let mut both = people.clone();
            both.extend(arm_box_people(&arm));
            samples = samples_of(&both)?;
            let scoring = scoring(&samples)?;
            let job = SharedArmScoring {
                scoring,
                arm_spec: arm_file.network.clone(),
                arm_checkpoint: Checkpoint::open(
                    args.arm_weights.as_deref().expect("clap requires it"),
                )?,
            };
            let (body, arm_scores) = backend::run(backend_choice, job)?;
            let arm_out = args.arm_out.as_deref().expect("clap requires it");
            let arm_people = person_arm_scores(&arm, &arm_scores);
            write_ava_csv(arm_out, &detection_rows(&arm_people, &arm_labels))
                .with_context(|| format!("writing {}", arm_out.display()))?;
            println!(
                "{}: the arm branch's {} classes for {} people (the same backbone pass)",
                arm_out.display(),
                arm_labels.labels.len(),
                arm_people.len()
            );
            let persons: std::collections::HashSet<(KeyframeKey, [u64; 4])> = people
                .iter()
                .map(|p| (p.key.clone(), p.box_xyxy_norm.map(f64::to_bits)))
                .collect();
            body.into_iter()
                .filter(|p| persons.contains(&(p.key.clone(), p.box_xyxy_norm.map(f64::to_bits))))
                .collect()
        }
        (None, Some(_)) => {
            // This model is a separate arm branch.
            let arm = arm_boxes(&config.arm, &samples)?;
            samples = samples_of(&arm_box_people(&arm))?;
            if let Some(zoom) = config.arm.zoom {
                samples = AvaKeyframes::from_samples(samples)
                    .zoomed(zoom)
                    .into_samples();
            }
            let job = scoring(&samples)?;
            person_arm_scores(&arm, &backend::run(backend_choice, job)?)
        }
        (None, None) => {
            let job = scoring(&samples)?;
            backend::run(backend_choice, job)?
        }
    };
    write_ava_csv(&args.out, &detection_rows(&people, &labels))
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {} classes for {} boxes at {} keyframes",
        args.out.display(),
        labels.labels.len(),
        people.len(),
        samples
            .iter()
            .map(|s| &s.key)
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    if let Some(dir) = &args.pictures {
        let shown = Shown {
            top: 3,
            min_score: 0.3,
        };
        let written = draw_keyframes(&people, &keyframe_images(&samples), &labels, shown, dir)?;
        println!("{}: {} annotated keyframes", dir.display(), written.len());
    }
    Ok(())
}
