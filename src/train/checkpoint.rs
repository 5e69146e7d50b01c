//! Checkpoints: after each epoch the model's and the optimizer's records and the exported
//! weights, written into a temporary folder renamed into place, `checkpoints/last` pointing
//! at it and the newest [`KEEP_CHECKPOINTS`] kept; resume from the last one; the final
//! weights after the last epoch.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::module::AutodiffModule;
use burn::optim::Optimizer;
use burn::optim::lr_scheduler::LrScheduler;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;

use super::WarmupMultiStep;
use super::hooks::{EpochEnd, Hook};

/// Checkpoints kept (the newest), besides the one being written.
pub const KEEP_CHECKPOINTS: usize = 2;

pub(super) type Mpk = NamedMpkFileRecorder<FullPrecisionSettings>;

/// Where a run lives and how its network is exported for users (`weights.safetensors` of
/// each checkpoint, `model_final.safetensors`), next to Burn's own records used for resume.
pub struct Checkpointing<'a, M> {
    pub out: &'a Path,
    pub resume: bool,
    pub export: &'a dyn Fn(&M, &Path) -> Result<()>,
}

/// A resumed training: the model and optimizer as the last checkpoint left them, the epoch
/// it was written after (0 for a new run).
pub struct Resumed<M, O> {
    pub model: M,
    pub optim: O,
    pub epoch: usize,
}

impl<M> Checkpointing<'_, M> {
    /// The run folder's checkpoint folder created, and room checked for the checkpoints of a
    /// network of `params` parameters (each holds the weights twice, Burn's record and
    /// safetensors, and up to two optimizer values a weight; the kept ones stay while the
    /// next is written).
    pub fn prepare(&self, params: u64) -> Result<()> {
        let out = self.out;
        std::fs::create_dir_all(out.join("checkpoints"))
            .with_context(|| format!("creating {}", out.display()))?;
        let checkpoint_bytes = params * 4 * 4;
        crate::fs::check_free_space(
            out,
            checkpoint_bytes * (KEEP_CHECKPOINTS as u64 + 1),
            "the training's checkpoints",
        )?;
        Ok(())
    }

    /// `model` and `optim` as the last checkpoint left them, with `schedule` at its position,
    /// where the run resumes one; a run folder holding a checkpoint that is not resumed is an
    /// error.
    pub fn resume<B, O>(
        &self,
        model: M,
        optim: O,
        schedule: &mut WarmupMultiStep,
        updates_per_epoch: usize,
        device: &B::Device,
    ) -> Result<Resumed<M, O>>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: Optimizer<M, B>,
    {
        let out = self.out;
        match (last_checkpoint(out)?, self.resume) {
            (Some(epoch), true) => {
                let dir = epoch_dir(out, epoch);
                let recorder = Mpk::new();
                let context = |what: &str| {
                    format!(
                        "resuming from {}: cannot read {what}, which is damaged or was written \
                         by an avaloc from before its module reshape (such runs cannot be \
                         resumed: start a new one, with --weights RUN/model_final.safetensors \
                         to keep the weights)",
                        dir.display()
                    )
                };
                let model = model.load_record(
                    recorder
                        .load(dir.join("model.mpk"), device)
                        .with_context(|| context("model.mpk"))?,
                );
                let optim = optim.load_record(
                    recorder
                        .load(dir.join("optim.mpk"), device)
                        .with_context(|| context("optim.mpk"))?,
                );
                *schedule = schedule.clone().load_record::<B>(epoch * updates_per_epoch);
                tracing::info!("resuming {} after epoch {epoch}", out.display());
                Ok(Resumed {
                    model,
                    optim,
                    epoch,
                })
            }
            (Some(epoch), false) => bail!(
                "{} already holds a training run (last checkpoint: epoch {epoch}); pass \
                 --resume to continue it or choose another output folder",
                out.display()
            ),
            (None, _) => Ok(Resumed {
                model,
                optim,
                epoch: 0,
            }),
        }
    }
}

impl<B, M> Hook<B, M> for Checkpointing<'_, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    /// Writes the epoch's records into a temporary folder renamed into place, then points
    /// `checkpoints/last` at it and drops all but the newest [`KEEP_CHECKPOINTS`].
    fn after_epoch(&mut self, end: &mut EpochEnd<'_, M>) -> Result<()> {
        let (out, epoch) = (self.out, end.record.epoch);
        let dir = epoch_dir(out, epoch);
        let tmp = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let context = || format!("writing a checkpoint under {}", tmp.display());
        Mpk::new()
            .record(end.model.clone().into_record(), tmp.join("model.mpk"))
            .with_context(context)?;
        (end.optimizer)(&tmp.join("optim.mpk")).with_context(context)?;
        (self.export)(end.model, &tmp.join("weights.safetensors"))?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).with_context(|| format!("renaming {}", tmp.display()))?;
        let last = out.join("checkpoints").join("last");
        crate::fs::write_atomic(&last, epoch.to_string().as_bytes())
            .with_context(|| format!("writing {}", last.display()))?;
        if epoch > KEEP_CHECKPOINTS {
            let _ = std::fs::remove_dir_all(epoch_dir(out, epoch - KEEP_CHECKPOINTS));
        }
        Ok(())
    }

    /// The final weights, `model_final.safetensors`.
    fn after_train(&mut self, model: &M) -> Result<()> {
        (self.export)(model, &self.out.join("model_final.safetensors"))
    }
}

