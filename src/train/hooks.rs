//! What the epoch loop calls after each epoch, in order, as detectron2's `HookBase`: the
//! validation ([`super::validation::Validation`]), the checkpoint
//! ([`super::checkpoint::Checkpoints`]) and the history ([`super::history::HistoryFiles`]).
//! Each is a unit of its own with its own test; the loop ([`super::fit`]) only trains the
//! epoch and hands each hook the epoch's end.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use super::EpochRecord;

/// An epoch's end as the hooks see it: the model after its last update, the record being
/// filled (the loop has put the training losses in; validation adds its metrics and the
/// time), and a writer of the optimizer's state for a checkpoint.
pub struct EpochEnd<'a, M> {
    pub model: &'a M,
    pub record: &'a mut EpochRecord,
    /// When the epoch started.
    pub started: Instant,
    /// Writes the optimizer's state (momenta, step counts) to a file.
    pub optimizer: &'a dyn Fn(&Path) -> Result<()>,
}

/// A unit the loop calls after every epoch and once after the last.
pub trait Hook<B: AutodiffBackend, M: AutodiffModule<B>> {
    fn after_epoch(&mut self, end: &mut EpochEnd<'_, M>) -> Result<()>;

    fn after_train(&mut self, _model: &M) -> Result<()> {
        Ok(())
    }
}
