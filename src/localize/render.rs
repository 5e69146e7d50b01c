//! What `localize` shows: every frame of a video with the boxes and top actions of its
//! nearest keyframe, encoded by the `ffmpeg` program into an MP4, and a summary page
//! (`index.html`) that opens offline: the stages' times, the evaluation where there is ground
//! truth, a few annotated keyframes and the video.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::videos::Video;
use crate::data::{AVA_FPS, AvaRow, KeyframeKey, LabelMap, ScratchDir, decode_frame};
use crate::infer::{PersonScores, draw_people};
use crate::localize::system::RenderTable;
use crate::progress::Progress;

/// The people of a detections CSV with their scores in the label map's order (classes the
/// file lacks score 0), in the file's order of first appearance.
pub fn people_from_rows(rows: &[AvaRow], labels: &LabelMap) -> Vec<PersonScores> {
    let index: HashMap<i64, usize> = labels
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id, i))
        .collect();
    let mut order: HashMap<(KeyframeKey, [u64; 4]), usize> = HashMap::new();
    let mut people: Vec<PersonScores> = Vec::new();
    for r in rows {
        let key = (r.key.clone(), r.box_xyxy_norm.map(f64::to_bits));
        let at = *order.entry(key).or_insert_with(|| {
            people.push(PersonScores {
                key: r.key.clone(),
                box_xyxy_norm: r.box_xyxy_norm,
                scores: vec![0.0; labels.labels.len()],
            });
            people.len() - 1
        });
        if let (Some(&c), Some(score)) = (index.get(&r.action_id), r.last) {
            people[at].scores[c] = score as f32;
        }
    }
    people
}

/// Writes `video`'s frames with the people of the nearest keyframe drawn on them, as an
/// H.264 MP4 at 30 fps (MPEG-4 part 2 where ffmpeg lacks libx264), atomically.
pub fn write_video(
    video: &Video,
    people: &[PersonScores],
    labels: &LabelMap,
    render: &RenderTable,
    path: &Path,
) -> Result<usize> {
    let mut by_second: BTreeMap<i64, Vec<&PersonScores>> = BTreeMap::new();
    for p in people.iter().filter(|p| p.key.video_id == video.id) {
        by_second.entry(p.key.timestamp_s).or_default().push(p);
    }
    let scratch = ScratchDir::new("render")?;
    let font = crate::render::raster::font();
    let fps = AVA_FPS as usize;
    let progress = Progress::new(format!("video {}", video.id), video.frames.len(), "frames");
    for (i, frame) in video.frames.iter().enumerate() {
        let mut img = decode_frame(frame)?;
        let second = video.start_s + ((i + fps / 2) / fps) as i64;
        if let Some(people) = by_second.get(&second) {
            draw_people(
                &mut img,
                people,
                labels,
                render.top,
                render.min_score,
                &font,
            );
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

/// Up to `n` keyframes spread evenly over those in `keys`.
pub fn spread<T: Clone>(keys: &[T], n: usize) -> Vec<T> {
    if keys.len() <= n {
        return keys.to_vec();
    }
    (0..n).map(|i| keys[i * keys.len() / n].clone()).collect()
}

/// What the summary page shows; paths relative to OUT.
pub struct Page<'a> {
    pub title: String,
    /// `(stage, seconds, reused, what it processed, note)`.
    pub stages: Vec<(String, f64, bool, String, String)>,
    /// The evaluation's table and plot, where the videos have ground truth.
    pub evaluation: Option<(String, Option<PathBuf>)>,
    pub keyframes: &'a [PathBuf],
    pub videos: &'a [PathBuf],
    pub outputs: &'a [PathBuf],
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn link(path: &Path) -> String {
    // Relative links, each path segment percent-escaped where needed.
    path.iter()
        .map(|part| {
            part.to_string_lossy()
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The page's HTML (no scripts, no remote resources).
pub fn page_html(page: &Page) -> String {
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;\
         text-align:left}}img,video{{max-width:100%}}.grid{{display:flex;flex-wrap:wrap;\
         gap:8px}}.grid img{{width:320px}}pre{{background:#f6f6f6;padding:8px}}</style>\
         </head><body>\n<h1>{}</h1>\n",
        escape(&page.title),
        escape(&page.title)
    ));
    if !page.stages.is_empty() {
        h.push_str("<h2>Stages</h2>\n<table><tr><th>stage</th><th>seconds</th><th></th><th>processed</th><th>note</th></tr>\n");
        for (stage, seconds, reused, processed, note) in &page.stages {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{seconds:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                escape(stage),
                if *reused { "reused" } else { "" },
                escape(processed),
                escape(note)
            ));
        }
        h.push_str("</table>\n");
    }
    if let Some((table, plot)) = &page.evaluation {
        h.push_str(&format!(
            "<h2>Evaluation (AVA frame-mAP)</h2>\n<pre>{}</pre>\n",
            escape(table)
        ));
        if let Some(plot) = plot {
            h.push_str(&format!(
                "<img src=\"{}\" alt=\"per-class AP\">\n",
                link(plot)
            ));
        }
    }
    for video in page.videos {
        h.push_str(&format!(
            "<h2>Video</h2>\n<video controls src=\"{}\"></video>\n<p><a href=\"{}\">{}</a></p>\n",
            link(video),
            link(video),
            escape(&video.display().to_string())
        ));
    }
    if !page.keyframes.is_empty() {
        h.push_str("<h2>Keyframes</h2>\n<div class=\"grid\">\n");
        for k in page.keyframes {
            h.push_str(&format!(
                "<a href=\"{}\"><img src=\"{}\" alt=\"{}\"></a>\n",
                link(k),
                link(k),
                escape(&k.display().to_string())
            ));
        }
        h.push_str("</div>\n");
    }
    h.push_str("<h2>Files</h2>\n<ul>\n");
    for f in page.outputs {
        h.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>\n",
            link(f),
            escape(&f.display().to_string())
        ));
    }
    h.push_str("</ul>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_people_with_scores_in_label_order() {
        let labels = LabelMap {
            labels: vec![
                crate::data::Label {
                    id: 5,
                    name: "a".into(),
                },
                crate::data::Label {
                    id: 9,
                    name: "b".into(),
                },
            ],
        };
        let key = KeyframeKey {
            video_id: "v".into(),
            timestamp_s: 902,
        };
        let row = |b: f64, id: i64, s: f64| AvaRow {
            key: key.clone(),
            box_xyxy_norm: [b, 0.1, 0.5, 0.5],
            action_id: id,
            last: Some(s),
            line: 1,
        };
        let people = people_from_rows(
            &[row(0.1, 9, 0.7), row(0.2, 5, 0.4), row(0.1, 5, 0.2)],
            &labels,
        );
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].scores, vec![0.2, 0.7]);
        assert_eq!(people[1].scores, vec![0.4, 0.0]);
    }

    #[test]
    fn links_are_relative_and_escaped() {
        assert_eq!(
            link(Path::new("keyframes/a b#1.png")),
            "keyframes/a%20b%231.png"
        );
        assert_eq!(escape("<a&\">"), "&lt;a&amp;&quot;&gt;");
        assert_eq!(spread(&[1, 2, 3, 4, 5, 6], 3), vec![1, 3, 5]);
        assert_eq!(spread(&[1, 2], 3), vec![1, 2]);
    }
}
