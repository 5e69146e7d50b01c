//! `avaloc actions`: the standard AVA test mode with given person boxes (as PySlowFast's test
//! with precomputed boxes) — every keyframe's clip, the action model's scores for every box,
//! written as an AVA detections CSV that `avaloc eval` scores; optionally annotated keyframes.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::backend::BackendChoice;
use crate::config::ActionFile;
use crate::data::{
    AVA_VIDEO_START_S, LabelMap, Video, annotated_people, default_labelmap, read_person_boxes,
    unlabelled_people, write_ava_csv,
};
use crate::infer::box_scores::{ArmBranch, BoxScoring, Frames};
use crate::infer::{detection_rows, keyframe_images};
use crate::render::keyframes::{Shown, draw_keyframes};

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
    let (mut people, boxes_file) = match (&args.boxes, &args.annotated) {
        (Some(boxes), _) => (
            unlabelled_people(&read_person_boxes(boxes, args.threshold)?),
            boxes,
        ),
        (None, Some(annotated)) => (annotated_people(annotated)?, annotated),
        (None, None) => bail!("give the person boxes: --boxes or --annotated"),
    };
    let video = Video::open(args.frames.as_deref(), args.video.as_deref(), args.start)?;
    if let Some(video) = &video {
        let total = people.len();
        people.retain(|p| p.key.video_id == video.id);
        if people.is_empty() {
            bail!("{}: no boxes of video {:?}", boxes_file.display(), video.id);
        }
        if people.len() < total {
            println!(
                "scoring the {} boxes of video {:?}; {} boxes of other videos left out",
                people.len(),
                video.id,
                total - people.len()
            );
        }
    }
    // The arm branch: this model (a separate branch) or --arm-config's, sharing its backbone.
    let arm_file = args
        .arm_config
        .as_deref()
        .map(ActionFile::load)
        .transpose()?;
    let arm_labels = match (&arm_file, &args.arm_labelmap) {
        (Some(file), Some(path)) => {
            let labels = LabelMap::read(path)?;
            file.check_labels(&labels, Some(path))?;
            Some(labels)
        }
        _ => None,
    };
    let arm = match (&arm_file, &args.keypoints, &args.arm_weights) {
        (Some(file), Some(keypoints), Some(weights)) => Some(ArmBranch::Shared {
            keypoints,
            file,
            weights,
        }),
        (None, Some(keypoints), _) => Some(ArmBranch::Itself { keypoints }),
        _ => None,
    };
    let scores = BoxScoring {
        config: &config,
        weights: &args.weights,
        labels: &labels,
        views,
        banks: args.bank.clone(),
        people,
        frames: match &video {
            Some(video) => Frames::Video(video),
            None => Frames::Dataset(&args.data),
        },
        arm,
    }
    .run(backend_choice)?;
    if let (Some(arm_scores), Some(arm_labels), Some(arm_out)) =
        (&scores.shared_arm, &arm_labels, &args.arm_out)
    {
        write_ava_csv(arm_out, &detection_rows(arm_scores, arm_labels))
            .with_context(|| format!("writing {}", arm_out.display()))?;
        println!(
            "{}: the arm branch's {} classes for {} people (the same backbone pass)",
            arm_out.display(),
            arm_labels.labels.len(),
            arm_scores.len()
        );
    }
    write_ava_csv(&args.out, &detection_rows(&scores.people, &labels))
        .with_context(|| format!("writing {}", args.out.display()))?;
    let keyframes: HashSet<_> = scores.samples.iter().map(|s| &s.key).collect();
    println!(
        "{}: {} classes for {} boxes at {} keyframes",
        args.out.display(),
        labels.labels.len(),
        scores.people.len(),
        keyframes.len()
    );
    if let Some(dir) = &args.pictures {
        let shown = Shown {
            top: 3,
            min_score: 0.3,
        };
        let images = keyframe_images(&scores.samples);
        let written = draw_keyframes(&scores.people, &images, &labels, shown, dir)?;
        println!("{}: {} annotated keyframes", dir.display(), written.len());
    }
    Ok(())
}
