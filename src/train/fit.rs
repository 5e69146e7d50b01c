//! The epoch loop shared by every network: burn-train's [`TrainStep`] for the forward and
//! backward pass, burn-optim's SGD (momentum with dampening 0, weight decay) or AdamW under
//! [`WarmupMultiStep`], gradient accumulation, a finite-loss check, validation after each
//! epoch, atomic checkpoints (model, optimizer state, schedule position) with resume, and the
//! metrics CSV and curves. A progress bar shows in a terminal; otherwise plain lines.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::AutodiffModule;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsAccumulator, Optimizer, SgdConfig};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::train::{ItemLazy, TrainStep};

use burn::data::dataset::Dataset;

use crate::data::{EpochBatches, OrderedLoader, SeededBatcher, mix_seed};
use crate::progress::Progress;

use super::{EpochRecord, History, OptimizerKind, TrainSettings};

/// Host values of one batch's losses, `total` being what was differentiated, and a short
/// description of the batch for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLosses {
    pub total: f64,
    pub parts: Vec<(&'static str, f64)>,
    pub batch: String,
}

impl ItemLazy for StepLosses {
    type ItemSync = Self;
    fn sync(self) -> Self {
        self
    }
}

/// Where a run lives and how its network is exported for users (`weights.safetensors` of
/// each checkpoint, `model_final.safetensors`), next to Burn's own records used for resume.
pub struct Checkpointing<'a, M> {
    pub out: &'a Path,
    pub resume: bool,
    pub export: &'a dyn Fn(&M, &Path) -> Result<()>,
}

const KEEP_CHECKPOINTS: usize = 2;

/// Networks beyond this many parameters (8 GB of float32 weights, 32 GB with their gradients
/// and Adam's state) are refused: ten times the largest network of the seed system.
const MAX_TRAINED_PARAMS: u64 = 2_000_000_000;

type Mpk = NamedMpkFileRecorder<FullPrecisionSettings>;

/// Trains `model` for `settings.epochs` epochs over `train`, validating with `validate`
/// after each; returns the trained model and the per-epoch history.
pub fn fit<B, M, V>(
    model: M,
    settings: &TrainSettings,
    train: &dyn EpochBatches<M::Input>,
    validate: V,
    run: Checkpointing<'_, M>,
) -> Result<(M, History)>
where
    B: AutodiffBackend,
    M: TrainStep<Output = StepLosses> + AutodiffModule<B> + 'static,
    V: FnMut(&M::InnerModule, usize) -> Result<Vec<(String, f64)>>,
{
    match settings.optimizer {
        OptimizerKind::Sgd => {
            let momentum = MomentumConfig::new()
                .with_momentum(settings.momentum)
                .with_dampening(0.0);
            let decay = WeightDecayConfig::new(settings.weight_decay as f32);
            let optim = SgdConfig::new()
                .with_momentum(Some(momentum))
                .with_weight_decay(Some(decay))
                .init::<B, M>();
            run_epochs(model, optim, settings, train, validate, run)
        }
        OptimizerKind::AdamW => {
            let optim = AdamWConfig::new()
                .with_weight_decay(settings.weight_decay as f32)
                .init::<B, M>();
            run_epochs(model, optim, settings, train, validate, run)
        }
    }
}

