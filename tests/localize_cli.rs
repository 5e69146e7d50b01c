//! `avaloc localize` on a tiny synthetic video with micro networks (seeded weights): every
//! stage writes its outputs and manifest; a rerun reuses them all; a changed setting redoes
//! only what reads it; `--from` redoes a stage onward to the same detections; a run killed
//! after the bank stage resumes to the detections of an uninterrupted run; the annotated
//! video has the decoded video's frames and duration; the summary page's links resolve; a
//! system whose parts disagree is refused naming the file and key.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use avaloc::config::ActionFile;
use avaloc::data::synth::{SynthConfig, generate};
use avaloc::data::{read_ava_csv, read_person_boxes};
use avaloc::weights::save_safetensors;
use burn::tensor::backend::Backend;
use common::{TestBackend, avaloc, kill_when, log};

/// The micro model with a bank (non-local over 4 s × 2 features, G reduced to 8).
fn lfb_config() -> String {
    common::MICRO_ACTION.replace(
        "sampling_rate = 2\n",
        "sampling_rate = 2\nglobal_pool = true\nglobal_dim = 8\n",
    ) + "\n[network.bank]\nwindow_s = 4\nper_second = 2\nlatent = 16\nlayers = 1\n"
}

/// The micro model over the 27 arm classes on arm-centred clips.
fn arm_config() -> String {
    common::MICRO_ACTION.replace("num_classes = 13", "num_classes = 27") + "\n[arm]\nzoom = 1.5\n"
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One 6-second test video.
const SYNTH: SynthConfig = SynthConfig {
    train_videos: 0,
    val_videos: 0,
    test_videos: 1,
    seconds: 6,
    width: 96,
    height: 72,
    seed: 3,
};

/// A synthetic set with one 6-second test video, the three micro networks with seeded
/// weights, a fusion config and the system file naming them (given boxes and keypoints).
fn setup(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("avaloc-localize-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    generate(&root.join("data"), &SYNTH).unwrap();
    for (i, (file, text)) in [
        ("base", common::MICRO_ACTION.to_string()),
        ("lfb", lfb_config()),
        ("arm", arm_config()),
    ]
    .into_iter()
    .enumerate()
    {
        let config = root.join(format!("{file}.toml"));
        std::fs::write(&config, text).unwrap();
        let device = Default::default();
        TestBackend::seed(&device, 10 + i as u64);
        let model = ActionFile::load(&config)
            .unwrap()
            .network
            .model_config()
            .init::<TestBackend>(&device);
        save_safetensors(&model, root.join(format!("{file}.safetensors"))).unwrap();
    }
    std::fs::write(
        root.join("fusion.toml"),
        "mode = \"mean\"\nweight = 0.5\nclasses = [69, 43]\n",
    )
    .unwrap();
    let a = root.join("data/annotations");
    let system = format!(
        r#"[persons]
boxes = "{boxes}"
threshold = 0.5

[poses]
keypoints = "{keypoints}"

[bank]
config = "{r}/base.toml"
weights = "{r}/base.safetensors"
box_threshold = 0.5

[actions]
config = "{r}/lfb.toml"
weights = "{r}/lfb.safetensors"
labelmap = "{labels}"

[arm]
config = "{r}/arm.toml"
weights = "{r}/arm.safetensors"
labelmap = "configs/arm/ava_arm_actions.pbtxt"
fusion = "{r}/fusion.toml"

[render]
keyframes = 3
"#,
        r = root.display(),
        boxes = a.join("ava_detection_test_boxes_and_labels.csv").display(),
        keypoints = a.join("synth_keypoints_test.csv").display(),
        labels = a.join("ava_action_list_v2.2.pbtxt").display(),
    );
    std::fs::write(root.join("system.toml"), system).unwrap();
    root
}

fn localize(root: &Path, input: &[&str], out: &Path, extra: &[&str]) -> std::process::Output {
    let system = root.join("system.toml");
    let mut args = vec!["localize", "--system", s(&system)];
    args.extend_from_slice(input);
    args.extend(["--out", s(out)]);
    args.extend_from_slice(extra);
    avaloc(&args)
}

const STAGES: [&str; 7] = [
    "persons", "poses", "bank", "actions", "arms", "fusion", "render",
];

/// Stages that ran (not reused) according to the output.
fn ran(output: &std::process::Output) -> Vec<&'static str> {
    let text = log(output);
    STAGES
        .into_iter()
        .filter(|stage| !text.contains(&format!("{stage}: done already")))
        .collect()
}

/// Every `src="…"` and `href="…"` of the page, relative to its folder.
fn page_links(page: &Path) -> Vec<String> {
    let html = std::fs::read_to_string(page).unwrap();
    let mut links = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            links.push(part[..part.find('"').unwrap()].to_string());
        }
    }
    links
}

