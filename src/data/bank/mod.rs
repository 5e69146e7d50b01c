//! The long-term feature bank (Wu et al., CVPR 2019; the seed system's L): per video and per
//! second, the short-term features S of the people in it, stored on disk ([`store`]) with a
//! manifest of how they were made ([`BankManifest`]), and read as windows around keyframes
//! ([`sample_window`]) by a feature-bank operator (`models::action::Fbo`). Building one is a
//! stage of `infer` (`infer::bank`).

mod manifest;
mod store;
mod window;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use manifest::{BankManifest, BankView, BoxSource, MANIFEST};
pub use store::{
    BankDtype, BankEntry, BankStats, EntryInfo, VideoBank, bank_stats, file_bytes, video_path,
    write_video,
};
pub use window::{Pick, Window, sample_window};

#[derive(Debug, thiserror::Error)]
pub enum BankError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl BankError {
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Self::File {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// A bank folder: its manifest and its videos, opened on first use.
#[derive(Debug)]
pub struct Bank {
    dir: PathBuf,
    pub manifest: BankManifest,
    videos: Mutex<HashMap<String, Arc<VideoBank>>>,
}

impl Bank {
    /// Opens the bank in `dir` (it must have a manifest).
    pub fn open(dir: &Path) -> Result<Self, BankError> {
        let manifest = BankManifest::read(dir)?.ok_or_else(|| {
            BankError::file(
                &dir.join(MANIFEST),
                "missing: not a bank folder (avaloc bank build writes one)",
            )
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            videos: Mutex::new(HashMap::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks that features are `dim` wide, as the model reading them expects.
    pub fn check_dim(&self, dim: usize) -> Result<(), BankError> {
        if self.manifest.dim != dim {
            return Err(BankError::file(
                &self.dir.join(MANIFEST),
                format!(
                    "dim = {}, but the model reads features {dim} wide (a bank of another model)",
                    self.manifest.dim
                ),
            ));
        }
        Ok(())
    }

    /// The bank of `video_id`; a video the bank lacks is an error naming it.
    pub fn video(&self, video_id: &str) -> Result<Arc<VideoBank>, BankError> {
        let mut videos = self.videos.lock().expect("bank lock");
        if let Some(video) = videos.get(video_id) {
            return Ok(video.clone());
        }
        let path = video_path(&self.dir, video_id);
        if !path.exists() {
            return Err(BankError::file(
                &path,
                format!(
                    "the bank has no features of video {video_id:?} (build it with avaloc bank build)"
                ),
            ));
        }
        let video = Arc::new(VideoBank::open(&path)?);
        if video.dim() != self.manifest.dim {
            return Err(BankError::file(
                &path,
                format!(
                    "features {} wide where the manifest says {}",
                    video.dim(),
                    self.manifest.dim
                ),
            ));
        }
        videos.insert(video_id.to_string(), video.clone());
        Ok(video)
    }
}
