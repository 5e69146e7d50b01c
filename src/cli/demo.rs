//! `avaloc demo`: the whole action-localization loop on the synthetic dataset, from scratch on
//! the CPU — write the dataset if absent, train the small SlowFast, score the validation
//! keyframes with ground-truth boxes and with the detector-like boxes, print the per-class AP
//! tables and the frame-mAPs, and draw annotated keyframes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::bank::{Bank, BankDtype, BankRequest, Split};
use crate::config::ActionFile;
use crate::data::synth::{SYNTH_CLASSES, SynthConfig, generate};
use crate::data::{
    DatasetFiles, KeyframeSample, LabelMap, PersonAnnotation, action_people, keyframe_samples,
    read_ava_csv, read_exclusions, read_person_boxes, unlabelled_people, write_ava_csv,
};
use crate::eval::{
    EvalOptions, FrameMapResult, comparison_table, evaluate, per_class_table, write_plot,
};
use crate::infer::{ActionScoring, PersonScores, detection_rows, draw_keyframes, keyframe_images};
use crate::train::{ActionRun, RunInputs};
use crate::weights::Checkpoint;

/// The demo's model and recipe, written into the run folder when no --config is given.
const DEMO_CONFIG: &str = include_str!("../../configs/action/slowfast_synth.toml");
/// The same with a long-term feature bank, for --lfb.
const LFB_CONFIG: &str = include_str!("../../configs/action/slowfast_lfb_synth.toml");

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The synthetic dataset (written there first when absent).
    #[arg(long, default_value = "data/synth")]
    pub data: PathBuf,
    /// Run folder: train/ (checkpoints, metrics, curves), detections, plots, keyframes/.
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// Action model configuration (default: configs/action/slowfast_synth.toml, built in).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Train again even when the run folder holds a finished training.
    #[arg(long)]
    pub retrain: bool,
    /// Override the config's train.epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Annotated keyframes to draw.
    #[arg(long, default_value_t = 24)]
    pub pictures: usize,
    /// Then SlowFast + LFB: the trained model builds the feature bank of both splits
    /// (OUT/bank), configs/action/slowfast_lfb_synth.toml trains on it (OUT/lfb/), and the two
    /// are compared class by class on the validation keyframes (ground-truth boxes).
    #[arg(long)]
    pub lfb: bool,
    /// The SlowFast + LFB configuration for --lfb (default:
    /// configs/action/slowfast_lfb_synth.toml, built in).
    #[arg(long, requires = "lfb")]
    pub lfb_config: Option<PathBuf>,
}

/// A synthetic set written by an older avaloc lacks the classes the demo's model has: say how
/// to regenerate it rather than fail later on a class count; fewer videos than the recipe is
/// tuned for get a note. Other datasets have no `syn_train_*` videos and pass.
fn check_synthetic_set(data: &std::path::Path) -> Result<()> {
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
    if classes != SYNTH_CLASSES {
        anyhow::bail!(
            "{} was written by an older avaloc ({classes} classes; `avaloc synth` now writes \
             {SYNTH_CLASSES}): delete the folder and run the demo again to regenerate it",
            data.display()
        );
    }
    if videos < expected {
        println!(
            "note: {} has {videos} synthetic training videos; `avaloc synth` writes \
             {expected}, which the demo's recipe is tuned for",
            data.display()
        );
    }
    Ok(())
}

