use std::path::Path;

use super::DataError;

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

/// Reads every row of an AVA annotation or detection CSV. A row with the wrong number of
/// columns or an unparsable field is an error naming the file and line; blank lines are
/// skipped.
pub fn read_ava_csv(path: &Path) -> Result<Vec<AvaRow>, DataError> {
    let text = DataError::read(path)?;
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 7 && fields.len() != 8 {
            return Err(DataError::line(
                path,
                number,
                format!(
                    "expected 7 or 8 comma-separated columns, found {}",
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
        let integer_at = |column: usize, what: &str| -> Result<i64, DataError> {
            fields[column].parse::<i64>().map_err(|_| {
                DataError::line(
                    path,
                    number,
                    format!("{what} {:?} is not an integer", fields[column]),
                )
            })
        };
        rows.push(AvaRow {
            key: KeyframeKey {
                video_id: fields[0].to_string(),
                timestamp_s: integer_at(1, "timestamp")?,
            },
            box_xyxy_norm: [
                number_at(2, "x1")?,
                number_at(3, "y1")?,
                number_at(4, "x2")?,
                number_at(5, "y2")?,
            ],
            action_id: integer_at(6, "action id")?,
            last: if fields.len() == 8 {
                Some(number_at(7, "last column (person id or score)")?)
            } else {
                None
            },
            line: number,
        });
    }
    Ok(rows)
}
