//! The networks of the system (see the diagram in DESIGN.md).

pub mod detector;
