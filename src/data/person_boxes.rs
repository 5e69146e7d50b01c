//! Person boxes from a detector, in PySlowFast's CSV format:
//! `video_id, timestamp, x1, y1, x2, y2, action_id (or empty / -1), score`.

use std::collections::HashSet;
use std::path::Path;

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
    let text = DataError::read(path)?;
    let mut seen: HashSet<(KeyframeKey, [u64; 4])> = HashSet::new();
    let mut boxes = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 8 {
            return Err(DataError::line(
                path,
                number,
                format!(
                    "expected 8 columns (video_id, timestamp, x1, y1, x2, y2, action, score), found {}",
                    fields.len()
                ),
            ));
        }
        let number_at = |column: usize, what: &str| -> Result<f64, DataError> {
            fields[column].parse::<f64>().map_err(|_| {
                DataError::line(
                    path,
                    number,
                    format!("{what} {:?} is not a number", fields[column]),
                )
            })
        };
        let timestamp_s = fields[1].parse::<i64>().map_err(|_| {
            DataError::line(
                path,
                number,
                format!("timestamp {:?} is not an integer", fields[1]),
            )
        })?;
        if !fields[6].is_empty() && fields[6].parse::<i64>().is_err() {
            return Err(DataError::line(
                path,
                number,
                format!("action {:?} is neither empty nor an integer", fields[6]),
            ));
        }
        let score = number_at(7, "score")?;
        if score < min_score {
            continue;
        }
        let box_xyxy_norm = [
            number_at(2, "x1")?,
            number_at(3, "y1")?,
            number_at(4, "x2")?,
            number_at(5, "y2")?,
        ];
        let key = KeyframeKey {
            video_id: fields[0].to_string(),
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
