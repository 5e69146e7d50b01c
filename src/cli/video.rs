//! Video input: frames decoded at AVA's 30 fps by the `ffmpeg` program.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::data::list_frame_files;

/// One video's id and frames, sorted: a frame folder (named by the video id), or a video file
/// (named by its id and extension) decoded into `scratch`; `None` when given neither.
pub fn video_frames(
    frames: Option<&Path>,
    video: Option<&Path>,
    scratch: &Path,
) -> Result<Option<(String, Vec<PathBuf>)>> {
    let name =
        |part: Option<&std::ffi::OsStr>| part.unwrap_or_default().to_string_lossy().into_owned();
    match (frames, video) {
        (Some(dir), _) => Ok(Some((name(dir.file_name()), list_frame_files(dir)?))),
        (None, Some(video)) => {
            extract_frames(video, scratch)?;
            Ok(Some((name(video.file_stem()), list_frame_files(scratch)?)))
        }
        (None, None) => Ok(None),
    }
}

/// Decodes `video` into `into/%06d.jpg` at 30 fps; a missing `ffmpeg` is a clear error.
pub fn extract_frames(video: &Path, into: &Path) -> Result<()> {
    std::fs::create_dir_all(into)?;
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(video)
        .args(["-r", "30", "-q:v", "1"])
        .arg(into.join("%06d.jpg"))
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run ffmpeg ({e}): install it (Debian: apt-get install ffmpeg) or extract frames yourself and use --frames"))?;
    if !status.success() {
        bail!("ffmpeg could not decode {} ({status})", video.display());
    }
    Ok(())
}
