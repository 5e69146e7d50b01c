//! `avaloc demo`: the seed system on the synthetic dataset, from scratch on the CPU — write
//! the dataset if absent; train the baseline SlowFast S, which builds the long-term feature
//! bank; train SlowFast + LFB with the global feature (S + G + L) from it; train the arm
//! branch; choose the fusion classes on the validation split; then, on the held-out test
//! split, the seed's §2.4.1-style table (S, S + G + L, + arm fusion) with a plot, and
//! `localize` on one held-out video from its raw frames to an annotated video.
//!
//! The person boxes are the synthetic set's detector-like boxes and the keypoints its ground
//! truth, not a trained detector's and CPN's: the output says so.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::bank::{BankDtype, BankRequest, Split};
use crate::config::ActionFile;
use crate::config::{DetectorFile, PoseFile};
use crate::data::synth::{SYNTH_CLASSES, SynthConfig, generate};
use crate::data::{
    DatasetFiles, DetectedPerson, FrameTime, LabelMap, annotated_people, read_ava_csv,
    read_detections, read_exclusions, write_person_boxes,
};
use crate::eval::{EvalOptions, FrameMapResult, comparison_table, evaluate, write_comparison_plot};
use crate::fusion::{Choice, FusionMode, Groundtruth, gain_table, select};
use crate::localize::videos::{Part, Source};
use crate::localize::{ACTION_SCORES, ARM_SCORES, DETECTIONS, Localize, PAGE, time_table};
use crate::system::SystemFile;
use crate::train::{
    ActionRun, ArmKeypoints, DetectorRun, PoseData, PoseRun, RunInputs, RunOptions,
};

/// The demo's networks and recipes, written into the run folder unless given.
const BASE_CONFIG: &str = include_str!("../../configs/action/slowfast_synth.toml");
const LFB_CONFIG: &str = include_str!("../../configs/action/slowfast_lfb_g_synth.toml");
const ARM_CONFIG: &str = include_str!("../../configs/action/slowfast_arm_synth.toml");
const ARM_LABELS: &str = include_str!("../../configs/arm/ava_arm_actions.pbtxt");
const DETECTOR_CONFIG: &str = include_str!("../../configs/detector/faster_rcnn_synth.toml");
const POSE_CONFIG: &str = include_str!("../../configs/pose/cpn_synth.toml");

/// The synthetic detector's people score 0.8 to 1 (FAIR's 0.9 would drop half).
const BOX_THRESHOLD: f64 = 0.8;

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
    #[arg(long, default_value_t = 12)]
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
        println!(
            "note: {} has {videos} synthetic training videos; `avaloc synth` writes \
             {expected}, which the demo's recipe is tuned for",
            data.display()
        );
    }
    Ok(())
}

/// The arm branch's epochs in the demo (its config's 10 take 6.5 minutes; these 6 gave 0.49
/// validation mAP at the arm boxes in 4 minutes), the rate ÷10 for the last.
const ARM_EPOCHS: usize = 6;

/// `config`'s `[train]` epochs set to `epochs`, the rate ÷10 for the last.
fn set_epochs(config: &mut toml::Table, epochs: usize) {
    let train = sub(config, &["train"]);
    train.insert("epochs".into(), toml::Value::Integer(epochs as i64));
    let last = epochs.saturating_sub(1).max(1) as i64;
    train.insert(
        "steps".into(),
        toml::Value::Array(vec![toml::Value::Integer(last)]),
    );
}

/// `text` (a config) trained for `epochs`.
fn with_epochs(text: &str, epochs: usize) -> Result<String> {
    edited(text, &format!("trained {epochs} epochs"), |c| {
        set_epochs(c, epochs)
    })
}

/// `given`, or `text` written into `dir/name`.
fn config_file(given: &Option<PathBuf>, text: &str, dir: &Path, name: &str) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.clone());
    }
    let path = dir.join(name);
    crate::io::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// An action model of the system: its config and trained weights.