#[test]
fn localizes_resumes_and_redoes_from_a_stage() {
    let root = setup("stages");
    let frames = root.join("data/frames/syn_test_000");
    let input = ["--frames", s(&frames), "--no-video"];
    let out = root.join("out");
    let first = localize(&root, &input, &out, &[]);
    assert!(first.status.success(), "{}", log(&first));
    assert_eq!(ran(&first), STAGES.to_vec());
    for stage in STAGES {
        assert!(
            out.join(format!("stages/{stage}.json")).is_file(),
            "{stage}"
        );
    }
    assert!(log(&first).contains("given boxes"), "{}", log(&first));

    // One row per box and class; the fused classes (69, 43) are the mean of the two models'
    // scores where the arm branch scored the person, the others the action model's.
    let detections = read_ava_csv(&out.join("detections.csv")).unwrap();
    let body = read_ava_csv(&out.join("scores/actions.csv")).unwrap();
    let arm = read_ava_csv(&out.join("scores/arm.csv")).unwrap();
    let boxes = read_person_boxes(&out.join("persons.csv"), 0.0).unwrap();
    assert!(!boxes.is_empty());
    assert_eq!(detections.len(), boxes.len() * 13);
    assert_eq!(body.len(), detections.len());
    let score = |rows: &[avaloc::data::AvaRow], d: &avaloc::data::AvaRow| {
        rows.iter()
            .find(|r| {
                r.key == d.key && r.box_xyxy_norm == d.box_xyxy_norm && r.action_id == d.action_id
            })
            .and_then(|r| r.last)
    };
    let mut fused = 0;
    for d in &detections {
        let b = score(&body, d).unwrap();
        match (score(&arm, d), [69, 43].contains(&d.action_id)) {
            (Some(a), true) => {
                fused += 1;
                assert!(
                    (d.last.unwrap() - (0.5 * b + 0.5 * a)).abs() < 2e-6,
                    "{d:?}"
                );
            }
            _ => assert!((d.last.unwrap() - b).abs() < 2e-6, "{d:?}"),
        }
    }
    assert!(fused > 0, "some people have arm scores");

    // The page's links all resolve.
    let links = page_links(&out.join("index.html"));
    assert!(
        links.iter().any(|l| l.starts_with("keyframes/")),
        "{links:?}"
    );
    for link in &links {
        assert!(out.join(link).is_file(), "{link}");
    }

    // A rerun reuses every stage.
    let again = localize(&root, &input, &out, &[]);
    assert!(again.status.success(), "{}", log(&again));
    assert_eq!(ran(&again), Vec::<&str>::new(), "{}", log(&again));

    // A render setting redoes the rendering only.
    let render = localize(&root, &input, &out, &["--set", "render.keyframes=1"]);
    assert!(render.status.success(), "{}", log(&render));
    assert_eq!(ran(&render), vec!["render"]);
    assert_eq!(std::fs::read_dir(out.join("keyframes")).unwrap().count(), 1);

    // --from actions redoes actions onward, to the same detections.
    let before = std::fs::read(out.join("detections.csv")).unwrap();
    let redo = localize(&root, &input, &out, &["--from", "actions"]);
    assert!(redo.status.success(), "{}", log(&redo));
    assert_eq!(ran(&redo), vec!["actions", "arms", "fusion", "render"]);
    assert_eq!(std::fs::read(out.join("detections.csv")).unwrap(), before);

    // An output changed behind the manifests' back is redone; what reads it is reused, as
    // the redone output is the same again.
    std::fs::write(out.join("scores/arm.csv"), b"").unwrap();
    let repaired = localize(&root, &input, &out, &[]);
    assert!(repaired.status.success(), "{}", log(&repaired));
    assert_eq!(ran(&repaired), vec!["arms"]);
    assert_eq!(std::fs::read(out.join("detections.csv")).unwrap(), before);

    // Killed after the bank stage (in the action model's), a rerun completes to the same
    // detections.
    let killed = root.join("killed");
    let system = root.join("system.toml");
    kill_when(
        &[
            "localize",
            "--system",
            s(&system),
            "--frames",
            s(&frames),
            "--no-video",
            "--out",
            s(&killed),
        ],
        &killed.join("stages/bank.json"),
    );
    assert!(!killed.join("stages/actions.json").exists());
    assert!(!killed.join("detections.csv").exists());
    let resumed = localize(&root, &input, &killed, &[]);
    assert!(resumed.status.success(), "{}", log(&resumed));
    assert_eq!(ran(&resumed), vec!["actions", "arms", "fusion", "render"]);
    assert_eq!(
        std::fs::read(killed.join("detections.csv")).unwrap(),
        before
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_system_whose_parts_disagree_is_refused_naming_the_key() {
    let root = setup("refused");
    let frames = root.join("data/frames/syn_test_000");
    let input = ["--frames", s(&frames)];
    let out = root.join("out");
    let refused = |extra: &[&str], expected: &[&str]| {
        let run = localize(&root, &input, &out, extra);
        assert!(!run.status.success());
        let text = log(&run);
        assert!(text.contains("system.toml"), "{text}");
        for e in expected {
            assert!(text.contains(e), "{e}: {text}");
        }
    };
    // The arm branch's label map for the action model: 27 classes, not 13.
    refused(
        &[
            "--set",
            "actions.labelmap=configs/arm/ava_arm_actions.pbtxt",
        ],
        &["actions", "num_classes = 13", "27 classes"],
    );
    refused(
        &["--set", "actions.weights=/nonexistent.safetensors"],
        &["actions.weights", "no such file"],
    );
    // A bank model whose features are not the width the action model reads.
    let wide = common::MICRO_ACTION.replace("width_per_group = 8", "width_per_group = 16");
    std::fs::write(root.join("wide.toml"), wide).unwrap();
    let wide_config = format!("bank.config={}", root.join("wide.toml").display());
    refused(&["--set", &wide_config], &["bank.config", "wide"]);
    // A fused class the arm label set lacks (12: stand).
    std::fs::write(
        root.join("fusion.toml"),
        "mode = \"mean\"\nweight = 0.5\nclasses = [12]\n",
    )
    .unwrap();
    refused(&[], &["arm.fusion", "class 12"]);
    refused(
        &["--set", "persons.threshold"],
        &["--set persons.threshold", "table.key=value"],
    );
    assert!(!out.join("stages").exists(), "nothing ran");
    std::fs::remove_dir_all(root).unwrap();
}

/// A real MP4 at 25 fps: decoded at 30 fps by the first stage, the annotated video has the
/// decoded frames at 30 fps (the same duration), the page shows it.
#[test]
fn a_video_file_becomes_an_annotated_video() {
    if !common::ffmpeg_available("a_video_file_becomes_an_annotated_video") {
        return;
    }
    let root = setup("video");
    let clip = root.join("syn_test_000.mp4");
    let encoded = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-framerate", "30", "-i"])
        .arg(root.join("data/frames/syn_test_000/syn_test_000_%06d.jpg"))
        .args(["-r", "25", "-c:v", "mpeg4", "-q:v", "2"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(encoded.success());
    let out = root.join("out");
    let run = localize(&root, &["--video", s(&clip)], &out, &[]);
    assert!(run.status.success(), "{}", log(&run));
    let decoded = std::fs::read_dir(out.join("frames/syn_test_000"))
        .unwrap()
        .count();
    // 6 s at 30 fps (ffmpeg's resampling may repeat a frame or two at the end).
    assert!((180..=182).contains(&decoded), "{decoded}");
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=nb_read_frames,r_frame_rate",
            "-of",
            "csv=p=0",
        ])
        .arg(out.join("annotated.mp4"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    assert_eq!(
        text,
        format!("30/1,{decoded}"),
        "frame rate and frames of the annotated video"
    );
    let links = page_links(&out.join("index.html"));
    assert!(links.contains(&"annotated.mp4".to_string()), "{links:?}");
    for link in &links {
        assert!(out.join(link).is_file(), "{link}");
    }
    std::fs::remove_dir_all(root).unwrap();
}

/// The shipped systems load and agree (classes, bank widths, fusion classes) once their
/// weights exist: here any file stands for a weights file, and label maps of AVA's 60
/// evaluated classes and the synthetic set's 13 for the data's.
#[test]
fn the_shipped_systems_validate() {
    let root = setup("shipped");
    let some_file = root.join("base.safetensors");
    let ava60 = root.join("ava60.pbtxt");
    let mut text = String::new();
    // AVA's 60 evaluated ids.
    let ids = [
        1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 20, 22, 24, 26, 27, 28, 29, 30, 34, 36,
        37, 38, 41, 43, 45, 46, 47, 48, 49, 51, 52, 54, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66,
        67, 68, 69, 70, 72, 73, 74, 76, 77, 78, 79, 80,
    ];
    for id in ids {
        text.push_str(&format!(
            "item {{\n  name: \"class {id}\"\n  id: {id}\n}}\n"
        ));
    }
    std::fs::write(&ava60, text).unwrap();
    let synth13 = root.join("data/annotations/ava_action_list_v2.2.pbtxt");
    let fusion = root.join("fusion.toml");
    for (system, labelmap) in [
        ("configs/system/ms_ava.toml", &ava60),
        ("configs/system/ms_kinetics.toml", &ava60),
        ("configs/system/synth.toml", &synth13),
    ] {
        let mut overrides = vec![format!("actions.labelmap={}", labelmap.display())];
        for key in [
            "persons.weights",
            "poses.weights",
            "bank.weights",
            "actions.weights",
            "arm.weights",
        ] {
            overrides.push(format!("{key}={}", some_file.display()));
        }
        overrides.push(format!("arm.fusion={}", fusion.display()));
        // ms_kinetics has no [poses], [bank] or [arm]: the overrides would add them.
        if system.contains("kinetics") {
            overrides.retain(|o| o.starts_with("persons.") || o.starts_with("actions."));
        }
        // synth.toml names the configs `avaloc demo --full` writes into its run folder: the
        // built-in ones of configs/ (the demo's own test compares the two systems).
        if system.contains("synth") {
            for (key, config) in [
                ("persons.config", "configs/detector/faster_rcnn_synth.toml"),
                ("poses.config", "configs/pose/cpn_synth.toml"),
                ("bank.config", "configs/action/slowfast_synth.toml"),
                ("actions.config", "configs/action/slowfast_lfb_g_synth.toml"),
                ("arm.config", "configs/action/slowfast_arm_synth.toml"),
                ("arm.labelmap", "configs/arm/ava_arm_actions.pbtxt"),
            ] {
                overrides.push(format!("{key}={config}"));
            }
        }
        let loaded = avaloc::localize::system::SystemFile::load(Path::new(system), &overrides);
        assert!(loaded.is_ok(), "{system}: {}", loaded.unwrap_err());
    }
    std::fs::remove_dir_all(root).unwrap();
}

/// AVA-Kinetics: `--data --split test` sends the films to `--system` and the Kinetics clips
/// to `--kinetics-system` (detector-like boxes at 0.7, no bank), each into its folder; the
/// detections file holds both, and the parts table equals the evaluator's per part.
/// The setup with two AVA-Kinetics clips and a system for them, `kinetics.toml`.
fn kinetics_setup(name: &str) -> PathBuf {
    let root = setup(name);
    let data = root.join("data");
    avaloc::data::synth::generate_kinetics(&data, &SYNTH, 2).unwrap();
    let a = data.join("annotations");
    let kinetics = format!(
        "[persons]\nboxes = \"{}\"\nthreshold = 0.7\n\n[actions]\nconfig = \"{r}/base.toml\"\n\
         weights = \"{r}/base.safetensors\"\nlabelmap = \"{}\"\n",
        a.join("kinetics_detection_test_boxes_and_labels.csv")
            .display(),
        a.join("ava_action_list_v2.2.pbtxt").display(),
        r = root.display()
    );
    std::fs::write(root.join("kinetics.toml"), kinetics).unwrap();
    root
}

#[test]
fn the_kinetics_part_goes_to_its_own_system() {
    let root = kinetics_setup("kinetics");
    let data = root.join("data");
    let a = data.join("annotations");
    let out = root.join("out");
    let k = root.join("kinetics.toml");
    let input = [
        "--data",
        s(&data),
        "--split",
        "test",
        "--kinetics-system",
        s(&k),
        "--no-video",
    ];
    let run = localize(&root, &input, &out, &[]);
    assert!(run.status.success(), "{}", log(&run));
    let ava = read_ava_csv(&out.join("ava/detections.csv")).unwrap();
    let kin = read_ava_csv(&out.join("kinetics/detections.csv")).unwrap();
    let both = read_ava_csv(&out.join("detections.csv")).unwrap();
    assert!(!ava.is_empty() && !kin.is_empty());
    assert_eq!(both.len(), ava.len() + kin.len());
    // The Kinetics clips' people are at their clips' middle second only.
    for r in &kin {
        let start = avaloc::data::kinetics_clip_start_s(&r.key.video_id).unwrap();
        assert_eq!(r.key.timestamp_s, start + 5);
    }
    let truths = [
        a.join("ava_test_v2.2.csv"),
        a.join("kinetics_test_v1.0.csv"),
    ];
    let parts = avaloc::eval::evaluate_parts(
        &truths,
        &out.join("detections.csv"),
        &a.join("ava_action_list_v2.2.pbtxt"),
        Some(&a.join("ava_test_excluded_timestamps_v2.2.csv")),
        &Default::default(),
    )
    .unwrap();
    let table = std::fs::read_to_string(out.join("eval_parts.txt")).unwrap();
    assert_eq!(table, avaloc::eval::parts_table(&parts));
    assert!(log(&run).contains(&table), "{}", log(&run));
    for link in page_links(&out.join("index.html")) {
        assert!(out.join(&link).is_file(), "{link}");
    }
    // Without --kinetics-system the clips are left out, saying so.
    let films = localize(
        &root,
        &["--data", s(&data), "--split", "test", "--no-video"],
        &root.join("films"),
        &[],
    );
    assert!(films.status.success(), "{}", log(&films));
    assert!(
        log(&films).contains("give --kinetics-system"),
        "{}",
        log(&films)
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// `--shard`: two shares of an AVA-Kinetics split (one film, two clips: the film's second
/// share is empty) fill one folder; the first to finish waits, the last writes the union,
/// which holds the unsharded run's detections and evaluation; each share's page evaluates
/// its own videos.
#[test]
fn shares_fill_one_folder_with_the_unsharded_detections() {
    let root = kinetics_setup("shards");
    let data = root.join("data");
    let k = root.join("kinetics.toml");
    let input = [
        "--data",
        s(&data),
        "--split",
        "test",
        "--kinetics-system",
        s(&k),
        "--no-video",
    ];
    let whole = root.join("whole");
    let run = localize(&root, &input, &whole, &[]);
    assert!(run.status.success(), "{}", log(&run));
    let out = root.join("out");
    let first = localize(&root, &input, &out, &["--shard", "1/2"]);
    assert!(first.status.success(), "{}", log(&first));
    assert!(
        log(&first).contains("ava share 1/2: no videos"),
        "{}",
        log(&first)
    );
    assert!(log(&first).contains("waiting for 0/2"), "{}", log(&first));
    assert!(!out.join("detections.csv").exists());
    let last = localize(&root, &input, &out, &["--shard", "0/2"]);
    assert!(last.status.success(), "{}", log(&last));
    for part in ["ava", "kinetics"] {
        let share = out.join(part).join("shard-0-of-2");
        assert!(share.join("detections.csv").is_file(), "{part}");
        for link in page_links(&share.join("index.html")) {
            assert!(share.join(&link).exists(), "{part}: {link}");
        }
        for link in page_links(&out.join(part).join("index.html")) {
            assert!(out.join(part).join(&link).is_file(), "{part}: {link}");
        }
    }
    let sorted = |path: &Path| {
        let mut rows: Vec<String> = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        rows.sort();
        rows
    };
    for file in [
        "detections.csv",
        "ava/detections.csv",
        "kinetics/detections.csv",
    ] {
        assert_eq!(sorted(&out.join(file)), sorted(&whole.join(file)), "{file}");
    }
    for file in ["eval_parts.txt", "ava/eval.txt", "kinetics/eval.txt"] {
        let read = |dir: &Path| std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(read(&out), read(&whole), "{file}");
    }
    // A share's page evaluates its own clip: the other clip's ground truth is not missed.
    let clip = read_ava_csv(&out.join("kinetics/shard-1-of-2/detections.csv")).unwrap();
    let ids: std::collections::BTreeSet<&str> =
        clip.iter().map(|r| r.key.video_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // A share rerun with other settings: the other share's results no longer join it, and
    // the unions made with them are gone until that share is rerun too.
    let other = ["--set", "render.top=2"];
    let rerun = localize(
        &root,
        &input,
        &out,
        &[&["--shard", "0/2"][..], &other].concat(),
    );
    assert!(rerun.status.success(), "{}", log(&rerun));
    assert!(
        log(&rerun).contains("waiting for 1/2, run with other settings than 0/2 (render.table)"),
        "{}",
        log(&rerun)
    );
    for file in ["detections.csv", "index.html", "kinetics/detections.csv"] {
        assert!(!out.join(file).exists(), "{file}");
    }
    let rerun = localize(
        &root,
        &input,
        &out,
        &[&["--shard", "1/2"][..], &other].concat(),
    );
    assert!(rerun.status.success(), "{}", log(&rerun));
    assert_eq!(
        sorted(&out.join("detections.csv")),
        sorted(&whole.join("detections.csv"))
    );
    std::fs::remove_dir_all(root).unwrap();
}
