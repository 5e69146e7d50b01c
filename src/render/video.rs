//! The annotated video: every frame with the boxes and top actions of its nearest keyframe,
//! encoded by the `ffmpeg` program into an MP4.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::keyframes::{Shown, draw_people};
use crate::data::{AVA_FPS, LabelMap, PersonScores, ScratchDir, Video, decode_frame};
use crate::progress::Progress;

/// Writes `video`'s frames with the people of the nearest keyframe drawn on them, as an
/// H.264 MP4 at 30 fps (MPEG-4 part 2 where ffmpeg lacks libx264), atomically.
pub fn write_video(
    video: &Video,
    people: &[PersonScores],
    labels: &LabelMap,
    show: Shown,
    path: &Path,
) -> Result<usize> {
    let mut by_second: BTreeMap<i64, Vec<&PersonScores>> = BTreeMap::new();
    for p in people.iter().filter(|p| p.key.video_id == video.id) {
        by_second.entry(p.key.timestamp_s).or_default().push(p);
    }
    let scratch = ScratchDir::new("render")?;
    let font = super::raster::font();
    let fps = AVA_FPS as usize;
    let progress = Progress::new(format!("video {}", video.id), video.frames.len(), "frames");
    for (i, frame) in video.frames.iter().enumerate() {
        let mut img = decode_frame(frame)?;
        let second = video.start_s + ((i + fps / 2) / fps) as i64;
        if let Some(people) = by_second.get(&second) {
            draw_people(&mut img, people, labels, show, &font);
        }
        let file = scratch.path().join(format!("{:06}.jpg", i + 1));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92)
            .encode_image(&img)
            .with_context(|| format!("encoding frame {}", frame.display()))?;
        std::fs::File::create(&file)
            .and_then(|mut f| f.write_all(&bytes))
            .with_context(|| format!("writing {}", file.display()))?;
        progress.advance(1, String::new);
    }
    progress.finish();
    encode(scratch.path(), path)?;
    Ok(video.frames.len())
}

/// `dir/%06d.jpg` at 30 fps into `path` (through a temporary file renamed into place).
fn encode(dir: &Path, path: &Path) -> Result<()> {
    let tmp = crate::fs::temp_path(path)?;
    let pattern = dir.join("%06d.jpg");
    let attempt = |codec: &[&str]| {
        Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-framerate", "30", "-i"])
            .arg(&pattern)
            .args(codec)
            // yuv420p needs even sides.
            .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-f", "mp4"])
            .arg(&tmp)
            .output()
    };
    let failed = |e: std::io::Error| {
        anyhow::anyhow!(
            "{}: cannot run ffmpeg ({e}): install it (Debian: apt-get install ffmpeg) or pass \
             --no-video",
            path.display()
        )
    };
    let mut out =
        attempt(&["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20"]).map_err(failed)?;
    if !out.status.success() {
        out = attempt(&["-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p"]).map_err(failed)?;
    }
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "{}: ffmpeg could not encode the video: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
