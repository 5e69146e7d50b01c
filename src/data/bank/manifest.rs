//! `<BANK>/manifest.json`: what made a bank — the model (its config and a digest of its
//! weights), the feature width and storage type, the clip view and the boxes — so that a bank
//! built one way is never read as another. Builds into an existing folder must agree with it;
//! a model reading a bank checks the fields it depends on.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BankDtype, BankError};
use crate::data::manifest::{LockedRecord, read_record};

/// The clip view the features were computed under (FAIR re-extracts the bank per test view).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BankView {
    pub short_side: u32,
    pub flip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankManifest {
    pub format_version: u32,
    /// The model's config file as given, and the SHA-256 of its text and of its weights.
    pub model_config: String,
    pub config_digest: String,
    pub weights_digest: String,
    /// Width of a feature (S: the pathways' channels) and how it is stored.
    pub dim: usize,
    pub dtype: BankDtype,
    pub view: BankView,
    /// The boxes of each split built into the folder (its videos are distinct).
    pub splits: BTreeMap<String, BoxSource>,
}

/// Where a split's boxes came from: `"ground truth: <csv>"` or a person-box CSV, and the
/// minimum box score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxSource {
    pub boxes: String,
    pub box_threshold: f64,
}

pub const MANIFEST: &str = "manifest.json";

impl BankManifest {
    /// The manifest of the bank in `dir`, if it has one.
    pub fn read(dir: &Path) -> Result<Option<Self>, BankError> {
        let path = dir.join(MANIFEST);
        match read_record(&path) {
            Ok(Some(text)) => Self::parse(&path, &text).map(Some),
            Ok(None) => Ok(None),
            Err(source) => Err(BankError::Io { path, source }),
        }
    }

    /// The manifest in `text`, read from `path`.
    fn parse(path: &Path, text: &str) -> Result<Self, BankError> {
        serde_json::from_str(text)
            .map_err(|e| BankError::file(path, format!("not a bank manifest: {e}")))
    }

    /// Writes the manifest into `dir` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), BankError> {
        let path = dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        crate::fs::write_atomic(&path, text.as_bytes())
            .map_err(|source| BankError::Io { path, source })
    }

    /// Makes `dir` (an existing folder) a bank of this manifest: writes it into a folder
    /// without one, adds this manifest's splits to a folder of the same model and view, and
    /// refuses, naming the field, a folder built another way. Builds of other splits or
    /// shards may join at the same moment: the read-modify-write holds the folder's lock.
    pub fn join_folder(&self, dir: &Path) -> Result<(), BankError> {
        let record = LockedRecord::open(dir, MANIFEST).map_err(|source| BankError::Io {
            path: dir.join(MANIFEST),
            source,
        })?;
        let Some(text) = &record.text else {
            return self.write(dir);
        };
        let existing = Self::parse(&record.path, text)?;
        if let Some((field, theirs, ours)) = existing.difference(self) {
            return Err(BankError::file(
                &record.path,
                format!(
                    "this bank was built with {field} = {theirs}, this build has {ours}: \
                     use another folder"
                ),
            ));
        }
        if self.splits.keys().all(|s| existing.splits.contains_key(s)) {
            return Ok(());
        }
        let mut merged = existing;
        merged.splits.extend(self.splits.clone());
        merged.write(dir)
    }

    /// The first field in which `other` differs, as `(name, ours, theirs)`; splits only one
    /// of them has do not count.
    pub fn difference(&self, other: &Self) -> Option<(String, String, String)> {
        for (split, ours) in &self.splits {
            if let Some(theirs) = other.splits.get(split)
                && theirs != ours
            {
                return Some((
                    format!("splits.{split}"),
                    format!("{} (score ≥ {})", ours.boxes, ours.box_threshold),
                    format!("{} (score ≥ {})", theirs.boxes, theirs.box_threshold),
                ));
            }
        }
        let fields: [(&'static str, String, String); 7] = [
            (
                "format_version",
                self.format_version.to_string(),
                other.format_version.to_string(),
            ),
            (
                "config_digest",
                self.config_digest.clone(),
                other.config_digest.clone(),
            ),
            (
                "weights_digest",
                self.weights_digest.clone(),
                other.weights_digest.clone(),
            ),
            ("dim", self.dim.to_string(), other.dim.to_string()),
            (
                "dtype",
                format!("{:?}", self.dtype),
                format!("{:?}", other.dtype),
            ),
            (
                "view.short_side",
                self.view.short_side.to_string(),
                other.view.short_side.to_string(),
            ),
            (
                "view.flip",
                self.view.flip.to_string(),
                other.view.flip.to_string(),
            ),
        ];
        fields
            .into_iter()
            .find(|(_, a, b)| a != b)
            .map(|(name, a, b)| (name.to_string(), a, b))
    }
}
