use std::collections::HashSet;
use std::path::Path;

use super::{DataError, KeyframeKey};

/// Reads an excluded-timestamps CSV (`video_id,timestamp` per line).
pub fn read_exclusions(path: &Path) -> Result<HashSet<KeyframeKey>, DataError> {
    let text = DataError::read(path)?;
    let mut keys = HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [video_id, timestamp] = fields[..] else {
            return Err(DataError::line(
                path,
                index + 1,
                format!(
                    "expected 2 columns (video_id,timestamp), found {}",
                    fields.len()
                ),
            ));
        };
        let timestamp_s = timestamp.parse::<i64>().map_err(|_| {
            DataError::line(
                path,
                index + 1,
                format!("timestamp {timestamp:?} is not an integer"),
            )
        })?;
        keys.insert(KeyframeKey {
            video_id: video_id.to_string(),
            timestamp_s,
        });
    }
    Ok(keys)
}
