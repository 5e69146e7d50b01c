//! AVA and AVA-Kinetics files as distributed: annotation and detection CSVs, label maps,
//! excluded timestamps.

mod ava_csv;
mod error;
mod exclusions;
mod labelmap;

pub use ava_csv::{AvaRow, KeyframeKey, read_ava_csv};
pub use error::DataError;
pub use exclusions::read_exclusions;
pub use labelmap::{Label, LabelMap};
