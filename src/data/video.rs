//! Video input: a frame folder, or a video file decoded at AVA's 30 fps by the `ffmpeg`
//! program into a scratch folder that is removed when dropped (also on error).

use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::Arc;

use super::{AVA_FPS, DataError, list_frame_files};

/// A temporary folder, removed with its contents when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// A new folder `avaloc-<purpose>-<pid>-<n>` under the system's temporary folder.
    pub fn new(purpose: &str) -> Result<Self, DataError> {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("avaloc-{purpose}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One video's frames at 30 fps, sorted, with its id: frame `30·k` is second `start_s + k`.
/// A decoded video keeps its scratch folder alive as long as a copy of it is held. The one
/// video type of avaloc: a frame folder, a decoded file or a dataset's video.
#[derive(Debug, Clone)]
pub struct Video {
    pub id: String,
    pub frames: Vec<PathBuf>,
    pub start_s: i64,
    _scratch: Option<Arc<ScratchDir>>,
}

impl PartialEq for Video {
    fn eq(&self, other: &Self) -> bool {
        (&self.id, &self.frames, self.start_s) == (&other.id, &other.frames, other.start_s)
    }
}

impl Video {
    /// A video of frames already on disk.
    pub fn new(id: String, frames: Vec<PathBuf>, start_s: i64) -> Self {
        Self {
            id,
            frames,
            start_s,
            _scratch: None,
        }
    }

    /// The frames of a folder (named by the video id).
    pub fn from_folder(dir: &Path, start_s: i64) -> Result<Self, DataError> {
        Ok(Self::new(
            file_name(dir.file_name()),
            list_frame_files(dir)?,
            start_s,
        ))
    }

    /// The frames of a video file (its id: the file name without extension), decoded at
    /// 30 fps by `ffmpeg`; a missing `ffmpeg` is a clear error.
    pub fn decode(video: &Path, start_s: i64) -> Result<Self, DataError> {
        let scratch = ScratchDir::new("video")?;
        decode_video(video, scratch.path())?;
        Ok(Self {
            id: file_name(video.file_stem()),
            frames: list_frame_files(scratch.path())?,
            start_s,
            _scratch: Some(Arc::new(scratch)),
        })
    }

    /// A frame folder or a video file, whichever is given; `None` when neither is.
    pub fn open(
        folder: Option<&Path>,
        video: Option<&Path>,
        start_s: i64,
    ) -> Result<Option<Self>, DataError> {
        match (folder, video) {
            (Some(dir), _) => Self::from_folder(dir, start_s).map(Some),
            (None, Some(video)) => Self::decode(video, start_s).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Its keyframes: one a second, `(timestamp, frame)`.
    pub fn keyframes(&self) -> impl Iterator<Item = (i64, &PathBuf)> {
        self.frames
            .iter()
            .step_by(AVA_FPS as usize)
            .enumerate()
            .map(|(k, frame)| (self.start_s + k as i64, frame))
    }

    /// The frame of keyframe `timestamp_s`, if the video has it.
    pub fn keyframe(&self, timestamp_s: i64) -> Option<&PathBuf> {
        let index = (timestamp_s - self.start_s).checked_mul(AVA_FPS)?;
        usize::try_from(index).ok().and_then(|i| self.frames.get(i))
    }
}

/// Decodes `video` into `dir` as `%06d.jpg` frames at 30 fps (ffmpeg resamples other rates
/// as AVA's tools do); a missing `ffmpeg` is a clear error.
pub fn decode_video(video: &Path, dir: &Path) -> Result<(), DataError> {
    let failed = |message: String| DataError::File {
        path: video.to_path_buf(),
        message,
    };
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(video)
        .args(["-r", "30", "-q:v", "1"])
        .arg(dir.join("%06d.jpg"))
        .status()
        .map_err(|e| {
            failed(format!(
                "cannot run ffmpeg ({e}): install it (Debian: apt-get install ffmpeg) or \
                 extract frames yourself and use --frames"
            ))
        })?;
    if !status.success() {
        return Err(failed(format!("ffmpeg could not decode it ({status})")));
    }
    Ok(())
}

/// The id of a video: its file name without extension, or its folder's name.
fn file_name(part: Option<&std::ffi::OsStr>) -> String {
    part.unwrap_or_default().to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_folder_goes_when_dropped() {
        let scratch = ScratchDir::new("test").unwrap();
        let path = scratch.path().to_path_buf();
        std::fs::write(path.join("f"), b"x").unwrap();
        drop(scratch);
        assert!(!path.exists());
    }

    #[test]
    fn an_undecodable_video_names_the_file_and_leaves_no_scratch_folder() {
        let before = scratch_folders();
        let err = Video::decode(Path::new("/nonexistent/clip.mp4"), 0).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/clip.mp4"), "{err}");
        assert_eq!(scratch_folders(), before);
    }

    fn scratch_folders() -> usize {
        let prefix = format!("avaloc-video-{}-", std::process::id());
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            })
            .count()
    }
}
