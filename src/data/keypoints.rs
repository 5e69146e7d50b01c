//! Person keypoints at keyframes, one CSV format for `avaloc poses`, `avaloc synth` and the
//! arm boxes: AVA's leading columns, then COCO-17 keypoints,
//!
//! `video_id, timestamp, x1, y1, x2, y2, person_id, score, (x, y, s) × 17`
//!
//! with box and keypoint coordinates normalised to the frame (as AVA's boxes), `person_id`
//! AVA's id where known and −1 for detected persons, `score` the person's (CPN: the box score
//! times the mean keypoint score; ground truth: 1), and `s` each keypoint's score (CPN's:
//! heatmap peak / 255 + 0.5) or, in a ground-truth file, COCO's visibility flag (0 not
//! labelled, 1 labelled but hidden, 2 visible).

use std::fmt::Write as _;
use std::path::Path;

use super::csv_file::CsvFile;
use super::{DataError, KeyframeKey};

pub const KEYPOINT_COUNT: usize = 17;
const COLUMNS: usize = 8 + 3 * KEYPOINT_COUNT;

#[derive(Debug, Clone, PartialEq)]
pub struct PersonKeypoints {
    pub key: KeyframeKey,
    pub box_xyxy_norm: [f64; 4],
    /// AVA's person id, −1 when unknown.
    pub person_id: i64,
    pub score: f64,
    /// `[x, y, s]` per keypoint, x and y normalised.
    pub keypoints: Vec<[f64; 3]>,
}

/// Reads a keypoint CSV; a malformed row or a non-finite number is an error naming the file
/// and line.
pub fn read_keypoints(path: &Path) -> Result<Vec<PersonKeypoints>, DataError> {
    let file = CsvFile::read(path)?;
    let mut people = Vec::new();
    for r in file.records() {
        if r.fields.len() != COLUMNS {
            return Err(r.error(format!(
                "expected {COLUMNS} columns (video_id, timestamp, x1, y1, x2, y2, person_id, \
                 score, then x, y, score for each of {KEYPOINT_COUNT} keypoints), found {}",
                r.fields.len()
            )));
        }
        let key = KeyframeKey {
            video_id: r.fields[0].to_string(),
            timestamp_s: r.integer(1, "timestamp")?,
        };
        let box_xyxy_norm = [
            r.number(2, "x1")?,
            r.number(3, "y1")?,
            r.number(4, "x2")?,
            r.number(5, "y2")?,
        ];
        let person_id = r.integer(6, "person_id")?;
        let score = r.number(7, "score")?;
        let mut keypoints = Vec::with_capacity(KEYPOINT_COUNT);
        for k in 0..KEYPOINT_COUNT {
            let c = 8 + 3 * k;
            keypoints.push([
                r.number(c, &format!("keypoint {k} x"))?,
                r.number(c + 1, &format!("keypoint {k} y"))?,
                r.number(c + 2, &format!("keypoint {k} score"))?,
            ]);
        }
        people.push(PersonKeypoints {
            key,
            box_xyxy_norm,
            person_id,
            score,
            keypoints,
        });
    }
    Ok(people)
}

/// One row of the format (no newline).
pub fn keypoint_row(person: &PersonKeypoints) -> String {
    let b = person.box_xyxy_norm;
    let mut row = format!(
        "{},{:04},{:.3},{:.3},{:.3},{:.3},{},{:.4}",
        person.key.video_id,
        person.key.timestamp_s,
        b[0],
        b[1],
        b[2],
        b[3],
        person.person_id,
        person.score
    );
    for [x, y, s] in &person.keypoints {
        write!(row, ",{x:.4},{y:.4},{s:.4}").unwrap();
    }
    row
}

/// Writes `people` atomically.
pub fn write_keypoints(path: &Path, people: &[PersonKeypoints]) -> std::io::Result<()> {
    let mut text = String::new();
    for person in people {
        text.push_str(&keypoint_row(person));
        text.push('\n');
    }
    crate::fs::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> PersonKeypoints {
        PersonKeypoints {
            key: KeyframeKey {
                video_id: "vid".into(),
                timestamp_s: 902,
            },
            box_xyxy_norm: [0.1, 0.2, 0.5, 0.9],
            person_id: -1,
            score: 0.75,
            keypoints: (0..17)
                .map(|k| [k as f64 / 20.0, 0.5, (100 + k) as f64 / 100.0])
                .collect(),
        }
    }

    #[test]
    fn rows_round_trip_and_bad_rows_name_the_line() {
        let dir = std::env::temp_dir().join(format!("avaloc-keypoints-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.csv");
        write_keypoints(&path, &[person(), person()]).unwrap();
        assert_eq!(read_keypoints(&path).unwrap(), vec![person(), person()]);

        let good = keypoint_row(&person());
        let short = good.rsplit_once(',').unwrap().0.to_string();
        let nan = good.replacen(",0.7500,", ",NaN,", 1);
        for (bad, expected) in [(short, "expected 59 columns"), (nan, "score is NaN")] {
            std::fs::write(&path, format!("{good}\n{bad}\n")).unwrap();
            let err = read_keypoints(&path).unwrap_err().to_string();
            assert!(
                err.contains("k.csv") && err.contains(":2") && err.contains(expected),
                "{err}"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
