//! Strict weight import: a small PyTorch network (tests/reference/weights.py) loaded from
//! every container we read must reproduce PyTorch's output; broken checkpoints must be
//! reported in full; our own safetensors must round-trip bit-identically.

mod common;

use std::path::PathBuf;

use avaloc::weights::{Checkpoint, KeyMap, LoadMode, WeightsError, load_into, save_safetensors};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Tensor, activation::relu, backend::Backend};
use common::{Fixture, TestBackend, assert_close, fixture_path, values};

#[derive(Module, Debug)]
struct TinyNet<B: Backend> {
    conv: Conv2d<B>,
    bn: BatchNorm<B>,
    fc: Linear<B>,
}

impl<B: Backend> TinyNet<B> {
    fn new(device: &B::Device) -> Self {
        Self {
            conv: Conv2dConfig::new([3, 4], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            bn: BatchNormConfig::new(4).init(device),
            fc: LinearConfig::new(4, 5).init(device),
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = relu(self.bn.forward(self.conv.forward(x)));
        let [n, c, _, _] = x.dims();
        self.fc.forward(x.mean_dim(2).mean_dim(3).reshape([n, c]))
    }
}

fn load(
    file: &str,
    mode: LoadMode,
) -> Result<(TinyNet<TestBackend>, avaloc::weights::LoadReport), WeightsError> {
    let checkpoint = Checkpoint::open(fixture_path(file))?;
    load_into(
        TinyNet::new(&Default::default()),
        &checkpoint,
        &KeyMap::identity(),
        mode,
    )
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("avaloc-test-{}-{name}", std::process::id()))
}

#[test]
fn every_container_reproduces_pytorch_output() {
    let io = Fixture::open("weights_io");
    let expected = io.floats("output");
    for file in [
        "weights_tiny.safetensors",
        "weights_tiny.pth",
        "weights_tiny_legacy.pth",
        "weights_tiny_nested.pyth",
        "weights_tiny_f64.pth",
    ] {
        let (net, report) = load(file, LoadMode::Strict).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(report.is_exact(), "{file}: {report}");
        assert_eq!(
            report.loaded, 8,
            "{file}: conv w/b, bn gamma/beta/mean/var, fc w/b"
        );
        assert_eq!(report.ignored, 1, "{file}: num_batches_tracked");
        let out = net.forward(io.tensor("input"));
        assert_close(file, &values(out), &expected, 1e-5);
    }
}

#[test]
fn nested_checkpoints_expose_only_the_weights() {
    let checkpoint = Checkpoint::open(fixture_path("weights_tiny_nested.pyth")).unwrap();
    assert_eq!(checkpoint.nested_under(), Some("model_state"));
    let names: Vec<String> = checkpoint.tensors().into_iter().map(|t| t.name).collect();
    assert!(names.contains(&"fc.weight".to_string()));
    assert!(names.iter().all(|n| !n.contains("optimizer")), "{names:?}");

    let explicit = Checkpoint::open_nested(
        fixture_path("weights_tiny_nested.pyth"),
        Some("optimizer_state"),
    )
    .unwrap();
    assert!(
        explicit
            .tensors()
            .iter()
            .all(|t| t.name.starts_with("state."))
    );
}

#[test]
fn strict_load_lists_every_problem_at_once() {
    let err = load("weights_tiny_broken.safetensors", LoadMode::Strict).unwrap_err();
    let WeightsError::Mismatch { path, report } = &err else {
        panic!("expected a mismatch, got {err}");
    };
    assert!(path.ends_with("weights_tiny_broken.safetensors"));
    assert_eq!(report.missing, vec!["fc.bias".to_string()]);
    assert_eq!(
        report.unexpected,
        vec![(
            "head.extra.weight".to_string(),
            "head.extra.weight".to_string()
        )]
    );
    assert_eq!(report.shape_mismatches.len(), 1);
    let m = &report.shape_mismatches[0];
    assert_eq!(
        (m.param.as_str(), &m.expected[..], &m.found[..]),
        ("conv.weight", &[4, 3, 3, 3][..], &[4, 3, 5, 5][..])
    );
    let message = err.to_string();
    for needle in [
        "weights_tiny_broken.safetensors",
        "fc.bias",
        "head.extra.weight",
        "conv.weight",
        "[4, 3, 5, 5]",
    ] {
        assert!(message.contains(needle), "{needle} not in:\n{message}");
    }
}

#[test]
fn lenient_load_skips_what_does_not_fit() {
    let fresh = TinyNet::<TestBackend>::new(&Default::default());
    // Parameters initialise lazily: read them so the clone below shares these values.
    let (fresh_bias, fresh_conv) = (
        values(fresh.fc.bias.as_ref().unwrap().val()),
        values(fresh.conv.weight.val()),
    );
    let checkpoint = Checkpoint::open(fixture_path("weights_tiny_broken.safetensors")).unwrap();
    let (net, report) = load_into(
        fresh.clone(),
        &checkpoint,
        &KeyMap::identity(),
        LoadMode::Lenient,
    )
    .unwrap();
    assert_eq!(report.missing, vec!["fc.bias".to_string()]);
    assert_eq!(report.shape_mismatches.len(), 1);
    // Skipped parameters keep their initialisation; the rest come from the file.
    assert_eq!(values(net.fc.bias.clone().unwrap().val()), fresh_bias);
    assert_eq!(values(net.conv.weight.val()), fresh_conv);
    let reference = load("weights_tiny.safetensors", LoadMode::Strict)
        .unwrap()
        .0;
    assert_eq!(values(net.bn.gamma.val()), values(reference.bn.gamma.val()));
}

#[test]
fn key_maps_rename_and_ignore() {
    let map = KeyMap::identity()
        .ignore(r"^optimizer\.")
        .rename(r"^backbone\.body\.", "backbone.")
        .rename(r"\.downsample\.0\.", ".downsample.conv.");
    assert_eq!(
        map.map("backbone.body.layer1.0.downsample.0.weight")
            .as_deref(),
        Some("backbone.layer1.0.downsample.conv.weight")
    );
    assert_eq!(map.map("optimizer.state"), None);
    assert_eq!(map.map("layer1.0.bn1.num_batches_tracked"), None);
}

#[test]
fn saved_safetensors_load_back_bit_identically() {
    let (net, _) = load("weights_tiny.pth", LoadMode::Strict).unwrap();
    let path = temp_path("roundtrip.safetensors");
    save_safetensors(&net, &path).unwrap();
    let checkpoint = Checkpoint::open(&path).unwrap();
    assert!(checkpoint.is_native());
    let (back, report) = load_into(
        TinyNet::<TestBackend>::new(&Default::default()),
        &checkpoint,
        &KeyMap::identity(),
        LoadMode::Strict,
    )
    .unwrap();
    assert!(report.is_exact(), "{report}");
    let params = |n: &TinyNet<TestBackend>| {
        [
            values(n.conv.weight.val()),
            values(n.conv.bias.clone().unwrap().val()),
            values(n.bn.gamma.val()),
            values(n.bn.beta.val()),
            values(n.bn.running_mean.value()),
            values(n.bn.running_var.value()),
            values(n.fc.weight.val()),
            values(n.fc.bias.clone().unwrap().val()),
        ]
    };
    let bits = |vs: [Vec<f32>; 8]| vs.map(|v| v.into_iter().map(f32::to_bits).collect::<Vec<_>>());
    assert_eq!(bits(params(&back)), bits(params(&net)));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unreadable_files_are_errors_naming_the_file() {
    let missing = Checkpoint::open("/nonexistent/model.pth").err().unwrap();
    assert!(
        missing.to_string().contains("/nonexistent/model.pth"),
        "{missing}"
    );

    let junk = temp_path("junk.pth");
    std::fs::write(&junk, b"this is not a checkpoint at all").unwrap();
    let err = Checkpoint::open(&junk).err().unwrap().to_string();
    assert!(
        err.contains("junk.pth") && err.contains("not a safetensors or PyTorch"),
        "{err}"
    );

    let truncated = temp_path("truncated.safetensors");
    let bytes = std::fs::read(fixture_path("weights_tiny.safetensors")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = Checkpoint::open(&truncated).err().unwrap().to_string();
    assert!(err.contains("truncated.safetensors"), "{err}");
    for p in [junk, truncated] {
        std::fs::remove_file(p).unwrap();
    }
}

/// A checkpoint tensor holding NaN or infinite values loads, and the report names it with
/// its count (the load also logs a warning naming it).
#[test]
fn non_finite_tensors_are_named() {
    let (mut net, report) = load("weights_tiny.pth", LoadMode::Strict).unwrap();
    assert!(report.non_finite.is_empty(), "{report}");
    let mut weight = values(net.fc.weight.val());
    weight[3] = f32::NAN;
    weight[7] = f32::INFINITY;
    let device = Default::default();
    net.fc.weight = burn::module::Param::from_tensor(Tensor::from_data(
        burn::tensor::TensorData::new(weight, [4, 5]),
        &device,
    ));
    let path = temp_path("nan.safetensors");
    save_safetensors(&net, &path).unwrap();
    let checkpoint = Checkpoint::open(&path).unwrap();
    let (_, report) = load_into(
        TinyNet::<TestBackend>::new(&device),
        &checkpoint,
        &KeyMap::identity(),
        LoadMode::Strict,
    )
    .unwrap();
    assert_eq!(report.non_finite, vec![("fc.weight".to_string(), 2)]);
    assert!(
        report.to_string().contains("fc.weight: 2 values"),
        "{report}"
    );
    std::fs::remove_file(&path).unwrap();
}

/// A safetensors header of 128 bytes begins the file with 0x80, the byte that opens a pickle:
/// the file is still read as safetensors (a 56 MB CPN R50 checkpoint avaloc wrote was refused).
#[test]
fn a_safetensors_header_length_starting_with_0x80_is_not_a_pickle() {
    let mut header = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.to_string();
    header.push_str(&" ".repeat(0x80 - header.len()));
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    assert_eq!(bytes[0], 0x80);
    bytes.extend_from_slice(header.as_bytes());
    for v in [1.5f32, -2.0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let path = temp_path("header_0x80.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let checkpoint = Checkpoint::open(&path);
    std::fs::remove_file(&path).unwrap();
    let checkpoint = checkpoint.unwrap();
    let tensors = checkpoint.tensors();
    assert_eq!(tensors.len(), 1);
    assert_eq!(
        (tensors[0].name.as_str(), &tensors[0].shape[..]),
        ("w", &[2usize][..])
    );
}
