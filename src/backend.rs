//! The backends compiled into this build, and the run-time `--backend` choice.
//!
//! Library code is generic over `B: Backend`; this is the one place (with `main.rs`) that names
//! concrete backends. A command describes its work as a [`Job`] (or a [`TrainJob`], which runs
//! on the autodiff variant of the chosen backend) and [`run`] / [`run_train`] instantiate it.

use anyhow::{Result, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};

/// A backend a user can ask for; each needs its cargo feature compiled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// Burn's fastest CPU backend (cargo feature `flex`, on by default).
    Flex,
    /// The ndarray CPU backend (cargo feature `ndarray`).
    Ndarray,
    /// WebGPU through wgpu: Vulkan, Metal or DX12 (cargo feature `wgpu`).
    Wgpu,
    /// NVIDIA GPUs through CUDA (cargo feature `cuda`).
    Cuda,
}

impl BackendKind {
    pub fn feature(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Ndarray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        }
    }

    pub fn is_compiled(self) -> bool {
        match self {
            Self::Flex => cfg!(feature = "flex"),
            Self::Ndarray => cfg!(feature = "ndarray"),
            Self::Wgpu => cfg!(feature = "wgpu"),
            Self::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends of this build.
    pub fn compiled() -> Vec<Self> {
        [Self::Flex, Self::Ndarray, Self::Wgpu, Self::Cuda]
            .into_iter()
            .filter(|k| k.is_compiled())
            .collect()
    }
}

/// A backend and, for GPUs, the device index (`None`: the default device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendChoice {
    pub kind: BackendKind,
    pub device: Option<usize>,
}

/// Work to run on whichever backend the user chose.
pub trait Job {
    type Output;
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output>;
}

/// Training work: runs on the autodiff variant of the chosen backend.
pub trait TrainJob {
    type Output;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output>;
}

macro_rules! dispatch {
    ($choice:expr, $job:expr, $wrap:ident) => {{
        let choice: BackendChoice = $choice;
        match choice.kind {
            #[cfg(feature = "flex")]
            BackendKind::Flex => {
                cpu_only(choice)?;
                return $job.run::<$wrap<burn::backend::Flex>>(Default::default());
            }
            #[cfg(feature = "ndarray")]
            BackendKind::Ndarray => {
                cpu_only(choice)?;
                return $job.run::<$wrap<burn::backend::NdArray>>(Default::default());
            }
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => {
                use burn::backend::wgpu::WgpuDevice;
                let device = match choice.device {
                    None => WgpuDevice::DefaultDevice,
                    Some(i) => WgpuDevice::DiscreteGpu(i),
                };
                return $job.run::<$wrap<burn::backend::Wgpu>>(device);
            }
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => {
                return $job.run::<$wrap<burn::backend::Cuda>>(cuda_device(choice));
            }
            #[allow(unreachable_patterns)]
            kind => not_compiled(kind),
        }
    }};
}

/// Identity wrapper so one dispatch table serves inference and training.
type Plain<B> = B;
type Trained<B> = burn::backend::Autodiff<B>;

/// Runs `job` on the chosen backend.
#[allow(unreachable_code)]
pub fn run<J: Job>(choice: BackendChoice, job: J) -> Result<J::Output> {
    dispatch!(choice, job, Plain)
}

/// Runs `job` on the autodiff variant of the chosen backend.
#[allow(unreachable_code)]
pub fn run_train<J: TrainJob>(choice: BackendChoice, job: J) -> Result<J::Output> {
    dispatch!(choice, job, Trained)
}

/// Runs `job` on the chosen backend with bfloat16 floats: CUDA only (flex computes in float32,
/// and wgpu's shaders have no bfloat16).
pub fn run_bf16<J: Job>(choice: BackendChoice, job: J) -> Result<J::Output> {
    match choice.kind {
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => job.run::<burn::backend::Cuda<half::bf16>>(cuda_device(choice)),
        kind => {
            drop(job);
            if kind == BackendKind::Cuda {
                return not_compiled(kind);
            }
            bail!(
                "bfloat16 runs on --backend cuda; {} computes in float32 here",
                kind.feature()
            )
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(choice: BackendChoice) -> burn::backend::cuda::CudaDevice {
    burn::backend::cuda::CudaDevice::new(choice.device.unwrap_or(0))
}

fn cpu_only(choice: BackendChoice) -> Result<()> {
    if let Some(i) = choice.device.filter(|&i| i != 0) {
        bail!(
            "--device {i}: the {} backend runs on the CPU and has only device 0",
            choice.kind.feature()
        );
    }
    Ok(())
}

fn not_compiled<T>(kind: BackendKind) -> Result<T> {
    let compiled: Vec<&str> = BackendKind::compiled()
        .iter()
        .map(|k| k.feature())
        .collect();
    bail!(
        "backend `{0}` is not compiled into this build (compiled: {1}); rebuild with \
         `cargo build --release --features {0}`",
        kind.feature(),
        compiled.join(", ")
    )
}
