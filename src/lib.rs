//! avaloc: spatio-temporal action localization for AVA and AVA-Kinetics on Burn.
//!
//! See `DESIGN.md` in the shared folder for the system diagram; each stage lives in the module
//! named after it.

pub mod backend;
pub mod cli;
pub mod config;
pub mod data;
pub mod draw;
pub mod eval;
pub mod infer;
pub mod io;
pub mod models;
pub mod nn;
pub mod ops;
pub mod progress;
pub mod train;
pub mod weights;
