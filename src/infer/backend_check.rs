//! Every network on a backend against flex, the CPU reference, with the same seeded weights
//! (written once, loaded strictly by both sides) and the same inputs: the largest difference
//! of their outputs, and each side's forward time (`avaloc backend-check`,
//! `scripts/gpu_check.sh`).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::backend::Flex;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor, TensorData};
use serde::Deserialize;

use crate::backend::Job;
use crate::config::NetworkConfig;
use crate::data::ScratchDir;
use crate::weights::{Checkpoint, LoadMode, save_safetensors};

/// One network's comparison.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub network: &'static str,
    pub input: String,
    /// Largest absolute difference between the two backends' outputs.
    pub max_diff: f32,
    /// Largest magnitude of flex's outputs.
    pub scale: f32,
    pub flex_ms: f64,
    pub backend_ms: f64,
    pub within_tolerance: bool,
}

/// The table: one row per network.
pub fn render(rows: &[Row], backend: &str) -> String {
    let mut out = Vec::new();
    let _ = writeln!(
        out,
        "{:<28} {:<26} {:>10} {:>9} {:>13} {:>10} {:>8}",
        "network",
        "input",
        "max |Δ|",
        "scale",
        "flex (ref) ms",
        format!("{backend} ms"),
        "speedup"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<28} {:<26} {:>10.2e} {:>9.3} {:>13.1} {:>10.1} {:>7.2}×{}",
            r.network,
            r.input,
            r.max_diff,
            r.scale,
            r.flex_ms,
            r.backend_ms,
            r.flex_ms / r.backend_ms.max(1e-9),
            if r.within_tolerance {
                ""
            } else {
                "  OVER TOLERANCE"
            }
        );
    }
    String::from_utf8(out).expect("utf-8")
}

/// The comparison as a job: every workload (the large ones where `large`), `repeat` timed
/// forward passes each.
pub struct BackendCheck {
    pub repeat: usize,
    pub large: bool,
    pub tolerance: f32,
}

impl Job for BackendCheck {
    type Output = Vec<Row>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<Row>> {
        let scratch = ScratchDir::new("backend-check")?;
        let mut rows = Vec::new();
        for (i, workload) in WORKLOADS
            .iter()
            .filter(|w| !w.large || self.large)
            .enumerate()
        {
            let network = network(workload.config)?;
            let weights = scratch.path().join(format!("network_{i}.safetensors"));
            write_weights(&network, &weights)?;
            let input = workload.input.shape(&network);
            let (reference, flex_ms) = workload.run::<Flex>(
                &network,
                &input,
                &weights,
                &Default::default(),
                self.repeat,
            )?;
            let (outputs, backend_ms) =
                workload.run::<B>(&network, &input, &weights, &device, self.repeat)?;
            let max_diff = reference
                .iter()
                .zip(&outputs)
                .map(|(a, b)| (a - b).abs())
                .fold(
                    0.0f32,
                    |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) },
                );
            let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let within =
                outputs.len() == reference.len() && max_diff <= self.tolerance * scale.max(1.0);
            let dims: Vec<String> = input.iter().map(|v| v.to_string()).collect();
            let row = Row {
                network: workload.name,
                input: match workload.input {
                    Input::Clips(_) => format!("{} + 4 boxes", dims.join("×")),
                    _ => dims.join("×"),
                },
                max_diff,
                scale,
                flex_ms,
                backend_ms,
                within_tolerance: within,
            };
            tracing::info!(
                "{}: max |Δ| {:.2e}, flex {:.1} ms, this backend {:.1} ms",
                row.network,
                row.max_diff,
                row.flex_ms,
                row.backend_ms
            );
            rows.push(row);
        }
        Ok(rows)
    }
}

/// The networks compared; `large`: one of `--large`'s full-size ones.
const WORKLOADS: [Workload; 6] = [
    Workload {
        name: "SlowFast synth",
        config: include_str!("../../configs/action/slowfast_synth.toml"),
        input: Input::Clips([4, 3, 8, 112, 112]),
        large: false,
    },
    Workload {
        name: "Faster R-CNN synth (FPN)",
        config: include_str!("../../configs/detector/faster_rcnn_synth.toml"),
        input: Input::Images([2, 3, 224, 320]),
        large: false,
    },
    Workload {
        name: "CPN synth",
        config: include_str!("../../configs/pose/cpn_synth.toml"),
        input: Input::Crops(8),
        large: false,
    },
    Workload {
        name: "SlowFast R50 32×2",
        config: include_str!("../../configs/action/slowfast_r50_32x2_ava.toml"),
        input: Input::Clips([1, 3, 32, 224, 224]),
        large: true,
    },
    Workload {
        name: "Faster R-CNN R50-FPN (FPN)",
        config: include_str!("../../configs/detector/faster_rcnn_r50_fpn.toml"),
        input: Input::Images([1, 3, 800, 1344]),
        large: true,
    },
    Workload {
        name: "CPN R50",
        config: include_str!("../../configs/pose/cpn_r50_256x192.toml"),
        input: Input::Crops(16),
        large: true,
    },
];

/// A shipped config's `[network]` table (the rest of the file is not needed here).
#[derive(Deserialize)]
struct NetworkTable {
    network: NetworkConfig,
}

