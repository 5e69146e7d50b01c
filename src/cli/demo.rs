//! `avaloc demo`: the seed system on the synthetic dataset, from scratch (`crate::demo`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::backend::BackendChoice;
use crate::demo::DemoOptions;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The synthetic dataset (written there first when absent).
    #[arg(long, default_value = "data/synth")]
    pub data: PathBuf,
    /// Run folder: base/, lfb/, arm/ (checkpoints, metrics, curves), bank/, the systems,
    /// the test runs, ablation.png, video/ (annotated.mp4, index.html).
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// The baseline S (default: configs/action/slowfast_synth.toml, built in).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// SlowFast + LFB with the global feature (default:
    /// configs/action/slowfast_lfb_g_synth.toml: heads on S's frozen backbone).
    #[arg(long)]
    pub lfb_config: Option<PathBuf>,
    /// The arm branch (default: configs/action/slowfast_arm_synth.toml, trained 6 epochs
    /// rather than its 10 to fit the demo's budget).
    #[arg(long)]
    pub arm_config: Option<PathBuf>,
    /// Train again even when the run folder holds finished trainings.
    #[arg(long)]
    pub retrain: bool,
    /// Override every training's train.epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Annotated keyframes of the video's summary page.
    #[arg(long, default_value_t = crate::demo::PICTURES)]
    pub pictures: usize,
    /// Then the seed's whole ablation, every variant on the same budget (heads on S's
    /// backbone, the arm branch's epochs): S + G, S + L, S + G + L with each bank operator
    /// (avg, max, non-local), and the arm branch sharing S's backbone or separate; the table
    /// on the test keyframes, a plot, and whether each feature raised the classes it is for.
    #[arg(long)]
    pub ablation: bool,
    /// Then the person detector (configs/detector/faster_rcnn_synth.toml, OUT/detector/) and
    /// CPN (configs/pose/cpn_synth.toml, OUT/pose/) trained from scratch too, and the whole
    /// system run with them — no given boxes or keypoints — on the test split (OUT/test_full/)
    /// and on the held-out video (OUT/video_full/).
    #[arg(long)]
    pub full: bool,
    /// The detector for --full (default: configs/detector/faster_rcnn_synth.toml, built in).
    #[arg(long, requires = "full")]
    pub detector_config: Option<PathBuf>,
    /// CPN for --full (default: configs/pose/cpn_synth.toml, built in).
    #[arg(long, requires = "full")]
    pub pose_config: Option<PathBuf>,
}

pub fn run(args: DemoArgs, backend: BackendChoice) -> Result<()> {
    let options = DemoOptions {
        data: args.data,
        out: args.out,
        config: args.config,
        lfb_config: args.lfb_config,
        arm_config: args.arm_config,
        retrain: args.retrain,
        epochs: args.epochs,
        pictures: args.pictures,
        ablation: args.ablation,
        full: args.full,
        detector_config: args.detector_config,
        pose_config: args.pose_config,
    };
    crate::demo::run(&options, backend)
}
