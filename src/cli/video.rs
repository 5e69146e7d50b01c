//! Video input: frames decoded at AVA's 30 fps by the `ffmpeg` program.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

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
