//! avaloc::ops against torchvision / PyTorch, through fixtures from tests/reference/ops.py.
//! Tolerances: 1e-5 absolute on unit-scale inputs for values and gradients (f32 arithmetic in
//! a different summation order); integer results (NMS, kept indices) must be identical.

mod common;

use avaloc::ops::{self, BoxCoder, Pool3dOptions};
use burn::tensor::Tensor;
use common::{Fixture, TestAutodiff, TestBackend, assert_close, int_values, values};

const TOL: f32 = 1e-5;

fn usizes<const N: usize>(v: &serde_json::Value) -> [usize; N] {
    let list: Vec<usize> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    list.try_into().unwrap()
}

/// Checks `out` against `{name}.output` (within `forward_tol`), then backpropagates
/// `{name}.upstream` and checks the input's gradient against `{name}.{grad_key}` within `TOL`.
fn assert_matches_reference<const D: usize, const E: usize>(
    fx: &Fixture,
    name: &str,
    input: Tensor<TestAutodiff, D>,
    out: Tensor<TestAutodiff, E>,
    grad_key: &str,
    forward_tol: f32,
) {
    assert_eq!(
        out.dims().to_vec(),
        fx.shape(&format!("{name}.output")),
        "{name}"
    );
    assert_close(
        &format!("{name} forward"),
        &values(out.clone()),
        &fx.floats(&format!("{name}.output")),
        forward_tol,
    );
    let upstream: Tensor<TestAutodiff, E> = fx.tensor(&format!("{name}.upstream"));
    let grads = (out * upstream).sum().backward();
    let grad = input.grad(&grads).expect("input gradient");
    assert_close(
        &format!("{name} gradient"),
        &values(grad),
        &fx.floats(&format!("{name}.{grad_key}")),
        TOL,
    );
}

#[test]
fn roi_align_forward_and_gradient_match_torchvision() {
    let fx = Fixture::open("ops_roi_align");
    let cases = fx.cases();
    assert!(cases.len() >= 6);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let output_size = usizes::<2>(&case["output_size"]);
        let scale = case["spatial_scale"].as_f64().unwrap() as f32;
        let sampling = case["sampling_ratio"].as_i64().unwrap() as i32;
        let aligned = case["aligned"].as_bool().unwrap();

        let features: Tensor<TestAutodiff, 4> = fx.tensor(&format!("{name}.features"));
        let features = features.require_grad();
        let rois: Tensor<TestAutodiff, 2> = fx.tensor(&format!("{name}.rois"));
        let out = ops::roi_align(
            features.clone(),
            rois,
            output_size,
            scale,
            sampling,
            aligned,
        );
        assert_matches_reference(&fx, name, features, out, "grad_features", TOL);
    }
}

#[test]
fn roi_align_with_no_rois_gives_an_empty_result() {
    let features = Tensor::<TestBackend, 4>::ones([1, 6, 8, 8], &Default::default());
    let rois = Tensor::<TestBackend, 2>::zeros([0, 5], &Default::default());
    let out = ops::roi_align(features, rois, [7, 7], 1.0, 2, true);
    assert_eq!(out.dims(), [0, 6, 7, 7]);
}

#[test]
fn roi_align_rejects_bad_arguments() {
    let device = Default::default();
    let features = Tensor::<TestBackend, 4>::ones([2, 1, 8, 8], &device);
    let wrong_cols = Tensor::<TestBackend, 2>::zeros([3, 4], &device);
    let err = ops::try_roi_align(features.clone(), wrong_cols, [2, 2], 1.0, 2, true).unwrap_err();
    assert!(err.to_string().contains("[K, 5]"), "{err}");

    let bad_batch = Tensor::<TestBackend, 2>::from_floats(
        [[0.0, 0., 0., 4., 4.], [2.0, 0., 0., 4., 4.]],
        &device,
    );
    let err = ops::try_roi_align(features.clone(), bad_batch, [2, 2], 1.0, 2, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "roi_align: row 1 has batch index 2, but the feature map has batch size 2"
    );
    let ok = Tensor::<TestBackend, 2>::from_floats([[1.0, 0., 0., 4., 4.]], &device);
    assert!(ops::try_roi_align(features, ok, [0, 2], 1.0, 2, true).is_err());
}

