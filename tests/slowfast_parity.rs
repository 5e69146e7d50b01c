//! SlowFast with the AVA head against PySlowFast's own `SlowFastModel`
//! (tests/reference/slowfast_ava.py): a tiny AVA configuration (one block per stage, width 8,
//! α = 4, β = 1/4, res5 dilated) with seeded weights loads strictly through
//! `weights::pyslowfast_slowfast`; each pathway's res5 features agree within 1e-4 of their
//! largest value and the sigmoid scores of three boxes within 1e-5. The same with a non-local
//! block after res4's slow block (`s4.pathway0_nonlocal0.*`). And the training loss: the
//! binary cross-entropy of the logits against multi-hot targets and its gradients on nine
//! parameters from both stems to the classifier, against PyTorch's autograd (frozen
//! statistics, no dropout).

mod common;

use avaloc::models::action::ActionModelConfig;
use avaloc::nn::losses::bce_with_logits_mean;
use avaloc::weights::{Checkpoint, LoadMode, load_into, pyslowfast_slowfast};
use burn::tensor::Tensor;
use common::{Fixture, TestBackend, assert_close, max_abs_diff, values};

/// `configs/action/slowfast_tiny.toml`.
fn tiny() -> ActionModelConfig {
    let avaloc::config::NetworkConfig::Slowfast(spec) =
        common::shipped("action/slowfast_tiny.toml")
    else {
        panic!("an action model config")
    };
    spec.model_config()
}

#[test]
fn features_and_scores_match_pyslowfast() {
    check_against("slowfast_tiny", tiny());
}

#[test]
fn nonlocal_block_matches_pyslowfast() {
    let mut config = tiny();
    config.backbone.nonlocal = [vec![], vec![], vec![0], vec![]];
    check_against("slowfast_tiny_nonlocal", config);
}

fn check_against(fixture: &str, config: ActionModelConfig) {
    let checkpoint =
        Checkpoint::open(common::fixture_path(&format!("{fixture}.safetensors"))).unwrap();
    let (model, report) = load_into(
        config.init::<TestBackend>(&Default::default()),
        &checkpoint,
        &pyslowfast_slowfast(),
        LoadMode::Strict,
    )
    .unwrap();
    assert!(report.is_exact(), "{report}");
    let io = Fixture::open(&format!("{fixture}_io"));
    let slow: Tensor<TestBackend, 5> = io.tensor("slow");
    let fast: Tensor<TestBackend, 5> = io.tensor("fast");
    let [s5, f5] = model.backbone.forward(slow.clone(), fast.clone());
    assert_eq!(s5.dims(), [2, 256, 2, 4, 4]);
    assert_eq!(f5.dims(), [2, 64, 8, 4, 4]);
    for (name, actual) in [("slow5", s5), ("fast5", f5)] {
        let expected = io.floats(name);
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&values(actual), &expected);
        assert!(err <= 1e-4 * scale, "{name}: {err:e} > 1e-4 × {scale:e}");
    }
    let scores = model.forward(slow, fast, io.tensor("boxes"));
    assert_close("scores", &values(scores), &io.floats("scores"), 1e-5);
}

