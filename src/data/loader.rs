//! The training loader: each epoch a seeded shuffle of the dataset, cut into batches that
//! `workers` threads build in parallel and that arrive in the sampler's order whatever the
//! number of workers (as PyTorch's `DataLoader`). Burn's multi-threaded loader hands batches
//! over in completion order and its batchers draw their randomness in call order, so two runs
//! differed; here batch `i` of epoch `e` is built by worker `i mod workers` with a seed of
//! `(seed, e, i)` alone, and read from that worker's queue in turn.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Builds one batch from its items; all randomness comes from `seed`.
pub trait SeededBatcher<B: Backend, I, O>: Send + Sync {
    fn batch(&self, items: Vec<I>, seed: u64, device: &B::Device) -> O;
}

/// Batches an epoch at a time (see the module docs).
pub trait EpochBatches<O> {
    /// Items per epoch.
    fn num_items(&self) -> usize;
    /// The batches of epoch `epoch` (1-based), in order.
    fn epoch(&self, epoch: usize) -> Box<dyn Iterator<Item = O> + '_>;
}

/// A shuffling, multi-worker loader of a dataset; batch `i` is built on device `i mod N` of
/// its `N` devices (data-parallel training hands each device its own).
pub struct OrderedLoader<B: Backend, I, O> {
    dataset: Arc<dyn Dataset<I>>,
    batcher: Arc<dyn SeededBatcher<B, I, O>>,
    batch_size: usize,
    workers: usize,
    seed: u64,
    devices: Arc<Vec<B::Device>>,
}

/// Batches each worker may have ready ahead of the reader.
const PREFETCH: usize = 2;

/// SplitMix64's finaliser: well-spread seeds from small, structured inputs.
pub fn mix_seed(parts: &[u64]) -> u64 {
    parts.iter().fold(0x853c_49e6_748f_ea9b, |acc, &p| {
        let mut z = (acc ^ p).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

impl<B, I, O> OrderedLoader<B, I, O>
where
    B: Backend,
    I: Send + Sync + 'static,
    O: Send + 'static,
{
    pub fn new(
        dataset: impl Dataset<I> + 'static,
        batcher: impl SeededBatcher<B, I, O> + 'static,
        batch_size: usize,
        workers: usize,
        seed: u64,
        devices: Vec<B::Device>,
    ) -> Self {
        assert!(!devices.is_empty(), "a loader needs a device");
        Self {
            dataset: Arc::new(dataset),
            batcher: Arc::new(batcher),
            batch_size: batch_size.max(1),
            workers,
            seed,
            devices: Arc::new(devices),
        }
    }

    /// The dataset's indices in epoch `epoch`'s order, cut into batches.
    fn batches(&self, epoch: usize) -> Arc<Vec<Vec<usize>>> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(mix_seed(&[
            self.seed,
            epoch as u64,
        ])));
        Arc::new(order.chunks(self.batch_size).map(<[_]>::to_vec).collect())
    }
}

/// Builds batch `index` of `batches` (items fetched from the dataset; a missing item, which a
/// dataset of fixed length does not have, is left out).
fn build<B: Backend, I, O>(
    dataset: &dyn Dataset<I>,
    batcher: &dyn SeededBatcher<B, I, O>,
    batches: &[Vec<usize>],
    index: usize,
    seed: u64,
    devices: &[B::Device],
) -> O {
    let items = batches[index]
        .iter()
        .filter_map(|&i| dataset.get(i))
        .collect();
    batcher.batch(items, seed, &devices[index % devices.len()])
}

impl<B, I, O> EpochBatches<O> for OrderedLoader<B, I, O>
where
    B: Backend,
    I: Send + Sync + 'static,
    O: Send + 'static,
{
    fn num_items(&self) -> usize {
        self.dataset.len()
    }

    fn epoch(&self, epoch: usize) -> Box<dyn Iterator<Item = O> + '_> {
        let batches = self.batches(epoch);
        let seed = move |index: usize| mix_seed(&[self.seed, epoch as u64, index as u64, 1]);
        if self.workers == 0 {
            return Box::new((0..batches.len()).map(move |index| {
                build(
                    self.dataset.as_ref(),
                    self.batcher.as_ref(),
                    &batches,
                    index,
                    seed(index),
                    &self.devices,
                )
            }));
        }
        let workers = self.workers.min(batches.len().max(1));
        let mut queues = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (sender, receiver): (SyncSender<O>, Receiver<O>) = sync_channel(PREFETCH);
            let (dataset, batcher, batches) =
                (self.dataset.clone(), self.batcher.clone(), batches.clone());
            let devices = self.devices.clone();
            let seeds: Vec<u64> = (worker..batches.len()).step_by(workers).map(seed).collect();
            handles.push(std::thread::spawn(move || {
                for (index, seed) in (worker..batches.len()).step_by(workers).zip(seeds) {
                    let batch = build(
                        dataset.as_ref(),
                        batcher.as_ref(),
                        &batches,
                        index,
                        seed,
                        &devices,
                    );
                    // The reader dropped the epoch early: stop.
                    if sender.send(batch).is_err() {
                        break;
                    }
                }
            }));
            queues.push(receiver);
        }
        Box::new(Ordered {
            queues,
            handles,
            next: 0,
            total: batches.len(),
        })
    }
}

