//! `avaloc synth`: a deterministic synthetic dataset in the real AVA v2.2 layout, small enough
//! to train every network on a 2-core CPU.
//!
//! Articulated figures act on textured, panning backgrounds; several per video, at different
//! depths (so they overlap), some walking in from outside the frame and out again. Body
//! actions (stand, walk, sit, bend/bow, jump/leap) and arm actions (hand wave, point to,
//! throw, hit) are told apart by motion over time, the arm actions by the arm alone; labels
//! are imbalanced like AVA's. Two long-context classes need more than the 2-second clip: the
//! videos take turns being plain, a song (everyone in it is labelled "listen to (a person)" at
//! every keyframe) or a show (everyone "watch (a person)"), and the only thing that shows
//! which is someone singing or dancing (two-armed cues labelled "sing to" and "dance", see
//! [`actions::Scene`]) during two 3–6 s segments somewhere in the 30 s; at most 12 of the 27
//! keyframes see it, the long-term feature bank sees it from all of them. Videos come in
//! twins (2k, 2k + 1) rendered from one seed in two different scenes, alike but for the cue
//! segment: no model can learn a video's scene from anything but its cue (a network would
//! otherwise memorise the few training videos' looks, and a bank built by it would give the
//! scene away at every second of a training video but not of a new one). Written per split (train, val
//! and a held-out, labelled test split for reporting what was chosen on val): JPEG frames at 30 fps
//! (`frames/<vid>/<vid>_%06d.jpg`, the video starting at second 900 as AVA's do), annotation
//! CSVs, excluded timestamps, the label map, detector-like person boxes with scores, COCO-17
//! keypoints per person and keyframe (`synth_keypoints_<split>.csv`, the format of
//! [`crate::data::read_keypoints`], and as COCO keypoint ground truth,
//! `person_keypoints_<split>.json`), and PySlowFast frame lists.

mod actions;
mod figure;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use self::actions::{Body, LABELS, Scene, Segment, pose, schedule};
use self::figure::{Placement, Skeleton};
use super::{AVA_FPS, AVA_VIDEO_START_S, DatasetPart, KeyframeKey, PersonKeypoints, keypoint_row};
use crate::progress::Progress;

/// Classes in the synthetic label map.
pub const SYNTH_CLASSES: usize = LABELS.len();
pub use self::actions::LABELS as SYNTH_LABELS;

/// Sizes and seed of a synthetic dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthConfig {
    pub train_videos: usize,
    pub val_videos: usize,
    /// Held-out videos, labelled like val: choices made on val (the arm-fusion classes) are
    /// reported on them.
    pub test_videos: usize,
    pub seconds: usize,
    pub width: u32,
    pub height: u32,
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            train_videos: 24,
            val_videos: 6,
            test_videos: 6,
            seconds: 30,
            width: 320,
            height: 240,
            seed: 0,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthSummary {
    pub videos: usize,
    pub frames: usize,
    pub keyframes: usize,
    pub person_boxes: usize,
    /// Annotation rows per action id, over all splits.
    pub label_counts: Vec<(i64, usize)>,
}

/// Length of a Kinetics clip, and the second of its annotated keyframe.
const KINETICS_SECONDS: usize = 10;
const KINETICS_KEYFRAME: usize = 5;

/// Everything one video contributes to the split's files.
#[derive(Default)]
struct VideoOutput {
    annotations: String,
    detections: String,
    keypoints: String,
    frame_list: String,
    exclusions: String,
    frames: usize,
    keyframes: usize,
    person_boxes: usize,
}