struct Model {
    config: PathBuf,
    weights: PathBuf,
}

/// A part given as a file of its outputs, or as a trained network.
#[derive(Clone, Copy)]
enum Input<'a> {
    Given(&'a Path),
    Network(&'a Model),
}

impl Input<'_> {
    /// The system table's keys for it: `given_key = FILE`, or config and weights.
    fn table(self, given_key: &str) -> toml::Table {
        let pairs = match self {
            Self::Given(file) => vec![(given_key, string(file))],
            Self::Network(m) => vec![
                ("config", string(&m.config)),
                ("weights", string(&m.weights)),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// What a system file names: boxes, keypoints (with an arm branch), the bank's baseline
/// (with a model that reads one), the action model, the arm branch and its fusion.
struct Parts<'a> {
    boxes: Input<'a>,
    keypoints: Option<Input<'a>>,
    bank: Option<&'a Model>,
    actions: &'a Model,
    arm: Option<&'a Model>,
    fusion: Option<&'a Path>,
}

impl<'a> Parts<'a> {
    /// An action model alone (with its bank's baseline, where it reads one).
    fn alone(boxes: &'a Path, actions: &'a Model, bank: Option<&'a Model>) -> Self {
        Self {
            boxes: Input::Given(boxes),
            keypoints: None,
            bank,
            actions,
            arm: None,
            fusion: None,
        }
    }
}

fn string(p: &Path) -> toml::Value {
    toml::Value::String(p.display().to_string())
}

fn table<const N: usize>(pairs: [(&str, toml::Value); N]) -> toml::Value {
    toml::Value::Table(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Everything the demo's steps share.
struct Demo<'a> {
    args: &'a DemoArgs,
    backend: BackendChoice,
    dataset: DatasetFiles,
    labelmap: PathBuf,
    arm_labelmap: PathBuf,
}

impl Demo<'_> {
    fn out(&self, name: &str) -> PathBuf {
        self.args.out.join(name)
    }

    fn annotation(&self, name: String) -> PathBuf {
        self.dataset.root.join("annotations").join(name)
    }

    /// Trains `config` into OUT/`dir` unless it holds a finished training; the model.
    fn train(
        &self,
        name: &str,
        config: &Path,
        arm: bool,
        inputs: RunInputs,
        weights: Option<&Path>,
        dir: &str,
    ) -> Result<Model> {
        let dataset = if arm {
            DatasetFiles {
                labelmap: Some(self.arm_labelmap.clone()),
                ..self.dataset.clone()
            }
        } else {
            self.dataset.clone()
        };
        self.train_once(name, config, dir, |dir, resume| {
            let file = ActionFile::load(config)?;
            ActionRun::new(
                file,
                dataset,
                inputs,
                weights,
                RunOptions::new(dir, resume, self.args.epochs),
            )
        })
    }

    /// Trains `job(dir, resume)` into OUT/`dir` unless it holds a finished
    /// training; the model.
    fn train_once<J: crate::backend::TrainJob>(
        &self,
        name: &str,
        config: &Path,
        dir: &str,
        job: impl FnOnce(PathBuf, bool) -> Result<J>,
    ) -> Result<Model> {
        let dir = self.out(dir);
        let model = Model {
            config: config.to_path_buf(),
            weights: dir.join("model_final.safetensors"),
        };
        if model.weights.exists() {
            println!("{name}: using the finished training in {}", dir.display());
        } else {
            println!("\n{name}: training {}", config.display());
            let resume = dir.join("checkpoints").join("last").exists();
            backend::run_train(self.backend, job(dir, resume)?)?;
        }
        Ok(model)
    }

    /// An arm branch's training inputs: the synthetic keypoints.
    fn arm_inputs(&self) -> RunInputs {
        RunInputs {
            arms: Some(ArmKeypoints {
                train: self.keypoints("train"),
                val: self.keypoints("val"),
            }),
            ..RunInputs::default()
        }
    }

    fn keypoints(&self, split: &str) -> PathBuf {
        self.annotation(format!("synth_keypoints_{split}.csv"))
    }

    /// Writes OUT/`name`, a system file naming `parts`.
    fn system(&self, name: &str, parts: Parts) -> Result<PathBuf> {
        let mut root = toml::Table::new();
        let mut persons = parts.boxes.table("boxes");
        persons.insert("threshold".into(), toml::Value::Float(BOX_THRESHOLD));
        root.insert("persons".into(), toml::Value::Table(persons));
        if let Some(keypoints) = parts.keypoints {
            root.insert(
                "poses".into(),
                toml::Value::Table(keypoints.table("keypoints")),
            );
        }
        if let Some(bank) = parts.bank {
            root.insert(
                "bank".into(),
                table([
                    ("config", string(&bank.config)),
                    ("weights", string(&bank.weights)),
                    ("box_threshold", toml::Value::Float(BOX_THRESHOLD)),
                ]),
            );
        }
        root.insert(
            "actions".into(),
            table([
                ("config", string(&parts.actions.config)),
                ("weights", string(&parts.actions.weights)),
                ("labelmap", string(&self.labelmap)),
            ]),
        );
        if let Some(arm) = parts.arm {
            let mut t = table([
                ("config", string(&arm.config)),
                ("weights", string(&arm.weights)),
                ("labelmap", string(&self.arm_labelmap)),
            ]);
            if let (Some(fusion), toml::Value::Table(t)) = (parts.fusion, &mut t) {
                t.insert("fusion".into(), string(fusion));
            }
            root.insert("arm".into(), t);
        }
        root.insert(
            "render".into(),
            table([("keyframes", toml::Value::Integer(self.args.pictures as i64))]),
        );
        let note = match (parts.boxes, parts.keypoints) {
            (Input::Network(_), Some(Input::Network(_)) | None) => {
                "the detector and CPN trained on the synthetic set"
            }
            _ => {
                "the synthetic set's detector-like boxes and ground-truth keypoints stand in for a \
                  trained detector and CPN"
            }
        };
        let text = format!(
            "# Written by `avaloc demo`: {note}.\n{}",
            toml::to_string(&root).expect("a system table serialises")
        );
        let path = self.out(name);
        crate::io::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    fn localize(&self, system: &Path, source: Source, dir: &str, video: bool) -> Result<()> {
        let job = Localize {
            system: SystemFile::load(system, &[])?,
            source,
            start_s: crate::data::AVA_VIDEO_START_S,
            out: self.out(dir),
            from: None,
            video,
            backend: self.backend,
        };
        let records = job.run()?;
        println!("{}", time_table(&records));
        Ok(())
    }

    fn split(&self, split: &str) -> Source {
        Source::Data {
            root: self.args.data.clone(),
            split: split.into(),
            part: Part::Ava,
            shard: None,
        }
    }

    /// The fusion classes of `arm` with `actions`, chosen on the validation keyframes at their
    /// annotated boxes (OUT/`dir`/), written to OUT/`file`.
    fn fusion(
        &self,
        actions: &Model,
        bank: &Model,
        arm: &Model,
        dir: &str,
        file: &str,
    ) -> Result<PathBuf> {
        let val_csv = self.dataset.val_csv();
        let boxes = self.out("val_gt_boxes.csv");
        let people: Vec<DetectedPerson> = annotated_people(&val_csv)?
            .into_iter()
            .map(|p| DetectedPerson {
                video_id: p.key.video_id,
                time: FrameTime::Keyframe(p.key.timestamp_s),
                box_xyxy_norm: p.box_xyxy_norm,
                score: 1.0,
            })
            .collect();
        write_person_boxes(&boxes, &people)?;
        let keypoints = self.keypoints("val");
        let system = self.system(
            &format!("system_{dir}.toml"),
            Parts {
                boxes: Input::Given(&boxes),
                keypoints: Some(Input::Given(&keypoints)),
                bank: Some(bank),
                actions,
                arm: Some(arm),
                fusion: None,
            },
        )?;
        println!(
            "\nvalidation split, annotated boxes: the action model's and the arm branch's scores"
        );
        self.localize(&system, self.split("val"), dir, false)?;
        let labels = LabelMap::read(&self.labelmap)?;
        let rows = read_ava_csv(&val_csv)?;
        let excluded = self.excluded("val")?;
        let truth = Groundtruth {
            rows: &rows,
            labels: &labels,
            excluded: &excluded,
        };
        let (fusion, table) = select(
            &read_detections(&self.out(dir).join(ACTION_SCORES))?,
            &read_detections(&self.out(dir).join(ARM_SCORES))?,
            &truth,
            FusionMode::Mean,
            0.5,
            Choice::Top(15),
        );
        let path = self.out(file);
        fusion
            .write(&path, &gain_table(&table))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", gain_table(&table));
        Ok(path)
    }

    fn excluded(&self, split: &str) -> Result<std::collections::HashSet<crate::data::KeyframeKey>> {
        let path = self.annotation(format!("ava_{split}_excluded_timestamps_v2.2.csv"));
        Ok(if path.exists() {
            read_exclusions(&path)?
        } else {
            Default::default()
        })
    }

    /// The frame-mAP of a detections file on the held-out test keyframes.
    fn evaluate(&self, detections: &Path) -> Result<FrameMapResult> {
        let labels = LabelMap::read(&self.labelmap)?;
        let truth = read_ava_csv(&self.annotation("ava_test_v2.2.csv".into()))?;
        Ok(evaluate(
            &labels,
            &truth,
            &read_detections(detections)?,
            &self.excluded("test")?,
            &EvalOptions::default(),
        ))
    }
}

/// `text` (a config) with `edit` applied to its TOML (comments are not kept).
fn edited(text: &str, note: &str, edit: impl FnOnce(&mut toml::Table)) -> Result<String> {
    let mut config: toml::Table = text.parse().context("a demo config")?;
    edit(&mut config);
    Ok(format!(
        "# Written by `avaloc demo`: {note}.\n{}",
        toml::to_string(&config).expect("a config serialises")
    ))
}

/// The sub-table `path` of `config` (created where absent).
fn sub<'t>(config: &'t mut toml::Table, path: &[&str]) -> &'t mut toml::Table {
    let mut t = config;
    for key in path {
        t = t
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("a table");
    }
    t
}

/// The seed's classes each feature is designed for, among the synthetic set's: the bank for
/// the long-context classes, the arm branch for the arm classes.
const LONG_CONTEXT: [i64; 2] = [74, 80];
const ARM_CLASSES: [i64; 4] = [69, 43, 58, 34];

fn mean_ap(result: &FrameMapResult, classes: &[i64]) -> f64 {
    let aps: Vec<f64> = result
        .per_class
        .iter()
        .filter(|(id, _, _)| classes.contains(id))
        .filter_map(|(_, _, ap)| *ap)
        .collect();
    aps.iter().sum::<f64>() / aps.len().max(1) as f64
}

pub fn run(args: DemoArgs, backend: BackendChoice) -> Result<()> {
    let start = Instant::now();
    if !args.data.join("annotations/ava_train_v2.2.csv").exists() {
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
    let out = &args.out;
    if args.retrain && out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let base_config = config_file(&args.config, BASE_CONFIG, out, "slowfast_synth.toml")?;
    let lfb_config = config_file(
        &args.lfb_config,
        LFB_CONFIG,
        out,
        "slowfast_lfb_g_synth.toml",
    )?;
    let arm_config = config_file(
        &args.arm_config,
        &with_epochs(ARM_CONFIG, ARM_EPOCHS)?,
        out,
        "slowfast_arm_synth.toml",
    )?;
    let dataset = DatasetFiles::at(&args.data);
    let demo = Demo {
        args: &args,
        backend,
        labelmap: dataset.labelmap(),
        arm_labelmap: config_file(&None, ARM_LABELS, out, "ava_arm_actions.pbtxt")?,
        dataset,
    };

    // S, the bank it builds of the training and validation videos, S + G + L from S, and
    // the arm branch.
    let base = demo.train("S", &base_config, false, RunInputs::default(), None, "base")?;
    let bank = demo.out("bank");
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
            out: bank.clone(),
        };
        let summary = backend::run(backend, request.job()?)?;
        println!(
            "bank of the {} videos: {} written ({} features), {} already there",
            split.name(),
            summary.written,
            summary.features,
            summary.skipped
        );
    }
    let with_bank = || RunInputs {
        bank: Some(bank.clone()),
        ..RunInputs::default()
    };
    let lfb = demo.train(
        "S + G + L",
        &lfb_config,
        false,
        with_bank(),
        Some(&base.weights),
        "lfb",
    )?;
    let arm = demo.train(
        "arm branch",
        &arm_config,
        true,
        demo.arm_inputs(),
        None,
        "arm",
    )?;
    let fusion = demo.fusion(&lfb, &base, &arm, "val", "fusion.toml")?;

    // The held-out test split: S alone and the whole system.
    let test_boxes = demo.annotation("ava_detection_test_boxes_and_labels.csv".into());
    let test_keypoints = demo.keypoints("test");
    let s_system = demo.system("system_s.toml", Parts::alone(&test_boxes, &base, None))?;
    let full = |arm: &Model, fusion: &Path| -> Result<PathBuf> {
        let name = if arm.weights == demo.out("arm/model_final.safetensors") {
            "system.toml".to_string()
        } else {
            format!(
                "system_{}.toml",
                arm.weights
                    .parent()
                    .and_then(|p| p.file_name())
                    .unwrap_or_default()
                    .to_string_lossy()
            )
        };
        demo.system(
            &name,
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
    let full_system = full(&arm, &fusion)?;
    println!("\ntest split: S alone");
    demo.localize(&s_system, demo.split("test"), "test_s", false)?;
    println!("\ntest split: the whole system");
    demo.localize(&full_system, demo.split("test"), "test", false)?;
    let mut rows = vec![
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
    let test_rows = read_ava_csv(&demo.annotation("ava_test_v2.2.csv".into()))?;
    let video_id = test_rows
        .first()
        .map(|r| r.key.video_id.clone())
        .context("the test split has no annotations")?;
    let ffmpeg = std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok();
    println!("\none held-out video, {video_id}, from its frames");
    demo.localize(
        &full_system,
        Source::Frames(args.data.join("frames").join(&video_id)),
        "video",
        ffmpeg,
    )?;

    let videos = test_rows
        .iter()
        .map(|r| &r.key.video_id)
        .collect::<std::collections::BTreeSet<_>>()
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
        println!("(no ffmpeg program: the annotated video was skipped)");
    }

    if args.ablation {
        let lfb_text = std::fs::read_to_string(&lfb_config)
            .with_context(|| format!("reading {}", lfb_config.display()))?;
        let variant =
            |name: &str, note: &str, edit: &dyn Fn(&mut toml::Table)| -> Result<PathBuf> {
                let path = demo.out(&format!("ablation_{name}.toml"));
                let text = edited(&lfb_text, note, edit)?;
                crate::io::write_atomic(&path, text.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(path)
            };
        let no_bank = variant("s_g", "S + G, no bank", &|c| {
            sub(c, &["network"]).remove("bank");
        })?;
        let no_global = variant("s_l", "S + L, no global feature", &|c| {
            let network = sub(c, &["network"]);
            network.remove("global_pool");
            network.remove("global_dim");
        })?;
        let operator = |op: &'static str| {
            move |c: &mut toml::Table| {
                sub(c, &["network", "bank"])
                    .insert("operator".into(), toml::Value::String(op.into()));
            }
        };
        let avg = variant("s_g_l_avg", "FBO avg", &operator("avg"))?;
        let non_local = variant("s_g_l_nl", "FBO non-local", &operator("non_local"))?;
        let base_text = std::fs::read_to_string(&base.config)
            .with_context(|| format!("reading {}", base.config.display()))?;
        let shared_path = demo.out("ablation_arm_shared.toml");
        let shared_text = edited(&base_text, "the arm branch as heads on S's backbone", |c| {
            set_epochs(c, ARM_EPOCHS);
            sub(c, &["network"]).insert("num_classes".into(), toml::Value::Integer(27));
            sub(c, &["train", "action"])
                .insert("freeze_backbone".into(), toml::Value::Boolean(true));
        })?;
        crate::io::write_atomic(&shared_path, shared_text.as_bytes())
            .with_context(|| format!("writing {}", shared_path.display()))?;

        // Heads on S's frozen backbone, reading the bank or not.
        let heads = |name: &str, config: &Path, bank: bool, dir: &str| {
            let inputs = if bank {
                with_bank()
            } else {
                RunInputs::default()
            };
            demo.train(name, config, false, inputs, Some(&base.weights), dir)
        };
        let s_g = heads("S + G", &no_bank, false, "ablation/s_g")?;
        let s_l = heads("S + L", &no_global, true, "ablation/s_l")?;
        let s_avg = heads("S + G + L (avg)", &avg, true, "ablation/s_g_l_avg")?;
        let s_nl = heads(
            "S + G + L (non-local)",
            &non_local,
            true,
            "ablation/s_g_l_nl",
        )?;
        let shared = demo.train(
            "arm branch (shared)",
            &shared_path,
            true,
            demo.arm_inputs(),
            Some(&base.weights),
            "ablation/arm_shared",
        )?;
        let shared_fusion =
            demo.fusion(&lfb, &base, &shared, "val_shared", "fusion_shared.toml")?;
        let test = |name: &str, parts: Parts| -> Result<FrameMapResult> {
            let system = demo.system(&format!("system_{name}.toml"), parts)?;
            println!("\ntest split: {name}");
            let dir = format!("ablation/test_{name}");
            demo.localize(&system, demo.split("test"), &dir, false)?;
            demo.evaluate(&demo.out(&dir).join(DETECTIONS))
        };
        let with = |actions| Parts::alone(&test_boxes, actions, Some(&base));
        let shared_system = full(&shared, &shared_fusion)?;
        demo.localize(
            &shared_system,
            demo.split("test"),
            "ablation/test_arm_shared",
            false,
        )?;
        let mut table = vec![
            rows.remove(0),
            ("S + G", test("s_g", Parts::alone(&test_boxes, &s_g, None))?),
            ("S + L", test("s_l", with(&s_l))?),
            ("S + G + L (avg)", test("s_g_l_avg", with(&s_avg))?),
        ];
        let (lfb_row, separate_row) = (rows.remove(0), rows.remove(0));
        table.push(("S + G + L (max)", lfb_row.1));
        table.push(("S + G + L (non-local)", test("s_g_l_nl", with(&s_nl))?));
        table.push((
            "+ arm (shared)",
            demo.evaluate(&demo.out("ablation/test_arm_shared").join(DETECTIONS))?,
        ));
        table.push(("+ arm (separate)", separate_row.1));
        let named: Vec<(&str, &FrameMapResult)> = table.iter().map(|(n, r)| (*n, r)).collect();
        let plot = demo.out("ablation_all.png");
        write_comparison_plot(&named, &plot)
            .with_context(|| format!("writing {}", plot.display()))?;
        println!("\nthe ablation, every variant on the same budget; {heading}");
        print!("{}", comparison_table(&named));
        let of = |name: &str| &table.iter().find(|(n, _)| *n == name).expect("a row").1;
        let check = |feature: &str, without: &str, with: &str, classes: &[i64], what: &str| {
            let (a, b) = if classes.is_empty() {
                (of(without).map, of(with).map)
            } else {
                (mean_ap(of(without), classes), mean_ap(of(with), classes))
            };
            println!(
                "{feature}: {what} {a:.4} → {b:.4} ({:+.4}) {}",
                b - a,
                if b > a { "raised" } else { "NOT raised" }
            );
        };
        println!();
        check("G", "S", "S + G", &[], "mAP");
        check(
            "L",
            "S",
            "S + L",
            &LONG_CONTEXT,
            "listen to / watch mean AP",
        );
        for op in ["avg", "max", "non-local"] {
            let row = format!("S + G + L ({op})");
            check(
                &format!("L, FBO {op}"),
                "S + G",
                &row,
                &LONG_CONTEXT,
                "listen to / watch mean AP",
            );
        }
        for kind in ["shared", "separate"] {
            let row = format!("+ arm ({kind})");
            check(
                &format!("arm branch, {kind}"),
                "S + G + L (max)",
                &row,
                &ARM_CLASSES,
                "arm classes' mean AP",
            );
        }
        println!("{} (the table)", plot.display());
    }
    if args.full {
        let detector_config = config_file(
            &args.detector_config,
            DETECTOR_CONFIG,
            out,
            "faster_rcnn_synth.toml",
        )?;
        let pose_config = config_file(&args.pose_config, POSE_CONFIG, out, "cpn_synth.toml")?;
        let detector =
            demo.train_once("detector", &detector_config, "detector", |dir, resume| {
                let file = DetectorFile::load(&detector_config)?;
                let run = RunOptions::new(dir, resume, args.epochs);
                DetectorRun::new(file, demo.dataset.clone(), None, run)
            })?;
        let pose = demo.train_once("CPN", &pose_config, "pose", |dir, resume| {
            let data = PoseData::new(args.data.clone(), None, None);
            PoseRun::new(
                PoseFile::load(&pose_config)?,
                data,
                None,
                RunOptions::new(dir, resume, args.epochs),
            )
        })?;
        let system = demo.system(
            "system_full.toml",
            Parts {
                boxes: Input::Network(&detector),
                keypoints: Some(Input::Network(&pose)),
                bank: Some(&base),
                actions: &lfb,
                arm: Some(&arm),
                fusion: Some(&fusion),
            },
        )?;
        println!("\ntest split: the whole system with the trained detector and CPN");
        demo.localize(&system, demo.split("test"), "test_full", false)?;
        let trained = demo.evaluate(&demo.out("test_full").join(DETECTIONS))?;
        println!("\none held-out video, {video_id}, with the trained detector and CPN");
        demo.localize(
            &system,
            Source::Frames(args.data.join("frames").join(&video_id)),
            "video_full",
            ffmpeg,
        )?;
        println!(
            "\nthe whole system with all five networks trained here: frame-mAP {:.4} on the test \
             keyframes ({:+.4} against the given boxes and keypoints, {:+.4} against S with the \
             given boxes); {}",
            trained.map,
            trained.map - whole,
            trained.map - s,
            demo.out("video_full").join(PAGE).display()
        );
    }
    println!("{:.0} s in all", start.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arm_branch_trains_for_the_demos_epochs() {
        let dir = std::env::temp_dir().join(format!("avaloc-demo-arm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("arm.toml");
        std::fs::write(&path, with_epochs(ARM_CONFIG, ARM_EPOCHS).unwrap()).unwrap();
        let settings = ActionFile::load(&path).unwrap().train_settings().unwrap();
        assert_eq!(settings.epochs, 6);
        assert_eq!(settings.steps, vec![5]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
