//! Person boxes from a detector, in PySlowFast's CSV format:
//! `video_id, timestamp, x1, y1, x2, y2, action_id (or empty / -1), score`.

use std::collections::HashSet;
use std::path::Path;

use super::csv_file::CsvFile;
use super::{DataError, KeyframeKey};

#[derive(Debug, Clone, PartialEq)]
pub struct PersonBox {
    pub key: KeyframeKey,
    pub box_xyxy_norm: [f64; 4],
    pub score: f64,
}

/// Reads the boxes scoring at least `min_score` (PySlowFast's `DETECTION_SCORE_THRESH`, 0.8
/// on AVA), each box once per keyframe (the files repeat a box per predicted action).
/// Malformed rows are errors naming the file and line.
pub fn read_person_boxes(path: &Path, min_score: f64) -> Result<Vec<PersonBox>, DataError> {
    let file = CsvFile::read(path)?;
    let mut seen: HashSet<(KeyframeKey, [u64; 4])> = HashSet::new();
    let mut boxes = Vec::new();
    for r in file.records() {
        if r.fields.len() != 8 {
            return Err(r.error(format!(
                "expected 8 columns (video_id, timestamp, x1, y1, x2, y2, action, score), found {}",
                r.fields.len()
            )));
        }
        if r.fields[1].contains('.') {
            return Err(r.error(format!(
                "timestamp {} is not a whole second: this is an every-frame box file \
                 (`avaloc persons --every-frame`); AVA's tools take boxes at keyframes",
                r.fields[1]
            )));
        }
        let timestamp_s = r.integer(1, "timestamp")?;
        if !r.fields[6].is_empty() && r.fields[6].parse::<i64>().is_err() {
            return Err(r.error(format!(
                "action {:?} is neither empty nor an integer",
                r.fields[6]
            )));
        }
        let score = r.number(7, "score")?;
        if score < min_score {
            continue;
        }
        let box_xyxy_norm = [
            r.number(2, "x1")?,
            r.number(3, "y1")?,
            r.number(4, "x2")?,
            r.number(5, "y2")?,
        ];
        let key = KeyframeKey {
            video_id: r.fields[0].to_string(),
            timestamp_s,
        };
        if seen.insert((key.clone(), box_xyxy_norm.map(f64::to_bits))) {
            boxes.push(PersonBox {
                key,
                box_xyxy_norm,
                score,
            });
        }
    }
    Ok(boxes)
}
