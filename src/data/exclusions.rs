use std::collections::HashSet;
use std::path::Path;

use super::csv_file::CsvFile;
use super::{DataError, KeyframeKey};

/// Reads an excluded-timestamps CSV (`video_id,timestamp` per line).
pub fn read_exclusions(path: &Path) -> Result<HashSet<KeyframeKey>, DataError> {
    let file = CsvFile::read(path)?;
    file.records()
        .map(|r| {
            if r.fields.len() != 2 {
                return Err(r.error(format!(
                    "expected 2 columns (video_id,timestamp), found {}",
                    r.fields.len()
                )));
            }
            Ok(KeyframeKey {
                video_id: r.fields[0].to_string(),
                timestamp_s: r.integer(1, "timestamp")?,
            })
        })
        .collect()
}
