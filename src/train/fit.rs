//! The epoch loop shared by every network: burn-train's [`TrainStep`] for the forward and
//! backward pass, burn-optim's SGD (momentum with dampening 0, weight decay) or AdamW under
//! [`WarmupMultiStep`], gradient accumulation, data parallelism over several devices, a
//! finite-loss check, validation after each epoch, atomic checkpoints (model, optimizer state,
//! schedule position) with resume, and the metrics CSV and curves. A progress bar shows in a
//! terminal; otherwise plain lines.
//!
//! Batch and rate semantics: an update takes `accumulation` batches of `train.batch_size`
//! (configs/ms_ava.toml: 8 × 8, the paper's batch 64). On `N` devices each batch is split into
//! `N` micro-batches of `batch_size / N`, run each on its device in its own thread as
//! burn-train's multi-device step does (the model forked onto the device, the gradients
//! brought back to the first). Burn's accumulator sums the micro-batches' gradients of their
//! mean losses; the update divides the sum by their number, so that it is the gradient of the
//! whole update's mean loss (exactly so where the micro-batches weigh alike, as with
//! PyTorch's DDP) and `train.lr` means what it means for one device and one batch.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::AutodiffModule;
use burn::module::{ModuleVisitor, Param, ParamId};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer, SgdConfig};
use burn::prelude::DeviceOps;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend, DeviceId};
use burn::train::{ItemLazy, TrainOutput, TrainStep};

use burn::data::dataset::Dataset;

use crate::data::{EpochBatches, OrderedLoader, SeededBatcher, mix_seed};
use crate::progress::Progress;

use super::{EpochRecord, History, WarmupMultiStep};
use crate::config::{OptimizerKind, TrainSettings};

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