pub fn run(args: DemoArgs, backend_choice: BackendChoice) -> Result<()> {
    let start = Instant::now();
    let annotations = args.data.join("annotations");
    if !annotations.join("ava_train_v2.2.csv").exists() {
        println!("writing the synthetic dataset to {}", args.data.display());
        let summary = generate(&args.data, &SynthConfig::default())
            .with_context(|| format!("writing {}", args.data.display()))?;
        println!(
            "{} videos, {} keyframes ({:.0} s)",
            summary.videos,
            summary.keyframes,
            start.elapsed().as_secs_f64()
        );
    } else {
        check_synthetic_set(&args.data)?;
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let config = match &args.config {
        Some(path) => path.clone(),
        None => {
            let path = args.out.join("slowfast_synth.toml");
            crate::io::write_atomic(&path, DEMO_CONFIG.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            path
        }
    };

    let train_dir = args.out.join("train");
    let weights = train_dir.join("model_final.safetensors");
    let (bank_dir, lfb_dir) = (args.out.join("bank"), args.out.join("lfb"));
    // A new baseline makes a new bank, hence a new LFB model.
    let mut stale = Vec::new();
    if args.retrain {
        stale.push(&train_dir);
    }
    if args.retrain || !weights.exists() {
        stale.extend([&bank_dir, &lfb_dir]);
    }
    for dir in stale.into_iter().filter(|dir| dir.exists()) {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    let dataset = DatasetFiles::at(&args.data);
    let file = ActionFile::load(&config)?;
    if weights.exists() {
        println!(
            "using the finished training in {} (--retrain trains again)",
            train_dir.display()
        );
    } else {
        let resume = train_dir.join("checkpoints").join("last").exists();
        let run = ActionRun::new(
            file.clone(),
            dataset.clone(),
            RunInputs::default(),
            None,
            train_dir.clone(),
            resume,
            args.epochs,
        )?;
        backend::run_train(backend_choice, run)?;
    }

    let labels = LabelMap::read(&dataset.labelmap())?;
    let val_csv = dataset.val_csv();
    let groundtruth = read_ava_csv(&val_csv)?;
    let excluded = match dataset.exclusions() {
        Some(path) => read_exclusions(&path)?,
        None => Default::default(),
    };
    let clip = file.network.clip_spec();
    let score = |people: &[PersonAnnotation]| -> Result<(Vec<PersonScores>, Vec<KeyframeSample>)> {
        let samples = keyframe_samples(people, &args.data, clip)?
            .samples()
            .to_vec();
        let job = ActionScoring::new(
            &file,
            Checkpoint::open(&weights)?,
            &labels,
            samples.clone(),
            file.test.clone(),
        )?;
        Ok((backend::run(backend_choice, job)?, samples))
    };
    let report = |name: &str, people: &[PersonScores]| -> Result<FrameMapResult> {
        let rows = detection_rows(people, &labels);
        let csv = args.out.join(format!("detections_{name}.csv"));
        write_ava_csv(&csv, &rows).with_context(|| format!("writing {}", csv.display()))?;
        let options = EvalOptions {
            pr_curve_classes: labels.labels.iter().map(|l| l.id).collect(),
            ..EvalOptions::default()
        };
        let result = evaluate(&labels, &groundtruth, &rows, &excluded, &options);
        let plot = args.out.join(format!("ap_{name}.png"));
        write_plot(&result, &plot).with_context(|| format!("writing {}", plot.display()))?;
        Ok(result)
    };

    println!("\nvalidation keyframes, ground-truth boxes:");
    let (gt_scores, _) = score(&action_people(&val_csv, &labels, None)?)?;
    let gt = report("gt_boxes", &gt_scores)?;
    print!("{}", per_class_table(&gt));

    let boxes_csv = annotations.join("ava_detection_val_boxes_and_labels.csv");
    println!(
        "\nvalidation keyframes, detector-like boxes ({}, score ≥ 0.8):",
        boxes_csv.display()
    );
    let (detected_scores, samples) =
        score(&unlabelled_people(&read_person_boxes(&boxes_csv, 0.8)?))?;
    let detected = report("detected_boxes", &detected_scores)?;
    print!("{}", per_class_table(&detected));

    let frames = keyframe_images(&samples)
        .into_iter()
        .take(args.pictures)
        .collect();
    let pictures = args.out.join("keyframes");
    let written = draw_keyframes(&detected_scores, &frames, &labels, 3, 0.3, &pictures)?;
    println!(
        "\nval frame-mAP@0.5: {:.4} with ground-truth boxes, {:.4} with detector-like boxes",
        gt.map, detected.map
    );
    if args.lfb {
        let baseline = Baseline {
            config: &config,
            weights: &weights,
            file: &file,
            result: &gt,
        };
        long_term(&args, &dataset, &labels, baseline, backend_choice, &report)?;
    }
    println!(
        "written: {} (detections, ap_*.png), {} annotated keyframes in {}; {:.0} s in all",
        args.out.display(),
        written.len(),
        pictures.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The trained baseline of the demo, and how it scored with ground-truth boxes.
struct Baseline<'a> {
    config: &'a std::path::Path,
    weights: &'a std::path::Path,
    file: &'a ActionFile,
    result: &'a FrameMapResult,
}

/// `--lfb`: the baseline builds the bank of both splits, SlowFast + LFB trains on it (same
/// recipe), and both score the validation keyframes with the ground-truth boxes.
fn long_term(
    args: &DemoArgs,
    dataset: &DatasetFiles,
    labels: &LabelMap,
    baseline: Baseline,
    backend_choice: BackendChoice,
    report: &dyn Fn(&str, &[PersonScores]) -> Result<FrameMapResult>,
) -> Result<()> {
    let (bank, lfb_dir) = (args.out.join("bank"), args.out.join("lfb"));
    for split in [Split::Train, Split::Val] {
        let request = BankRequest {
            config: baseline.config.to_path_buf(),
            weights: baseline.weights.to_path_buf(),
            dataset: dataset.clone(),
            split,
            boxes: None,
            // The synthetic detector's people score 0.8 to 1 (FAIR's 0.9 would drop half).
            box_threshold: 0.8,
            short_side: None,
            flip: false,
            dtype: BankDtype::F16,
            shard: None,
            out: bank.clone(),
        };
        let summary = backend::run(backend_choice, request.job()?)?;
        println!(
            "bank of the {} videos: {} written ({} features), {} already there",
            split.name(),
            summary.written,
            summary.features,
            summary.skipped
        );
    }
    std::fs::create_dir_all(&lfb_dir).with_context(|| format!("creating {}", lfb_dir.display()))?;
    let config = match &args.lfb_config {
        Some(path) => path.clone(),
        None => {
            let path = lfb_dir.join("slowfast_lfb_synth.toml");
            crate::io::write_atomic(&path, LFB_CONFIG.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            path
        }
    };
    let file = ActionFile::load(&config)?;
    if file.network.num_classes != baseline.file.network.num_classes {
        anyhow::bail!(
            "{}: {} classes, the baseline ({}) {}",
            config.display(),
            file.network.num_classes,
            baseline.config.display(),
            baseline.file.network.num_classes
        );
    }
    let train_dir = lfb_dir.join("train");
    let weights = train_dir.join("model_final.safetensors");
    if weights.exists() {
        println!(
            "using the finished SlowFast + LFB training in {}",
            train_dir.display()
        );
    } else {
        let inputs = RunInputs {
            bank: Some(bank.clone()),
            ..RunInputs::default()
        };
        let resume = train_dir.join("checkpoints").join("last").exists();
        let run = ActionRun::new(
            file.clone(),
            dataset.clone(),
            inputs,
            None,
            train_dir,
            resume,
            args.epochs,
        )?;
        backend::run_train(backend_choice, run)?;
    }
    let people = action_people(&dataset.val_csv(), labels, None)?;
    let samples = keyframe_samples(&people, &args.data, file.network.clip_spec())?
        .samples()
        .to_vec();
    let job = ActionScoring::with_banks(
        &file,
        Checkpoint::open(&weights)?,
        labels,
        samples,
        file.test.clone(),
        vec![std::sync::Arc::new(Bank::open(&bank)?)],
    )?;
    let scores = backend::run(backend_choice, job)?;
    let result = report("lfb_gt_boxes", &scores)?;
    println!(
        "\nvalidation keyframes, ground-truth boxes: SlowFast alone and with the feature bank"
    );
    print!(
        "{}",
        comparison_table(&[("SlowFast", baseline.result), ("SlowFast + LFB", &result)])
    );
    Ok(())
}
