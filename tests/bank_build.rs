//! `avaloc bank build` and `bank inspect` on a tiny synthetic dataset: the stored features are
//! the model's short-term features of each box (float32 exactly), a build in two shards equals
//! one build, a build missing a video or killed half-way completes to the same bank, a folder of
//! another model is refused naming the manifest field, and inspect counts what is there.
//! And SlowFast + LFB end to end: banks of both splits in one folder, `train action --bank`
//! (refused without one), `actions --bank` (the demo's chain: tests/action_training.rs).

mod common;

use std::path::{Path, PathBuf};

use avaloc::config::ActionFile;
use avaloc::data::bank::{VideoBank, video_path};
use avaloc::data::synth::{SynthConfig, generate};
use avaloc::data::{ClipBatch, ClipBatcher, ClipTransform, LabelMap, Normalization, SeededBatcher};
use avaloc::data::{annotated_people, keyframe_samples};
use avaloc::weights::save_safetensors;
use burn::tensor::backend::Backend;
use common::{TestBackend, avaloc, log};

fn setup(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("avaloc-bank-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("action.toml"), common::MICRO_ACTION).unwrap();
    let synth = SynthConfig {
        train_videos: 3,
        val_videos: 1,
        test_videos: 0,
        seconds: 6,
        width: 96,
        height: 72,
        seed: 11,
    };
    generate(&root.join("data"), &synth).unwrap();
    let config = ActionFile::load(root.join("action.toml")).unwrap();
    for (seed, name) in [(1, "weights.safetensors"), (2, "other.safetensors")] {
        let device = Default::default();
        TestBackend::seed(&device, seed);
        let model = config.network.model_config().init::<TestBackend>(&device);
        save_safetensors(&model, root.join(name)).unwrap();
    }
    root
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn builds_shards_resumes_and_refuses_another_models_folder() {
    let root = setup("build");
    let data = root.join("data");
    let (config_path, data_path) = (root.join("action.toml"), data.clone());
    let build = |out: &Path, weights: &str, extra: &[&str]| {
        let weights = root.join(weights);
        let mut args = vec!["bank", "build", "--config", s(&config_path), "--weights"];
        args.extend([s(&weights), "--data", s(&data_path), "--split", "train"]);
        args.extend(["--out", s(out)]);
        args.extend_from_slice(extra);
        avaloc(&args)
    };
    let whole = root.join("whole");
    let run = build(&whole, "weights.safetensors", &["--dtype", "f32"]);
    assert!(run.status.success(), "{}", log(&run));
    assert!(log(&run).contains("3 of 3 videos written"), "{}", log(&run));

    // The stored features are the model's S for each ground-truth box.
    let config = ActionFile::load(root.join("action.toml")).unwrap();
    let device = Default::default();
    let checkpoint = avaloc::weights::Checkpoint::open(root.join("weights.safetensors")).unwrap();
    let (model, _) = config
        .network
        .load::<TestBackend>(&checkpoint, avaloc::weights::LoadMode::Strict, &device)
        .unwrap();
    let people = annotated_people(&data.join("annotations/ava_train_v2.2.csv")).unwrap();
    let samples = keyframe_samples(&people, &data, config.network.clip_spec()).unwrap();
    let sample = samples.samples()[0].clone();
    let batcher = ClipBatcher::new(
        ClipTransform::Test {
            short_side: 48,
            flip: false,
        },
        Normalization::default(),
        &LabelMap { labels: Vec::new() },
        0,
    );
    let batch: ClipBatch<TestBackend> = batcher.batch(vec![sample.clone()], 0, &device);
    let expected = common::values(model.clip_box_features(batch.clips, batch.rois).short_term);
    let bank = VideoBank::open(&video_path(&whole, &sample.key.video_id)).unwrap();
    let dim = bank.dim();
    assert_eq!(dim, 256 + 64, "the pathways' res5 channels");
    let stored = bank.second(sample.key.timestamp_s);
    assert_eq!(stored.len(), sample.boxes_xyxy_norm.len());
    for (i, bbox) in sample.boxes_xyxy_norm.iter().enumerate() {
        let entry = stored
            .clone()
            .find(|&e| bank.entries()[e].box_xyxy_norm == bbox.map(|v| v as f32))
            .expect("each box stored");
        assert_eq!(bank.entries()[entry].score, 1.0, "ground truth");
        let mut feature = vec![0f32; dim];
        bank.feature_into(entry, &mut feature);
        assert_eq!(feature, expected[i * dim..(i + 1) * dim].to_vec());
    }

    // Two shards into one folder give the same files.
    let sharded = root.join("sharded");
    for share in ["0/2", "1/2"] {
        let run = build(
            &sharded,
            "weights.safetensors",
            &["--dtype", "f32", "--shard", share],
        );
        assert!(run.status.success(), "{}", log(&run));
    }
    let files = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    assert_eq!(files(&sharded), files(&whole));

    // A build that stopped before a video completes it; what was there stays.
    let before = files(&whole);
    std::fs::remove_file(video_path(&whole, "syn_train_001")).unwrap();
    let run = build(&whole, "weights.safetensors", &["--dtype", "f32"]);
    assert!(
        log(&run).contains("1 of 3 videos written") && log(&run).contains("2 already there"),
        "{}",
        log(&run)
    );
    assert_eq!(files(&whole), before);

    // A build killed (SIGKILL) once its first video is in place resumes to the same bank.
    let killed = root.join("killed");
    let weights = root.join("weights.safetensors");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_avaloc"))
        .args(["bank", "build", "--config", s(&config_path), "--weights"])
        .args([s(&weights), "--data", s(&data_path), "--split", "train"])
        .args(["--dtype", "f32", "--out", s(&killed)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let banks = |dir: &Path| {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.filter(|e| e.as_ref().unwrap().path().extension() == Some("bank".as_ref()))
                .count()
        })
    };
    let started = std::time::Instant::now();
    while banks(&killed) == 0 && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done_when_killed = banks(&killed);
    assert!(
        (1..3).contains(&done_when_killed),
        "{done_when_killed} videos"
    );
    let run = build(&killed, "weights.safetensors", &["--dtype", "f32"]);
    assert!(
        log(&run).contains(&format!("{} of 3 videos written", 3 - done_when_killed)),
        "{}",
        log(&run)
    );
    assert_eq!(files(&killed), before);

    // Another model's weights into the same folder: refused, naming the field.
    let run = build(&whole, "other.safetensors", &["--dtype", "f32"]);
    assert!(!run.status.success());
    assert!(
        log(&run).contains("weights_digest") && log(&run).contains("manifest.json"),
        "{}",
        log(&run)
    );

    // Bad input: a malformed shard, an unknown storage type, an action config of another kind,
    // a folder that is no bank.
    let bad_shard = build(&root.join("x"), "weights.safetensors", &["--shard", "2/2"]);
    assert!(!bad_shard.status.success());
    assert!(
        log(&bad_shard).contains("--shard") && log(&bad_shard).contains("expected I/N"),
        "{}",
        log(&bad_shard)
    );
    let bad_dtype = build(&root.join("x"), "weights.safetensors", &["--dtype", "f8"]);
    assert!(!bad_dtype.status.success());
    assert!(log(&bad_dtype).contains("f8"), "{}", log(&bad_dtype));
    let detector = avaloc(&[
        "bank",
        "build",
        "--config",
        "configs/detector/faster_rcnn_tiny.toml",
        "--weights",
        s(&root.join("weights.safetensors")),
        "--data",
        s(&data),
        "--split",
        "train",
        "--out",
        s(&root.join("x")),
    ]);
    assert!(!detector.status.success());
    assert!(
        log(&detector).contains("faster_rcnn_tiny.toml")
            && log(&detector).contains("not an action model"),
        "{}",
        log(&detector)
    );
    let not_a_bank = avaloc(&["bank", "inspect", s(&data)]);
    assert!(!not_a_bank.status.success());
    assert!(
        log(&not_a_bank).contains("not a bank folder"),
        "{}",
        log(&not_a_bank)
    );

    let inspect = avaloc(&["bank", "inspect", s(&whole)]);
    assert!(inspect.status.success(), "{}", log(&inspect));
    assert!(
        log(&inspect).contains("3 videos, 9 seconds"),
        "{}",
        log(&inspect)
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// The tiny model with a non-local bank operator over 4 s × 2 features and G reduced to 8.
const LFB: &str = r#"
global_pool = true
global_dim = 8

[network.bank]
window_s = 4
per_second = 2
latent = 16
layers = 1

[train]
epochs = 1
batch_size = 4
optimizer = "adamw"
lr = 0.001
workers = 2
"#;

#[test]
fn slowfast_with_a_feature_bank_trains_and_scores() {
    let root = setup("lfb");
    let data = root.join("data");
    let bank = root.join("bank");
    let boxes = data.join("annotations/ava_detection_val_boxes_and_labels.csv");
    let (base_config, base_weights) = (root.join("action.toml"), root.join("weights.safetensors"));
    let build = |split: &str, extra: &[&str], out: &Path| {
        let mut args = vec!["bank", "build", "--config", s(&base_config), "--weights"];
        args.extend([s(&base_weights), "--data", s(&data), "--split", split]);
        args.extend(["--box-threshold", "0.5", "--out", s(out)]);
        args.extend_from_slice(extra);
        let run = avaloc(&args);
        assert!(run.status.success(), "{}", log(&run));
    };
    let train = |config: &Path, extra: &[&str], out: &Path| {
        let mut args = vec!["train", "action", "--config", s(config), "--data", s(&data)];
        args.extend(["--out", s(out)]);
        args.extend_from_slice(extra);
        avaloc(&args)
    };
    let score = |config: &Path, weights: &Path, banks: &[&Path], extra: &[&str], out: &Path| {
        let mut args = vec!["actions", "--config", s(config), "--weights", s(weights)];
        args.extend(["--data", s(&data), "--boxes", s(&boxes), "--out", s(out)]);
        for bank in banks {
            args.extend(["--bank", s(bank)]);
        }
        args.extend_from_slice(extra);
        avaloc(&args)
    };
    build("train", &[], &bank);
    build("val", &[], &bank);
    // The [network] keys go before its sub-tables.
    let lfb_config = common::MICRO_ACTION.replace(
        "sampling_rate = 2\n",
        &format!(
            "sampling_rate = 2\n{}",
            &LFB[..LFB.find("\n[network.bank]").unwrap()]
        ),
    ) + &LFB[LFB.find("[network.bank]").unwrap()..];
    let config = root.join("lfb.toml");
    std::fs::write(&config, &lfb_config).unwrap();
    let model = ActionFile::load(&config).unwrap().network.model_config();
    // [S, L, G]: 320 + 16 + 8.
    assert_eq!(model.classifier().in_features, 320 + 16 + 8);

    let out = root.join("run");
    let without = train(&config, &[], &out);
    assert!(!without.status.success());
    assert!(
        log(&without).contains("lfb.toml") && log(&without).contains("--bank"),
        "{}",
        log(&without)
    );
    let run = train(&config, &["--bank", s(&bank)], &out);
    assert!(run.status.success(), "{}", log(&run));
    assert!(log(&run).contains("val frame-mAP"), "{}", log(&run));

    let weights = out.join("model_final.safetensors");
    let detections = root.join("detections.csv");
    let scored = score(&config, &weights, &[&bank], &[], &detections);
    assert!(scored.status.success(), "{}", log(&scored));
    let rows = std::fs::read_to_string(&detections)
        .unwrap()
        .lines()
        .count();
    assert!(rows > 9, "{rows} rows");

    // One bank per test view: the flipped view reads a bank built from flipped clips.
    // (An avg operator: the bank reaches the classifier from the first step; the non-local
    // one starts as the identity.)
    let flipped_bank = root.join("bank_flip");
    build("val", &["--flip"], &flipped_bank);
    let avg_config = root.join("lfb_avg.toml");
    let avg = lfb_config.replace("window_s = 4", "operator = \"avg\"\nwindow_s = 4");
    std::fs::write(&avg_config, avg).unwrap();
    let avg_run = root.join("run_avg");
    let run = train(&avg_config, &["--bank", s(&bank)], &avg_run);
    assert!(run.status.success(), "{}", log(&run));
    let avg_weights = avg_run.join("model_final.safetensors");
    let with_flip = |banks: &[&Path], out: &Path| {
        let run = score(&avg_config, &avg_weights, banks, &["--flip"], out);
        assert!(run.status.success(), "{}", log(&run));
        std::fs::read_to_string(out).unwrap()
    };
    let one = with_flip(&[&bank], &root.join("one.csv"));
    let per_view = with_flip(&[&bank, &flipped_bank], &root.join("per_view.csv"));
    assert_ne!(one, per_view, "the flipped view reads its own bank");

    // A bank without the videos asked for is an error naming the video.
    let empty = root.join("empty_bank");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(bank.join("manifest.json"), empty.join("manifest.json")).unwrap();
    let missing = score(&config, &weights, &[&empty], &[], &detections);
    assert!(!missing.status.success());
    assert!(log(&missing).contains("syn_val_000"), "{}", log(&missing));
    std::fs::remove_dir_all(root).unwrap();
}