fn run_epochs<B, M, V, O>(
    mut model: M,
    mut optim: O,
    settings: &TrainSettings,
    train: &dyn EpochBatches<M::Input>,
    mut validate: V,
    run: Checkpointing<'_, M>,
) -> Result<(M, History)>
where
    B: AutodiffBackend,
    M: TrainStep<Output = StepLosses> + AutodiffModule<B> + 'static,
    V: FnMut(&M::InnerModule, usize) -> Result<Vec<(String, f64)>>,
    O: Optimizer<M, B>,
{
    let out = run.out;
    std::fs::create_dir_all(out.join("checkpoints"))
        .with_context(|| format!("creating {}", out.display()))?;
    // Sizes come from a config: a mistyped one must not allocate terabytes.
    let params = crate::nn::lazy_num_params(&model);
    if params > MAX_TRAINED_PARAMS {
        bail!(
            "the network has {params} parameters ({} as float32), more than the {} avaloc \
             trains: check the sizes in its configuration's [network] table",
            crate::io::human_bytes(params * 4),
            MAX_TRAINED_PARAMS
        );
    }
    // Each checkpoint holds the weights twice (Burn's record, safetensors) and the
    // optimizer's state (up to two values a weight); KEEP_CHECKPOINTS are kept while the
    // next one is written.
    let checkpoint_bytes = params * 4 * 4;
    crate::io::check_free_space(
        out,
        checkpoint_bytes * (KEEP_CHECKPOINTS as u64 + 1),
        "the training's checkpoints",
    )?;
    let batches = train.num_items().div_ceil(settings.batch_size);
    if batches == 0 {
        bail!("no training samples");
    }
    let updates_per_epoch = batches.div_ceil(settings.accumulation);
    let mut schedule = settings.schedule(updates_per_epoch);
    let device = model.devices()[0].clone();
    let mut history = History::default();
    let mut first_epoch = 1;
    let last = last_checkpoint(out)?;
    match (last, run.resume) {
        (Some(epoch), true) => {
            let dir = epoch_dir(out, epoch);
            let recorder = Mpk::new();
            let context = |what: &str| {
                format!(
                    "resuming from {}: cannot read {what}, which is damaged or was written by \
                     an avaloc from before its module reshape (such runs cannot be resumed: \
                     start a new one, with --weights RUN/model_final.safetensors to keep the \
                     weights)",
                    dir.display()
                )
            };
            model = model.load_record(
                recorder
                    .load(dir.join("model.mpk"), &device)
                    .with_context(|| context("model.mpk"))?,
            );
            optim = optim.load_record(
                recorder
                    .load(dir.join("optim.mpk"), &device)
                    .with_context(|| context("optim.mpk"))?,
            );
            schedule = schedule.load_record::<B>(epoch * updates_per_epoch);
            history = History::read(&out.join("metrics.csv")).map_err(anyhow::Error::msg)?;
            history.records.retain(|r| r.epoch <= epoch);
            first_epoch = epoch + 1;
            println!("resuming {} after epoch {epoch}", out.display());
        }
        (Some(epoch), false) => bail!(
            "{} already holds a training run (last checkpoint: epoch {epoch}); pass --resume to \
             continue it or choose another output folder",
            out.display()
        ),
        (None, _) => {}
    }

    for epoch in first_epoch..=settings.epochs {
        let start = Instant::now();
        // Dropout draws from the backend's generator: seeded per epoch, a resumed run draws
        // what an uninterrupted one does.
        B::seed(&device, mix_seed(&[settings.seed, epoch as u64]));
        let progress = Progress::new(
            format!("epoch {epoch}/{}", settings.epochs),
            batches,
            "batches",
        );
        let mut sums: Vec<(&'static str, f64)> = Vec::new();
        let mut total_sum = 0.0;
        let mut seen = 0usize;
        let mut accumulator = GradientsAccumulator::<M>::new();
        let mut pending = 0usize;
        let mut lr = schedule.lr_at(schedule.iteration);
        for (i, batch) in train.epoch(epoch).enumerate() {
            let output = model.step(batch);
            let losses = output.item;
            if !losses.total.is_finite() {
                bail!(
                    "the loss is {} at epoch {epoch}, batch {} ({}); lower train.lr or check \
                     the data",
                    losses.total,
                    i + 1,
                    losses.batch
                );
            }
            accumulator.accumulate(&model, output.grads);
            pending += 1;
            if pending == settings.accumulation || i + 1 == batches {
                lr = schedule.step();
                model = model.optimize(&mut optim, lr, accumulator.grads());
                pending = 0;
            }
            if sums.is_empty() {
                sums = losses.parts.iter().map(|(n, _)| (*n, 0.0)).collect();
            }
            for ((_, sum), (_, v)) in sums.iter_mut().zip(&losses.parts) {
                *sum += v;
            }
            total_sum += losses.total;
            seen += 1;
            progress.advance(1, || {
                format!("lr {lr:.2e} loss {:.4}", total_sum / seen as f64)
            });
        }
        progress.finish();
        let mut train_means: Vec<(String, f64)> =
            vec![("loss".to_string(), total_sum / seen.max(1) as f64)];
        train_means.extend(
            sums.iter()
                .map(|(n, s)| (n.to_string(), s / seen.max(1) as f64)),
        );
        let valid = validate(&model.valid(), epoch)?;
        let record = EpochRecord {
            epoch,
            updates: schedule.iteration,
            lr,
            seconds: start.elapsed().as_secs_f64(),
            train: train_means,
            valid,
        };
        println!("{}", summary_line(&record, settings.epochs));
        history.records.push(record);
        save_checkpoint(&model, &optim, out, epoch, &run)?;
        history
            .write_csv(&out.join("metrics.csv"))
            .with_context(|| format!("writing {}", out.join("metrics.csv").display()))?;
        history
            .write_curves(&out.join("curves.png"))
            .with_context(|| format!("writing {}", out.join("curves.png").display()))?;
    }
    let final_path = out.join("model_final.safetensors");
    (run.export)(&model, &final_path)?;
    Ok((model, history))
}

fn summary_line(r: &EpochRecord, epochs: usize) -> String {
    let mut line = format!(
        "epoch {}/{epochs} ({:.0} s, lr {:.2e}):",
        r.epoch, r.seconds, r.lr
    );
    for (name, v) in &r.train {
        line += &format!(" {name} {v:.4}");
    }
    for (name, v) in &r.valid {
        line += &format!(" | val {name} {v:.4}");
    }
    line
}

fn epoch_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join("checkpoints").join(format!("epoch_{epoch:03}"))
}