/// Writes the dataset under `root` (created if needed). Files are written to temporary names
/// and renamed, so an interrupted run leaves no half-written annotation file.
pub fn generate(root: &Path, config: &SynthConfig) -> std::io::Result<SynthSummary> {
    if config.seconds < 5 || config.width < 64 || config.height < 48 {
        return Err(std::io::Error::other(
            "synth needs at least 5 s of video at 64×48 or more",
        ));
    }
    let annotations = root.join("annotations");
    std::fs::create_dir_all(&annotations)?;
    std::fs::create_dir_all(root.join("frame_lists"))?;
    let mut summary = SynthSummary::default();
    let mut counts = std::collections::BTreeMap::<i64, usize>::new();
    let total_frames = (config.train_videos + config.val_videos + config.test_videos)
        * config.seconds
        * AVA_FPS as usize;
    let progress = Progress::new("synth", total_frames, "frames");
    for (split, count, offset) in [
        ("train", config.train_videos, 0),
        ("val", config.val_videos, 1000),
        ("test", config.test_videos, 2000),
    ] {
        if split == "test" && count == 0 {
            continue;
        }
        let ids: Vec<String> = (0..count).map(|i| format!("syn_{split}_{i:03}")).collect();
        let outputs = render_videos(root, config, DatasetPart::Ava, &ids, offset, &progress)?;
        let mut files = [
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        files[3].push_str("original_vido_id video_id frame_id path labels\n");
        for out in outputs {
            for (file, part) in files.iter_mut().zip([
                &out.annotations,
                &out.detections,
                &out.keypoints,
                &out.frame_list,
                &out.exclusions,
            ]) {
                file.push_str(part);
            }
            summary.frames += out.frames;
            summary.keyframes += out.keyframes;
            summary.person_boxes += out.person_boxes;
        }
        for line in files[0].lines() {
            let id: i64 = line
                .split(',')
                .nth(6)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            *counts.entry(id).or_default() += 1;
        }
        let [ann, det, kp, list, excl] = files;
        crate::fs::write_atomic(
            &annotations.join(format!("ava_{split}_v2.2.csv")),
            ann.as_bytes(),
        )?;
        crate::fs::write_atomic(
            &annotations.join(format!("ava_detection_{split}_boxes_and_labels.csv")),
            det.as_bytes(),
        )?;
        let keypoints_csv = annotations.join(format!("synth_keypoints_{split}.csv"));
        crate::fs::write_atomic(&keypoints_csv, kp.as_bytes())?;
        write_coco_keypoints(root, config, &keypoints_csv, split)?;
        crate::fs::write_atomic(
            &root.join("frame_lists").join(format!("{split}.csv")),
            list.as_bytes(),
        )?;
        if split != "train" {
            crate::fs::write_atomic(
                &annotations.join(format!("ava_{split}_excluded_timestamps_v2.2.csv")),
                excl.as_bytes(),
            )?;
        }
        summary.videos += count;
    }
    let mut labelmap = String::new();
    for (id, name, kind) in LABELS {
        writeln!(
            labelmap,
            "label {{\n  name: \"{name}\"\n  label_id: {id}\n  label_type: {kind}\n}}"
        )
        .unwrap();
    }
    crate::fs::write_atomic(
        &annotations.join("ava_action_list_v2.2.pbtxt"),
        labelmap.as_bytes(),
    )?;
    summary.label_counts = counts.into_iter().collect();
    progress.finish();
    Ok(summary)
}

/// Renders the videos on all cores, each from its own seed.
fn render_videos(
    root: &Path,
    config: &SynthConfig,
    part: DatasetPart,
    ids: &[String],
    offset: u64,
    progress: &Progress,
) -> std::io::Result<Vec<VideoOutput>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(ids.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::io::Result<(usize, VideoOutput)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= ids.len() {
                            break done;
                        }
                        // Twins: videos 2k and 2k + 1 share a seed (the same people, moves
                        // and background), and differ in scene, hence only in the cue.
                        let seed = config
                            .seed
                            .wrapping_mul(1_000_003)
                            .wrapping_add(offset + (i / 2) as u64);
                        let scene = Scene::nth(i / 2 + i % 2);
                        done.push(
                            render_video(root, config, part, &ids[i], scene, seed, progress)
                                .map(|out| (i, out)),
                        );
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("synth worker panicked"))
            .collect()
    });
    let mut outputs: Vec<(usize, VideoOutput)> = results.into_iter().collect::<Result<_, _>>()?;
    outputs.sort_by_key(|(i, _)| *i);
    Ok(outputs.into_iter().map(|(_, out)| out).collect())
}

/// One person's life in a video.
struct Actor {
    id: usize,
    place: Placement,
    segments: Vec<Segment>,
    /// Hip x and facing per frame.
    track: Vec<(f64, f64)>,
}

