//! Validation after each epoch: the run's metric function on the model without autodiff,
//! its metrics and the epoch's time (training and validation) put in the epoch's record.

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use super::hooks::{EpochEnd, Hook};

/// The metric function, called with the model for inference and the epoch.
pub struct Validation<V>(pub V);

impl<B, M, V> Hook<B, M> for Validation<V>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    V: FnMut(&M::InnerModule, usize) -> Result<Vec<(String, f64)>>,
{
    fn after_epoch(&mut self, end: &mut EpochEnd<'_, M>) -> Result<()> {
        end.record.valid = (self.0)(&end.model.valid(), end.record.epoch)?;
        end.record.seconds = end.started.elapsed().as_secs_f64();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::EpochRecord;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::{Linear, LinearConfig};

    #[test]
    fn validation_sees_the_inference_model_and_the_epoch_and_fills_the_record() {
        let device = burn::backend::flex::FlexDevice;
        let model: Linear<Autodiff<Flex>> = LinearConfig::new(2, 1).init(&device);
        let mut record = EpochRecord {
            epoch: 4,
            updates: 8,
            lr: 0.1,
            seconds: 0.0,
            train: vec![("loss".into(), 1.0)],
            valid: Vec::new(),
        };
        let mut seen = Vec::new();
        let mut hook = Validation(|m: &Linear<Flex>, epoch: usize| {
            seen.push(epoch);
            Ok(vec![("weights".to_string(), m.weight.dims()[0] as f64)])
        });
        let started = std::time::Instant::now() - std::time::Duration::from_millis(20);
        let mut end = EpochEnd {
            model: &model,
            record: &mut record,
            started,
            optimizer: &|_| Ok(()),
        };
        Hook::<Autodiff<Flex>, _>::after_epoch(&mut hook, &mut end).unwrap();
        assert_eq!(seen, vec![4]);
        assert_eq!(record.valid, vec![("weights".to_string(), 2.0)]);
        assert!(record.seconds >= 0.02, "{}", record.seconds);
        assert_eq!(record.train, vec![("loss".to_string(), 1.0)]);
    }
}
