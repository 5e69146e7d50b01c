//! The seed system on the synthetic dataset, from scratch on the CPU (`avaloc demo`): write
//! the dataset if absent; train the baseline SlowFast S, which builds the long-term feature
//! bank; train SlowFast + LFB with the global feature (S + G + L) from it; train the arm
//! branch; choose the fusion classes on the validation split; then, on the held-out test
//! split, the seed's §2.4.1-style table (S, S + G + L, + arm fusion) with a plot, and
//! `localize` on one held-out video from its raw frames to an annotated video. On request,
//! the whole ablation ([`ablation`]) and the system with a trained detector and CPN
//! ([`full`]).
//!
//! The person boxes are the synthetic set's detector-like boxes and the keypoints its ground
//! truth, not a trained detector's and CPN's: the output says so.

mod ablation;
mod configs;
mod full;
mod recipe;
mod systems;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::backend::{self, BackendChoice};
use crate::data::bank::BankDtype;
use crate::data::synth::{SYNTH_CLASSES, SynthConfig, generate};
use crate::data::{DatasetFiles, LabelMap, read_ava_csv};
use crate::eval::{FrameMapResult, comparison_table, write_comparison_plot};
use crate::infer::bank::{BankRequest, Split};
use crate::localize::videos::Source;
use crate::localize::{ACTION_SCORES, DETECTIONS, PAGE};
use crate::train::RunInputs;
use configs::ConfigPaths;
use recipe::Demo;
use systems::{BOX_THRESHOLD, Input, Model, Parts};

/// The trained networks' folders in the run folder, and the fusion classes' file.
const S_DIR: &str = "base";
const LFB_DIR: &str = "lfb";
const ARM_DIR: &str = "arm";
const DETECTOR_DIR: &str = "detector";
const POSE_DIR: &str = "pose";
const FUSION: &str = "fusion.toml";

/// What `avaloc demo` is asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The synthetic dataset (written there first when absent).
    pub data: PathBuf,
    /// The run folder.
    pub out: PathBuf,
    /// The baseline S, S + G + L and the arm branch (the built-in configs where absent).
    pub config: Option<PathBuf>,
    pub lfb_config: Option<PathBuf>,
    pub arm_config: Option<PathBuf>,
    /// Train again even when the run folder holds finished trainings.
    pub retrain: bool,
    /// Override every training's train.epochs.
    pub epochs: Option<usize>,
    /// Annotated keyframes of the video's summary page.
    pub pictures: usize,
    /// Then the seed's whole ablation.
    pub ablation: bool,
    /// Then the detector and CPN trained too, and the system run with them (their configs:
    /// the built-in ones where absent).
    pub full: bool,
    pub detector_config: Option<PathBuf>,
    pub pose_config: Option<PathBuf>,
}

impl DemoOptions {
    /// The default demo on the dataset `data` into the run folder `out`.
    pub fn new(data: PathBuf, out: PathBuf) -> Self {
        Self {
            data,
            out,
            config: None,
            lfb_config: None,
            arm_config: None,
            retrain: false,
            epochs: None,
            pictures: PICTURES,
            ablation: false,
            full: false,
            detector_config: None,
            pose_config: None,
        }
    }
}

/// Annotated keyframes of the video's summary page, by default.
pub const PICTURES: usize = 12;

