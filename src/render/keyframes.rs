//! Annotated keyframes: each person's box with its top actions and scores (the labels placed
//! by [`super::labels`]: inside the frame, over no other label), or with its skeleton and
//! arm boxes (thin and dashed, unlike person boxes), drawn on the keyframe, one PNG per
//! keyframe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbImage;

use super::labels::place_labels;
use super::raster::{self, PALETTE};
use crate::data::{DataError, KeyframeKey, LabelMap, PersonKeypoints, PersonScores, decode_frame};

/// How many actions are written beside each box, and the lowest score written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown {
    pub top: usize,
    pub min_score: f32,
}

/// The arm boxes of a person in a frame of `[w, h]` pixels (normalised `[x1, y1, x2, y2]`).
pub type ArmBoxes<'a> = &'a dyn Fn(&PersonKeypoints, [f64; 2]) -> Vec<[f64; 4]>;

/// Label text size and line height, in pixels.
const TEXT: f32 = 11.0;
const LINE: f32 = TEXT + 2.0;

/// Draws the people of each keyframe in `frames` (keyframe → its image file) with their
/// highest-scoring actions (`show`), writing `<out>/<video>_<ts>.png`; returns the files
/// written.
pub fn draw_keyframes(
    people: &[PersonScores],
    frames: &BTreeMap<KeyframeKey, PathBuf>,
    labels: &LabelMap,
    show: Shown,
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
        draw_people(&mut img, &people, labels, show, &font);
        written.push(write_keyframe(&img, key, out)?);
    }
    Ok(written)
}

/// Draws each person's box, then the label blocks of their highest-scoring actions (`show`),
/// each on a white ground in the box's colour, placed so that no two overlap and none leaves
/// the frame.
pub fn draw_people(
    img: &mut RgbImage,
    people: &[&PersonScores],
    labels: &LabelMap,
    show: Shown,
    font: &ab_glyph::FontRef,
) {
    let mut boxes = Vec::new();
    let mut blocks = Vec::new();
    let mut texts = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let corners = draw_box(img, p.box_xyxy_norm, color);
        let mut ranked: Vec<(usize, f32)> = p.scores.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let lines: Vec<String> = ranked
            .into_iter()
            .take(show.top)
            .filter(|(_, s)| *s >= show.min_score)
            .map(|(c, s)| {
                let name = labels.labels.get(c).map_or("?", |l| l.name.as_str());
                format!("{name} {s:.2}")
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let width = lines
            .iter()
            .map(|l| raster::text_width(font, TEXT, l).ceil())
            .fold(0.0f32, f32::max)
            + 4.0;
        boxes.push(corners);
        blocks.push([width as f64, (lines.len() as f32 * LINE + 3.0) as f64]);
        texts.push((lines, color));
    }
    let frame = [img.width() as f64, img.height() as f64];
    for (rect, (lines, color)) in place_labels(&boxes, &blocks, frame).iter().zip(texts) {
        let [x, y, w, h] = rect.map(|v| v.max(0.0));
        raster::fill(img, x as u32, y as u32, w as u32, h as u32, [255, 255, 255]);
        for (j, text) in lines.iter().enumerate() {
            let baseline = y as f32 + (j as f32 + 1.0) * LINE;
            raster::text(img, font, x as f32 + 2.0, baseline, TEXT, text, color);
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
/// `min_score`), and with `arms` its arm boxes (white, thin and dashed), on its keyframe in
/// `frames`, writing `<out>/<video>_<ts>.png`; returns the files written.
pub fn draw_poses(
    people: &[PersonKeypoints],
    frames: &BTreeMap<KeyframeKey, PathBuf>,
    min_score: f64,
    arms: Option<ArmBoxes>,
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
            for b in arms.map_or(Vec::new(), |arms| arms(p, [w, h])) {
                draw_dashed_box(&mut img, b, [255, 255, 255]);
            }
        }
        written.push(write_keyframe(&img, key, out)?);
    }
    Ok(written)
}

/// A normalised box's outline in pixels (2 wide); returns its pixel corners.
fn draw_box(img: &mut RgbImage, box_xyxy_norm: [f64; 4], color: [u8; 3]) -> [f64; 4] {
    outline(img, box_xyxy_norm, color, raster::line)
}

/// A normalised box's outline, 1 pixel wide and dashed.
fn draw_dashed_box(img: &mut RgbImage, box_xyxy_norm: [f64; 4], color: [u8; 3]) {
    outline(img, box_xyxy_norm, color, raster::dashed_line);
}

/// A line drawer of `raster`.
type Line = fn(&mut RgbImage, (f64, f64), (f64, f64), [u8; 3]);

fn outline(img: &mut RgbImage, box_xyxy_norm: [f64; 4], color: [u8; 3], line: Line) -> [f64; 4] {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let [x1, y1, x2, y2] = box_xyxy_norm;
    let (x1, y1, x2, y2) = (x1 * w, y1 * h, x2 * w, y2 * h);
    for (a, b) in [
        ((x1, y1), (x2, y1)),
        ((x2, y1), (x2, y2)),
        ((x2, y2), (x1, y2)),
        ((x1, y2), (x1, y1)),
    ] {
        line(img, a, b, color);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_boxes_are_thin_and_dashed_person_boxes_solid_and_wide() {
        let white = image::Rgb([255u8, 255, 255]);
        let mut img = RgbImage::new(200, 100);
        // A person box from x 10 to 90, an arm box from x 110 to 190, both from y 20.
        draw_box(&mut img, [0.05, 0.2, 0.45, 0.8], [255, 255, 255]);
        draw_dashed_box(&mut img, [0.55, 0.2, 0.95, 0.8], [255, 255, 255]);
        let row = |y: u32, xs: std::ops::Range<u32>| {
            xs.filter(|&x| *img.get_pixel(x, y) == white).count()
        };
        // The person box's top edge: every pixel, two rows deep.
        assert_eq!(row(20, 12..88), 76);
        assert_eq!(row(21, 12..88), 76);
        // The arm box's: about 4 in 7 pixels, one row deep.
        let drawn = row(20, 112..188);
        assert!((38..=48).contains(&drawn), "{drawn} of 76");
        assert_eq!(row(21, 112..188), 0);
    }
}
