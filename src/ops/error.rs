/// A bad argument given to one of the ops in [`crate::ops`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpError {
    #[error("{op}: {what} must have shape {expected}, got {got:?}")]
    Shape {
        op: &'static str,
        what: &'static str,
        expected: &'static str,
        got: Vec<usize>,
    },
    #[error("{op}: row {row} has batch index {index}, but the feature map has batch size {batch}")]
    BatchIndex {
        op: &'static str,
        row: usize,
        index: f32,
        batch: usize,
    },
    #[error("{op}: {message}")]
    Argument { op: &'static str, message: String },
}
