//! Annotated keyframes: each person's box with its top actions and scores, or with its
//! skeleton, drawn on the keyframe, one PNG per keyframe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::data::{DataError, KeyframeKey, LabelMap, PersonKeypoints, decode_frame};
use crate::render::raster::{self, PALETTE};

use super::{PersonScores, arm_boxes};
use crate::config::ArmBoxConfig;

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
    create_dir(out)?;
    let mut by_key: BTreeMap<&KeyframeKey, Vec<&PersonScores>> = BTreeMap::new();
    for p in people {
        by_key.entry(&p.key).or_default().push(p);
    }
    let font = raster::font();
    let mut written = Vec::new();
    for (key, people) in by_key {
        let Some(frame) = frames.get(key) else {
            continue;
        };
        let mut img = decode_frame(frame)?;
        draw_people(&mut img, &people, labels, top, min_score, &font);
        written.push(write_keyframe(&img, key, out)?);
    }
    Ok(written)
}

/// Draws each person's box with its `top` highest-scoring actions above `min_score`.
pub fn draw_people(
    img: &mut RgbImage,
    people: &[&PersonScores],
    labels: &LabelMap,
    top: usize,
    min_score: f32,
    font: &ab_glyph::FontRef,
) {
    for (i, p) in people.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let [x1, y1, ..] = draw_box(img, p.box_xyxy_norm, color);
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
            let width = raster::text_width(font, size, text).ceil() as u32 + 2;
            raster::fill(
                img,
                x1.max(0.0) as u32 + 2,
                (y - size) as u32,
                width,
                size as u32 + 3,
                [255, 255, 255],
            );
            raster::text(img, font, x1 as f32 + 3.0, y, size, text, color);
        }
    }
}

/// COCO-17's skeleton: the limbs drawn between keypoints.
const LIMBS: [(usize, usize); 16] = [
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (5, 6),
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 11),
    (6, 12),
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
];

/// Draws each person's box and skeleton (limbs whose two keypoints score at least
/// `min_score`), and with `arms` its arm boxes in white, on its keyframe in `frames`, writing
/// `<out>/<video>_<ts>.png`; returns the files written.
pub fn draw_poses(
    people: &[PersonKeypoints],
    frames: &BTreeMap<KeyframeKey, PathBuf>,
    min_score: f64,
    arms: Option<&ArmBoxConfig>,
    out: &Path,
) -> Result<Vec<PathBuf>, DataError> {
    create_dir(out)?;
    let mut by_key: BTreeMap<&KeyframeKey, Vec<&PersonKeypoints>> = BTreeMap::new();
    for p in people {
        by_key.entry(&p.key).or_default().push(p);
    }
    let mut written = Vec::new();
    for (key, people) in by_key {
        let Some(frame) = frames.get(key) else {
            continue;
        };
        let mut img = decode_frame(frame)?;
        let (w, h) = (img.width() as f64, img.height() as f64);
        for (i, p) in people.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            draw_box(&mut img, p.box_xyxy_norm, color);
            let at = |k: usize| {
                let [x, y, s] = p.keypoints[k];
                (s >= min_score).then_some((x * w, y * h))
            };
            for (a, b) in LIMBS {
                if let (Some(a), Some(b)) = (at(a), at(b)) {
                    // Three pixels wide, to be seen over the image.
                    for d in [-1.0, 0.0, 1.0] {
                        raster::line(&mut img, (a.0 + d, a.1), (b.0 + d, b.1), color);
                    }
                }
            }
            for k in 0..p.keypoints.len() {
                if let Some((x, y)) = at(k) {
                    let (x, y) = (x.max(1.0) as u32 - 1, y.max(1.0) as u32 - 1);
                    raster::fill(&mut img, x, y, 3, 3, [255, 255, 255]);
                }
            }
            for b in arms
                .map_or([None, None], |c| arm_boxes(p, [w, h], c))
                .into_iter()
                .flatten()
            {
                draw_box(&mut img, b, [255, 255, 255]);
            }
        }
        written.push(write_keyframe(&img, key, out)?);
    }
    Ok(written)
}

/// A normalised box's outline in pixels; returns its pixel corners.
fn draw_box(img: &mut RgbImage, box_xyxy_norm: [f64; 4], color: [u8; 3]) -> [f64; 4] {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let [x1, y1, x2, y2] = box_xyxy_norm;
    let (x1, y1, x2, y2) = (x1 * w, y1 * h, x2 * w, y2 * h);
    for (a, b) in [
        ((x1, y1), (x2, y1)),
        ((x2, y1), (x2, y2)),
        ((x2, y2), (x1, y2)),
        ((x1, y2), (x1, y1)),
    ] {
        raster::line(img, a, b, color);
    }
    [x1, y1, x2, y2]
}

fn create_dir(out: &Path) -> Result<(), DataError> {
    std::fs::create_dir_all(out).map_err(|source| DataError::Io {
        path: out.to_path_buf(),
        source,
    })
}

fn write_keyframe(img: &RgbImage, key: &KeyframeKey, out: &Path) -> Result<PathBuf, DataError> {
    let path = out.join(format!("{}_{:04}.png", key.video_id, key.timestamp_s));
    raster::write_png(img, &path).map_err(|source| DataError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
