//! `avaloc poses`: 17 COCO keypoints for every person box at every keyframe, as tf-cpn tests
//! (crop, flip test, heatmap decoding, box rescoring), written in avaloc's keypoint CSV
//! (`video_id, timestamp, x1, y1, x2, y2, person_id, score, (x, y, s) × 17`, normalised), with
//! skeletons drawn on the keyframes on request. With `--shard I/N`, one share of the boxes'
//! videos goes into a folder of one CSV per video (which every avaloc command reads as one
//! file), skipping videos already there, so that N machines fill one folder.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::config::ArmBoxConfig;
use crate::config::PoseFile;
use crate::config::config_digest;
use crate::data::shard::{Shard, VideoFiles};
use crate::data::{
    AVA_VIDEO_START_S, AvaKeyframes, CocoKeypoints, PersonKeypoints, Video, boxes_by_video,
    coco_results, keyframe_samples, read_person_boxes, unlabelled_people, write_coco_results,
    write_keypoints,
};
use crate::fs::file_digest;
use crate::infer::{PoseEstimation, PoseOptions, arm_boxes, keyframe_images};
use crate::models::action::ClipSpec;
use crate::render::keyframes::draw_poses;
use crate::weights::Checkpoint;

#[derive(Debug, Args)]
pub struct PosesArgs {
    /// A pose configuration (configs/pose/*.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// CPN weights (pytorch-cpn-named, converted from tf-cpn, or saved by avaloc).
    #[arg(long)]
    pub weights: PathBuf,
    /// Person boxes (PySlowFast's CSV, e.g. from `avaloc persons`, or its folder of per-video
    /// CSVs).
    #[arg(long)]
    pub boxes: PathBuf,
    /// Minimum person-box score.
    #[arg(long, default_value_t = 0.0)]
    pub box_threshold: f64,
    /// Dataset root with frames/<video>/<video>_%06d.jpg (30 fps from second 900).
    #[arg(long, default_value = "data/synth")]
    pub data: PathBuf,
    /// Instead of --data: one video's frames at 30 fps (the directory's name is the video id).
    #[arg(long)]
    pub frames: Option<PathBuf>,
    /// Instead of --data: a video file, decoded at 30 fps by the `ffmpeg` program.
    #[arg(long, conflicts_with = "frames")]
    pub video: Option<PathBuf>,
    /// With --frames or --video: time of the first frame in seconds (AVA videos start at 900).
    #[arg(long, default_value_t = AVA_VIDEO_START_S)]
    pub start: i64,
    /// Skip the flip test (tf-cpn averages each crop with its mirror image).
    #[arg(long)]
    pub no_flip: bool,
    /// Crops per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Draw each keyframe with its people's boxes and skeletons as a PNG into this folder.
    #[arg(long)]
    pub pictures: Option<PathBuf>,
    /// Keypoints drawn in --pictures score at least this (CPN scores a keypoint 0.5 plus its
    /// heatmap peak over the targets' 255: 0.55 is a peak of 5 % of a target's).
    #[arg(long, default_value_t = 0.55)]
    pub picture_threshold: f64,
    /// Also write the poses as COCO keypoint results (`image_id, category_id, keypoints,
    /// score`, pixels), for `avaloc eval keypoints`.
    #[arg(long, conflicts_with = "shard")]
    pub coco_json: Option<PathBuf>,
    /// With --coco-json: take image ids from this COCO file's images, matched by file name
    /// (relative to --data; keyframes it lacks are left out); without it the keyframes are
    /// numbered from 1 in (video, timestamp) order, as `avaloc synth` numbers its images.
    #[arg(long, requires = "coco_json")]
    pub coco_images: Option<PathBuf>,
    /// In --pictures, also draw each person's arm boxes (the arm branch's, default settings).
    #[arg(long, requires = "pictures")]
    pub arm_boxes: bool,
    /// Share I of N of the boxes' videos (e.g. 0/4; 0/1 for all): --out is then a folder of
    /// one CSV per video, which N machines fill.
    #[arg(long, conflicts_with_all = ["frames", "video"])]
    pub shard: Option<Shard>,
    /// The keypoint CSV to write (with --shard, the folder of per-video CSVs).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: PosesArgs, backend_choice: BackendChoice) -> Result<()> {
    let config = PoseFile::load(&args.config)?;
    let per_video = match args.shard {
        Some(_) => {
            let settings = [
                ("config", config_digest(&args.config)?),
                ("weights", file_digest(&args.weights)?),
                ("box_threshold", args.box_threshold.to_string()),
                ("flip", (!args.no_flip).to_string()),
            ];
            Some(VideoFiles::create(&args.out, &settings)?)
        }
        None => {
            crate::fs::check_writable(&args.out)?;
            None
        }
    };
    if let Some(path) = &args.coco_json {
        crate::fs::check_writable(path)?;
    }
    let mut people = read_person_boxes(&args.boxes, args.box_threshold)?;
    if let (Some(shard), Some(files)) = (args.shard, &per_video) {
        let share = shard.work(
            boxes_by_video(people),
            |v| files.done(v),
            |_, boxes| Ok::<_, std::convert::Infallible>(boxes),
        );
        let Ok(share) = share;
        let (todo, done) = (share.todo, share.done);
        println!(
            "share {shard}: {} videos to estimate, {done} already in {}",
            todo.len(),
            files.dir.display()
        );
        people = todo.into_values().flatten().collect();
        if people.is_empty() {
            println!("{}: share {shard} is complete", files.dir.display());
            return Ok(());
        }
    }
    // The keyframe image is the middle frame of a one-frame clip.
    let clip = ClipSpec {
        num_frames: 1,
        stride: 1,
    };
    let video = Video::open(args.frames.as_deref(), args.video.as_deref(), args.start)?;
    let samples = match &video {
        Some(video) => {
            let video_id = &video.id;
            people.retain(|p| &p.key.video_id == video_id);
            if people.is_empty() {
                bail!("{}: no boxes of video {video_id:?}", args.boxes.display());
            }
            let annotated = unlabelled_people(&people);
            AvaKeyframes::from_frame_files(
                &annotated,
                video_id,
                &video.frames,
                video.start_s,
                clip,
            )?
        }
        None => keyframe_samples(&unlabelled_people(&people), &args.data, clip)
            .with_context(|| format!("keyframes under {}", args.data.display()))?,
    };
    let images = keyframe_images(samples.samples());
    let job = PoseEstimation {
        spec: config.network,
        checkpoint: Checkpoint::open(&args.weights)?,
        people,
        images: images.clone(),
        options: PoseOptions {
            flip: !args.no_flip,
            batch: args.batch.max(1),
        },
        per_video,
    };
    let poses = backend::run(backend_choice, job)?;
    if args.shard.is_none() {
        write_keypoints(&args.out, &poses)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    println!(
        "{}: keypoints of {} persons at {} keyframes",
        args.out.display(),
        poses.len(),
        images.len()
    );
    if let Some(path) = &args.coco_json {
        let coco = args
            .coco_images
            .as_deref()
            .map(CocoKeypoints::read)
            .transpose()?;
        let root = coco.as_ref().map(|c| (c, args.data.as_path()));
        let results = coco_results(&poses, &images, root)?;
        write_coco_results(path, &results)
            .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "{}: {} COCO keypoint results",
            path.display(),
            results.len()
        );
    }
    if let Some(dir) = &args.pictures {
        let arms = args.arm_boxes.then(ArmBoxConfig::default);
        let arm_boxes_of = |p: &PersonKeypoints, wh: [f64; 2]| -> Vec<[f64; 4]> {
            arms.as_ref().map_or(Vec::new(), |c| {
                arm_boxes(p, wh, c).into_iter().flatten().collect()
            })
        };
        let written = draw_poses(
            &poses,
            &images,
            args.picture_threshold,
            Some(&arm_boxes_of),
            dir,
        )?;
        println!(
            "{}: {} keyframes with skeletons",
            dir.display(),
            written.len()
        );
    }
    Ok(())
}
