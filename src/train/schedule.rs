//! The detection and video recipes' schedule: a linear warm-up from `warmup_factor × lr`,
//! then `lr` multiplied by `gamma` at each milestone (PySlowFast's "steps_with_relative_lrs",
//! torchvision's reference `WarmupMultiStepLR`).

use burn::optim::LearningRate;
use burn::optim::lr_scheduler::LrScheduler;
use burn::tensor::backend::Backend;

use crate::config::TrainSettings;

#[derive(Debug, Clone, PartialEq)]
pub struct WarmupMultiStep {
    pub base_lr: f64,
    pub warmup_iters: usize,
    pub warmup_factor: f64,
    /// Iterations at which the rate is multiplied by `gamma`, ascending.
    pub milestones: Vec<usize>,
    pub gamma: f64,
    /// The next iteration [`LrScheduler::step`] returns the rate of.
    pub iteration: usize,
}

impl WarmupMultiStep {
    /// The schedule of `settings` over optimizer updates, for epochs of `updates_per_epoch`.
    pub fn new(settings: &TrainSettings, updates_per_epoch: usize) -> Self {
        Self {
            base_lr: settings.lr,
            warmup_iters: settings.warmup_iters,
            warmup_factor: settings.warmup_factor,
            milestones: settings
                .steps
                .iter()
                .map(|e| e * updates_per_epoch)
                .collect(),
            gamma: settings.gamma,
            iteration: 0,
        }
    }

    /// The rate at `iteration` (0-based).
    pub fn lr_at(&self, iteration: usize) -> f64 {
        let decays = self.milestones.iter().filter(|&&m| iteration >= m).count();
        let lr = self.base_lr * self.gamma.powi(decays as i32);
        if iteration < self.warmup_iters {
            let alpha = iteration as f64 / self.warmup_iters as f64;
            lr * (self.warmup_factor * (1.0 - alpha) + alpha)
        } else {
            lr
        }
    }
}

impl LrScheduler for WarmupMultiStep {
    type Record<B: Backend> = usize;

    fn step(&mut self) -> LearningRate {
        let lr = self.lr_at(self.iteration);
        self.iteration += 1;
        lr
    }

    fn to_record<B: Backend>(&self) -> usize {
        self.iteration
    }

    fn load_record<B: Backend>(mut self, record: usize) -> Self {
        self.iteration = record;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_steps() {
        let s = WarmupMultiStep {
            base_lr: 0.01,
            warmup_iters: 10,
            warmup_factor: 0.1,
            milestones: vec![100, 200],
            gamma: 0.1,
            iteration: 0,
        };
        // Hand values: 0.01 × (0.1 (1 − a) + a) with a = i / 10.
        assert!((s.lr_at(0) - 0.001).abs() < 1e-12);
        assert!((s.lr_at(5) - 0.0055).abs() < 1e-12);
        assert!((s.lr_at(10) - 0.01).abs() < 1e-12);
        assert!((s.lr_at(99) - 0.01).abs() < 1e-12);
        assert!((s.lr_at(100) - 0.001).abs() < 1e-12);
        assert!((s.lr_at(250) - 0.0001).abs() < 1e-12);
    }
}
