//! Training losses of the tiny Faster R-CNN against torchvision's `FasterRCNN` in training
//! mode (tests/reference/detector_train.py): two images of different sizes, hand-placed ground
//! truth, the balanced sampler taking the first candidates on both sides. The four losses
//! agree within 1e-4 relative and the gradients of their sum within 1e-3 of each tensor's
//! largest value; the sampler's random mode is checked for its counts and sets.

mod common;

use avaloc::models::detector::{BalancedSampler, DetectionTarget, DetectorTrainingConfig};
use burn::tensor::Tensor;
use common::{Fixture, TestAutodiff, values};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn assert_relative(what: &str, actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length mismatch");
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = common::max_abs_diff(actual, expected);
    assert!(
        err <= tol * scale,
        "{what}: max abs error {err:e} > {tol:e} × {scale:e}"
    );
}

#[test]
fn losses_and_gradients_match_torchvision() {
    let model = common::tiny_detector::<TestAutodiff>(&Default::default());
    let fx = Fixture::open("detector_tiny_train");
    let images: Vec<Tensor<TestAutodiff, 3>> =
        (0..2).map(|i| fx.tensor(&format!("image{i}"))).collect();
    let targets: Vec<DetectionTarget> = (0..2)
        .map(|i| DetectionTarget {
            boxes: fx
                .floats(&format!("boxes{i}"))
                .chunks_exact(4)
                .map(|b| b.try_into().unwrap())
                .collect(),
            labels: fx.ints(&format!("labels{i}")),
        })
        .collect();
    let losses = model.losses::<StdRng>(&DetectorTrainingConfig::new(), images, &targets, None);
    for (name, value) in losses.values() {
        let key = match name {
            "rpn_objectness" => "loss_objectness",
            "rpn_box" => "loss_rpn_box_reg",
            "classifier" => "loss_classifier",
            _ => "loss_box_reg",
        };
        assert_relative(name, &[value as f32], &fx.floats(key), 1e-4);
    }

    let grads = losses.total().backward();
    let grad = |p: &burn::module::Param<Tensor<TestAutodiff, 4>>| values(p.grad(&grads).unwrap());
    let linear_grad = |p: &burn::module::Param<Tensor<TestAutodiff, 2>>| {
        // Burn stores linear weights as [in, out], PyTorch as [out, in].
        values(p.grad(&grads).unwrap().transpose())
    };
    let checks = [
        (
            "backbone.body.conv1.weight",
            grad(&model.backbone.body.conv1.weight),
        ),
        (
            "backbone.fpn.layer_blocks.0.0.weight",
            grad(&model.backbone.fpn.layer_blocks[0].weight),
        ),
        (
            "rpn.head.conv.0.0.weight",
            grad(&model.rpn.head.conv.weight),
        ),
        (
            "rpn.head.bbox_pred.weight",
            grad(&model.rpn.head.bbox_pred.weight),
        ),
        (
            "roi_heads.box_head.fc6.weight",
            linear_grad(&model.box_head.fc6.weight),
        ),
        (
            "roi_heads.box_predictor.bbox_pred.weight",
            linear_grad(&model.box_head.bbox_pred.weight),
        ),
    ];
    for (name, actual) in checks {
        assert_relative(name, &actual, &fx.floats(&format!("grad.{name}")), 1e-3);
    }
}

#[test]
fn random_sampling_keeps_the_balance() {
    let sampler = BalancedSampler {
        batch_per_image: 16,
        positive_fraction: 0.25,
    };
    // 10 positives (labels 1 and 2), 30 negatives, 5 ignored.
    let labels: Vec<i64> = (0..45)
        .map(|i| match i {
            0..10 => 1 + i % 2,
            10..40 => 0,
            _ => -1,
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(7);
    let (pos, neg) = sampler.sample(&labels, Some(&mut rng));
    assert_eq!((pos.len(), neg.len()), (4, 12));
    assert!(pos.iter().all(|&i| labels[i] >= 1) && neg.iter().all(|&i| labels[i] == 0));
    let (pos2, _) = sampler.sample(&labels, Some(&mut rng));
    assert_ne!(pos, pos2, "a new draw picks another subset");
    // Few positives: the batch is filled up with negatives.
    let few: Vec<i64> = (0..40).map(|i| i64::from(i == 3)).collect();
    let (pos, neg) = sampler.sample(&few, Some(&mut rng));
    assert_eq!((pos, neg.len()), (vec![3], 15));
    // Deterministic mode: the first of each.
    let (pos, neg) = sampler.sample::<StdRng>(&few, None);
    assert_eq!((pos, neg), (vec![3], (0..16).filter(|&i| i != 3).collect()));
}