impl Actor {
    fn new(
        id: usize,
        config: &SynthConfig,
        part: DatasetPart,
        frames: usize,
        rng: &mut StdRng,
    ) -> Self {
        let (w, h) = (config.width as f64, config.height as f64);
        let depth: f64 = rng.random_range(0.0..1.0);
        let (height, ground) = match part {
            DatasetPart::Ava => (h * (0.38 + 0.4 * depth), h * (0.72 + 0.24 * depth)),
            // Kinetics' people fill more of the frame.
            DatasetPart::Kinetics => (h * (0.62 + 0.28 * depth), h * (0.9 + 0.08 * depth)),
        };
        let mut segments = schedule(frames as f64 / AVA_FPS as f64, rng);
        // Kinetics' people stay in view; the films' come and go.
        let entering = rng.random_bool(0.3) && part == DatasetPart::Ava;
        let mut x = if entering {
            segments[0].body = Body::Walk;
            segments[0].arm = None;
            if rng.random_bool(0.5) {
                -0.12 * w
            } else {
                1.12 * w
            }
        } else if part == DatasetPart::Kinetics {
            rng.random_range(0.25 * w..0.75 * w)
        } else {
            rng.random_range(0.1 * w..0.9 * w)
        };
        let color = |rng: &mut StdRng| [0, 1, 2].map(|_| rng.random_range(30..230u8));
        let place = Placement {
            hip: [0.0, ground - 0.5 * height],
            height,
            facing: 1.0,
            shirt: color(rng),
            pants: color(rng),
            skin: [
                rng.random_range(150..240u8),
                rng.random_range(110..190u8),
                rng.random_range(80..150u8),
            ],
        };
        let speed = height * rng.random_range(0.3..0.5);
        // Facing is chosen per segment: walkers near an edge mostly head for the centre.
        let mut track = Vec::with_capacity(frames);
        let mut facing = 1.0;
        let mut segment = usize::MAX;
        for frame in 0..frames {
            let t = frame as f64 / AVA_FPS as f64;
            let s = segments.iter().rposition(|s| s.start_s <= t).unwrap_or(0);
            if s != segment {
                segment = s;
                let towards_centre = if x < w / 2.0 { 1.0 } else { -1.0 };
                facing = if (x - w / 2.0).abs() > 0.35 * w && rng.random_bool(0.75) {
                    towards_centre
                } else if rng.random_bool(0.5) {
                    1.0
                } else {
                    -1.0
                };
            }
            if part == DatasetPart::Kinetics
                && ((x < 0.15 * w && facing < 0.0) || (x > 0.85 * w && facing > 0.0))
            {
                facing = -facing;
            }
            if segments[s].body == Body::Walk {
                x += facing * speed / AVA_FPS as f64;
            }
            track.push((x, facing));
        }
        Self {
            id,
            place,
            segments,
            track,
        }
    }

    fn segment_at(&self, t: f64) -> (&Segment, f64) {
        let s = self
            .segments
            .iter()
            .rposition(|s| s.start_s <= t)
            .unwrap_or(0);
        (&self.segments[s], t - self.segments[s].start_s)
    }

    fn skeleton(&self, frame: usize) -> Skeleton {
        let t = frame as f64 / AVA_FPS as f64;
        let (segment, since) = self.segment_at(t);
        let (x, facing) = self.track[frame];
        let place = Placement {
            hip: [x, self.place.hip[1]],
            facing,
            ..self.place
        };
        // Each person moves out of step with the others.
        Skeleton::new(&place, &pose(segment, since + 0.37 * self.id as f64))
    }
}

/// A sinusoidal grating: wave vector (per pixel), phase and amplitude per colour channel.
type Grating = ([f64; 2], f64, [f64; 3]);

/// A panning texture: a base colour plus a few random sinusoidal gratings.
struct Background {
    base: [f64; 3],
    waves: Vec<Grating>,
    pan: f64,
}

impl Background {
    fn new(rng: &mut StdRng) -> Self {
        let base = [0, 1, 2].map(|_| rng.random_range(60.0..190.0));
        let waves = (0..4)
            .map(|_| {
                let k = [rng.random_range(-0.15..0.15), rng.random_range(-0.15..0.15)];
                let amp = [0, 1, 2].map(|_| rng.random_range(-35.0..35.0));
                (k, rng.random_range(0.0..std::f64::consts::TAU), amp)
            })
            .collect();
        Self {
            base,
            waves,
            pan: rng.random_range(-12.0..12.0),
        }
    }

