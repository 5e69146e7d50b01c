//! The action model end to end on a tiny synthetic dataset: `avaloc train action`
//! (checkpoints, metrics with the validation frame-mAP, resume of AdamW's state), `avaloc actions` on the
//! exported weights (one CSV row per box and class, the scores the library computes for the
//! same clip), `avaloc eval` on its output, and `avaloc demo` with a given config.

mod common;

use std::path::Path;

use avaloc::config::ActionFile;
use avaloc::data::SeededBatcher;
use avaloc::data::synth::{SynthConfig, generate};
use avaloc::data::{
    ClipBatch, ClipBatcher, ClipTransform, LabelMap, Normalization, read_ava_csv, read_person_boxes,
};
use avaloc::data::{keyframe_samples, unlabelled_people};
use avaloc::train::History;
use avaloc::weights::{Checkpoint, LoadMode};
use common::{TestBackend, avaloc, kill_when, log, safetensors_by_name};

/// The micro model with its training recipe.
fn micro_config() -> String {
    format!("{}{TRAIN}", common::MICRO_ACTION)
}

const TRAIN: &str = r#"
[train]
epochs = 1
batch_size = 4
optimizer = "adamw"
lr = 0.001
warmup_iters = 2
steps = [1]
workers = 1

[train.action]
short_side = [48, 56]
crop = 48
"#;

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn setup(name: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("avaloc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("action.toml"), micro_config()).unwrap();
    let synth = SynthConfig {
        train_videos: 1,
        val_videos: 1,
        test_videos: 0,
        seconds: 6,
        width: 96,
        height: 72,
        seed: 5,
    };
    generate(&root.join("data"), &synth).unwrap();
    root
}

#[test]
fn trains_resumes_scores_and_evaluates() {
    let root = setup("train-action");
    let (config, data, run) = (
        root.join("action.toml"),
        root.join("data"),
        root.join("run"),
    );
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "action",
            "--config",
            path(&config),
            "--data",
            path(&data),
            "--out",
            path(&run),
        ];
        args.extend_from_slice(extra);
        avaloc(&args)
    };
    let first = train(&[]);
    assert!(first.status.success(), "{}", log(&first));
    for file in ["model.mpk", "optim.mpk", "weights.safetensors"] {
        assert!(
            run.join("checkpoints/epoch_001").join(file).is_file(),
            "{file}"
        );
    }
    let resumed = train(&["--resume", "--epochs", "2"]);
    assert!(resumed.status.success(), "{}", log(&resumed));
    let history = History::read(&run.join("metrics.csv")).unwrap();
    let epochs: Vec<usize> = history.records.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, vec![1, 2]);
    assert_eq!(history.records[1].train[1].0, "bce");
    let (name, map) = &history.records[1].valid[0];
    assert_eq!(name, "frame_map");
    assert!((0.0..=1.0).contains(map), "{map}");

    // `avaloc actions` with the detector-like boxes: 13 rows per box.
    let weights = run.join("model_final.safetensors");
    let boxes_csv = data.join("annotations/ava_detection_val_boxes_and_labels.csv");
    let detections = root.join("detections.csv");
    let pictures = root.join("pictures");
    let actions = avaloc(&[
        "actions",
        "--config",
        path(&config),
        "--weights",
        path(&weights),
        "--data",
        path(&data),
        "--boxes",
        path(&boxes_csv),
        "--threshold",
        "0.0",
        "--pictures",
        path(&pictures),
        "--out",
        path(&detections),
    ]);
    assert!(actions.status.success(), "{}", log(&actions));
    let rows = read_ava_csv(&detections).unwrap();
    let boxes = read_person_boxes(&boxes_csv, 0.0).unwrap();
    assert_eq!(rows.len(), 13 * boxes.len());
    let keyframes = std::fs::read_dir(&pictures).unwrap().count();
    assert!(keyframes > 0);

    // One video's frame folder (`--frames`) gives the same clips, hence the same file.
    let from_frames = root.join("detections_frames.csv");
    let labelmap = data.join("annotations/ava_action_list_v2.2.pbtxt");
    let frames_run = avaloc(&[
        "actions",
        "--config",
        path(&config),
        "--weights",
        path(&weights),
        "--frames",
        path(&data.join("frames/syn_val_000")),
        "--labelmap",
        path(&labelmap),
        "--boxes",
        path(&boxes_csv),
        "--threshold",
        "0.0",
        "--out",
        path(&from_frames),
    ]);
    assert!(frames_run.status.success(), "{}", log(&frames_run));
    assert_eq!(
        std::fs::read_to_string(&from_frames).unwrap(),
        std::fs::read_to_string(&detections).unwrap()
    );

    // The first box's rows hold the model's scores for its clip, in label-map order.
    let file = ActionFile::load(&config).unwrap();
    let device = Default::default();
    let (model, _) = file
        .network
        .load::<TestBackend>(
            &Checkpoint::open(&weights).unwrap(),
            LoadMode::Strict,
            &device,
        )
        .unwrap();
    let labels = LabelMap::read(&data.join("annotations/ava_action_list_v2.2.pbtxt")).unwrap();
    let samples = keyframe_samples(
        &unlabelled_people(&boxes[..1]),
        &data,
        file.network.clip_spec(),
    )
    .unwrap();
    let batcher = ClipBatcher::new(
        ClipTransform::Test {
            short_side: 48,
            flip: false,
        },
        Normalization::default(),
        &labels,
        0,
    );
    let batch: ClipBatch<TestBackend> = batcher.batch(samples.samples().to_vec(), 0, &device);
    let scores = common::values(model.clip_scores(batch.clips, batch.rois, batch.bank));
    for ((row, label), score) in rows.iter().zip(&labels.labels).zip(&scores) {
        assert_eq!(row.key, boxes[0].key);
        assert_eq!(row.action_id, label.id);
        for (a, b) in row.box_xyxy_norm.iter().zip(&boxes[0].box_xyxy_norm) {
            assert!((a - b).abs() < 5e-4, "{a} vs {b}");
        }
        let written = row.last.unwrap();
        assert!(
            (written - *score as f64).abs() < 1e-6,
            "{written} vs {score}"
        );
    }

    let eval = avaloc(&[
        "eval",
        "--groundtruth",
        path(&data.join("annotations/ava_val_v2.2.csv")),
        "--detections",
        path(&detections),
        "--labelmap",
        path(&data.join("annotations/ava_action_list_v2.2.pbtxt")),
    ]);
    assert!(eval.status.success(), "{}", log(&eval));
    assert!(log(&eval).contains("frame-mAP@0.5IOU"), "{}", log(&eval));
    std::fs::remove_dir_all(&root).unwrap();
}