fn network(config: &str) -> Result<NetworkConfig> {
    Ok(toml::from_str::<NetworkTable>(config)
        .context("a shipped config that does not parse")?
        .network)
}

/// Seeded standard-normal (or uniform in [0, 1)) values of `shape`, drawn on flex so that
/// every backend reads the same input.
fn seeded<const D: usize>(shape: [usize; D], uniform: bool, seed: u64) -> TensorData {
    let device = Default::default();
    Flex::seed(&device, seed);
    let distribution = if uniform {
        Distribution::Uniform(0.0, 1.0)
    } else {
        Distribution::Normal(0.0, 1.0)
    };
    Tensor::<Flex, D>::random(shape, distribution, &device).into_data()
}

/// Seeded weights of `network`, written where both backends load them from.
fn write_weights(network: &NetworkConfig, path: &Path) -> Result<()> {
    let device = Default::default();
    Flex::seed(&device, 0);
    let saved = match network {
        NetworkConfig::Slowfast(spec) => {
            save_safetensors(&spec.model_config().init::<Flex>(&device), path)
        }
        NetworkConfig::FasterRcnn(spec) => {
            save_safetensors(&spec.model_config().init::<Flex>(&device), path)
        }
        NetworkConfig::Cpn(spec) => {
            save_safetensors(&spec.model_config().init::<Flex>(&device), path)
        }
        NetworkConfig::Resnet(_) => bail!("no ResNet workload"),
    };
    saved.with_context(|| format!("writing {}", path.display()))
}

/// One network compared: a shipped config and what it reads.
struct Workload {
    name: &'static str,
    config: &'static str,
    input: Input,
    large: bool,
}

/// A workload's input: SlowFast clips `[N, 3, T, H, W]` (with 4 boxes), images for the
/// detector's backbone, or a number of crops at CPN's input size.
enum Input {
    Clips([usize; 5]),
    Images([usize; 4]),
    Crops(usize),
}

impl Input {
    fn shape(&self, network: &NetworkConfig) -> Vec<usize> {
        match (self, network) {
            (Self::Clips(d), _) => d.to_vec(),
            (Self::Images(d), _) => d.to_vec(),
            (Self::Crops(n), NetworkConfig::Cpn(spec)) => {
                let [h, w] = spec.model_config().input_hw;
                vec![*n, 3, h, w]
            }
            (Self::Crops(n), _) => vec![*n],
        }
    }
}

impl Workload {
    /// The network's outputs on `B`, flattened, and the median forward time in ms.
    fn run<B: Backend>(
        &self,
        network: &NetworkConfig,
        input: &[usize],
        weights: &Path,
        device: &B::Device,
        repeat: usize,
    ) -> Result<(Vec<f32>, f64)> {
        let checkpoint = Checkpoint::open(weights)?;
        let strict = LoadMode::Strict;
        let forward: Box<dyn Fn() -> Vec<TensorData>> = match (&self.input, network) {
            (Input::Clips(shape), NetworkConfig::Slowfast(spec)) => {
                let (model, _) = spec.load::<B>(&checkpoint, strict, device)?;
                let clips = Tensor::<B, 5>::from_data(seeded(*shape, false, 1), device);
                let [n, _, _, h, w] = shape.map(|v| v as f32);
                let rois: Vec<f32> = (0..4)
                    .flat_map(|i| {
                        let i = i as f32;
                        [i % n, 0.1 * w + i, 0.05 * h, 0.6 * w + i, 0.9 * h]
                    })
                    .collect();
                let rois = Tensor::<B, 2>::from_data(TensorData::new(rois, [4, 5]), device);
                Box::new(move || {
                    vec![
                        model
                            .clip_scores(clips.clone(), rois.clone(), None)
                            .into_data(),
                    ]
                })
            }
            (Input::Images(shape), NetworkConfig::FasterRcnn(spec)) => {
                let (model, _) = spec.load::<B>(&checkpoint, strict, device)?;
                let images = Tensor::<B, 4>::from_data(seeded(*shape, true, 2), device);
                Box::new(move || {
                    model
                        .backbone
                        .forward(images.clone())
                        .into_iter()
                        .map(Tensor::into_data)
                        .collect()
                })
            }
            (Input::Crops(_), NetworkConfig::Cpn(spec)) => {
                let (model, _) = spec.load::<B>(&checkpoint, strict, device)?;
                let shape: [usize; 4] = input.try_into().expect("CPN crops are 4-D");
                let crops = Tensor::<B, 4>::from_data(seeded(shape, false, 3), device);
                Box::new(move || vec![model.forward(crops.clone()).refine.into_data()])
            }
            _ => bail!("{}: the config is not of this workload's kind", self.name),
        };
        // One untimed pass: a GPU compiles (and autotunes) its kernels on the first.
        let outputs = forward()
            .into_iter()
            .flat_map(|t| t.convert::<f32>().into_vec::<f32>().unwrap_or_default())
            .collect();
        let mut times: Vec<f64> = (0..repeat.max(1))
            .map(|_| {
                let start = Instant::now();
                drop(forward());
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        Ok((outputs, times[times.len() / 2]))
    }
}
