//! The networks of the system (see the diagram in DESIGN.md).

pub mod action;
pub mod detector;
pub mod pose;