    /// Each grating `sin(kx·x + ky·y + φ)` is expanded as `sin(kx·x)·cos(ky·y + φ) +
    /// cos(kx·x)·sin(ky·y + φ)`: sines per column and per row, not per pixel.
    fn render(&self, width: u32, height: u32, t: f64) -> RgbImage {
        let shift = self.pan * t;
        // Per pixel column (or row): (sin, cos) of each grating's phase along that axis.
        let table = |len: u32, f: &dyn Fn(&Grating, f64) -> f64| -> Vec<Vec<(f64, f64)>> {
            (0..len)
                .map(|i| {
                    self.waves
                        .iter()
                        .map(|w| f(w, i as f64).sin_cos())
                        .collect()
                })
                .collect()
        };
        let cols = table(width, &|(k, _, _), x| k[0] * (x + shift));
        let rows = table(height, &|(k, phase, _), y| k[1] * y + phase);
        RgbImage::from_fn(width, height, |x, y| {
            let mut c = self.base;
            let (col, row) = (&cols[x as usize], &rows[y as usize]);
            for (((_, _, amp), (sx, cx)), (sy, cy)) in self.waves.iter().zip(col).zip(row) {
                let s = sx * cy + cx * sy;
                for ch in 0..3 {
                    c[ch] += amp[ch] * s;
                }
            }
            Rgb(c.map(|v| v.clamp(0.0, 255.0) as u8))
        })
    }
}

/// The keypoints of `split` as COCO keypoint ground truth,
/// `annotations/person_keypoints_<split>.json`, each image a keyframe's frame under `root`.
fn write_coco_keypoints(
    root: &Path,
    config: &SynthConfig,
    keypoints_csv: &Path,
    split: &str,
) -> std::io::Result<()> {
    let people = super::read_keypoints(keypoints_csv).map_err(std::io::Error::other)?;
    let frame_name = |key: &KeyframeKey| {
        let index = super::keyframe_frame_index(key.timestamp_s, AVA_VIDEO_START_S, AVA_FPS);
        let path =
            super::FrameLayout::PySlowFast.frame_path(Path::new(""), &key.video_id, index as usize);
        path.to_string_lossy().into_owned()
    };
    let size = [config.width, config.height];
    super::coco_from_keypoints(&people, frame_name, size).write(
        &root
            .join("annotations")
            .join(format!("person_keypoints_{split}.json")),
    )
}

/// Gives two segments (one where only one qualifies) the scene's cue, drawn alike in a plain
/// scene: standing, walking or sitting segments inside the keyframe range during which the
/// person stays in the frame (those most in view when none does, which tiny test videos
/// allow).
fn place_cue(actors: &mut [Actor], scene: Scene, config: &SynthConfig, rng: &mut StdRng) {
    let fps = AVA_FPS as f64;
    let (w, end_s) = (config.width as f64, config.seconds as f64 - 1.0);
    let mut candidates = Vec::new();
    for (a, actor) in actors.iter().enumerate() {
        for (s, segment) in actor.segments.iter().enumerate() {
            let stop = actor
                .segments
                .get(s + 1)
                .map_or(end_s, |next| next.start_s.min(end_s));
            if segment.start_s < 1.0
                || stop <= segment.start_s
                || segment.body == Body::Jump
                || segment.body == Body::Bend
            {
                continue;
            }
            let frames = (segment.start_s * fps) as usize..(stop * fps) as usize;
            let seen = actor.track[frames.clone()]
                .iter()
                .filter(|(x, _)| (0.08 * w..0.92 * w).contains(x))
                .count();
            candidates.push((seen as f64 / frames.len().max(1) as f64, a, s));
        }
    }
    let best = candidates.iter().map(|c| c.0).fold(0.0, f64::max);
    candidates.retain(|c| c.0 >= best);
    if candidates.is_empty() {
        let a = rng.random_range(0..actors.len());
        let s = actors[a].segments.len() / 2;
        candidates.push((0.0, a, s));
    }
    // Drawn in every scene, so that twins stay alike after it.
    for _ in 0..CUES_PER_VIDEO.min(candidates.len()) {
        let (_, a, s) = candidates.swap_remove(rng.random_range(0..candidates.len()));
        if let Some(cue) = scene.cue() {
            let segment = &mut actors[a].segments[s];
            segment.arm = None;
            segment.cue = Some(cue);
        }
    }
}

/// Performances per song or show: each a 3-6 s segment, so that together they are seen by a
/// quarter or so of the 27 keyframes.
const CUES_PER_VIDEO: usize = 2;