/// `avaloc demo` with micro networks for one epoch each: the three trainings, the fusion
/// classes chosen on val, the table of S, S + G + L and + arm fusion on the held-out test
/// keyframes, the annotated video's page; a rerun reuses every training; a set written by an
/// older avaloc is refused with what to do.
#[test]
fn demo_runs_the_system_and_prints_the_table() {
    let root = setup("demo");
    let data = root.join("data");
    // A held-out test video too.
    std::fs::remove_dir_all(&data).unwrap();
    let synth = SynthConfig {
        train_videos: 1,
        val_videos: 1,
        test_videos: 1,
        seconds: 6,
        width: 96,
        height: 72,
        seed: 5,
    };
    generate(&data, &synth).unwrap();
    let lfb = micro_config().replace(
        "sampling_rate = 2\n",
        "sampling_rate = 2\nglobal_pool = true\nglobal_dim = 8\n",
    ) + "\n[network.bank]\nwindow_s = 4\nper_second = 2\nlatent = 16\nlayers = 1\n";
    let arm = format!(
        "{}\n[arm]\nzoom = 1.5\n",
        micro_config().replace("num_classes = 13", "num_classes = 27")
    );
    std::fs::write(root.join("lfb.toml"), lfb).unwrap();
    std::fs::write(root.join("arm.toml"), arm).unwrap();
    std::fs::write(root.join("detector.toml"), common::MICRO_DETECTOR).unwrap();
    std::fs::write(root.join("cpn.toml"), common::MICRO_CPN).unwrap();
    let (detector, cpn) = (root.join("detector.toml"), root.join("cpn.toml"));
    let (config, lfb, arm, out) = (
        root.join("action.toml"),
        root.join("lfb.toml"),
        root.join("arm.toml"),
        root.join("demo"),
    );
    let demo = |extra: &[&str]| {
        let mut args = vec![
            "demo",
            "--config",
            path(&config),
            "--lfb-config",
            path(&lfb),
            "--arm-config",
            path(&arm),
            "--data",
            path(&data),
            "--out",
            path(&out),
            "--pictures",
            "3",
        ];
        args.extend_from_slice(extra);
        avaloc(&args)
    };
    let first = demo(&[
        "--ablation",
        "--full",
        "--detector-config",
        path(&detector),
        "--pose-config",
        path(&cpn),
    ]);
    assert!(first.status.success(), "{}", log(&first));
    let text = log(&first);
    for expected in [
        "S + G + L",
        "+ arm fusion",
        "frame-mAP@0.5IOU",
        "detector-like boxes",
        "not CPN",
        "the ablation",
        "S + G + L (non-local)",
        "L, FBO avg: listen to / watch mean AP",
        "arm branch, shared: arm classes' mean AP",
        "all five networks trained here",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    for file in [
        "base/model_final.safetensors",
        "lfb/model_final.safetensors",
        "arm/model_final.safetensors",
        "fusion.toml",
        "system.toml",
        "ablation.png",
        "test/detections.csv",
        "test_s/detections.csv",
        "video/index.html",
        "ablation_all.png",
        "ablation/arm_shared/model_final.safetensors",
        "detector/model_final.safetensors",
        "pose/model_final.safetensors",
        "test_full/detections.csv",
        "video_full/index.html",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // S's bank holds both splits' videos.
    let bank = avaloc::data::bank::BankManifest::read(&out.join("bank"))
        .unwrap()
        .unwrap();
    assert_eq!(bank.splits.len(), 2);
    assert!(
        text.contains("bank of the train videos: 1 written"),
        "{text}"
    );

    // The table's last row: the three mAPs as the evaluator gives them for the files.
    let labels = LabelMap::read(&data.join("annotations/ava_action_list_v2.2.pbtxt")).unwrap();
    let truth = read_ava_csv(&data.join("annotations/ava_test_v2.2.csv")).unwrap();
    let excluded = Default::default();
    let map = |file: &str| {
        let rows = avaloc::data::read_detections(&out.join(file)).unwrap();
        avaloc::eval::evaluate(&labels, &truth, &rows, &excluded, &Default::default()).map
    };
    // The main table's last row (the ablation's table follows it).
    let last = text
        .lines()
        .filter(|l| l.trim_start().starts_with("frame-mAP@0.5IOU"))
        .find(|l| l.split_whitespace().count() == 5)
        .unwrap();
    let expected = format!(
        "{:.4}  {:>12.4}  {:>12.4}",
        map("test_s/detections.csv"),
        map("test/scores/actions.csv"),
        map("test/detections.csv")
    );
    assert!(
        last.split_whitespace().collect::<Vec<_>>()[1..4]
            == expected.split_whitespace().collect::<Vec<_>>()[..],
        "{last} vs {expected}"
    );

    let again = demo(&[]);
    assert!(again.status.success(), "{}", log(&again));
    assert_eq!(
        log(&again).matches("using the finished training").count(),
        3,
        "{}",
        log(&again)
    );

    // A synthetic set written before the long-context classes: regenerate, says the demo.
    let labelmap = data.join("annotations/ava_action_list_v2.2.pbtxt");
    let text = std::fs::read_to_string(&labelmap).unwrap();
    let older: Vec<&str> = text
        .split_inclusive("}\n")
        .filter(|block| {
            ![74, 80, 77, 4]
                .iter()
                .any(|id| block.contains(&format!("label_id: {id}\n")))
        })
        .collect();
    std::fs::write(&labelmap, older.concat()).unwrap();
    let stale = demo(&[]);
    assert!(!stale.status.success());
    assert!(
        log(&stale).contains("older avaloc (9 classes")
            && log(&stale).contains("delete the folder"),
        "{}",
        log(&stale)
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Batches arrive in the sampler's order and draw their crops from their place in it, so two
/// seeded trainings on two loader workers give the same losses, metrics and weights.
#[test]
fn seeded_trainings_with_two_workers_agree() {
    let root = setup("train-twice");
    let config = root.join("action2.toml");
    let two_workers = micro_config()
        .replace("workers = 1", "workers = 2")
        .replace("batch_size = 4\noptimizer", "batch_size = 2\noptimizer")
        .replace("epochs = 1", "epochs = 2");
    std::fs::write(&config, two_workers).unwrap();
    let train = |out: &Path| {
        let run = avaloc(&[
            "train",
            "action",
            "--config",
            path(&config),
            "--data",
            path(&root.join("data")),
            "--out",
            path(out),
        ]);
        assert!(run.status.success(), "{}", log(&run));
        let history = History::read(&out.join("metrics.csv")).unwrap();
        let metrics: Vec<_> = history
            .records
            .iter()
            .map(|r| (r.train.clone(), r.valid.clone()))
            .collect();
        (
            metrics,
            safetensors_by_name(&out.join("model_final.safetensors")),
        )
    };
    let (first, first_weights) = train(&root.join("a"));
    let (second, second_weights) = train(&root.join("b"));
    assert_eq!(first.len(), 2);
    assert_eq!(first, second);
    let (a, b) = (first_weights, second_weights);
    assert!(a.len() > 10);
    assert!(a == b, "the weights differ");
    std::fs::remove_dir_all(&root).unwrap();
}

/// `train action` as an arm branch: the people of both splits at their arm boxes (from the
/// synthetic keypoints), the arm label set's 27 classes, validated at the arm boxes; detected
/// boxes are refused with it.
#[test]
fn trains_an_arm_branch_at_the_arm_boxes() {
    let root = setup("train-arm");
    let config = format!(
        "{}\n[arm]\nzoom = 1.5\n",
        micro_config().replace("num_classes = 13", "num_classes = 27")
    );
    std::fs::write(root.join("arm.toml"), config).unwrap();
    let data = root.join("data");
    let ann = data.join("annotations");
    let labelmap = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/arm/ava_arm_actions.pbtxt");
    let run = root.join("arm_run");
    let (train_kp, val_kp) = (
        ann.join("synth_keypoints_train.csv"),
        ann.join("synth_keypoints_val.csv"),
    );
    let config_path = root.join("arm.toml");
    let mut args: Vec<String> = [
        "train",
        "action",
        "--config",
        path(&config_path),
        "--data",
        path(&data),
        "--labelmap",
        path(&labelmap),
        "--train-keypoints",
        path(&train_kp),
        "--val-keypoints",
        path(&val_kp),
        "--out",
        path(&run),
    ]
    .map(String::from)
    .to_vec();
    let out = avaloc(&as_str(&args));
    assert!(out.status.success(), "{}", log(&out));
    assert!(log(&out).contains("arm boxes"), "{}", log(&out));
    let history = History::read(&run.join("metrics.csv")).unwrap();
    assert_eq!(history.records[0].valid[0].0, "frame_map");

    let boxes = ann.join("ava_detection_train_boxes_and_labels.csv");
    args.extend(["--train-boxes".to_string(), path(&boxes).to_owned()]);
    let last = args.len() - 3;
    args[last] = path(&root.join("other")).to_owned();
    let refused = avaloc(&as_str(&args));
    assert!(
        !refused.status.success() && log(&refused).contains("give no detected boxes"),
        "{}",
        log(&refused)
    );

    // The arm branch per person: at the annotated people's boxes, the maximum over their
    // arm-centred clips, one row per person with an arm box and arm class.
    let val_csv = ann.join("ava_val_v2.2.csv");
    let arm_csv = root.join("arm.csv");
    let weights = run.join("model_final.safetensors");
    let out = avaloc(&[
        "actions",
        "--config",
        path(&config_path),
        "--weights",
        path(&weights),
        "--data",
        path(&data),
        "--annotated",
        path(&val_csv),
        "--keypoints",
        path(&val_kp),
        "--labelmap",
        path(&labelmap),
        "--out",
        path(&arm_csv),
    ]);
    assert!(out.status.success(), "{}", log(&out));
    let people: std::collections::HashSet<String> = read_ava_csv(&val_csv)
        .unwrap()
        .iter()
        .map(|r| format!("{},{:?}", r.key, r.box_xyxy_norm))
        .collect();
    let arm_rows = read_ava_csv(&arm_csv).unwrap();
    assert!(!arm_rows.is_empty() && arm_rows.len().is_multiple_of(27));
    for r in &arm_rows {
        let at = format!("{},{:?}", r.key, r.box_xyxy_norm);
        assert!(people.contains(&at), "{at} is no annotated person's box");
    }

    // Fusion: base scores of 0.5 for every synthetic class at every person; the chosen
    // classes of people with arm scores become the mean of the two.
    let synth_labels = ann.join("ava_action_list_v2.2.pbtxt");
    let base_csv = root.join("base.csv");
    let ids: Vec<i64> = LabelMap::read(&synth_labels)
        .unwrap()
        .labels
        .iter()
        .map(|l| l.id)
        .collect();
    let mut base = String::new();
    let mut written = std::collections::HashSet::new();
    for r in read_ava_csv(&val_csv).unwrap() {
        if !written.insert(format!("{},{:?}", r.key, r.box_xyxy_norm)) {
            continue;
        }
        let [x1, y1, x2, y2] = r.box_xyxy_norm;
        for id in &ids {
            base.push_str(&format!(
                "{},{x1:.3},{y1:.3},{x2:.3},{y2:.3},{id},0.5\n",
                r.key
            ));
        }
    }
    std::fs::write(&base_csv, base).unwrap();
    let fusion = root.join("fusion.toml");
    let select = |out: &Path| {
        avaloc(&[
            "fuse",
            "select",
            "--base",
            path(&base_csv),
            "--arm",
            path(&arm_csv),
            "--groundtruth",
            path(&val_csv),
            "--labelmap",
            path(&synth_labels),
            "--min-gain",
            "-1",
            "--out",
            path(out),
        ])
    };
    let out = select(&fusion);
    assert!(out.status.success(), "{}", log(&out));
    assert!(log(&out).contains("fused AP"), "{}", log(&out));
    let config: toml::Value = toml::from_str(&std::fs::read_to_string(&fusion).unwrap()).unwrap();
    let chosen: Vec<i64> = config["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_integer().unwrap())
        .collect();
    // --min-gain -1 keeps every arm class with ground truth in val.
    assert!(
        !chosen.is_empty() && chosen.iter().all(|id| [34, 43, 58, 69].contains(id)),
        "{chosen:?}"
    );
    let fused_csv = root.join("fused.csv");
    let apply = |fusion: &Path, arm: &Path| {
        avaloc(&[
            "fuse",
            "apply",
            "--fusion",
            path(fusion),
            "--base",
            path(&base_csv),
            "--arm",
            path(arm),
            "--out",
            path(&fused_csv),
        ])
    };
    let out = apply(&fusion, &arm_csv);
    assert!(out.status.success(), "{}", log(&out));
    let arm_score = |r: &avaloc::data::AvaRow| {
        arm_rows
            .iter()
            .find(|a| {
                a.key == r.key && a.action_id == r.action_id && a.box_xyxy_norm == r.box_xyxy_norm
            })
            .and_then(|a| a.last)
    };
    let fused = read_ava_csv(&fused_csv).unwrap();
    assert_eq!(fused.len(), read_ava_csv(&base_csv).unwrap().len());
    for r in &fused {
        let expected = match arm_score(r) {
            Some(a) if chosen.contains(&r.action_id) => 0.5 * 0.5 + 0.5 * a,
            _ => 0.5,
        };
        assert!(
            (r.last.unwrap() - expected).abs() < 1e-3,
            "{r:?}: {expected}"
        );
    }

    // Bad input: a fusion weight out of range, arm rows without scores.
    std::fs::write(
        root.join("bad.toml"),
        "mode = \"mean\"\nweight = 2.0\nclasses = [69]\n",
    )
    .unwrap();
    let out = apply(&root.join("bad.toml"), &arm_csv);
    assert!(
        !out.status.success() && log(&out).contains("bad.toml"),
        "{}",
        log(&out)
    );
    std::fs::write(
        root.join("noscore.csv"),
        "syn_val_000,0902,0.1,0.1,0.2,0.2,69\n",
    )
    .unwrap();
    let out = apply(&fusion, &root.join("noscore.csv"));
    assert!(
        !out.status.success() && log(&out).contains("noscore.csv") && log(&out).contains("score"),
        "{}",
        log(&out)
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// A training killed (SIGKILL) after its second epoch's checkpoint, rerun with --resume, ends
/// with the weights of an uninterrupted seeded run, and leaves no final weights behind while
/// it is incomplete.
#[test]
fn a_killed_training_resumes_to_the_same_weights() {
    killed_and_resumed("train-killed", &micro_config(), &[]);
}

/// The same for the arm branch (27 arm classes on arm-centred clips at the keypoints' arm
/// boxes).
#[test]
fn a_killed_arm_training_resumes_to_the_same_weights() {
    let arm = format!(
        "{}\n[arm]\nzoom = 1.5\n",
        micro_config().replace("num_classes = 13", "num_classes = 27")
    );
    let keypoints = |split: &str| format!("synth_keypoints_{split}.csv");
    killed_and_resumed(
        "arm-killed",
        &arm,
        &[
            "--labelmap".into(),
            "configs/arm/ava_arm_actions.pbtxt".into(),
            "--train-keypoints".into(),
            format!("DATA/annotations/{}", keypoints("train")),
            "--val-keypoints".into(),
            format!("DATA/annotations/{}", keypoints("val")),
        ],
    );
}

/// Trains `config` (8 epochs) uninterrupted and killed after epoch 2 then resumed; `extra`
/// arguments name the dataset as `DATA`.
fn killed_and_resumed(name: &str, config: &str, extra: &[String]) {
    let root = setup(name);
    let config_path = root.join("long.toml");
    std::fs::write(
        &config_path,
        config
            .replace("epochs = 1", "epochs = 8")
            .replace("steps = [1]", "steps = [6]"),
    )
    .unwrap();
    let data = root.join("data");
    let args = |out: &Path| -> Vec<String> {
        let mut args: Vec<String> = [
            "train",
            "action",
            "--config",
            path(&config_path),
            "--data",
            path(&data),
            "--out",
            path(out),
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|a| a.replace("DATA", path(&data))));
        args
    };
    let full = root.join("full");
    let out = avaloc(&as_str(&args(&full)));
    assert!(out.status.success(), "{}", log(&out));

    let killed = root.join("killed");
    kill_when(
        &as_str(&args(&killed)),
        &killed.join("checkpoints/epoch_002"),
    );
    assert!(!killed.join("model_final.safetensors").exists());
    let again = avaloc(&as_str(&args(&killed)));
    assert!(
        !again.status.success() && log(&again).contains("--resume"),
        "{}",
        log(&again)
    );
    let mut resume = args(&killed);
    resume.push("--resume".into());
    let out = avaloc(&as_str(&resume));
    assert!(out.status.success(), "{}", log(&out));
    assert!(log(&out).contains("resuming"), "{}", log(&out));
    let weights = |run: &Path| safetensors_by_name(&run.join("model_final.safetensors"));
    assert!(weights(&full) == weights(&killed), "the weights differ");
    std::fs::remove_dir_all(root).unwrap();
}

/// A configuration whose sizes would take terabytes is refused before anything is allocated,
/// its parameter count in the message.
#[test]
fn an_oversized_network_is_refused_before_allocation() {
    let root = setup("train-huge");
    let config = root.join("huge.toml");
    std::fs::write(
        &config,
        micro_config().replace("width_per_group = 8", "width_per_group = 1048576"),
    )
    .unwrap();
    let out = avaloc(&[
        "train",
        "action",
        "--config",
        path(&config),
        "--data",
        path(&root.join("data")),
        "--out",
        path(&root.join("run")),
    ]);
    assert!(
        !out.status.success()
            && log(&out).contains("parameters")
            && log(&out).contains("[network]"),
        "{}",
        log(&out)
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// `--devices` on the CPU backend, which has one device, is refused saying what it is for;
/// an index that is not a number is a usage error.
#[test]
fn devices_on_the_cpu_are_refused() {
    for (devices, expected) in [
        ("0,1", "has one device, the CPU"),
        ("0,x", "invalid value 'x' for '--devices"),
    ] {
        let out = avaloc(&[
            "train",
            "action",
            "--config",
            "configs/action/slowfast_synth.toml",
            "--out",
            "/tmp/avaloc-devices-run",
            "--devices",
            devices,
        ]);
        assert!(
            !out.status.success() && log(&out).contains(expected),
            "{}",
            log(&out)
        );
    }
    assert!(!std::path::Path::new("/tmp/avaloc-devices-run").exists());
}

/// `train.action.freeze_backbone`: the heads learn on the backbone of --weights, which comes
/// out as it went in; without --weights the run is refused.
#[test]
fn a_frozen_backbone_stays_as_loaded() {
    let root = setup("train-frozen");
    let data = root.join("data");
    let train = |config: &Path, out: &Path, weights: Option<&Path>| {
        let mut args = vec![
            "train",
            "action",
            "--config",
            path(config),
            "--data",
            path(&data),
            "--out",
            path(out),
        ];
        if let Some(w) = weights {
            args.extend(["--weights", path(w)]);
        }
        avaloc(&args)
    };
    let body = root.join("body");
    let out = train(&root.join("action.toml"), &body, None);
    assert!(out.status.success(), "{}", log(&out));
    let frozen_config = root.join("frozen.toml");
    std::fs::write(
        &frozen_config,
        micro_config().replace(
            "[train.action]\n",
            "[train.action]\nfreeze_backbone = true\n",
        ),
    )
    .unwrap();
    let refused = train(&frozen_config, &root.join("none"), None);
    assert!(
        !refused.status.success() && log(&refused).contains("--weights"),
        "{}",
        log(&refused)
    );
    let initial = body.join("model_final.safetensors");
    let out = train(&frozen_config, &root.join("heads"), Some(&initial));
    assert!(out.status.success(), "{}", log(&out));
    let before = safetensors_by_name(&initial);
    let after = safetensors_by_name(&root.join("heads/model_final.safetensors"));
    let backbone: Vec<&String> = before
        .keys()
        .filter(|k| k.starts_with("backbone."))
        .collect();
    assert!(backbone.len() > 10);
    for name in backbone {
        assert!(before[name] == after[name], "{name} changed");
    }
    let classifier = "classifier.projection.weight";
    assert!(
        before[classifier] != after[classifier],
        "the classifier learned nothing"
    );

    // One backbone pass for both (`actions --arm-config`): the scores of two separate runs.
    let ann = data.join("annotations");
    let (val_csv, val_kp) = (
        ann.join("ava_val_v2.2.csv"),
        ann.join("synth_keypoints_val.csv"),
    );
    let labelmap = ann.join("ava_action_list_v2.2.pbtxt");
    let heads = root.join("heads/model_final.safetensors");
    let actions = |config: &Path, weights: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "actions",
            "--config",
            path(config),
            "--weights",
            path(weights),
            "--data",
            path(&data),
            "--annotated",
            path(&val_csv),
            "--out",
            path(out),
        ];
        args.extend_from_slice(extra);
        avaloc(&args)
    };
    let shared = |arm_weights: &Path| {
        actions(
            &root.join("action.toml"),
            &initial,
            &root.join("base_one.csv"),
            &[
                "--keypoints",
                path(&val_kp),
                "--arm-config",
                path(&frozen_config),
                "--arm-weights",
                path(arm_weights),
                "--arm-labelmap",
                path(&labelmap),
                "--arm-out",
                path(&root.join("arm_one.csv")),
            ],
        )
    };
    let out = shared(&heads);
    assert!(out.status.success(), "{}", log(&out));
    let out = actions(
        &root.join("action.toml"),
        &initial,
        &root.join("base.csv"),
        &[],
    );
    assert!(out.status.success(), "{}", log(&out));
    let out = actions(
        &frozen_config,
        &heads,
        &root.join("arm.csv"),
        &["--keypoints", path(&val_kp)],
    );
    assert!(out.status.success(), "{}", log(&out));
    for (one, apart) in [("base_one.csv", "base.csv"), ("arm_one.csv", "arm.csv")] {
        let (a, b) = (
            read_ava_csv(&root.join(one)).unwrap(),
            read_ava_csv(&root.join(apart)).unwrap(),
        );
        assert!(!a.is_empty() && a.len() == b.len(), "{one}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(
                (&x.key, x.box_xyxy_norm, x.action_id),
                (&y.key, y.box_xyxy_norm, y.action_id)
            );
            assert!(
                (x.last.unwrap() - y.last.unwrap()).abs() <= 2e-6,
                "{one}: {x:?} {y:?}"
            );
        }
    }
    // An arm branch with another backbone is refused.
    let other = root.join("other");
    let seeded = root.join("seeded.toml");
    std::fs::write(
        &seeded,
        micro_config().replace("workers = 1", "workers = 1\nseed = 7"),
    )
    .unwrap();
    let out = train(&seeded, &other, None);
    assert!(out.status.success(), "{}", log(&out));
    let refused = shared(&other.join("model_final.safetensors"));
    assert!(
        !refused.status.success() && log(&refused).contains("backbone is not the action model's"),
        "{}",
        log(&refused)
    );
    std::fs::remove_dir_all(root).unwrap();
}

fn as_str(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