/// Trains `model` (on `devices[0]`) for `settings.epochs` epochs over `train`, whose batches
/// go round the `devices`, validating with `validate` after each; returns the trained model
/// and the per-epoch history.
pub fn fit<B, M, V>(
    model: M,
    settings: &TrainSettings,
    train: &dyn EpochBatches<M::Input>,
    devices: &[B::Device],
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
            run_epochs(model, optim, settings, train, devices, validate, run)
        }
        OptimizerKind::AdamW => {
            let optim = AdamWConfig::new()
                .with_weight_decay(settings.weight_decay as f32)
                .init::<B, M>();
            run_epochs(model, optim, settings, train, devices, validate, run)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_epochs<B, M, V, O>(
    mut model: M,
    mut optim: O,
    settings: &TrainSettings,
    train: &dyn EpochBatches<M::Input>,
    devices: &[B::Device],
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
            crate::fs::human_bytes(params * 4),
            MAX_TRAINED_PARAMS
        );
    }
    // Each checkpoint holds the weights twice (Burn's record, safetensors) and the
    // optimizer's state (up to two values a weight); KEEP_CHECKPOINTS are kept while the
    // next one is written.
    let checkpoint_bytes = params * 4 * 4;
    crate::fs::check_free_space(
        out,
        checkpoint_bytes * (KEEP_CHECKPOINTS as u64 + 1),
        "the training's checkpoints",
    )?;
    // Micro-batches: a batch is split across the devices.
    if devices.is_empty() || !settings.batch_size.is_multiple_of(devices.len()) {
        bail!(
            "train.batch_size = {} does not split evenly over {} devices",
            settings.batch_size,
            devices.len()
        );
    }
    let micro = settings.batch_size / devices.len();
    let batches = train.num_items().div_ceil(micro);
    if batches == 0 {
        bail!("no training samples");
    }
    let per_update = settings.accumulation * devices.len();
    let updates_per_epoch = batches.div_ceil(per_update);
    let mut schedule = WarmupMultiStep::new(settings, updates_per_epoch);
    let device = devices[0].clone();
    // Lazily initialised parameters are drawn here, from the generator as `train.seed` left
    // it (not at the first step, after the epoch's dropout seeding), and before any replica
    // is forked (each would draw its own). `devices()` reads every parameter.
    model.devices();
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
            tracing::info!("resuming {} after epoch {epoch}", out.display());
        }
        (Some(epoch), false) => bail!(
            "{} already holds a training run (last checkpoint: epoch {epoch}); pass --resume to \
             continue it or choose another output folder",
            out.display()
        ),
        (None, _) => {}
    }

    let mut workers = (devices.len() > 1).then(|| DeviceWorkers::<M>::start::<B>(devices));
    for epoch in first_epoch..=settings.epochs {
        let start = Instant::now();
        // Dropout draws from the backend's generator: seeded per epoch, a resumed run draws
        // what an uninterrupted one does. The generator is the backend's one (CubeCL and flex
        // ignore the device): on several devices the threads draw from it in no fixed order.
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
        let mut micro_batches = train.epoch(epoch);
        let mut i = 0;
        loop {
            let round: Vec<M::Input> = micro_batches.by_ref().take(devices.len()).collect();
            if round.is_empty() {
                break;
            }
            let outputs = match &mut workers {
                Some(workers) => workers.step(&model, round),
                None => round.into_iter().map(|batch| model.step(batch)).collect(),
            };
            for output in outputs {
                let losses = output.item;
                if !losses.total.is_finite() {
                    bail!(
                        "the loss is {} at epoch {epoch}, batch {} ({}); lower train.lr or \
                         check the data",
                        losses.total,
                        i + 1,
                        losses.batch
                    );
                }
                accumulator.accumulate(&model, output.grads.to_device(&device, &model));
                pending += 1;
                i += 1;
                if sums.is_empty() {
                    sums = losses.parts.iter().map(|(n, _)| (*n, 0.0)).collect();
                }
                for ((_, sum), (_, v)) in sums.iter_mut().zip(&losses.parts) {
                    *sum += v;
                }
                total_sum += losses.total;
                seen += 1;
            }
            if pending == per_update || i == batches {
                lr = schedule.step();
                let grads = mean_of(accumulator.grads(), pending, &model);
                model = model.optimize(&mut optim, lr, grads);
                pending = 0;
            }
            progress.set(i, || {
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
        tracing::info!("{}", summary_line(&record, settings.epochs));
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

/// One thread per device for the whole training, as burn-train's multi-device step keeps
/// them: each forks the model it is sent onto its device and steps its micro-batch (the loader
/// built batch `k` of a round on device `k`). The threads last because Burn's running
/// statistics (batch norm) keep one value per thread and average them when read from the
/// same thread again: threads made anew each round would pile values up and read stale ones.
struct DeviceWorkers<M: TrainStep> {
    jobs: Vec<Sender<(M, M::Input)>>,
    outputs: Vec<Receiver<TrainOutput<StepLosses>>>,
    threads: Vec<Option<JoinHandle<()>>>,
}

impl<M> DeviceWorkers<M>
where
    M: TrainStep<Output = StepLosses> + Send + 'static,
{
    fn start<B>(devices: &[B::Device]) -> Self
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
    {
        let mut workers = Self {
            jobs: Vec::new(),
            outputs: Vec::new(),
            threads: Vec::new(),
        };
        for device in devices {
            let (job_in, job_out) = channel::<(M, M::Input)>();
            let (output_in, output_out) = channel();
            let device = device.clone();
            workers.threads.push(Some(std::thread::spawn(move || {
                for (model, batch) in job_out {
                    let output = model.fork(&device).step(batch);
                    if output_in.send(output).is_err() {
                        break;
                    }
                }
            })));
            workers.jobs.push(job_in);
            workers.outputs.push(output_out);
        }
        workers
    }

    /// The outputs of `round`'s micro-batches, in its order, stepped in parallel.
    fn step(&mut self, model: &M, round: Vec<M::Input>) -> Vec<TrainOutput<StepLosses>>
    where
        M: Clone,
    {
        let count = round.len();
        for (k, batch) in round.into_iter().enumerate() {
            // A thread that is gone has panicked: its panic is raised below.
            let _ = self.jobs[k].send((model.clone(), batch));
        }
        (0..count)
            .map(|k| match self.outputs[k].recv() {
                Ok(output) => output,
                Err(_) => self.raise(k),
            })
            .collect()
    }

    /// Raises the panic that stopped device `k`'s thread.
    fn raise(&mut self, k: usize) -> ! {
        if let Some(Err(panic)) = self.threads[k].take().map(JoinHandle::join) {
            std::panic::resume_unwind(panic);
        }
        panic!("the training thread of device {k} stopped")
    }
}

impl<M: TrainStep> Drop for DeviceWorkers<M> {
    fn drop(&mut self) {
        self.jobs.clear();
        for thread in self.threads.iter_mut().filter_map(Option::take) {
            let _ = thread.join();
        }
    }
}

/// The mean of `count` gradients whose sum is `sum`: each of `model`'s parameters' divided
/// by `count` (nothing to do for one).
fn mean_of<B, M>(mut sum: GradientsParams, count: usize, model: &M) -> GradientsParams
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    struct Divide<'a> {
        grads: &'a mut GradientsParams,
        count: f64,
        done: HashSet<ParamId>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Divide<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            // A parameter shared by two modules is visited twice but divided once.
            if !self.done.insert(param.id) {
                return;
            }
            if let Some(grad) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register(param.id, grad.div_scalar(self.count));
            }
        }
    }
    if count > 1 {
        model.visit(&mut Divide {
            grads: &mut sum,
            count: count as f64,
            done: HashSet::new(),
        });
    }
    sum
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
    crate::fs::write_atomic(
        &out.join("checkpoints").join("last"),
        epoch.to_string().as_bytes(),
    )
    .with_context(|| format!("writing {}", out.join("checkpoints/last").display()))?;
    if epoch > KEEP_CHECKPOINTS {
        let _ = std::fs::remove_dir_all(epoch_dir(out, epoch - KEEP_CHECKPOINTS));
    }
    Ok(())
}