pub(super) fn epoch_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join("checkpoints").join(format!("epoch_{epoch:03}"))
}

/// The epoch of the newest complete checkpoint (named in `checkpoints/last`).
pub(super) fn last_checkpoint(out: &Path) -> Result<Option<usize>> {
    let path = out.join("checkpoints").join("last");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let epoch = text
                .trim()
                .parse()
                .with_context(|| format!("{}: not an epoch number", path.display()))?;
            Ok(Some(epoch))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::EpochRecord;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::SgdConfig;

    type B = Autodiff<Flex>;

    fn record(epoch: usize) -> EpochRecord {
        EpochRecord {
            epoch,
            updates: epoch,
            lr: 0.1,
            seconds: 0.0,
            train: Vec::new(),
            valid: Vec::new(),
        }
    }

    fn weights(model: &Linear<B>) -> Vec<f32> {
        model.weight.val().into_data().to_vec().unwrap()
    }

    #[test]
    fn each_epoch_is_checkpointed_the_newest_kept_and_a_run_resumes_from_the_last() {
        let _generator = crate::generator_lock();
        let device = burn::backend::flex::FlexDevice;
        let out = std::env::temp_dir().join(format!("avaloc-checkpoints-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let exported = std::cell::RefCell::new(Vec::new());
        let export = |_: &Linear<B>, path: &Path| -> Result<()> {
            exported.borrow_mut().push(path.to_path_buf());
            Ok(std::fs::write(path, b"weights")?)
        };
        let mut hook = Checkpointing {
            out: &out,
            resume: false,
            export: &export,
        };
        hook.prepare(6).unwrap();
        let optim = SgdConfig::new().init::<B, Linear<B>>();
        let save_optim = |path: &Path| -> Result<()> {
            Ok(Mpk::new().record(optim.to_record(), path.to_path_buf())?)
        };
        let mut last = None;
        for epoch in 1..=3 {
            let model: Linear<B> = LinearConfig::new(3, 2).init(&device);
            // Drawn now: a lazily initialised parameter cloned before its draw draws anew.
            weights(&model);
            let mut r = record(epoch);
            let mut end = EpochEnd {
                model: &model,
                record: &mut r,
                started: std::time::Instant::now(),
                optimizer: &save_optim,
            };
            Hook::<B, _>::after_epoch(&mut hook, &mut end).unwrap();
            last = Some(model);
        }
        let last = last.unwrap();
        Hook::<B, _>::after_train(&mut hook, &last).unwrap();
        assert_eq!(last_checkpoint(&out).unwrap(), Some(3));
        assert!(!epoch_dir(&out, 1).exists());
        for epoch in [2, 3] {
            for file in ["model.mpk", "optim.mpk", "weights.safetensors"] {
                assert!(
                    epoch_dir(&out, epoch).join(file).is_file(),
                    "{epoch} {file}"
                );
            }
        }
        assert!(out.join("model_final.safetensors").is_file());
        assert_eq!(exported.borrow().len(), 4);

        // Not resuming a folder that holds a run is refused; resuming loads the last epoch.
        let fresh: Linear<B> = LinearConfig::new(3, 2).init(&device);
        weights(&fresh);
        let mut schedule = WarmupMultiStep {
            base_lr: 0.1,
            warmup_iters: 0,
            warmup_factor: 1.0,
            milestones: vec![],
            gamma: 0.1,
            iteration: 0,
        };
        let optim = SgdConfig::new().init::<B, Linear<B>>();
        let refused = hook
            .resume::<B, _>(fresh.clone(), optim, &mut schedule, 5, &device)
            .err()
            .unwrap()
            .to_string();
        assert!(
            refused.contains("already holds a training run"),
            "{refused}"
        );
        hook.resume = true;
        let optim = SgdConfig::new().init::<B, Linear<B>>();
        let resumed = hook
            .resume::<B, _>(fresh.clone(), optim, &mut schedule, 5, &device)
            .unwrap();
        assert_eq!(resumed.epoch, 3);
        assert_eq!(schedule.iteration, 15);
        assert_eq!(weights(&resumed.model), weights(&last));
        assert_ne!(weights(&fresh), weights(&last));
        std::fs::remove_dir_all(&out).unwrap();
    }
}