/// The epoch of the newest complete checkpoint (named in `checkpoints/last`).
fn last_checkpoint(out: &Path) -> Result<Option<usize>> {
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

/// Writes the epoch's records into a temporary folder renamed into place, then points
/// `checkpoints/last` at it and drops all but the newest [`KEEP_CHECKPOINTS`].
fn save_checkpoint<B, M, O>(
    model: &M,
    optim: &O,
    out: &Path,
    epoch: usize,
    run: &Checkpointing<'_, M>,
) -> Result<()>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let dir = epoch_dir(out, epoch);
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let recorder = Mpk::new();
    let context = || format!("writing a checkpoint under {}", tmp.display());
    recorder
        .record(model.clone().into_record(), tmp.join("model.mpk"))
        .with_context(context)?;
    recorder
        .record(optim.to_record(), tmp.join("optim.mpk"))
        .with_context(context)?;
    (run.export)(model, &tmp.join("weights.safetensors"))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).with_context(|| format!("renaming {}", tmp.display()))?;
    crate::io::write_atomic(
        &out.join("checkpoints").join("last"),
        epoch.to_string().as_bytes(),
    )
    .with_context(|| format!("writing {}", out.join("checkpoints/last").display()))?;
    if epoch > KEEP_CHECKPOINTS {
        let _ = std::fs::remove_dir_all(epoch_dir(out, epoch - KEEP_CHECKPOINTS));
    }
    Ok(())
}

/// Where a run goes and how its validation metric reads in the last line.
pub struct RunFolder<'a> {
    pub out: &'a Path,
    pub resume: bool,
    pub metric: &'a str,
}

/// Trains `trainee` with [`fit`] on `train_set` batched by `batcher` (a seeded shuffle each
/// epoch, batches in order on the configured workers), then prints the last epoch's
/// validation metric and the weights file.
#[allow(clippy::too_many_arguments)]
pub fn fit_run<B, M, I, D, Bt, V>(
    trainee: M,
    settings: &TrainSettings,
    batcher: Bt,
    train_set: D,
    validate: V,
    export: &dyn Fn(&M, &Path) -> Result<()>,
    run: RunFolder<'_>,
    device: &B::Device,
) -> Result<()>
where
    B: AutodiffBackend,
    M: TrainStep<Output = StepLosses> + AutodiffModule<B> + 'static,
    M::Input: Send + 'static,
    I: Send + Sync + 'static,
    D: Dataset<I> + 'static,
    Bt: SeededBatcher<B, I, M::Input> + 'static,
    V: FnMut(&M::InnerModule, usize) -> Result<Vec<(String, f64)>>,
{
    let loader = OrderedLoader::new(
        train_set,
        batcher,
        settings.batch_size,
        settings.workers,
        settings.seed,
        device.clone(),
    );
    let checkpointing = Checkpointing {
        out: run.out,
        resume: run.resume,
        export,
    };
    let (_, history) = fit(trainee, settings, &loader, validate, checkpointing)?;
    if let Some(last) = history.records.last() {
        println!(
            "{}: {} {:.4} after {} epochs; weights in {}",
            run.out.display(),
            run.metric,
            last.valid.first().map_or(f64::NAN, |v| v.1),
            last.epoch,
            run.out.join("model_final.safetensors").display()
        );
    }
    Ok(())
}
