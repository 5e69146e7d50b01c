use std::time::Instant;
use avaloc::config::NetworkFile;
use avaloc::models::action::ActionModel;
use avaloc::nn::losses::bce_with_logits_mean;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor, TensorData};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = NetworkFile::load(&args[1]).unwrap().network.action_model().unwrap();
    let (t, s): (usize, usize) = (args[2].parse().unwrap(), args[3].parse().unwrap());
    type B = Autodiff<Flex>;
    let device = Default::default();
    let model: ActionModel<B> = config.init::<B>(&device);
    let clips = Tensor::<B, 5>::random([4, 3, t, s, s], Distribution::Normal(0.0, 1.0), &device);
    let rois = Tensor::<B, 2>::from_data(TensorData::new(vec![0.0f32, 10., 10., 60., 100., 1., 20., 5., 80., 100., 2., 0., 0., 50., 100., 3., 60., 20., 100., 100.], [4, 5]), &device);
    let targets = Tensor::<B, 2>::zeros([4, 9], &device);
    for _ in 0..3 {
        let t = Instant::now();
        let loss = bce_with_logits_mean(model.clip_logits(clips.clone(), rois.clone()), targets.clone());
        let _ = loss.clone().into_data();
        let t1 = t.elapsed();
        let _g = loss.backward();
        println!("fwd {:?} step {:?}", t1, t.elapsed());
    }
}
