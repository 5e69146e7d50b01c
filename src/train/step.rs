//! One epoch of optimizer steps: the epoch's batches, each split over the devices (one
//! thread per device for the whole training), burn-train's [`TrainStep`] on each micro-batch,
//! a finite-loss check, the gradients accumulated over `accumulation` batches and averaged,
//! then an update at the schedule's rate. Returns the epoch's mean losses.

use std::collections::HashSet;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use anyhow::{Result, bail};
use burn::module::AutodiffModule;
use burn::module::{ModuleVisitor, Param, ParamId};
use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use burn::train::{TrainOutput, TrainStep};

use super::{StepLosses, WarmupMultiStep};
use crate::data::EpochBatches;
use crate::progress::Progress;

/// What an epoch's steps need besides the model: the batches, the devices, and how many
/// micro-batches make an epoch and an update.
pub struct Steps<'a, B: AutodiffBackend, M: TrainStep> {
    pub train: &'a dyn EpochBatches<M::Input>,
    pub devices: &'a [B::Device],
    /// Micro-batches an epoch, and per update (`accumulation` × devices).
    pub batches: usize,
    pub per_update: usize,
    pub epochs: usize,
    workers: Option<DeviceWorkers<M>>,
}

/// An epoch's training: mean losses (`loss` first) and the rate of its last update.
pub struct EpochTrained {
    pub means: Vec<(String, f64)>,
    pub lr: f64,
}

impl<'a, B, M> Steps<'a, B, M>
where
    B: AutodiffBackend,
    M: TrainStep<Output = StepLosses> + AutodiffModule<B> + 'static,
{
    pub fn new(
        train: &'a dyn EpochBatches<M::Input>,
        devices: &'a [B::Device],
        batches: usize,
        per_update: usize,
        epochs: usize,
    ) -> Self {
        Self {
            train,
            devices,
            batches,
            per_update,
            epochs,
            workers: (devices.len() > 1).then(|| DeviceWorkers::<M>::start::<B>(devices)),
        }
    }

    /// Trains `model` one epoch; a non-finite loss stops it, naming the epoch and batch.
    pub fn epoch<O: Optimizer<M, B>>(
        &mut self,
        mut model: M,
        optim: &mut O,
        schedule: &mut WarmupMultiStep,
        epoch: usize,
    ) -> Result<(M, EpochTrained)> {
        let device = &self.devices[0];
        let progress = Progress::new(
            format!("epoch {epoch}/{}", self.epochs),
            self.batches,
            "batches",
        );
        let mut sums: Vec<(&'static str, f64)> = Vec::new();
        let mut total_sum = 0.0;
        let mut seen = 0usize;
        let mut accumulator = GradientsAccumulator::<M>::new();
        let mut pending = 0usize;
        let mut lr = schedule.lr_at(schedule.iteration);
        let mut micro_batches = self.train.epoch(epoch);
        let mut i = 0;
        loop {
            let round: Vec<M::Input> = micro_batches.by_ref().take(self.devices.len()).collect();
            if round.is_empty() {
                break;
            }
            let outputs = match &mut self.workers {
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
                accumulator.accumulate(&model, output.grads.to_device(device, &model));
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
            if pending == self.per_update || i == self.batches {
                lr = schedule.step();
                let grads = mean_of(accumulator.grads(), pending, &model);
                model = model.optimize(optim, lr, grads);
                pending = 0;
            }
            progress.set(i, || {
                format!("lr {lr:.2e} loss {:.4}", total_sum / seen as f64)
            });
        }
        progress.finish();
        let mut means: Vec<(String, f64)> =
            vec![("loss".to_string(), total_sum / seen.max(1) as f64)];
        means.extend(
            sums.iter()
                .map(|(n, s)| (n.to_string(), s / seen.max(1) as f64)),
        );
        Ok((model, EpochTrained { means, lr }))
    }
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

#[cfg(test)]
mod tests {
    use super::super::toy::{Line, Rows};
    use super::*;
    use crate::data::OrderedLoader;
    use burn::backend::{Autodiff, Flex};
    use burn::data::dataset::InMemDataset;
    use burn::nn::LinearConfig;
    use burn::optim::SgdConfig;

    type B = Autodiff<Flex>;

    fn schedule() -> WarmupMultiStep {
        WarmupMultiStep {
            base_lr: 0.1,
            warmup_iters: 0,
            warmup_factor: 1.0,
            milestones: vec![],
            gamma: 0.1,
            iteration: 0,
        }
    }

    #[test]
    fn an_epoch_updates_once_per_accumulation_and_reports_mean_losses() {
        let _generator = crate::generator_lock();
        let device = burn::backend::flex::FlexDevice;
        let model = Line::<B> {
            norm: None,
            linear: LinearConfig::new(3, 2).init(&device),
        };
        // 10 rows in batches of 2: 5 batches, updates after 2, 4 and the last.
        let rows: Vec<[f32; 5]> = (0..10)
            .map(|i| [i as f32 * 0.1, 1.0, 0.0, 0.5, -0.5])
            .collect();
        let loader = OrderedLoader::new(InMemDataset::new(rows), Rows, 2, 0, 1, vec![device]);
        let devices = [device];
        let mut steps = Steps::<B, Line<B>>::new(&loader, &devices, 5, 2, 1);
        let mut optim = SgdConfig::new().init::<B, Line<B>>();
        let mut schedule = schedule();
        let (_, trained) = steps.epoch(model, &mut optim, &mut schedule, 1).unwrap();
        assert_eq!(schedule.iteration, 3);
        assert_eq!(trained.lr, 0.1);
        assert_eq!(trained.means[0].0, "loss");
        assert_eq!(trained.means[1].0, "mse");
        assert!(trained.means[0].1 > 0.0 && trained.means[0].1 == trained.means[1].1);
    }

    #[test]
    fn a_non_finite_loss_stops_the_epoch_naming_it_and_the_batch() {
        let _generator = crate::generator_lock();
        let device = burn::backend::flex::FlexDevice;
        let model = Line::<B> {
            norm: None,
            linear: LinearConfig::new(3, 2).init(&device),
        };
        let mut rows = vec![[0.5f32; 5]; 6];
        rows[5][3] = f32::NAN;
        let loader = OrderedLoader::new(InMemDataset::new(rows), Rows, 2, 0, 1, vec![device]);
        let devices = [device];
        let mut steps = Steps::<B, Line<B>>::new(&loader, &devices, 3, 1, 2);
        let mut optim = SgdConfig::new().init::<B, Line<B>>();
        let error = steps
            .epoch(model, &mut optim, &mut schedule(), 2)
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("the loss is NaN at epoch 2, batch"),
            "{error}"
        );
    }
}
