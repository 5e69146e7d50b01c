//! Person detection over frames: the detector's person-class boxes above a score threshold,
//! in normalised coordinates, a batch of frames per forward pass.

use std::path::PathBuf;

use burn::tensor::backend::Backend;

use crate::backend::Job;
use crate::data::shard::VideoFiles;
use crate::data::{
    AVA_FPS, DataError, DetectedPerson, FrameTime, Video, decode_frame, write_person_boxes,
};
use crate::models::detector::{DetectorSpec, FasterRcnn, rgb_to_tensor};
use crate::progress::Progress;
use crate::weights::{Checkpoint, LoadMode};

/// A frame to look for people in.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonFrame {
    pub video_id: String,
    pub time: FrameTime,
    pub path: PathBuf,
}

impl PersonFrame {
    /// The frames of `videos` to look at: one keyframe a second (frame 30·k is second
    /// `start_s + k`), or every frame, timed in seconds.
    pub fn of_videos(videos: &[Video], every_frame: bool) -> Vec<Self> {
        let fps = AVA_FPS as usize;
        videos
            .iter()
            .flat_map(|v| {
                v.frames
                    .iter()
                    .enumerate()
                    .filter(move |(i, _)| every_frame || i % fps == 0)
                    .map(move |(i, path)| PersonFrame {
                        video_id: v.id.clone(),
                        time: if every_frame {
                            FrameTime::Frame(v.start_s as f64 + i as f64 / AVA_FPS as f64)
                        } else {
                            FrameTime::Keyframe(v.start_s + (i / fps) as i64)
                        },
                        path: path.clone(),
                    })
            })
            .collect()
    }
}

/// Which detections count as people.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersonFilter {
    /// Minimum score (the seed system: 0.8 on AVA, 0.7 on Kinetics).
    pub threshold: f32,
    /// The detector's person class (1 in COCO and in a person-only detector).
    pub person_label: i64,
    /// Frames per forward pass.
    pub batch: usize,
}

/// The people `model` finds in `frames`, frame by frame in order and by falling score within a
/// frame; `progress` is called with the number of frames done. A frame that cannot be read is
/// an error naming its file.
pub fn detect_persons<B: Backend>(
    model: &FasterRcnn<B>,
    frames: &[PersonFrame],
    filter: PersonFilter,
    device: &B::Device,
    mut progress: impl FnMut(usize),
) -> Result<Vec<DetectedPerson>, DataError> {
    let mut people = Vec::new();
    let mut done = 0;
    for chunk in frames.chunks(filter.batch.max(1)) {
        let mut images = Vec::with_capacity(chunk.len());
        let mut sizes = Vec::with_capacity(chunk.len());
        for frame in chunk {
            let image = decode_frame(&frame.path)?;
            sizes.push((image.width() as f32, image.height() as f32));
            images.push(rgb_to_tensor::<B>(&image, device));
        }
        for ((frame, d), (w, h)) in chunk.iter().zip(model.detect(images)).zip(sizes) {
            for ((b, score), label) in d.boxes.iter().zip(&d.scores).zip(&d.labels) {
                if *label == filter.person_label && *score >= filter.threshold {
                    people.push(DetectedPerson {
                        video_id: frame.video_id.clone(),
                        time: frame.time,
                        // Normalised in f32, as the detector's boxes are.
                        box_xyxy_norm: [b[0] / w, b[1] / h, b[2] / w, b[3] / h].map(f64::from),
                        score: *score as f64,
                    });
                }
            }
        }
        done += chunk.len();
        progress(done);
    }
    Ok(people)
}

/// `avaloc persons` as a job on any backend: the detector of a config with its checkpoint,
/// run over frames with a progress bar.
pub struct PersonDetection {
    pub detector: DetectorSpec,
    pub checkpoint: Checkpoint,
    pub frames: Vec<PersonFrame>,
    pub filter: PersonFilter,
    /// Where given, each video's people go into its own file there as soon as its frames are
    /// done (the frames come grouped by video), so that a killed run keeps what it did.
    pub per_video: Option<VideoFiles>,
}

impl Job for PersonDetection {
    type Output = Vec<DetectedPerson>;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Vec<DetectedPerson>> {
        let (model, _) = self
            .detector
            .load::<B>(&self.checkpoint, LoadMode::Strict, &device)?;
        let progress = Progress::new("persons", self.frames.len(), "frames");
        let mut people = Vec::new();
        let groups: Vec<&[PersonFrame]> = match &self.per_video {
            Some(_) => self
                .frames
                .chunk_by(|a, b| a.video_id == b.video_id)
                .collect(),
            None => vec![&self.frames],
        };
        let mut offset = 0;
        for frames in groups {
            let before = people.len();
            people.extend(detect_persons(
                &model,
                frames,
                self.filter,
                &device,
                |done| progress.set(offset + done, String::new),
            )?);
            offset += frames.len();
            if let (Some(files), Some(first)) = (&self.per_video, frames.first()) {
                let path = files.path(&first.video_id);
                write_person_boxes(&path, &people[before..])?;
            }
        }
        progress.finish();
        Ok(people)
    }
}