/// How a training runs, beside its config: the run folder, whether to resume it, an epochs
/// override, and the devices (indices of the backend's kind; none: the backend's device).
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    pub out: PathBuf,
    pub resume: bool,
    pub epochs: Option<usize>,
    pub devices: Vec<usize>,
}

impl RunOptions {
    /// A run into `out` on the backend's device.
    pub fn new(out: PathBuf, resume: bool, epochs: Option<usize>) -> Self {
        Self {
            out,
            resume,
            epochs,
            devices: Vec::new(),
        }
    }

    /// A config's settings with this run's overrides.
    pub fn settings(&self, mut settings: TrainSettings) -> TrainSettings {
        if let Some(epochs) = self.epochs {
            settings.epochs = epochs;
        }
        settings
    }

    /// The training devices: `first` (the backend's) alone, or the devices of `first`'s kind
    /// numbered `devices` (the first of them being `first`).
    pub fn devices<B: Backend>(&self, first: &B::Device) -> Vec<B::Device> {
        if self.devices.len() <= 1 {
            return vec![first.clone()];
        }
        let type_id = first.to_id().type_id;
        self.devices
            .iter()
            .map(|&index| {
                B::Device::from_id(DeviceId {
                    type_id,
                    index_id: index as u16,
                })
            })
            .collect()
    }

