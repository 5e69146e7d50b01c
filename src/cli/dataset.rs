//! The dataset options shared by the commands that read an AVA-format dataset.

use std::path::PathBuf;

use clap::Args;

use crate::data::DatasetFiles;

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
    pub fn files(self) -> DatasetFiles {
        DatasetFiles {
            root: self.data,
            train_csv: self.train_csv,
            val_csv: self.val_csv,
            labelmap: self.labelmap,
            exclusions: self.exclusions,
        }
    }
}
