//! Shared helpers for the parity tests: reading the fixtures that tests/reference/*.py wrote.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use safetensors::{Dtype, SafeTensors};

/// The CPU backend the suite runs on, and its autodiff variant for gradient checks.
pub type TestBackend = burn::backend::Flex;
pub type TestAutodiff = burn::backend::Autodiff<TestBackend>;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// One fixture file: named tensors plus the JSON case list in its metadata.
pub struct Fixture {
    bytes: Vec<u8>,
    name: String,
}

impl Fixture {
    pub fn open(name: &str) -> Self {
        let path = fixture_path(&format!("{name}.safetensors"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (regenerate with tests/reference)", path.display())
        });
        Self {
            bytes,
            name: name.to_string(),
        }
    }

    fn view(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("valid safetensors fixture")
    }

    pub fn cases(&self) -> Vec<serde_json::Value> {
        let (_, meta) = SafeTensors::read_metadata(&self.bytes).expect("metadata");
        let meta = meta.metadata().as_ref().expect("fixture metadata");
        serde_json::from_str(&meta["cases"]).expect("cases JSON")
    }

    pub fn shape(&self, key: &str) -> Vec<usize> {
        self.view()
            .tensor(key)
            .unwrap_or_else(|_| panic!("{}: no tensor {key}", self.name))
            .shape()
            .to_vec()
    }

    /// Float tensor values as f32 (f32, f16 or i64 storage).
    pub fn floats(&self, key: &str) -> Vec<f32> {
        let view = self.view();
        let t = view
            .tensor(key)
            .unwrap_or_else(|_| panic!("{}: no tensor {key}", self.name));
        match t.dtype() {
            Dtype::F32 => t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            Dtype::F16 => t
                .data()
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes(b.try_into().unwrap()).to_f32())
                .collect(),
            Dtype::I64 => self.ints(key).into_iter().map(|v| v as f32).collect(),
            other => panic!("{}: {key} has unsupported dtype {other:?}", self.name),
        }
    }

    pub fn ints(&self, key: &str) -> Vec<i64> {
        let view = self.view();
        let t = view
            .tensor(key)
            .unwrap_or_else(|_| panic!("{}: no tensor {key}", self.name));
        assert_eq!(t.dtype(), Dtype::I64, "{key} is not int64");
        t.data()
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    pub fn tensor<B: Backend, const D: usize>(&self, key: &str) -> Tensor<B, D> {
        let shape = self.shape(key);
        Tensor::from_data(
            TensorData::new(self.floats(key), shape),
            &Default::default(),
        )
    }

    pub fn int_tensor<B: Backend, const D: usize>(&self, key: &str) -> Tensor<B, D, Int> {
        let shape = self.shape(key);
        Tensor::from_data(TensorData::new(self.ints(key), shape), &Default::default())
    }
}

pub fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

pub fn int_values<B: Backend, const D: usize>(t: Tensor<B, D, Int>) -> Vec<i64> {
    t.into_data().convert::<i64>().to_vec().unwrap()
}

/// Largest absolute difference; panics on length mismatch.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Asserts `actual` matches `expected` within `tol`, naming the case on failure.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], tol: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length mismatch");
    assert!(
        actual.iter().all(|v| v.is_finite()),
        "{what}: non-finite values"
    );
    let err = max_abs_diff(actual, expected);
    assert!(err <= tol, "{what}: max abs error {err:e} > {tol:e}");
}

/// The tiny detector's part fixtures merged into one checkpoint under torchvision's
/// whole-detector names, in a temporary file (the caller removes it).
pub fn tiny_detector_checkpoint() -> std::path::PathBuf {
    tiny_detector_checkpoint_named(|name| name.to_string())
}

/// [`tiny_detector_checkpoint`] with every torchvision key passed through `rename`.
pub fn tiny_detector_checkpoint_named(rename: impl Fn(&str) -> String) -> std::path::PathBuf {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let parts: Vec<(Vec<u8>, &str)> = [
        ("resnet_tiny.safetensors", "backbone.body."),
        ("fpn_tiny.safetensors", ""),
        ("rpn_tiny.safetensors", ""),
        ("roi_heads_tiny.safetensors", ""),
    ]
    .into_iter()
    .map(|(file, prefix)| (std::fs::read(fixture_path(file)).unwrap(), prefix))
    .collect();
    let views: Vec<(safetensors::SafeTensors, &str)> = parts
        .iter()
        .map(|(b, p)| (safetensors::SafeTensors::deserialize(b).unwrap(), *p))
        .collect();
    let mut tensors: std::collections::BTreeMap<String, safetensors::tensor::TensorView> =
        std::collections::BTreeMap::new();
    for (view, prefix) in &views {
        for (name, t) in view.tensors() {
            if prefix.is_empty() || !name.starts_with("fc.") {
                tensors.insert(
                    rename(&format!("{prefix}{name}")),
                    safetensors::tensor::TensorView::new(t.dtype(), t.shape().to_vec(), t.data())
                        .unwrap(),
                );
            }
        }
    }
    let path = std::env::temp_dir().join(format!(
        "avaloc-detector-{}-{call}.safetensors",
        std::process::id()
    ));
    safetensors::serialize_to_file(tensors, None, &path).unwrap();
    path
}