    /// The run folder of this run, its last line naming `metric`.
    pub fn folder<'a>(&'a self, metric: &'a str) -> RunFolder<'a> {
        RunFolder {
            out: &self.out,
            resume: self.resume,
            metric,
        }
    }
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
    devices: &[B::Device],
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
        settings.batch_size / devices.len(),
        settings.workers,
        settings.seed,
        devices.to_vec(),
    );
    let checkpointing = Checkpointing {
        out: run.out,
        resume: run.resume,
        export,
    };
    let (_, history) = fit(trainee, settings, &loader, devices, validate, checkpointing)?;
    if let Some(last) = history.records.last() {
        tracing::info!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::data::dataset::InMemDataset;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{ElementConversion, TensorData};

    use crate::data::OrderedLoader;
    use crate::nn::{Norm, NormKind};
    use burn::module::Module;

    type Trained = Autodiff<Flex>;

    /// A linear regression, after a training-mode batch norm where `norm` is set.
    #[derive(Module, Debug)]
    struct Line<B: Backend> {
        norm: Option<Norm<B>>,
        linear: Linear<B>,
    }

    impl<B: AutodiffBackend> TrainStep for Line<B> {
        type Input = (Tensor<B, 2>, Tensor<B, 2>);
        type Output = StepLosses;

        fn step(&self, (x, y): Self::Input) -> TrainOutput<StepLosses> {
            let x = match &self.norm {
                Some(norm) => norm.forward(x),
                None => x,
            };
            let loss = (self.linear.forward(x) - y).powf_scalar(2.0).mean();
            let total = loss.clone().into_scalar().elem::<f64>();
            let grads = loss.backward();
            let losses = StepLosses {
                total,
                parts: vec![("mse", total)],
                batch: String::new(),
            };
            TrainOutput::new(self, grads, losses)
        }
    }

    /// Rows `x0 x1 x2 y0 y1`.
    struct Rows;

    impl<B: Backend> SeededBatcher<B, [f32; 5], (Tensor<B, 2>, Tensor<B, 2>)> for Rows {
        fn batch(
            &self,
            items: Vec<[f32; 5]>,
            _seed: u64,
            device: &B::Device,
        ) -> (Tensor<B, 2>, Tensor<B, 2>) {
            let n = items.len();
            let x: Vec<f32> = items.iter().flat_map(|r| r[..3].to_vec()).collect();
            let y: Vec<f32> = items.iter().flat_map(|r| r[3..].to_vec()).collect();
            (
                Tensor::from_data(TensorData::new(x, [n, 3]), device),
                Tensor::from_data(TensorData::new(y, [n, 2]), device),
            )
        }
    }

    /// The weights and bias (then the batch norm's running mean, with `norm`) after 2 epochs
    /// over 16 rows with batches of `batch_size`, split over `devices` copies of the CPU device
    /// (Burn has one; the threads, the forks and the gradient transfers run as on several
    /// GPUs) and accumulated `accumulation` times.
    fn trained(devices: usize, batch_size: usize, accumulation: usize, norm: bool) -> Vec<f32> {
        let _generator = crate::generator_lock();
        let device = burn::backend::flex::FlexDevice;
        // Fixed weights, not drawn: the generator is global, and tests running alongside
        // draw from it between a seeding and the draw.
        let mut linear = LinearConfig::new(3, 2).init(&device);
        let weight = TensorData::new(vec![0.3f32, -0.2, 0.1, 0.4, -0.5, 0.25], [3, 2]);
        linear.weight = burn::module::Param::from_data(weight, &device);
        let bias = TensorData::new(vec![0.05f32, -0.1], [2]);
        linear.bias = Some(burn::module::Param::from_data(bias, &device));
        let model = Line {
            norm: norm.then(|| Norm::new(3, NormKind::BatchNorm, 1e-5, &device)),
            linear,
        };
        let settings: TrainSettings = toml::from_str(&format!(
            "epochs = 2\nbatch_size = {batch_size}\naccumulation = {accumulation}\nlr = 0.1\n\
             workers = 0\nseed = 3\n"
        ))
        .unwrap();
        let rows: Vec<[f32; 5]> = (0..16)
            .map(|i| {
                let t = i as f32;
                [
                    t.sin(),
                    t.cos(),
                    0.1 * t,
                    0.5 * t.sin() + 0.2,
                    t.cos() - 0.3,
                ]
            })
            .collect();
        let devices = vec![device; devices];
        let loader = OrderedLoader::new(
            InMemDataset::new(rows),
            Rows,
            batch_size / devices.len(),
            0,
            3,
            devices.clone(),
        );
        let out = std::env::temp_dir().join(format!(
            "avaloc-fit-{}-{}-{batch_size}-{accumulation}-{norm}",
            std::process::id(),
            devices.len()
        ));
        let _ = std::fs::remove_dir_all(&out);
        let run = Checkpointing {
            out: &out,
            resume: false,
            export: &|_: &Line<Trained>, _: &Path| Ok(()),
        };
        let (model, history) =
            fit(model, &settings, &loader, &devices, |_, _| Ok(vec![]), run).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
        // Two updates an epoch, whatever the split.
        assert_eq!(history.records.last().unwrap().updates, 4);
        let mut values: Vec<f32> = model.linear.weight.val().into_data().to_vec().unwrap();
        let bias = model.linear.bias.as_ref().unwrap().val().into_data();
        values.extend(bias.to_vec::<f32>().unwrap());
        if let Some(norm) = model.valid().norm {
            values.extend(
                norm.running_mean
                    .value()
                    .into_data()
                    .to_vec::<f32>()
                    .unwrap(),
            );
        }
        values
    }

    #[test]
    fn a_batch_split_over_devices_or_accumulated_trains_as_the_whole_batch() {
        let whole = trained(1, 8, 1, false);
        for (devices, batch, accumulation) in [(1, 4, 2), (2, 8, 1), (2, 4, 2), (4, 8, 1)] {
            let split = trained(devices, batch, accumulation, false);
            for (a, b) in whole.iter().zip(&split) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{devices} devices, batch {batch}, accumulation {accumulation}: \
                     {split:?} vs {whole:?}"
                );
            }
        }
        // A batch that does not split evenly is refused.
        let _generator = crate::generator_lock();
        let device = burn::backend::flex::FlexDevice;
        let model = Line {
            norm: None,
            linear: LinearConfig::new(3, 2).init(&device),
        };
        let settings: TrainSettings =
            toml::from_str("epochs = 1\nbatch_size = 8\nlr = 0.1\nworkers = 0\n").unwrap();
        let loader = OrderedLoader::new(
            InMemDataset::new(vec![[0.0f32; 5]; 6]),
            Rows,
            2,
            0,
            0,
            vec![device; 3],
        );
        let out = std::env::temp_dir().join(format!("avaloc-fit-odd-{}", std::process::id()));
        let run = Checkpointing {
            out: &out,
            resume: false,
            export: &|_: &Line<Trained>, _: &Path| Ok(()),
        };
        let error = fit(
            model,
            &settings,
            &loader,
            &[device; 3],
            |_, _| Ok(vec![]),
            run,
        )
        .err()
        .unwrap()
        .to_string();
        let _ = std::fs::remove_dir_all(&out);
        assert!(
            error.contains("does not split evenly over 3 devices"),
            "{error}"
        );
    }

    /// Batch norm on several devices: each normalises by its micro-batch, and the running
    /// mean, updated by each device's thread and averaged across them, is the one batch's
    /// (equal micro-batches: the mean of their means), update after update.
    #[test]
    fn batch_norm_running_statistics_follow_every_update_on_several_devices() {
        let whole = trained(1, 8, 1, true);
        let split = trained(2, 8, 1, true);
        let (mean_whole, mean_split) = (&whole[8..], &split[8..]);
        assert_eq!(mean_whole.len(), 3);
        for (a, b) in mean_whole.iter().zip(mean_split) {
            assert!((a - b).abs() < 1e-5, "{mean_split:?} vs {mean_whole:?}");
        }
        // Four updates at momentum 0.1 have moved it from 0.
        assert!(mean_whole.iter().any(|m| m.abs() > 0.05), "{mean_whole:?}");
    }

    /// `train.seed` fixes the initial weights: a model's lazily initialised parameters are
    /// drawn when training starts, from the generator as the seed left it, not at the first
    /// step after the epoch's dropout seeding (which gave other weights, and moved the demo's
    /// whole trajectory once).
    #[test]
    fn lazily_initialised_weights_come_from_the_seeded_generator() {
        let _generator = crate::generator_lock();
        let device = burn::backend::flex::FlexDevice;
        let drawn = |touch_first: bool| {
            Trained::seed(&device, 7);
            let model = Line {
                norm: None,
                linear: LinearConfig::new(3, 2).init(&device),
            };
            if touch_first {
                return model
                    .linear
                    .weight
                    .val()
                    .into_data()
                    .to_vec::<f32>()
                    .unwrap();
            }
            let settings: TrainSettings =
                toml::from_str("epochs = 1\nbatch_size = 4\nlr = 1e-12\nworkers = 0\n").unwrap();
            let loader = OrderedLoader::new(
                InMemDataset::new(vec![[0.5f32; 5]; 4]),
                Rows,
                4,
                0,
                0,
                vec![device],
            );
            let out = std::env::temp_dir().join(format!("avaloc-fit-init-{}", std::process::id()));
            let run = Checkpointing {
                out: &out,
                resume: false,
                export: &|_: &Line<Trained>, _: &Path| Ok(()),
            };
            let (model, _) =
                fit(model, &settings, &loader, &[device], |_, _| Ok(vec![]), run).unwrap();
            std::fs::remove_dir_all(&out).unwrap();
            model
                .linear
                .weight
                .val()
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        };
        let (seeded, trained) = (drawn(true), drawn(false));
        for (a, b) in seeded.iter().zip(&trained) {
            assert!((a - b).abs() < 1e-6, "{trained:?} vs {seeded:?}");
        }
    }
}