fn render_video(
    root: &Path,
    config: &SynthConfig,
    part: DatasetPart,
    video: &str,
    scene: Scene,
    seed: u64,
    progress: &Progress,
) -> std::io::Result<VideoOutput> {
    let mut rng = StdRng::seed_from_u64(seed);
    let frames = config.seconds * AVA_FPS as usize;
    let (w, h) = (config.width as f64, config.height as f64);
    let background = Background::new(&mut rng);
    let people = match part {
        DatasetPart::Ava => 2..=4,
        DatasetPart::Kinetics => 1..=3,
    };
    let mut actors: Vec<Actor> = (0..rng.random_range(people))
        .map(|i| Actor::new(i, config, part, frames, &mut rng))
        .collect();
    place_cue(&mut actors, scene, config, &mut rng);
    // Far figures (higher on screen) first, so nearer ones occlude them.
    actors.sort_by(|a, b| a.place.hip[1].total_cmp(&b.place.hip[1]));

    let dir = root.join("frames").join(video);
    std::fs::create_dir_all(&dir)?;
    let mut out = VideoOutput {
        frames,
        ..Default::default()
    };
    for frame in 0..frames {
        let mut img = background.render(config.width, config.height, frame as f64 / AVA_FPS as f64);
        for actor in &actors {
            actor.skeleton(frame).draw(&mut img, &actor.place);
        }
        let name = format!("{video}_{:06}.jpg", frame + 1);
        save_jpeg(&img, &dir.join(&name))?;
        writeln!(out.frame_list, "{video} 0 {frame} {video}/{name} \"\"").unwrap();
        progress.advance(1, String::new);
    }

    // AVA: keyframes at whole seconds, one second clear of both ends (902 .. end - 2);
    // Kinetics: the clip's middle, in the source video's seconds.
    let (seconds, start_s) = match part {
        DatasetPart::Ava => (2..config.seconds - 1, AVA_VIDEO_START_S),
        DatasetPart::Kinetics => (
            KINETICS_KEYFRAME..KINETICS_KEYFRAME + 1,
            super::kinetics_clip_start_s(video).expect("a Kinetics clip id"),
        ),
    };
    for second in seconds {
        let timestamp = start_s + second as i64;
        let frame = second * AVA_FPS as usize;
        let mut annotated = 0;
        for actor in &actors {
            let skeleton = actor.skeleton(frame);
            let full = skeleton.bounds();
            let clipped = [
                full[0].clamp(0.0, w),
                full[1].clamp(0.0, h),
                full[2].clamp(0.0, w),
                full[3].clamp(0.0, h),
            ];
            let area = |b: [f64; 4]| (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
            if area(clipped) < 0.4 * area(full) {
                continue; // mostly outside the frame
            }
            annotated += 1;
            let norm = [
                clipped[0] / w,
                clipped[1] / h,
                clipped[2] / w,
                clipped[3] / h,
            ];
            let coords = format!(
                "{:.3},{:.3},{:.3},{:.3}",
                norm[0], norm[1], norm[2], norm[3]
            );
            let (segment, _) = actor.segment_at(second as f64);
            let mut ids = vec![segment.body.id()];
            ids.extend(segment.arm.map(|a| a.id()));
            ids.extend(segment.cue.map(|c| c.id()));
            ids.extend(scene.id());
            for id in ids {
                match part {
                    DatasetPart::Ava => writeln!(
                        out.annotations,
                        "{video},{timestamp:04},{coords},{id},{}",
                        actor.id
                    ),
                    DatasetPart::Kinetics => {
                        writeln!(out.annotations, "{video},{timestamp:04},{coords},{id}")
                    }
                }
                .unwrap();
            }
            // Keypoints in the shared format, with COCO's visibility (2 inside the frame, 0
            // outside) as their score.
            let keypoints = skeleton
                .keypoints()
                .iter()
                .map(|&[x, y]| {
                    let inside = (0.0..w).contains(&x) && (0.0..h).contains(&y);
                    [x / w, y / h, if inside { 2.0 } else { 0.0 }]
                })
                .collect();
            let person = PersonKeypoints {
                key: KeyframeKey {
                    video_id: video.to_string(),
                    timestamp_s: timestamp,
                },
                box_xyxy_norm: norm,
                person_id: actor.id as i64,
                score: 1.0,
                keypoints,
            };
            out.keypoints.push_str(&keypoint_row(&person));
            out.keypoints.push('\n');
            // A detector finds most people, a little off, with high scores.
            if rng.random_bool(0.95) {
                let (bw, bh) = (norm[2] - norm[0], norm[3] - norm[1]);
                let mut jitter = |v: f64, scale: f64| {
                    (v + rng.random_range(-0.05..0.05) * scale).clamp(0.0, 1.0)
                };
                let det = [
                    jitter(norm[0], bw),
                    jitter(norm[1], bh),
                    jitter(norm[2], bw),
                    jitter(norm[3], bh),
                ];
                let score = rng.random_range(0.8..1.0);
                writeln!(
                    out.detections,
                    "{video},{timestamp:04},{:.3},{:.3},{:.3},{:.3},,{score:.4}",
                    det[0], det[1], det[2], det[3]
                )
                .unwrap();
                out.person_boxes += 1;
            }
        }
        // ... and sometimes something that is not a person.
        if rng.random_bool(0.15) {
            let (x, y) = (rng.random_range(0.0..0.8), rng.random_range(0.0..0.5));
            let score = rng.random_range(0.3..0.95);
            writeln!(
                out.detections,
                "{video},{timestamp:04},{x:.3},{y:.3},{:.3},{:.3},,{score:.4}",
                x + 0.15,
                y + 0.4
            )
            .unwrap();
            out.person_boxes += 1;
        }
        if part == DatasetPart::Ava && annotated > 0 && rng.random_bool(0.04) {
            writeln!(out.exclusions, "{video},{timestamp:04}").unwrap();
        }
        out.keyframes += 1;
    }
    Ok(out)
}

/// Writes a Kinetics-style part beside an AVA-style dataset under `root`: `clips` 10-second
/// clips per split (train, val, test), frames under `frames/<clip>/`, and
/// `annotations/kinetics_<split>_v1.0.csv` (AVA-Kinetics' 7 columns),
/// `kinetics_detection_<split>_boxes_and_labels.csv` and
/// `synth_kinetics_keypoints_<split>.csv`. The AVA part's label map applies.
pub fn generate_kinetics(
    root: &Path,
    config: &SynthConfig,
    clips: usize,
) -> std::io::Result<SynthSummary> {
    let config = SynthConfig {
        seconds: KINETICS_SECONDS,
        ..*config
    };
    let annotations = root.join("annotations");
    std::fs::create_dir_all(&annotations)?;
    let progress = Progress::new(
        "synth kinetics",
        3 * clips * KINETICS_SECONDS * AVA_FPS as usize,
        "frames",
    );
    let mut summary = SynthSummary::default();
    for (split, offset, tag) in [
        ("train", 3000, 't'),
        ("val", 4000, 'v'),
        ("test", 5000, 'x'),
    ] {
        // Clip ids as Kinetics names them: an 11-character YouTube id, then the clip's
        // start and end in the source video.
        let ids: Vec<String> = (0..clips)
            .map(|i| {
                let start = 20 + 13 * i;
                format!(
                    "syn{tag}kin{i:04}_{start:06}_{:06}",
                    start + KINETICS_SECONDS
                )
            })
            .collect();
        let outputs = render_videos(
            root,
            &config,
            DatasetPart::Kinetics,
            &ids,
            offset,
            &progress,
        )?;
        let (mut ann, mut det, mut kp) = (String::new(), String::new(), String::new());
        for out in outputs {
            ann.push_str(&out.annotations);
            det.push_str(&out.detections);
            kp.push_str(&out.keypoints);
            summary.frames += out.frames;
            summary.keyframes += out.keyframes;
            summary.person_boxes += out.person_boxes;
        }
        for (name, text) in [
            (format!("kinetics_{split}_v1.0.csv"), ann),
            (
                format!("kinetics_detection_{split}_boxes_and_labels.csv"),
                det,
            ),
            (format!("synth_kinetics_keypoints_{split}.csv"), kp),
        ] {
            crate::fs::write_atomic(&annotations.join(name), text.as_bytes())?;
        }
        summary.videos += clips;
    }
    progress.finish();
    Ok(summary)
}

fn save_jpeg(img: &RgbImage, path: &PathBuf) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    image::codecs::jpeg::JpegEncoder::new_with_quality(file, 90)
        .encode_image(img)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
}
