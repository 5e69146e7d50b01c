//! What `localize` runs on: a video file (decoded into `OUT/frames/<id>/` by the first
//! stage), one video's frame folder, or the videos of a dataset split — each a list of frames
//! at 30 fps from a start second, with a keyframe every second.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::data::shard::Shard;

use crate::data::{
    AVA_VIDEO_START_S, AvaKeyframes, DatasetPart, KeyframeKey, KeyframeSample, PersonAnnotation,
    Video, kinetics_clip_start_s, list_frame_files, read_ava_csv,
};
use crate::models::action::ClipSpec;

/// Where the frames come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A video file; its id is the file name without extension.
    Video(PathBuf),
    /// One video's frames at 30 fps; the folder's name is the id.
    Frames(PathBuf),
    /// The videos of one part of a dataset split — `<root>/annotations/ava_<split>_v2.2.csv`
    /// or AVA-Kinetics' `kinetics_<split>_v1.0.csv` — frames under `<root>/frames/<id>/`, or
    /// one share of them.
    Data {
        root: PathBuf,
        split: String,
        part: DatasetPart,
        shard: Option<Shard>,
    },
}

impl Source {
    /// The split's ground truth, where the source is a dataset split.
    pub fn groundtruth(&self) -> Option<PathBuf> {
        match self {
            Self::Data {
                root, split, part, ..
            } => Some(part.groundtruth(root, split)),
            _ => None,
        }
    }

    /// The split's excluded keyframes, where it has some (AVA's part).
    pub fn exclusions(&self) -> Option<PathBuf> {
        match self {
            Self::Data {
                root,
                split,
                part: DatasetPart::Ava,
                ..
            } => Some(
                root.join("annotations")
                    .join(format!("ava_{split}_excluded_timestamps_v2.2.csv")),
            )
            .filter(|p| p.exists()),
            _ => None,
        }
    }
}

/// The videos of `source`; a video file's frames must have been decoded into `frames_dir`.
pub fn videos(source: &Source, frames_dir: &Path, start_s: i64) -> Result<Vec<Video>> {
    match source {
        Source::Video(file) => {
            let id = video_id(file);
            let frames = list_frame_files(&frames_dir.join(&id))?;
            Ok(vec![Video::new(id, frames, start_s)])
        }
        Source::Frames(dir) => Ok(vec![Video::from_folder(dir, start_s)?]),
        Source::Data {
            root,
            split,
            part,
            shard,
        } => {
            let csv = part.groundtruth(root, split);
            shard
                .unwrap_or(Shard::ALL)
                .select(part_video_ids(&csv)?)
                .map(|id| dataset_video(root, id).with_context(|| format!("in {}", csv.display())))
                .collect()
        }
    }
}

/// The videos an annotation file names, sorted.
pub fn part_video_ids(csv: &Path) -> Result<BTreeSet<String>> {
    let ids: BTreeSet<String> = read_ava_csv(csv)?
        .into_iter()
        .map(|r| r.key.video_id)
        .collect();
    if ids.is_empty() {
        bail!("{}: names no video", csv.display());
    }
    Ok(ids)
}

/// Video `id` of a dataset in AVA's layout: its frames under `<root>/frames/<id>/`.
pub fn dataset_video(root: &Path, id: String) -> Result<Video> {
    let dir = root.join("frames").join(&id);
    let frames = list_frame_files(&dir).with_context(|| format!("video {id}"))?;
    // An AVA-Kinetics clip starts at its own second; AVA's films at 900.
    let start_s = kinetics_clip_start_s(&id).unwrap_or(AVA_VIDEO_START_S);
    Ok(Video::new(id, frames, start_s))
}

