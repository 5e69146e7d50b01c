//! Where an AVA-format dataset's files are, with AVA v2.2's names as defaults.

use std::path::{Path, PathBuf};

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct DatasetArgs {
    /// Dataset root in the AVA layout (frames/<video>/<video>_%06d.jpg, annotations/).
    #[arg(long, default_value = "data/synth")]
    pub data: PathBuf,
    /// Training annotations (default: <data>/annotations/ava_train_v2.2.csv).
    #[arg(long)]
    pub train_csv: Option<PathBuf>,
    /// Validation annotations (default: <data>/annotations/ava_val_v2.2.csv).
    #[arg(long)]
    pub val_csv: Option<PathBuf>,
    /// Label map of the classes to train and evaluate (default: <data>/annotations/
    /// ava_action_list_v2.2_for_activitynet_2019.pbtxt, the 60 evaluated classes, or
    /// ava_action_list_v2.2.pbtxt where that is absent).
    #[arg(long)]
    pub labelmap: Option<PathBuf>,
    /// Keyframes excluded from evaluation (default: <data>/annotations/
    /// ava_val_excluded_timestamps_v2.2.csv when present).
    #[arg(long)]
    pub exclusions: Option<PathBuf>,
}

impl DatasetArgs {
    fn annotation(&self, name: &str) -> PathBuf {
        self.data.join("annotations").join(name)
    }

    pub fn train_csv(&self) -> PathBuf {
        self.train_csv
            .clone()
            .unwrap_or_else(|| self.annotation("ava_train_v2.2.csv"))
    }

    pub fn val_csv(&self) -> PathBuf {
        self.val_csv
            .clone()
            .unwrap_or_else(|| self.annotation("ava_val_v2.2.csv"))
    }

    pub fn labelmap(&self) -> PathBuf {
        self.labelmap
            .clone()
            .unwrap_or_else(|| default_labelmap(&self.data))
    }

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