#[test]
fn training_loss_and_gradients_match_pytorch() {
    type A = common::TestAutodiff;
    let checkpoint = Checkpoint::open(common::fixture_path("slowfast_tiny.safetensors")).unwrap();
    let (model, _) = load_into(
        tiny().with_dropout(0.0).init::<A>(&Default::default()),
        &checkpoint,
        &pyslowfast_slowfast(),
        LoadMode::Strict,
    )
    .unwrap();
    let io = Fixture::open("slowfast_tiny_io");
    let expected = Fixture::open("slowfast_tiny_grads");
    let logits = model.classifier.logits(model.features(
        io.tensor("slow"),
        io.tensor("fast"),
        io.tensor("boxes"),
    ));
    let loss = bce_with_logits_mean(logits, expected.tensor::<A, 2>("targets"));
    assert_close(
        "loss",
        &values(loss.clone()),
        &expected.floats("loss"),
        1e-5,
    );
    let grads = loss.backward();
    let bb = &model.backbone;
    let conv_grad = |name: &str, conv: &avaloc::nn::Conv3d<A>| {
        (name.to_string(), values(conv.weight.grad(&grads).unwrap()))
    };
    let mut checked = vec![
        conv_grad("s1.pathway0_stem.conv.weight", &bb.s1.pathway0_stem.conv),
        conv_grad("s1.pathway1_stem.conv.weight", &bb.s1.pathway1_stem.conv),
        conv_grad("s1_fuse.conv_f2s.weight", &bb.s1_fuse.conv_f2s),
        conv_grad(
            "s2.pathway0_res0.branch2.b.weight",
            &bb.s2.pathway0[0].branch2.b,
        ),
        conv_grad(
            "s2.pathway1_res0.branch2.a.weight",
            &bb.s2.pathway1[0].branch2.a,
        ),
        conv_grad(
            "s5.pathway0_res0.branch2.c.weight",
            &bb.s5.pathway0[0].branch2.c,
        ),
        conv_grad(
            "s5.pathway1_res0.branch1.weight",
            bb.s5.pathway1[0].branch1.as_ref().unwrap(),
        ),
        (
            "head.projection.bias".into(),
            values(
                model
                    .classifier
                    .projection
                    .bias
                    .as_ref()
                    .unwrap()
                    .grad(&grads)
                    .unwrap(),
            ),
        ),
    ];
    // Burn stores a linear weight as [in, out], PyTorch as [out, in].
    let projection = model.classifier.projection.weight.grad(&grads).unwrap();
    checked.push((
        "head.projection.weight".into(),
        values(projection.transpose()),
    ));
    for (name, actual) in checked {
        let expected = expected.floats(&format!("grad.{name}"));
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{name}: zero reference gradient");
        let err = max_abs_diff(&actual, &expected);
        assert!(err <= 1e-3 * scale, "{name}: {err:e} > 1e-3 × {scale:e}");
    }
}

#[test]
#[ignore = "needs the on-demand fixture of tests/reference/slowfast_r50.py (about 75 MB)"]
fn r50_8x8_config_matches_pyslowfast() {
    let weights = common::fixture_path("ondemand/slowfast_r50.safetensors");
    assert!(
        weights.is_file(),
        "{} is missing: run .venv-ref/bin/python tests/reference/slowfast_r50.py",
        weights.display()
    );
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/action/slowfast_r50_8x8_ava.toml"
    );
    let network = avaloc::config::ActionFile::load(config).unwrap().network;
    let (model, report) = network
        .load::<TestBackend>(
            &Checkpoint::open(&weights).unwrap(),
            LoadMode::Strict,
            &Default::default(),
        )
        .unwrap();
    assert!(report.is_exact(), "{report}");
    let io = Fixture::open("ondemand/slowfast_r50_io");
    let fast: Tensor<TestBackend, 5> = io.tensor("fast");
    let (slow, fast_in) = avaloc::models::action::pack_pathways(fast.clone(), model.alpha);
    let [s5, f5] = model.backbone.forward(slow, fast_in);
    assert_eq!(s5.dims(), [1, 2048, 8, 6, 8]);
    assert_eq!(f5.dims(), [1, 256, 32, 6, 8]);
    for (name, actual) in [("slow5", s5), ("fast5", f5)] {
        let expected = io.floats(name);
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
        let err = max_abs_diff(&values(actual), &expected);
        assert!(err <= 1e-3 * scale, "{name}: {err:e} > 1e-3 × {scale:e}");
    }
    let scores = model.clip_scores(fast, io.tensor("boxes"), None);
    assert_close("scores", &values(scores), &io.floats("scores"), 1e-4);
}