/// A shipped configuration's network table, by its path under `configs/`.
pub fn shipped(name: &str) -> avaloc::config::NetworkConfig {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name);
    avaloc::config::NetworkFile::load(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .network
}

/// The tiny detector of the reference scripts (`configs/detector/faster_rcnn_tiny.toml`:
/// ResNeXt [1, 1, 1, 1], 2 groups of 4, 32 FPN channels, 64-wide box head, 3 classes,
/// min/max size 160/256) with the fixtures' weights.
pub fn tiny_detector<B: Backend>(device: &B::Device) -> avaloc::models::detector::FasterRcnn<B> {
    use avaloc::weights::{Checkpoint, LoadMode};
    let avaloc::config::NetworkConfig::FasterRcnn(spec) = shipped("detector/faster_rcnn_tiny.toml")
    else {
        panic!("faster_rcnn_tiny.toml describes a detector")
    };
    let path = tiny_detector_checkpoint();
    let checkpoint = Checkpoint::open(&path).unwrap();
    let (model, report) = spec
        .load::<B>(&checkpoint, LoadMode::Strict, device)
        .unwrap();
    assert!(report.is_exact(), "{report}");
    std::fs::remove_file(path).unwrap();
    model
}

/// Runs the `avaloc` binary in the repository root.
pub fn avaloc(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_avaloc"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run avaloc")
}

/// Runs avaloc with `args` and kills it (SIGKILL) as soon as `marker` exists; the job must
/// still be running then.
pub fn kill_when(args: &[&str], marker: &std::path::Path) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_avaloc"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run avaloc");
    while !marker.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job ended before {} appeared",
            marker.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A safetensors file's tensors by name (the file's order of them is not fixed).
pub fn safetensors_by_name(path: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    safetensors::SafeTensors::deserialize(&bytes)
        .unwrap()
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, t.data().to_vec()))
        .collect()
}

/// A micro action model for end-to-end tests (one block per stage, width 8, α 2, 4 frames
/// 2 apart, group norm, 13 classes: the synthetic set's) with its `[test]` table.
pub const MICRO_ACTION: &str = r#"
[network]
kind = "slowfast"
num_classes = 13
frames = 4
sampling_rate = 2

[network.backbone]
blocks = [1, 1, 1, 1]
width_per_group = 8
norm = "group_norm"

[network.slowfast]
alpha = 2
beta_inv = 4
fusion_kernel = 3

[test]
short_sides = [48]
batch_size = 4
"#;

/// A bank manifest of `dim`-wide float16 features built by the synthetic set's model at short
/// side 112 from the training split's ground truth.
pub fn bank_manifest(dim: usize) -> avaloc::data::bank::BankManifest {
    use avaloc::data::bank::{BankDtype, BankManifest, BankView, BoxSource};
    BankManifest {
        format_version: 1,
        model_config: "configs/action/slowfast_synth.toml".into(),
        config_digest: "c0".into(),
        weights_digest: "w0".into(),
        dim,
        dtype: BankDtype::F16,
        view: BankView {
            short_side: 112,
            flip: false,
        },
        splits: [(
            "train".to_string(),
            BoxSource {
                boxes: "ground truth".into(),
                box_threshold: 0.0,
            },
        )]
        .into(),
    }
}

/// Whether the ffmpeg program runs; without it a test skips, unless AVALOC_REQUIRE_FFMPEG is
/// set (CI installs ffmpeg and sets it, so real videos are always decoded there).
pub fn ffmpeg_available(test: &str) -> bool {
    if std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok()
    {
        return true;
    }
    assert!(
        std::env::var_os("AVALOC_REQUIRE_FFMPEG").is_none(),
        "{test}: AVALOC_REQUIRE_FFMPEG is set but ffmpeg does not run"
    );
    eprintln!("{test}: skipped, no ffmpeg program");
    false
}

/// A command's stdout and stderr, for assertion messages.
pub fn log(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A micro detector (person + background, 72–96 px) with a one-epoch recipe.
pub const MICRO_DETECTOR: &str = r#"
[network]
kind = "faster_rcnn"
num_classes = 2
fpn_channels = 16
representation = 32
min_size = 72
max_size = 96

[network.backbone]
blocks = [1, 1, 1, 1]
base_channels = 8

[train]
epochs = 1
batch_size = 2
lr = 0.01
warmup_iters = 2
steps = [1]
workers = 1

[train.detector]
box_batch_per_image = 32
"#;

/// A micro CPN (64×32 crops) with a one-epoch recipe.
pub const MICRO_CPN: &str = r#"
[network]
kind = "cpn"
input_size = [64, 32]
channels = 8
refine_width = 4

[network.backbone]
blocks = [1, 1, 1, 1]
base_channels = 4
norm = "batch_norm"

[train]
epochs = 1
batch_size = 4
optimizer = "adamw"
lr = 1e-3
workers = 1

[train.pose]
kernels = [5, 3, 3, 3]
"#;
