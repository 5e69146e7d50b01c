//! The epoch loop shared by every network, kept small: burn-optim's SGD (momentum with
//! dampening 0, weight decay) or AdamW under [`WarmupMultiStep`]; each epoch's steps
//! ([`super::step`]: burn-train's [`TrainStep`], gradient accumulation, data parallelism over
//! several devices, a finite-loss check), then the hooks ([`super::hooks`]) in order:
//! validation, an atomic checkpoint (model, optimizer state, schedule position; resume from
//! the last), the metrics CSV and curves.
//!
//! Batch and rate semantics: an update takes `accumulation` batches of `train.batch_size`
//! (configs/ms_ava.toml: 8 × 8, the paper's batch 64). On `N` devices each batch is split into
//! `N` micro-batches of `batch_size / N`, run each on its device in its own thread as
//! burn-train's multi-device step does (the model forked onto the device, the gradients
//! brought back to the first). Burn's accumulator sums the micro-batches' gradients of their
//! mean losses; the update divides the sum by their number, so that it is the gradient of the
//! whole update's mean loss (exactly so where the micro-batches weigh alike, as with
//! PyTorch's DDP) and `train.lr` means what it means for one device and one batch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use burn::data::dataset::Dataset;
use burn::module::AutodiffModule;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, Optimizer, SgdConfig};
use burn::prelude::DeviceOps;
use burn::record::Recorder;
use burn::tensor::backend::{AutodiffBackend, Backend, DeviceId};
use burn::train::{ItemLazy, TrainStep};

use super::checkpoint::{Checkpointing, Mpk, Resumed};
use super::history::HistoryFiles;
use super::hooks::{EpochEnd, Hook};
use super::step::Steps;
use super::validation::Validation;
use super::{EpochRecord, History, WarmupMultiStep};
use crate::config::{OptimizerKind, TrainSettings};
use crate::data::{EpochBatches, OrderedLoader, SeededBatcher, mix_seed};

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

/// Networks beyond this many parameters (8 GB of float32 weights, 32 GB with their gradients
/// and Adam's state) are refused: ten times the largest network of the seed system.
const MAX_TRAINED_PARAMS: u64 = 2_000_000_000;

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

/// The loop: checks, resume, then each epoch's steps and the hooks after it (validation,
/// checkpoint, history), and the final weights.
fn run_epochs<B, M, V, O>(
    model: M,
    optim: O,
    settings: &TrainSettings,
    train: &dyn EpochBatches<M::Input>,
    devices: &[B::Device],
    validate: V,
    mut checkpoints: Checkpointing<'_, M>,
) -> Result<(M, History)>
where
    B: AutodiffBackend,
    M: TrainStep<Output = StepLosses> + AutodiffModule<B> + 'static,
    V: FnMut(&M::InnerModule, usize) -> Result<Vec<(String, f64)>>,
    O: Optimizer<M, B>,
{
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
    checkpoints.prepare(params)?;
    // Micro-batches: a batch is split across the devices.
    if devices.is_empty() || !settings.batch_size.is_multiple_of(devices.len()) {
        bail!(
            "train.batch_size = {} does not split evenly over {} devices",
            settings.batch_size,
            devices.len()
        );
    }
    let batches = train
        .num_items()
        .div_ceil(settings.batch_size / devices.len());
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
    let Resumed {
        mut model,
        mut optim,
        epoch: resumed,
    } = checkpoints.resume::<B, O>(model, optim, &mut schedule, updates_per_epoch, &device)?;
    let mut validation = Validation(validate);
    let mut history = HistoryFiles::new(checkpoints.out, settings.epochs, resumed)?;
    let mut steps = Steps::<B, M>::new(train, devices, batches, per_update, settings.epochs);
    for epoch in resumed + 1..=settings.epochs {
        let started = Instant::now();
        // Dropout draws from the backend's generator: seeded per epoch, a resumed run draws
        // what an uninterrupted one does. The generator is the backend's one (CubeCL and flex
        // ignore the device): on several devices the threads draw from it in no fixed order.
        B::seed(&device, mix_seed(&[settings.seed, epoch as u64]));
        let trained;
        (model, trained) = steps.epoch(model, &mut optim, &mut schedule, epoch)?;
        let mut record = EpochRecord {
            epoch,
            updates: schedule.iteration,
            lr: trained.lr,
            seconds: 0.0,
            train: trained.means,
            valid: Vec::new(),
        };
        let save_optim = |path: &Path| -> Result<()> {
            Ok(Mpk::new().record(optim.to_record(), path.to_path_buf())?)
        };
        let mut end = EpochEnd {
            model: &model,
            record: &mut record,
            started,
            optimizer: &save_optim,
        };
        let hooks: [&mut dyn Hook<B, M>; 3] = [&mut validation, &mut checkpoints, &mut history];
        for hook in hooks {
            hook.after_epoch(&mut end)?;
        }
    }
    Hook::<B, M>::after_train(&mut checkpoints, &model)?;
    Ok((model, history.history))
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
    use burn::nn::LinearConfig;
    use burn::tensor::TensorData;

    use super::super::toy::{Line, Rows};
    use crate::data::OrderedLoader;
    use crate::nn::{Norm, NormKind};

    type Trained = Autodiff<Flex>;

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
