//! `avaloc synth`: write the synthetic AVA-format dataset.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::data::synth::{SynthConfig, generate, generate_kinetics};

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Dataset root (frames/, annotations/, frame_lists/ are written under it).
    #[arg(long, default_value = "data/synth")]
    pub out: PathBuf,
    #[arg(long, default_value_t = SynthConfig::default().train_videos)]
    pub train_videos: usize,
    #[arg(long, default_value_t = SynthConfig::default().val_videos)]
    pub val_videos: usize,
    /// Held-out labelled videos (`ava_test_v2.2.csv`, ...): select on val, report on test.
    #[arg(long, default_value_t = SynthConfig::default().test_videos)]
    pub test_videos: usize,
    /// Length of each video in seconds (keyframes at seconds 2 .. length - 2).
    #[arg(long, default_value_t = SynthConfig::default().seconds)]
    pub seconds: usize,
    #[arg(long, default_value_t = SynthConfig::default().width)]
    pub width: u32,
    #[arg(long, default_value_t = SynthConfig::default().height)]
    pub height: u32,
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    pub seed: u64,
    /// Also a Kinetics-style part: this many 10-second clips per split, one annotated keyframe
    /// each, people larger and closer (`annotations/kinetics_<split>_v1.0.csv`, ...).
    #[arg(long, default_value_t = 0)]
    pub kinetics: usize,
}

pub fn run(args: SynthArgs) -> Result<()> {
    let config = SynthConfig {
        train_videos: args.train_videos,
        val_videos: args.val_videos,
        test_videos: args.test_videos,
        seconds: args.seconds,
        width: args.width,
        height: args.height,
        seed: args.seed,
    };
    let start = Instant::now();
    let summary =
        generate(&args.out, &config).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {} videos, {} frames, {} keyframes, {} detector boxes in {:.1} s",
        args.out.display(),
        summary.videos,
        summary.frames,
        summary.keyframes,
        summary.person_boxes,
        start.elapsed().as_secs_f64()
    );
    for (id, count) in summary.label_counts {
        println!("  action {id:>2}: {count} annotations");
    }
    if args.kinetics > 0 {
        let kinetics = generate_kinetics(&args.out, &config, args.kinetics)
            .with_context(|| format!("writing {}", args.out.display()))?;
        println!(
            "{}: a Kinetics part of {} clips, {} keyframes, {} detector boxes",
            args.out.display(),
            kinetics.videos,
            kinetics.keyframes,
            kinetics.person_boxes
        );
    }
    Ok(())
}
