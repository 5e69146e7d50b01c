use std::path::Path;

use super::DataError;
use super::csv_file::CsvFile;

/// A keyframe: video id and integer timestamp in seconds (AVA's "image key").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyframeKey {
    pub video_id: String,
    pub timestamp_s: i64,
}

impl std::fmt::Display for KeyframeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{:04}", self.video_id, self.timestamp_s)
    }
}

/// One row of an AVA CSV: `video_id, timestamp, x1, y1, x2, y2, action_id[, last]`, boxes
/// normalised to `[0, 1]`. The optional eighth column is the person id in annotation files
/// and the score in detection files.
#[derive(Debug, Clone, PartialEq)]
pub struct AvaRow {
    pub key: KeyframeKey,
    pub box_xyxy_norm: [f64; 4],
    pub action_id: i64,
    pub last: Option<f64>,
    /// 1-based line number in the file, for messages.
    pub line: usize,
}

/// Reads every row of an AVA annotation or detection CSV (or a folder of them). A row with
/// the wrong number of columns or an unparsable field is an error naming the file and line;
/// blank lines are skipped.
pub fn read_ava_csv(path: &Path) -> Result<Vec<AvaRow>, DataError> {
    read_rows(path, false)
}

/// Reads an AVA detections CSV (or a folder of them): every row needs its score (the eighth
/// column).
pub fn read_detections(path: &Path) -> Result<Vec<AvaRow>, DataError> {
    read_rows(path, true)
}

fn read_rows(path: &Path, scored: bool) -> Result<Vec<AvaRow>, DataError> {
    let file = CsvFile::read(path)?;
    file.records()
        .map(|r| {
            if scored && r.fields.len() == 7 {
                return Err(r.error("a detection row needs a score in its eighth column"));
            }
            if r.fields.len() != 7 && r.fields.len() != 8 {
                return Err(r.error(format!(
                    "expected 7 or 8 comma-separated columns, found {}",
                    r.fields.len()
                )));
            }
            Ok(AvaRow {
                key: KeyframeKey {
                    video_id: r.fields[0].to_string(),
                    timestamp_s: r.integer(1, "timestamp")?,
                },
                box_xyxy_norm: [
                    r.number(2, "x1")?,
                    r.number(3, "y1")?,
                    r.number(4, "x2")?,
                    r.number(5, "y2")?,
                ],
                action_id: r.integer(6, "action id")?,
                last: match r.fields.len() {
                    8 => Some(r.number(7, "last column (person id or score)")?),
                    _ => None,
                },
                line: r.line,
            })
        })
        .collect()
}

/// Writes rows as an AVA CSV (boxes to 3 decimals as AVA's files, the last column — score or
/// person id — to 6), atomically.
pub fn write_ava_csv(path: &Path, rows: &[AvaRow]) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(rows.len() * 48);
    for r in rows {
        let [x1, y1, x2, y2] = r.box_xyxy_norm;
        write!(
            text,
            "{},{x1:.3},{y1:.3},{x2:.3},{y2:.3},{}",
            r.key, r.action_id
        )
        .expect("writing to a string");
        match r.last {
            Some(v) => writeln!(text, ",{v:.6}"),
            None => writeln!(text),
        }
        .expect("writing to a string");
    }
    crate::fs::write_atomic(path, text.as_bytes())
}
