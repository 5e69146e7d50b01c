//! Annotated keyframes: each person's box and its top actions with scores, drawn on the
//! keyframe, one PNG per keyframe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::{DataError, KeyframeKey, LabelMap, decode_frame};
use crate::draw::{self, PALETTE};

use super::PersonScores;

/// Draws the people of each keyframe in `frames` (keyframe → its image file) with their
/// `top` highest-scoring actions above `min_score`, writing `<out>/<video>_<ts>.png`; returns
/// the files written.
pub fn draw_keyframes(
    people: &[PersonScores],
    frames: &BTreeMap<KeyframeKey, PathBuf>,
    labels: &LabelMap,
    top: usize,
    min_score: f32,
    out: &Path,
) -> Result<Vec<PathBuf>, DataError> {
    std::fs::create_dir_all(out).map_err(|source| DataError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut by_key: BTreeMap<&KeyframeKey, Vec<&PersonScores>> = BTreeMap::new();
    for p in people {
        by_key.entry(&p.key).or_default().push(p);
    }
    let font = draw::font();
    let mut written = Vec::new();
    for (key, people) in by_key {
        let Some(frame) = frames.get(key) else {
            continue;
        };
        let mut img = decode_frame(frame)?;
        let (w, h) = (img.width() as f64, img.height() as f64);
        for (i, p) in people.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let [x1, y1, x2, y2] = p.box_xyxy_norm;
            let (x1, y1, x2, y2) = (x1 * w, y1 * h, x2 * w, y2 * h);
            for (a, b) in [
                ((x1, y1), (x2, y1)),
                ((x2, y1), (x2, y2)),
                ((x2, y2), (x1, y2)),
                ((x1, y2), (x1, y1)),
            ] {
                draw::line(&mut img, a, b, color);
            }
            let mut ranked: Vec<(usize, f32)> = p.scores.iter().copied().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            let lines: Vec<String> = ranked
                .into_iter()
                .take(top)
                .filter(|(_, s)| *s >= min_score)
                .map(|(c, s)| {
                    let name = labels.labels.get(c).map_or("?", |l| l.name.as_str());
                    format!("{name} {s:.2}")
                })
                .collect();
            let size = 11.0;
            let y0 = (y1 as f32 + 2.0).max(0.0);
            for (j, text) in lines.iter().enumerate() {
                let y = y0 + (j as f32 + 1.0) * (size + 2.0);
                let width = draw::text_width(&font, size, text).ceil() as u32 + 2;
                draw::fill(
                    &mut img,
                    x1.max(0.0) as u32 + 2,
                    (y - size) as u32,
                    width,
                    size as u32 + 3,
                    [255, 255, 255],
                );
                draw::text(&mut img, &font, x1 as f32 + 3.0, y, size, text, color);
            }
        }
        let path = out.join(format!("{}_{:04}.png", key.video_id, key.timestamp_s));
        draw::write_png(&img, &path).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