/// Reads batch `i` from worker `i mod workers`.
struct Ordered<O> {
    queues: Vec<Receiver<O>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    total: usize,
}

impl<O> Iterator for Ordered<O> {
    type Item = O;

    fn next(&mut self) -> Option<O> {
        if self.next >= self.total {
            return None;
        }
        let queue = &self.queues[self.next % self.queues.len()];
        self.next += 1;
        match queue.recv() {
            Ok(batch) => Some(batch),
            // The worker died (a panic in the batcher): surface it here, after closing the
            // other queues so that workers blocked on a full one return and can be joined.
            Err(_) => {
                self.queues.clear();
                let handles = std::mem::take(&mut self.handles);
                for handle in handles {
                    if let Err(panic) = handle.join() {
                        std::panic::resume_unwind(panic);
                    }
                }
                None
            }
        }
    }
}

impl<O> Drop for Ordered<O> {
    fn drop(&mut self) {
        // Closing the queues lets blocked workers return.
        self.queues.clear();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::data::dataset::InMemDataset;

    type B = burn::backend::Flex;

    /// Records the items and the seed of each batch, after a delay that makes later batches
    /// finish first on a thread pool.
    struct Slow;

    impl SeededBatcher<B, usize, (Vec<usize>, u64)> for Slow {
        fn batch(
            &self,
            items: Vec<usize>,
            seed: u64,
            _: &burn::tensor::Device<B>,
        ) -> (Vec<usize>, u64) {
            let delay = 8u64.saturating_sub(items[0] as u64 % 8);
            std::thread::sleep(std::time::Duration::from_millis(delay));
            (items, seed)
        }
    }

    fn epoch(workers: usize, epoch: usize) -> Vec<(Vec<usize>, u64)> {
        let loader = OrderedLoader::new(
            InMemDataset::new((0..23).collect::<Vec<usize>>()),
            Slow,
            4,
            workers,
            7,
            vec![Default::default()],
        );
        loader.epoch(epoch).collect()
    }

    #[test]
    fn batches_arrive_in_the_samplers_order_whatever_the_workers() {
        let inline = epoch(0, 1);
        assert_eq!(inline.len(), 6);
        assert_eq!(inline.last().unwrap().0.len(), 3);
        let mut items: Vec<usize> = inline.iter().flat_map(|b| b.0.clone()).collect();
        assert_ne!(items, (0..23).collect::<Vec<_>>(), "shuffled");
        items.sort();
        assert_eq!(items, (0..23).collect::<Vec<_>>(), "each item once");
        for workers in [1, 2, 3, 8] {
            assert_eq!(epoch(workers, 1), inline, "{workers} workers");
        }
        // Another epoch: another order and other seeds.
        let second = epoch(2, 2);
        assert_ne!(second, inline);
        assert_eq!(second, epoch(0, 2));
    }

    #[test]
    fn an_epoch_read_in_part_stops_its_workers() {
        let loader = |workers| {
            OrderedLoader::new(
                InMemDataset::new((0..40).collect::<Vec<usize>>()),
                Slow,
                2,
                workers,
                0,
                vec![Default::default()],
            )
        };
        let inline: Vec<_> = loader(0).epoch(1).take(3).collect();
        let threaded = loader(2);
        // Dropping the partly read epoch joins its workers (a hang here is the failure).
        let first: Vec<_> = threaded.epoch(1).take(3).collect();
        assert_eq!(first, inline);
        // The loader serves the next epoch afresh.
        assert_eq!(threaded.epoch(2).count(), 20);
    }

    /// Panics on the batch holding item 5.
    struct Fragile;

    impl SeededBatcher<B, usize, Vec<usize>> for Fragile {
        fn batch(&self, items: Vec<usize>, _: u64, _: &burn::tensor::Device<B>) -> Vec<usize> {
            assert!(!items.contains(&5), "a broken item");
            items
        }
    }

    #[test]
    fn a_panicking_batcher_surfaces_instead_of_hanging() {
        let loader = OrderedLoader::new(
            InMemDataset::new((0..40).collect::<Vec<usize>>()),
            Fragile,
            2,
            2,
            3,
            vec![Default::default()],
        );
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loader.epoch(1).count()));
        let panic = result.unwrap_err();
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        assert!(message.contains("a broken item"), "{message}");
    }
}