#[test]
fn global_pooling_feature_is_the_clip_average_of_each_pathway() {
    let config = tiny().with_global_pool(true);
    assert_eq!(config.classifier().in_features, 2 * (256 + 64));
    let device = Default::default();
    let model = config.init::<TestBackend>(&device);
    let io = Fixture::open("slowfast_tiny_io");
    let (slow, fast): (Tensor<TestBackend, 5>, Tensor<TestBackend, 5>) =
        (io.tensor("slow"), io.tensor("fast"));
    let boxes: Tensor<TestBackend, 2> = io.tensor("boxes");
    let features = model.features(slow.clone(), fast.clone(), boxes);
    assert_eq!(features.dims(), [3, 640]);
    // Box 2 is in clip 1: its global part is clip 1's mean of each pathway's res5 map.
    let [s5, f5] = model.backbone.forward(slow, fast);
    let mean = |x: Tensor<TestBackend, 5>| {
        let c = x.dims()[1];
        values(
            x.narrow(0, 1, 1)
                .mean_dim(4)
                .mean_dim(3)
                .mean_dim(2)
                .reshape([c]),
        )
    };
    let expected: Vec<f32> = mean(s5).into_iter().chain(mean(f5)).collect();
    let global = values(features.narrow(0, 2, 1).narrow(1, 320, 320));
    assert_close("global feature", &global, &expected, 1e-5);
}

#[test]
fn weights_check_accepts_a_pyslowfast_checkpoint() {
    let weights = common::fixture_path("slowfast_tiny.safetensors");
    let check = |config: &str| {
        common::avaloc(&[
            "weights",
            "check",
            "--config",
            config,
            weights.to_str().unwrap(),
        ])
    };
    let out = check("configs/action/slowfast_tiny.toml");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The R50 config builds PySlowFast's shapes: a tiny checkpoint does not fit it.
    let out = check("configs/action/slowfast_r50_32x2_ava.toml");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("s1.pathway0_stem.conv.weight")
            || String::from_utf8_lossy(&out.stderr).contains("s1.pathway0_stem.conv.weight"),
        "the mismatch names the tensor"
    );
}

#[test]
fn r101_config_places_nonlocal_blocks_as_pyslowfast() {
    use avaloc::config::{ActionFile, NetworkFile};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/action/slowfast_r101_32x2_ava.toml"
    );
    let config = ActionFile::load(path).unwrap().network.model_config();
    let model = config.init::<TestBackend>(&Default::default());
    let s4 = &model.backbone.s4;
    assert_eq!((s4.pathway0.len(), s4.pathway1.len()), (23, 23));
    let placed: Vec<usize> = (0..23)
        .filter(|&i| s4.pathway0_nonlocal[i].is_some())
        .collect();
    assert_eq!(placed, vec![6, 13, 20]);
    assert_eq!(s4.pathway0_nonlocal[6].as_ref().unwrap().pool, [2, 2, 2]);
    assert!(
        model
            .backbone
            .s3
            .pathway0_nonlocal
            .iter()
            .all(Option::is_none)
    );
    // Temporal kernel 3 in the first 6 res4 blocks only (NUM_BLOCK_TEMP_KERNEL).
    let temporal = |i: usize| s4.pathway0[i].branch2.a.weight.dims()[2];
    assert_eq!((temporal(5), temporal(6)), (3, 1));

    let bad = "[network]\nkind = \"slowfast\"\nnum_classes = 5\nframes = 8\nsampling_rate = 1\n\
               [network.backbone]\nblocks = [1, 1, 1, 1]\nwidth_per_group = 8\n\
               [network.slowfast]\nnonlocal = [[], [], [3], []]\n";
    let file = std::env::temp_dir().join(format!("avaloc-nl-{}.toml", std::process::id()));
    std::fs::write(&file, bad).unwrap();
    let err = NetworkFile::load(&file).unwrap_err().to_string();
    std::fs::remove_file(&file).unwrap();
    assert!(err.contains("res4 has only 1 blocks"), "{err}");
}
