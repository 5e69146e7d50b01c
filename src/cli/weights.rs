//! `avaloc weights inspect FILE` and `avaloc weights check --config C FILE`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::backend::{self, BackendChoice, Job};
use crate::config::{NetworkConfig, NetworkFile};
use crate::weights::{Checkpoint, LoadMode, LoadReport};

#[derive(Debug, Subcommand)]
pub enum WeightsCommand {
    /// List a checkpoint's tensors: name, shape, dtype (safetensors or PyTorch files).
    Inspect(InspectArgs),
    /// Load a checkpoint strictly into the network a config describes and print the report;
    /// the exit status is non-zero when they do not fit.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A network configuration (TOML), e.g. configs/backbone/resnet50.toml.
    #[arg(long)]
    pub config: PathBuf,
    pub file: PathBuf,
    #[arg(long)]
    pub top_level_key: Option<String>,
    /// Accept missing, unexpected and mis-shaped tensors (skipped and listed), as when
    /// fine-tuning from a checkpoint with another head.
    #[arg(long)]
    pub lenient: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A .safetensors, .pth, .pyth or .pt file.
    pub file: PathBuf,
    /// Read the weights under this top-level key (default: `model_state`, `state_dict` or
    /// `model` when the file nests them under exactly one of those).
    #[arg(long)]
    pub top_level_key: Option<String>,
}

pub fn run(command: WeightsCommand, backend: BackendChoice) -> Result<()> {
    match command {
        WeightsCommand::Inspect(args) => inspect(args),
        WeightsCommand::Check(args) => {
            let network = NetworkFile::load(&args.config)?.network;
            let checkpoint = Checkpoint::open_nested(&args.file, args.top_level_key.as_deref())?;
            let mode = if args.lenient {
                LoadMode::Lenient
            } else {
                LoadMode::Strict
            };
            let report = backend::run(
                backend,
                CheckJob {
                    network,
                    checkpoint,
                    mode,
                },
            )?;
            print!("{report}");
            println!("{}: fits {}", args.file.display(), args.config.display());
            Ok(())
        }
    }
}

struct CheckJob {
    network: NetworkConfig,
    checkpoint: Checkpoint,
    mode: LoadMode,
}

impl Job for CheckJob {
    type Output = LoadReport;

    fn run<B: burn::tensor::backend::Backend>(self, device: B::Device) -> Result<LoadReport> {
        Ok(self
            .network
            .load_weights::<B>(&self.checkpoint, self.mode, &device)?)
    }
}

fn inspect(args: InspectArgs) -> Result<()> {
    let checkpoint = Checkpoint::open_nested(&args.file, args.top_level_key.as_deref())?;
    let tensors = checkpoint.tensors();
    let name_width = tensors.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut parameters = 0usize;
    for t in &tensors {
        parameters += t.shape.iter().product::<usize>();
        let shape = format!("{:?}", t.shape);
        println!("{:<name_width$}  {:<20}  {:?}", t.name, shape, t.dtype);
    }
    let nested = checkpoint
        .nested_under()
        .map(|k| format!(", under `{k}`"))
        .unwrap_or_default();
    println!(
        "{}: {} file{nested}, {} tensors, {} values",
        checkpoint.path().display(),
        checkpoint.format(),
        tensors.len(),
        parameters
    );
    Ok(())
}
