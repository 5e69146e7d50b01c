//! The one way avaloc's resumable outputs record what made them: named inputs (digests of
//! configs and weights, settings), compared key by key; a record that a join changes (a
//! bank's splits) is read and written under the folder's lock. A bank folder (`bank::BankManifest`), a folder of per-video CSVs
//! (`shard::VideoFiles`) and each `localize` stage (`localize::stage`) keep one; a run whose
//! inputs differ from a record is refused (a shared folder) or redone (a stage), naming the
//! first input that differs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Named inputs: a digest or a setting each.
pub type Inputs = BTreeMap<String, String>;

/// The first input in which `theirs` (a record) differs from `ours`, as `(key, theirs,
/// ours)`; an input only one side has reads `(none)` on the other.
pub fn first_difference(theirs: &Inputs, ours: &Inputs) -> Option<(String, String, String)> {
    let none = "(none)".to_string();
    let keys: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    keys.into_iter().find_map(|key| {
        let (t, o) = (
            theirs.get(key).unwrap_or(&none),
            ours.get(key).unwrap_or(&none),
        );
        (t != o).then(|| (key.clone(), t.clone(), o.clone()))
    })
}

/// The text of the record `path`, `None` where there is none.
pub fn read_record(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A folder's record file, read while its lock is held (released when this is dropped):
/// builds of other shares joining the same folder at the same moment wait for it.
pub struct LockedRecord {
    pub path: PathBuf,
    /// The record's text, `None` where the folder has none yet.
    pub text: Option<String>,
    _lock: File,
}

impl LockedRecord {
    /// Locks `dir/name` (through `dir/.name.lock`) and reads it.
    pub fn open(dir: &Path, name: &str) -> std::io::Result<Self> {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!(".{name}.lock")))?;
        lock.lock()?;
        let path = dir.join(name);
        let text = read_record(&path)?;
        Ok(Self {
            path,
            text,
            _lock: lock,
        })
    }

    /// Writes the record (atomically).
    pub fn write(&self, text: &str) -> std::io::Result<()> {
        crate::fs::write_atomic(&self.path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> Inputs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_first_differing_input_is_named_with_both_values() {
        let a = inputs(&[("config", "c1"), ("weights", "w1")]);
        assert_eq!(first_difference(&a, &a), None);
        let b = inputs(&[("config", "c1"), ("weights", "w2")]);
        assert_eq!(
            first_difference(&a, &b),
            Some(("weights".into(), "w1".into(), "w2".into()))
        );
        let c = inputs(&[("config", "c1"), ("threshold", "0.8"), ("weights", "w1")]);
        assert_eq!(
            first_difference(&a, &c),
            Some(("threshold".into(), "(none)".into(), "0.8".into()))
        );
    }

    #[test]
    fn a_record_is_read_and_written_under_its_lock() {
        let dir = std::env::temp_dir().join(format!("avaloc-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let record = LockedRecord::open(&dir, "settings.txt").unwrap();
        assert_eq!(record.text, None);
        record.write("a = 1\n").unwrap();
        drop(record);
        let record = LockedRecord::open(&dir, "settings.txt").unwrap();
        assert_eq!(record.text.as_deref(), Some("a = 1\n"));
        assert!(dir.join(".settings.txt.lock").is_file());
        drop(record);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
