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

/// When a detected box was seen: at a keyframe (a whole second, as AVA's files), or at any
/// frame (seconds with a fraction, `avaloc persons --every-frame`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameTime {
    Keyframe(i64),
    Frame(f64),
}

impl std::fmt::Display for FrameTime {
    /// The timestamp column: `0902`, or `0902.033` to the millisecond.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keyframe(s) => write!(f, "{s:04}"),
            Self::Frame(s) => write!(f, "{s:08.3}"),
        }
    }
}

/// A person box found by the detector in one frame of a video.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedPerson {
    pub video_id: String,
    pub time: FrameTime,
    pub box_xyxy_norm: [f64; 4],
    pub score: f64,
}

/// Writes `people` as a PySlowFast person-box CSV (`video, timestamp, x1, y1, x2, y2, , score`,
/// coordinates to 3 decimals, scores to 6), atomically: what [`read_person_boxes`] reads.
pub fn write_person_boxes(path: &Path, people: &[DetectedPerson]) -> Result<(), DataError> {
    use std::fmt::Write as _;
    let mut csv = String::new();
    for p in people {
        let [x1, y1, x2, y2] = p.box_xyxy_norm;
        writeln!(
            csv,
            "{},{},{x1:.3},{y1:.3},{x2:.3},{y2:.3},,{:.6}",
            p.video_id, p.time, p.score
        )
        .expect("writing to a String");
    }
    crate::fs::write_atomic(path, csv.as_bytes()).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `boxes` grouped by video id, each video's in their order.
pub fn boxes_by_video(boxes: Vec<PersonBox>) -> std::collections::BTreeMap<String, Vec<PersonBox>> {
    let mut by_video: std::collections::BTreeMap<String, Vec<PersonBox>> = Default::default();
    for b in boxes {
        by_video.entry(b.key.video_id.clone()).or_default().push(b);
    }
    by_video
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_boxes_read_back() {
        let path = std::env::temp_dir().join(format!("avaloc-boxes-{}.csv", std::process::id()));
        let person = |time, score| DetectedPerson {
            video_id: "v".into(),
            time,
            box_xyxy_norm: [0.1, 0.25, 0.5, 0.875],
            score,
        };
        write_person_boxes(
            &path,
            &[
                person(FrameTime::Keyframe(902), 0.95),
                person(FrameTime::Keyframe(903), 0.5),
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "v,0902,0.100,0.250,0.500,0.875,,0.950000\nv,0903,0.100,0.250,0.500,0.875,,0.500000\n"
        );
        let boxes = read_person_boxes(&path, 0.8).unwrap();
        assert_eq!(boxes.len(), 1);
        assert_eq!(
            (boxes[0].key.timestamp_s, boxes[0].box_xyxy_norm),
            (902, [0.1, 0.25, 0.5, 0.875])
        );
        write_person_boxes(&path, &[person(FrameTime::Frame(902.0 + 1.0 / 30.0), 0.9)]).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("v,0902.033,")
        );
        std::fs::remove_file(path).unwrap();
    }
}