#[test]
#[should_panic(expected = "batch index")]
fn roi_align_panics_with_the_error_message() {
    let device = Default::default();
    let features = Tensor::<TestBackend, 4>::ones([1, 1, 8, 8], &device);
    let rois = Tensor::<TestBackend, 2>::from_floats([[-1.0, 0., 0., 4., 4.]], &device);
    ops::roi_align(features, rois, [2, 2], 1.0, 2, true);
}

#[test]
fn nms_keeps_torchvisions_indices_in_order() {
    let fx = Fixture::open("ops_nms");
    let boxes: Tensor<TestBackend, 2> = fx.tensor("boxes");
    let scores: Tensor<TestBackend, 1> = fx.tensor("scores");
    assert!(boxes.dims()[0] >= 1000);
    for case in fx.cases() {
        let thr = case["iou_threshold"].as_f64().unwrap();
        let kept = ops::nms(boxes.clone(), scores.clone(), thr as f32);
        assert_eq!(
            int_values(kept),
            fx.ints(&format!("nms_{thr}")),
            "nms {thr}"
        );
        let kept = ops::batched_nms(
            boxes.clone(),
            scores.clone(),
            fx.int_tensor("idxs"),
            thr as f32,
        );
        assert_eq!(
            int_values(kept),
            fx.ints(&format!("batched_nms_{thr}")),
            "batched_nms {thr}"
        );
    }
}

#[test]
fn nms_works_on_autodiff_tensors() {
    let fx = Fixture::open("ops_nms");
    let kept = ops::nms::<TestAutodiff>(fx.tensor("boxes"), fx.tensor("scores"), 0.5);
    assert_eq!(int_values(kept), fx.ints("nms_0.5"));
}