/// Runs the demo.
pub fn run(options: &DemoOptions, backend: BackendChoice) -> Result<()> {
    let start = Instant::now();
    let data = &options.data;
    if !data.join("annotations/ava_train_v2.2.csv").exists() {
        tracing::info!("writing the synthetic dataset to {}", data.display());
        let summary = generate(data, &SynthConfig::default())
            .with_context(|| format!("writing {}", data.display()))?;
        tracing::info!(
            "{} videos, {} keyframes ({:.0} s)",
            summary.videos,
            summary.keyframes,
            start.elapsed().as_secs_f64()
        );
    } else {
        check_synthetic_set(data)?;
    }
    let out = &options.out;
    if options.retrain && out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let configs = ConfigPaths::new(options);
    configs.write_action_configs(options)?;
    let dataset = DatasetFiles::at(data);
    let demo = Demo {
        options,
        backend,
        labelmap: dataset.labelmap(),
        arm_labelmap: configs.arm_labels.clone(),
        dataset,
    };

    // S, the bank it builds of the training and validation videos, S + G + L from S, and
    // the arm branch.
    let base = demo.train("S", &configs.base, false, RunInputs::default(), None, S_DIR)?;
    let bank = demo.out("bank");
    build_bank(&demo, &base, &bank)?;
    let with_bank = RunInputs {
        bank: Some(bank.clone()),
        ..RunInputs::default()
    };
    let lfb = demo.train(
        "S + G + L",
        &configs.lfb,
        false,
        with_bank.clone(),
        Some(&base.weights),
        LFB_DIR,
    )?;
    let arm = demo.train(
        "arm branch",
        &configs.arm,
        true,
        demo.arm_inputs(),
        None,
        ARM_DIR,
    )?;
    let fusion = demo.fusion(&lfb, &base, &arm, "val", FUSION)?;

    // The held-out test split: S alone and the whole system.
    let test_boxes = demo.annotation("ava_detection_test_boxes_and_labels.csv");
    let test_keypoints = demo.keypoints("test");
    let s_system = demo.system("system_s.toml", Parts::alone(&test_boxes, &base, None))?;
    let whole_system = |arm: &Model, fusion: &Path, name: &str| -> Result<PathBuf> {
        demo.system(
            name,
            Parts {
                boxes: Input::Given(&test_boxes),
                keypoints: Some(Input::Given(&test_keypoints)),
                bank: Some(&base),
                actions: &lfb,
                arm: Some(arm),
                fusion: Some(fusion),
            },
        )
    };
    let full_system = whole_system(&arm, &fusion, "system.toml")?;
    tracing::info!("test split: S alone");
    demo.localize(&s_system, demo.split("test"), "test_s", false)?;
    tracing::info!("test split: the whole system");
    demo.localize(&full_system, demo.split("test"), "test", false)?;
    let rows = vec![
        ("S", demo.evaluate(&demo.out("test_s").join(DETECTIONS))?),
        (
            "S + G + L",
            demo.evaluate(&demo.out("test").join(ACTION_SCORES))?,
        ),
        (
            "+ arm fusion",
            demo.evaluate(&demo.out("test").join(DETECTIONS))?,
        ),
    ];
    let plot = demo.out("ablation.png");
    let named: Vec<(&str, &FrameMapResult)> = rows.iter().map(|(n, r)| (*n, r)).collect();
    write_comparison_plot(&named, &plot).with_context(|| format!("writing {}", plot.display()))?;

    // One held-out video from its raw frames to an annotated video.
    let test_rows = read_ava_csv(&demo.annotation("ava_test_v2.2.csv"))?;
    let video_id = test_rows
        .first()
        .map(|r| r.key.video_id.clone())
        .context("the test split has no annotations")?;
    let ffmpeg = std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok();
    tracing::info!("one held-out video, {video_id}, from its frames");
    let frames = Source::Frames(data.join("frames").join(&video_id));
    demo.localize(&full_system, frames.clone(), "video", ffmpeg)?;

    let videos = test_rows
        .iter()
        .map(|r| &r.key.video_id)
        .collect::<BTreeSet<_>>()
        .len();
    let heading = format!(
        "held-out test keyframes ({videos} videos), frame-mAP@0.5 per class; person boxes: the \
         synthetic set's detector-like boxes (score ≥ {BOX_THRESHOLD}), not a trained detector; \
         keypoints: its ground truth, not CPN"
    );
    println!("\n{heading}");
    print!("{}", comparison_table(&named));
    let (s, whole) = (rows[0].1.map, rows[2].1.map);
    println!(
        "the whole system {whole:.4} vs S {s:.4} ({:+.4}); {} (the table), {}",
        whole - s,
        plot.display(),
        demo.out("video").join(PAGE).display()
    );
    if !ffmpeg {
        tracing::warn!("no ffmpeg program: the annotated video was skipped");
    }

    if options.ablation {
        let trained = ablation::Trained {
            base: &base,
            lfb: &lfb,
            lfb_config: &configs.lfb,
            with_bank: &with_bank,
            test_boxes: &test_boxes,
            whole_system: &whole_system,
        };
        ablation::run(&demo, &trained, rows, &heading)?;
    }
    if options.full {
        configs.write_full_configs(options)?;
        full::run(&demo, &configs, frames, ffmpeg, (s, whole))?;
    }
    tracing::info!("{:.0} s in all", start.elapsed().as_secs_f64());
    Ok(())
}

/// S's bank of the training and validation videos in `bank` (what is there is kept).
fn build_bank(demo: &Demo, base: &Model, bank: &Path) -> Result<()> {
    for split in [Split::Train, Split::Val] {
        let request = BankRequest {
            config: base.config.clone(),
            weights: base.weights.clone(),
            dataset: demo.dataset.clone(),
            split,
            boxes: None,
            box_threshold: BOX_THRESHOLD,
            short_side: None,
            flip: false,
            dtype: BankDtype::F16,
            shard: None,
            out: bank.to_path_buf(),
        };
        let summary = backend::run(demo.backend, request.job()?)?;
        tracing::info!(
            "bank of the {} videos: {} written ({} features), {} already there",
            split.name(),
            summary.written,
            summary.features,
            summary.skipped
        );
    }
    Ok(())
}

/// A synthetic set written by an older avaloc lacks the classes or the test split the demo
/// needs: say how to regenerate it rather than fail later; fewer videos than the recipe is
/// tuned for get a note. Other datasets have no `syn_train_*` videos and pass.
fn check_synthetic_set(data: &Path) -> Result<()> {
    let expected = SynthConfig::default().train_videos;
    let videos = std::fs::read_dir(data.join("frames")).map_or(0, |dir| {
        dir.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("syn_train_"))
            .count()
    });
    if videos == 0 {
        return Ok(());
    }
    let classes = LabelMap::read(&DatasetFiles::at(data).labelmap())?
        .labels
        .len();
    let older = |what: String| {
        anyhow::anyhow!(
            "{} was written by an older avaloc ({what}): delete the folder and run the demo \
             again to regenerate it",
            data.display()
        )
    };
    if classes != SYNTH_CLASSES {
        return Err(older(format!(
            "{classes} classes; `avaloc synth` now writes {SYNTH_CLASSES}"
        )));
    }
    if !data.join("annotations/ava_test_v2.2.csv").exists() {
        return Err(older("no held-out test split".into()));
    }
    if videos < expected {
        tracing::warn!(
            "{} has {videos} synthetic training videos; `avaloc synth` writes {expected}, which \
             the demo's recipe is tuned for",
            data.display()
        );
    }
    Ok(())
}
