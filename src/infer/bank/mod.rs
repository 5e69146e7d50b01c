//! Building a long-term feature bank: a request (model, split, boxes, view) resolved into a
//! job that writes the bank's storage (`data::bank`).

mod build;
mod request;

pub use build::{BankBuild, BuildSummary, ScoredBoxes};
pub use request::{BankRequest, Split};
