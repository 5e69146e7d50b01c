//! The feature-bank operators against MMAction2's own `FBONonLocal`, `FBOAvg` and `FBOMax`
//! (tests/reference/fbo.py): outputs, and with dropout off the gradients of the short-term
//! feature, of the bank and of the non-local operator's parameters under an upstream gradient.
//! "tiny" (S 16, bank 12, latent 8, 6 entries of which 2 are empty, 3 boxes, 2 layers) stores
//! its weights and inputs; "real" (S and bank 2304, latent 512, 500 entries, 2 boxes, 2
//! layers) recomputes them from the script's formula. Tolerances: 1e-5 absolute at the tiny
//! width, 1e-4 of each tensor's largest value at the real one (sums over 2304 channels and 500
//! entries).

mod common;

use avaloc::models::action::{Fbo, FboConfig, FboKind};
use avaloc::weights::{Checkpoint, KeyMap, LoadMode, load_into};
use burn::module::Module;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use common::{Fixture, TestAutodiff, TestBackend, assert_close, fixture_path, values};

type A = TestAutodiff;

/// The script's `wave`: sin(i·a + b)·scale in f64, rounded to f32.
fn wave(n: usize, a: f64, b: f64, scale: f64) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f64 * a + b).sin() * scale) as f32)
        .collect()
}

struct Case {
    io: Fixture,
    meta: serde_json::Value,
}

impl Case {
    fn open(name: &str) -> Self {
        let io = Fixture::open(&format!("fbo_{name}_io"));
        let meta = io.cases().remove(0);
        Self { io, meta }
    }

    fn dim(&self, key: &str) -> usize {
        self.meta[key].as_u64().unwrap() as usize
    }

    fn config(&self, kind: FboKind) -> FboConfig {
        FboConfig::new(self.dim("st_dim"), self.dim("lt_dim"))
            .with_kind(kind)
            .with_latent(self.dim("latent"))
            .with_layers(self.dim("layers"))
            .with_dropout(0.0)
            .with_layer_dropout(0.0)
            .with_zero_init_out(false)
    }

    /// Largest absolute value of a stored tensor (at least 1).
    fn scale(&self, key: &str) -> f32 {
        self.io
            .floats(key)
            .iter()
            .fold(1.0f32, |m, v| m.max(v.abs()))
    }
}

/// The operator with `weights` (our names, PyTorch's layouts) loaded strictly.
fn load<B: Backend>(config: &FboConfig, weights: &std::path::Path) -> Fbo<B> {
    let checkpoint = Checkpoint::open(weights).unwrap();
    let (fbo, report) = load_into(
        config.init::<B>(&Default::default()),
        &checkpoint,
        &KeyMap::identity(),
        LoadMode::Strict,
    )
    .unwrap();
    assert!(report.is_exact(), "{report}");
    fbo
}

/// The real-width weights of the script's formula, written as a checkpoint.
fn formula_weights(case: &Case) -> std::path::PathBuf {
    let params = case.meta["params"].as_array().unwrap();
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = p[0].as_str().unwrap().to_string();
            let shape: Vec<usize> = p[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let n = shape.iter().product();
            let values = wave(n, 0.37 + 0.011 * i as f64, 0.5 * i as f64, 0.02);
            // MMAction2's shapes: 1×1×1 convs [out, in, 1, 1, 1], LayerNorm [c, 1, 1, 1].
            let shape = if shape.len() == 5 {
                vec![shape[0], shape[1]]
            } else {
                vec![shape[0]]
            };
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, bytes, shape)
        })
        .collect();
    let views: std::collections::BTreeMap<String, safetensors::tensor::TensorView> = data
        .iter()
        .map(|(name, bytes, shape)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .unwrap();
            (name.clone(), view)
        })
        .collect();
    let path = std::env::temp_dir().join(format!("avaloc-fbo-{}.safetensors", std::process::id()));
    safetensors::serialize_to_file(views, None, &path).unwrap();
    path
}

/// Each parameter's gradient in PyTorch's layout (linear weights `[out, in]`), by name.
fn param_grads(
    fbo: &Fbo<A>,
    grads: &<A as burn::tensor::backend::AutodiffBackend>::Gradients,
) -> Vec<(String, Vec<f32>)> {
    let nl = fbo.nonlocal.as_ref().unwrap();
    let linear = |name: String, l: &burn::nn::Linear<A>| {
        vec![
            (
                format!("{name}.weight"),
                values(l.weight.grad(grads).unwrap().transpose()),
            ),
            (
                format!("{name}.bias"),
                values(l.bias.as_ref().unwrap().grad(grads).unwrap()),
            ),
        ]
    };
    let mut out = linear("nonlocal.st_feat_conv".into(), &nl.st_feat_conv);
    out.extend(linear("nonlocal.lt_feat_conv".into(), &nl.lt_feat_conv));
    for (i, layer) in nl.layers.iter().enumerate() {
        let p = format!("nonlocal.layers.{i}");
        out.extend(linear(format!("{p}.st_feat_conv"), &layer.st_feat_conv));
        out.extend(linear(format!("{p}.lt_feat_conv"), &layer.lt_feat_conv));
        out.extend(linear(format!("{p}.global_conv"), &layer.global_conv));
        out.extend(linear(format!("{p}.out_conv"), &layer.out_conv));
        out.push((
            format!("{p}.ln.gamma"),
            values(layer.ln.gamma.grad(grads).unwrap()),
        ));
        out.push((
            format!("{p}.ln.beta"),
            values(layer.ln.beta.as_ref().unwrap().grad(grads).unwrap()),
        ));
    }
    out
}