#[test]
fn box_utilities_match_torchvision() {
    let fx = Fixture::open("ops_boxes");
    let a: Tensor<TestBackend, 2> = fx.tensor("a");
    let b: Tensor<TestBackend, 2> = fx.tensor("b");
    assert_close(
        "box_iou",
        &values(ops::box_iou(a.clone(), b)),
        &fx.floats("iou"),
        1e-6,
    );
    assert_close(
        "box_area",
        &values(ops::box_area(a.clone())),
        &fx.floats("area"),
        1e-3,
    );
    assert_close(
        "clip_boxes_to_image",
        &values(ops::clip_boxes_to_image(a.clone(), [80, 100])),
        &fx.floats("clipped"),
        0.0,
    );
    assert_eq!(
        int_values(ops::remove_small_boxes(a, 12.0)),
        fx.ints("small_kept")
    );
    for case in fx.cases() {
        let name = case["name"].as_str().unwrap();
        let w: Vec<f32> = case["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let coder = BoxCoder::new(w.try_into().unwrap());
        let encoded = coder.encode::<TestBackend>(fx.tensor("gt"), fx.tensor("proposals"));
        assert_close(
            &format!("{name} encode"),
            &values(encoded),
            &fx.floats(&format!("{name}.encoded")),
            1e-4,
        );
        let decoded = coder.decode::<TestBackend>(fx.tensor("codes"), fx.tensor("proposals"));
        let expected = fx.floats(&format!("{name}.decoded"));
        // Box coordinates reach ~6e4 where exp(dw) is clamped: compare relative to magnitude.
        let actual = values(decoded);
        for (x, y) in actual.iter().zip(&expected) {
            assert!(
                (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                "{name} decode: {x} vs {y}"
            );
        }
    }
}

#[test]
fn pool3d_forward_and_gradient_match_pytorch() {
    let fx = Fixture::open("ops_pool3d");
    for case in fx.cases() {
        let name = case["name"].as_str().unwrap();
        let options = Pool3dOptions::new(usizes(&case["kernel"]))
            .with_stride(usizes(&case["stride"]))
            .with_padding(usizes(&case["padding"]))
            .with_ceil_mode(case["ceil_mode"].as_bool().unwrap());
        let input: Tensor<TestAutodiff, 5> = fx
            .tensor::<TestAutodiff, 5>(&format!("{name}.input"))
            .require_grad();
        let out = match case["kind"].as_str().unwrap() {
            "max" => ops::max_pool3d(input.clone(), options),
            _ => ops::avg_pool3d(
                input.clone(),
                options,
                case["count_include_pad"].as_bool().unwrap(),
            ),
        };
        assert_matches_reference(&fx, name, input, out, "grad_input", TOL);
    }
}

#[test]
fn nearest_upsampling_matches_pytorch() {
    let fx = Fixture::open("ops_upsample");
    for case in fx.cases() {
        let name = case["name"].as_str().unwrap();
        let input: Tensor<TestAutodiff, 4> = fx
            .tensor::<TestAutodiff, 4>(&format!("{name}.input"))
            .require_grad();
        let out = ops::upsample_nearest(input.clone(), usizes(&case["size"]));
        // Nearest resizing copies values: the forward must be exact.
        assert_matches_reference(&fx, name, input, out, "grad_input", 0.0);
    }
}

/// `nn::Conv3d` (on flex: direct kernels, per-tap products, pointwise matmuls) against `F.conv3d`: the
/// output in inference and under autodiff, and the gradients of input, weight and bias.
/// Outputs and gradients sum hundreds of products, so tolerances scale with the largest value.
#[test]
fn conv3d_matches_pytorch_on_every_route() {
    use avaloc::nn::Conv3d;
    use burn::module::Param;
    use burn::nn::PaddingConfig3d;
    use burn::nn::conv::Conv3dConfig;

    fn conv<B: burn::tensor::backend::Backend>(
        fx: &Fixture,
        case: &serde_json::Value,
    ) -> Conv3d<B> {
        let name = case["name"].as_str().unwrap();
        let weight: Tensor<B, 5> = fx.tensor(&format!("{name}.weight"));
        let [co, ci, ..] = weight.dims();
        let [pt, ph, pw] = usizes::<3>(&case["padding"]);
        let config = Conv3dConfig::new([ci, co], usizes(&case["kernel"]))
            .with_stride(usizes(&case["stride"]))
            .with_dilation(usizes(&case["dilation"]))
            .with_padding(PaddingConfig3d::Explicit(pt, ph, pw))
            .with_bias(case["bias"].as_bool().unwrap());
        let mut conv = Conv3d::<B>::new(&config, &Default::default());
        conv.weight = Param::from_tensor(weight);
        if conv.bias.is_some() {
            conv.bias = Some(Param::from_tensor(fx.tensor(&format!("{name}.bias"))));
        }
        conv
    }
    let scaled = |key: &str, fx: &Fixture| {
        let max = fx.floats(key).iter().fold(1.0f32, |m, v| m.max(v.abs()));
        TOL * max
    };

    let fx = Fixture::open("ops_conv3d");
    for case in fx.cases() {
        let name = case["name"].as_str().unwrap();
        let expected = fx.floats(&format!("{name}.output"));
        let tol = scaled(&format!("{name}.output"), &fx);

        let plain = conv::<TestBackend>(&fx, &case);
        let out = plain.forward(fx.tensor(&format!("{name}.input")));
        assert_close(&format!("{name} inference"), &values(out), &expected, tol);

        let module = conv::<TestAutodiff>(&fx, &case);
        let input: Tensor<TestAutodiff, 5> = fx.tensor(&format!("{name}.input")).require_grad();
        let out = module.forward(input.clone());
        assert_close(
            &format!("{name} forward"),
            &values(out.clone()),
            &expected,
            tol,
        );
        let upstream: Tensor<TestAutodiff, 5> = fx.tensor(&format!("{name}.upstream"));
        let grads = (out * upstream).sum().backward();
        let mut checks = vec![
            ("grad_input", values(input.grad(&grads).unwrap())),
            ("grad_weight", values(module.weight.grad(&grads).unwrap())),
        ];
        if let Some(bias) = &module.bias {
            checks.push(("grad_bias", values(bias.grad(&grads).unwrap())));
        }
        for (key, actual) in checks {
            let key = format!("{name}.{key}");
            assert_close(&key, &actual, &fx.floats(&key), scaled(&key, &fx));
        }
    }
}
