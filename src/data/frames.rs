//! Where a keyframe's frames are: AVA's time ↔ frame-index convention, the frame layouts of
//! PySlowFast and MMAction2, PySlowFast's frame lists, and clip sampling around a keyframe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::DataError;

/// AVA's frames are extracted at 30 fps.
pub const AVA_FPS: i64 = 30;
/// AVA videos are cut from second 900 of the films; keyframes are seconds 902–1798.
pub const AVA_VIDEO_START_S: i64 = 900;

/// 0-based index, in the extracted frames of a video that starts at `video_start_s`, of the
/// frame at `timestamp_s` (PySlowFast's `sec_to_frame`). For AVA the start is 900 s; for an
/// AVA-Kinetics clip `<youtube_id>_<start>_<end>` it is the clip's start.
pub fn keyframe_frame_index(timestamp_s: i64, video_start_s: i64, fps: i64) -> i64 {
    (timestamp_s - video_start_s) * fps
}

/// Start time, in seconds of the source video, of a Kinetics clip named as the Kinetics and
/// AVA-Kinetics distributions name them, `<youtube_id>_<start:06>_<end:06>` (YouTube ids may
/// themselves contain `_`). With it, [`keyframe_frame_index`] places an AVA-Kinetics keyframe
/// (given in source-video seconds) in the clip's frames.
pub fn kinetics_clip_start_s(clip_id: &str) -> Option<i64> {
    let (rest, end) = clip_id.rsplit_once('_')?;
    let (_, start) = rest.rsplit_once('_')?;
    let digits = |s: &str| s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit());
    (digits(start) && digits(end))
        .then(|| start.parse().ok())
        .flatten()
}

/// How extracted frames are named on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameLayout {
    /// `frames/<vid>/<vid>_000001.jpg` (PySlowFast; file numbers start at 1).
    PySlowFast,
    /// `rawframes/<vid>/img_00001.jpg` (MMAction2; file numbers start at 1).
    MmAction2,
}

impl FrameLayout {
    /// Path, under the dataset root, of the frame with 0-based `index` in `video_id`.
    pub fn frame_path(self, root: &Path, video_id: &str, index: usize) -> PathBuf {
        match self {
            Self::PySlowFast => root
                .join("frames")
                .join(video_id)
                .join(format!("{video_id}_{:06}.jpg", index + 1)),
            Self::MmAction2 => root
                .join("rawframes")
                .join(video_id)
                .join(format!("img_{:05}.jpg", index + 1)),
        }
    }
}

/// The frame indices of a clip of `num_frames` frames `stride` apart centred on `center`,
/// border frames repeated at the video's ends, as PySlowFast's `get_sequence`.
pub fn clip_frame_indices(
    center: i64,
    num_frames: usize,
    stride: usize,
    video_frames: usize,
) -> Vec<usize> {
    let half = (num_frames * stride / 2) as i64;
    (0..num_frames as i64)
        .map(|i| (center - half + i * stride as i64).clamp(0, video_frames as i64 - 1) as usize)
        .collect()
}

/// The image files (`.jpg`, `.jpeg`, `.png`) of one video's frame directory, sorted by name;
/// an empty or unreadable directory is an error naming it.
pub fn list_frame_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut frames: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "jpg" || e == "jpeg" || e == "png")
        })
        .collect();
    frames.sort();
    if frames.is_empty() {
        return Err(DataError::File {
            path: dir.to_path_buf(),
            message: "no .jpg or .png frames".into(),
        });
    }
    Ok(frames)
}

/// PySlowFast's `frame_lists/{train,val}.csv` (space-separated, with a header:
/// `original_vido_id video_id frame_id path labels`): each video's frame paths in frame
/// order, relative to the frames directory.
pub fn read_frame_list(path: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>, DataError> {
    let text = DataError::read(path)?;
    let mut videos: BTreeMap<String, Vec<(usize, PathBuf)>> = BTreeMap::new();
    for (index, line) in text.lines().enumerate().skip(1) {
        let number = index + 1;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let [video, _, frame, frame_path, ..] = fields[..] else {
            return Err(DataError::line(
                path,
                number,
                format!(
                    "expected `original_vido_id video_id frame_id path labels`, found {} fields",
                    fields.len()
                ),
            ));
        };
        let frame: usize = frame.parse().map_err(|_| {
            DataError::line(
                path,
                number,
                format!("frame_id {frame:?} is not an integer"),
            )
        })?;
        videos
            .entry(video.to_string())
            .or_default()
            .push((frame, PathBuf::from(frame_path)));
    }
    Ok(videos
        .into_iter()
        .map(|(video, mut frames)| {
            frames.sort_by_key(|(i, _)| *i);
            (video, frames.into_iter().map(|(_, p)| p).collect())
        })
        .collect())
}