#[test]
fn tiny_operators_match_mmaction2() {
    let case = Case::open("tiny");
    let io = &case.io;
    let weights = fixture_path("fbo_tiny_weights.safetensors");
    let short_term: Tensor<TestBackend, 2> = io.tensor("short_term");
    let bank: Tensor<TestBackend, 3> = io.tensor("bank");
    for (kind, key) in [
        (FboKind::NonLocal, "nonlocal"),
        (FboKind::Avg, "avg"),
        (FboKind::Max, "max"),
    ] {
        let config = case.config(kind);
        let fbo: Fbo<TestBackend> = if kind == FboKind::NonLocal {
            load(&config, &weights)
        } else {
            config.init(&Default::default())
        };
        let out = fbo.forward(short_term.clone(), bank.clone());
        assert_eq!(out.dims()[1], config.out_dim());
        assert_close(key, &values(out), &io.floats(key), 1e-5);
    }

    let fbo: Fbo<A> = load(&case.config(FboKind::NonLocal), &weights);
    let short_term: Tensor<A, 2> = io.tensor::<A, 2>("short_term").require_grad();
    let bank: Tensor<A, 3> = io.tensor::<A, 3>("bank").require_grad();
    let out = fbo.forward(short_term.clone(), bank.clone());
    let grads = (out * io.tensor::<A, 2>("upstream")).sum().backward();
    assert_close(
        "grad_short_term",
        &values(short_term.grad(&grads).unwrap()),
        &io.floats("grad_short_term"),
        1e-5,
    );
    assert_close(
        "grad_bank",
        &values(bank.grad(&grads).unwrap()),
        &io.floats("grad_bank"),
        1e-5,
    );
    let checked = param_grads(&fbo, &grads);
    assert_eq!(checked.len(), 4 + 2 * 10);
    for (name, actual) in checked {
        let key = format!("grad.{name}");
        assert_close(&key, &actual, &io.floats(&key), 1e-5);
    }
}

#[test]
fn real_width_operators_match_mmaction2() {
    let case = Case::open("real");
    let io = &case.io;
    let (k, m) = (case.dim("boxes"), case.dim("entries"));
    let (s, d) = (case.dim("st_dim"), case.dim("lt_dim"));
    let device = Default::default();
    let short_term = TensorData::new(wave(k * s, 0.13, 0.1, 1.0), [k, s]);
    let bank = TensorData::new(wave(k * m * d, 0.029, 0.7, 1.0), [k, m, d]);
    for (kind, key) in [(FboKind::Avg, "avg"), (FboKind::Max, "max")] {
        let fbo = case.config(kind).init::<TestBackend>(&device);
        let out = fbo.forward(
            Tensor::from_data(short_term.clone(), &device),
            Tensor::from_data(bank.clone(), &device),
        );
        assert_close(key, &values(out), &io.floats(key), 1e-5);
    }

    let weights = formula_weights(&case);
    let fbo: Fbo<A> = load(&case.config(FboKind::NonLocal), &weights);
    std::fs::remove_file(weights).unwrap();
    assert_eq!(
        fbo.num_params(),
        2 * 2304 * 512 + 2 * 512 + 2 * (4 * (512 * 512 + 512) + 2 * 512)
    );
    let short_term = Tensor::<A, 2>::from_data(short_term, &device).require_grad();
    let bank = Tensor::<A, 3>::from_data(bank, &device).require_grad();
    let out = fbo.forward(short_term.clone(), bank.clone());
    let tol = |key: &str| 1e-4 * case.scale(key);
    assert_close(
        "nonlocal",
        &values(out.clone()),
        &io.floats("nonlocal"),
        tol("nonlocal"),
    );
    let grads = (out * io.tensor::<A, 2>("upstream")).sum().backward();
    assert_close(
        "grad_short_term",
        &values(short_term.grad(&grads).unwrap()),
        &io.floats("grad_short_term"),
        tol("grad_short_term"),
    );
    let bank_head = bank.grad(&grads).unwrap().narrow(1, 0, 4);
    assert_close(
        "grad_bank_head",
        &values(bank_head),
        &io.floats("grad_bank_head"),
        tol("grad_bank_head"),
    );
    let mut compared = 0;
    for (name, actual) in param_grads(&fbo, &grads) {
        let key = format!("grad.{name}");
        if actual.len() <= 512 {
            assert_close(&key, &actual, &io.floats(&key), tol(&key));
            compared += 1;
        }
    }
    assert_eq!(compared, 2 + 2 * 6, "biases and LayerNorm parameters");
}