/// The videos of a dataset in AVA's layout, sorted by id: those of `split`'s annotations
/// (AVA's films and AVA-Kinetics' clips, where the split has them), or every frame folder
/// under `<root>/frames/` (a split without annotations, such as AVA's test); of them,
/// `shard`'s.
pub fn dataset_videos(root: &Path, split: Option<&str>, shard: Shard) -> Result<Vec<Video>> {
    let ids = dataset_video_ids(root, split)?;
    // The share first: other shares' frame folders are neither listed nor required.
    let share = shard.work(
        ids.into_iter().map(|id| (id, ())),
        |_| false,
        |id, ()| dataset_video(root, id.to_string()),
    )?;
    Ok(share.todo.into_values().collect())
}

/// The ids of a dataset's videos: those of `split`'s annotations, or every frame folder.
pub fn dataset_video_ids(root: &Path, split: Option<&str>) -> Result<BTreeSet<String>> {
    let ids: BTreeSet<String> = match split {
        Some(split) => {
            let files: Vec<PathBuf> = [DatasetPart::Ava, DatasetPart::Kinetics]
                .map(|part| part.groundtruth(root, split))
                .into_iter()
                .filter(|f| f.exists())
                .collect();
            if files.is_empty() {
                bail!(
                    "{}: neither ava_{split}_v2.2.csv nor kinetics_{split}_v1.0.csv under \
                     annotations/",
                    root.display()
                );
            }
            let mut ids = BTreeSet::new();
            for file in files {
                ids.extend(part_video_ids(&file)?);
            }
            ids
        }
        None => {
            let dir = root.join("frames");
            let listing = std::fs::read_dir(&dir)
                .with_context(|| format!("{}: cannot list the frame folders", dir.display()))?;
            listing
                .filter_map(|entry| entry.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with('.'))
                .collect()
        }
    };
    if ids.is_empty() {
        bail!("{}: no videos", root.display());
    }
    Ok(ids)
}

/// The id of a video file: its name without extension.
pub fn video_id(file: &Path) -> String {
    file.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// A fingerprintable description of the videos: ids, starts and frame files.
pub fn describe(videos: &[Video]) -> String {
    let mut text = String::new();
    for v in videos {
        text.push_str(&format!("{} {}\n", v.id, v.start_s));
        for f in &v.frames {
            text.push_str(&format!(" {}\n", f.display()));
        }
    }
    text
}

/// One sample per keyframe of `people` (videos among `videos`), its clip's frames from the
/// video's frames, in video order.
pub fn samples(
    videos: &[Video],
    people: &[PersonAnnotation],
    clip: ClipSpec,
) -> Result<Vec<KeyframeSample>> {
    let mut by_video: BTreeMap<&str, Vec<PersonAnnotation>> = BTreeMap::new();
    for p in people {
        by_video
            .entry(p.key.video_id.as_str())
            .or_default()
            .push(p.clone());
    }
    let mut out = Vec::new();
    for v in videos {
        if let Some(people) = by_video.get(v.id.as_str()) {
            out.extend(
                AvaKeyframes::from_frame_files(people, &v.id, &v.frames, v.start_s, clip)?
                    .into_samples(),
            );
        }
    }
    Ok(out)
}

/// Each keyframe's image, over all videos.
pub fn keyframe_images(videos: &[Video]) -> BTreeMap<KeyframeKey, PathBuf> {
    videos
        .iter()
        .flat_map(|v| {
            v.keyframes().map(|(timestamp_s, frame)| {
                (
                    KeyframeKey {
                        video_id: v.id.clone(),
                        timestamp_s,
                    },
                    frame.clone(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_every_thirty_frames_from_the_start_second() {
        let frames = (0..61).map(|i| PathBuf::from(format!("{i}"))).collect();
        let v = Video::new("v".into(), frames, 900);
        let keys: Vec<(i64, String)> = v
            .keyframes()
            .map(|(t, f)| (t, f.display().to_string()))
            .collect();
        assert_eq!(
            keys,
            vec![(900, "0".into()), (901, "30".into()), (902, "60".into())]
        );
        assert_eq!(v.keyframe(901), Some(&PathBuf::from("30")));
        assert_eq!(v.keyframe(903), None);
        assert_eq!(v.keyframe(899), None);
    }
}
