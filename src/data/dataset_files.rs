//! Where an AVA-format dataset's files are, with AVA v2.2's names as defaults.

use std::path::{Path, PathBuf};

/// A dataset root in the AVA layout (`frames/<video>/<video>_%06d.jpg`, `annotations/`) and
/// the annotation files, each defaulting to AVA v2.2's name under `annotations/`.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetFiles {
    pub root: PathBuf,
    pub train_csv: Option<PathBuf>,
    pub val_csv: Option<PathBuf>,
    pub labelmap: Option<PathBuf>,
    pub exclusions: Option<PathBuf>,
}

impl DatasetFiles {
    /// Every file at its default place under `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            train_csv: None,
            val_csv: None,
            labelmap: None,
            exclusions: None,
        }
    }

    fn annotation(&self, name: &str) -> PathBuf {
        self.root.join("annotations").join(name)
    }

    /// Training annotations (default `ava_train_v2.2.csv`).
    pub fn train_csv(&self) -> PathBuf {
        self.train_csv
            .clone()
            .unwrap_or_else(|| self.annotation("ava_train_v2.2.csv"))
    }

    /// Validation annotations (default `ava_val_v2.2.csv`).
    pub fn val_csv(&self) -> PathBuf {
        self.val_csv
            .clone()
            .unwrap_or_else(|| self.annotation("ava_val_v2.2.csv"))
    }

    /// The label map of the classes to train and evaluate (default: [`default_labelmap`]).
    pub fn labelmap(&self) -> PathBuf {
        self.labelmap
            .clone()
            .unwrap_or_else(|| default_labelmap(&self.root))
    }

    /// Keyframes excluded from evaluation (default `ava_val_excluded_timestamps_v2.2.csv`
    /// where present).
    pub fn exclusions(&self) -> Option<PathBuf> {
        self.exclusions.clone().or_else(|| {
            let default = self.annotation("ava_val_excluded_timestamps_v2.2.csv");
            default.exists().then_some(default)
        })
    }
}

/// AVA's label map of the 60 evaluated classes under `<data>/annotations`, or the full
/// `ava_action_list_v2.2.pbtxt` where that is absent (the synthetic dataset).
pub fn default_labelmap(data: &Path) -> PathBuf {
    let annotations = data.join("annotations");
    let evaluated = annotations.join("ava_action_list_v2.2_for_activitynet_2019.pbtxt");
    if evaluated.exists() {
        evaluated
    } else {
        annotations.join("ava_action_list_v2.2.pbtxt")
    }
}

/// The two parts of AVA-Kinetics: AVA's films (15 minutes from second 900, a keyframe every
/// second) and Kinetics' 10-second clips (one annotated keyframe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetPart {
    Ava,
    Kinetics,
}

impl DatasetPart {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ava => "ava",
            Self::Kinetics => "kinetics",
        }
    }

    /// The part's annotations of `split` under `root`.
    pub fn groundtruth(self, root: &Path, split: &str) -> PathBuf {
        let name = match self {
            Self::Ava => format!("ava_{split}_v2.2.csv"),
            Self::Kinetics => format!("kinetics_{split}_v1.0.csv"),
        };
        root.join("annotations").join(name)
    }
}
