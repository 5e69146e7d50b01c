//! The `avaloc` command line: one file per subcommand.

mod actions;
mod backend_check;
mod bank;
mod dataset;
mod demo;
mod eval;
mod fuse;
mod localize;
mod persons;
mod poses;
mod synth;
mod train;
mod weights;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::backend::{BackendChoice, BackendKind};

#[derive(Debug, Parser)]
#[command(
    name = "avaloc",
    version,
    about = "Spatio-temporal action localization for AVA on Burn"
)]
pub struct Cli {
    /// Backend to run on (each needs its cargo feature compiled in).
    #[arg(long, global = true, value_enum, default_value = "flex")]
    pub backend: BackendKind,
    /// Device index for GPU backends (default: the first device).
    #[arg(long, global = true)]
    pub device: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The seed system trained from scratch on the synthetic set: its test table and one
    /// annotated video.
    ///
    /// Trains S, builds its bank, trains S + G + L and the arm branch, chooses the fusion
    /// classes on validation, prints the test table and localizes one held-out video;
    /// --ablation trains every variant, --full the detector and CPN too.
    Demo(demo::DemoArgs),
    /// Inspect checkpoints and check them against networks.
    #[command(subcommand)]
    Weights(weights::WeightsCommand),
    /// AVA frame-mAP at IoU 0.5 of a detections CSV (official protocol).
    Eval(eval::EvalArgs),
    /// Write the synthetic AVA-format dataset (frames, annotations, boxes, keypoints).
    Synth(synth::SynthArgs),
    /// Person boxes at every keyframe (one per second; every frame on request) of frames, a
    /// video or an image.
    Persons(persons::PersonsArgs),
    /// 17 COCO keypoints (CPN) for given person boxes at every keyframe, as a keypoint CSV.
    Poses(poses::PosesArgs),
    /// Action scores for given person boxes at every keyframe, as an AVA detections CSV.
    Actions(actions::ActionsArgs),
    /// Train a network from its configuration (checkpoints, resume, validation each epoch).
    #[command(subcommand)]
    Train(train::TrainCommand),
    /// The long-term feature bank: build one with a trained action model, inspect one.
    #[command(subcommand)]
    Bank(bank::BankCommand),
    /// The whole system (configs/system/*.toml) from a video, frames or a dataset split to
    /// detections, an annotated video and a summary page; resumable stage by stage.
    Localize(Box<localize::LocalizeArgs>),
    /// Fuse the arm branch's scores into the action model's: choose the classes, apply.
    #[command(subcommand)]
    Fuse(fuse::FuseCommand),
    /// Every network on the chosen backend (`--backend cuda`) against flex, the CPU
    /// reference: the largest output difference and both forward times.
    BackendCheck(backend_check::BackendCheckArgs),
}

impl Cli {
    pub fn backend_choice(&self) -> BackendChoice {
        BackendChoice {
            kind: self.backend,
            device: self.device,
        }
    }
}

/// Parses the command line and runs the command.
pub fn main() -> Result<()> {
    let cli = Cli::parse();
    let backend = cli.backend_choice();
    match cli.command {
        Command::Weights(command) => weights::run(command, backend),
        Command::Eval(args) => eval::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Persons(args) => persons::run(args, backend),
        Command::Demo(args) => demo::run(args, backend),
        Command::BackendCheck(args) => backend_check::run(args, backend),
        Command::Poses(args) => poses::run(args, backend),
        Command::Actions(args) => actions::run(args, backend),
        Command::Train(command) => train::run(command, backend),
        Command::Bank(command) => bank::run(command, backend),
        Command::Fuse(command) => fuse::run(command),
        Command::Localize(args) => localize::run(*args, backend),
    }
}
