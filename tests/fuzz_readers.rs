//! Mutation fuzzing of every reader of outside files: valid files (a tiny synthetic dataset,
//! the shipped configs, checkpoint fixtures, a bank) are mutated at random — bytes flipped,
//! cut, duplicated, spliced with random bytes, digits turned into huge numbers, `nan` and
//! `inf` — and each reader must return `Ok` or an error naming the file, never panic.
//! Seeded: `AVALOC_FUZZ_CASES=N` runs N cases per reader (default 150, seconds in all);
//! `AVALOC_FUZZ_SEED` changes the draws.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use avaloc::config::NetworkFile;
use avaloc::data::bank::{BankDtype, BankEntry, BankManifest, VideoBank, write_video};
use avaloc::data::synth::{SynthConfig, generate};
use avaloc::data::{
    CocoKeypoints, LabelMap, read_ava_csv, read_coco_results, read_exclusions, read_frame_list,
    read_keypoints, read_person_boxes,
};
use avaloc::infer::fusion::Fusion;
use avaloc::train::History;
use avaloc::weights::Checkpoint;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn cases() -> usize {
    std::env::var("AVALOC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

fn seed() -> u64 {
    std::env::var("AVALOC_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261129)
}

/// One random mutation of `bytes`.
fn mutate(bytes: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let rounds = rng.random_range(1..4);
    for _ in 0..rounds {
        let len = out.len().max(1);
        match rng.random_range(0..8) {
            0 => {
                // Flip a few bytes.
                for _ in 0..rng.random_range(1..8) {
                    if !out.is_empty() {
                        let i = rng.random_range(0..out.len());
                        out[i] ^= 1 << rng.random_range(0..8);
                    }
                }
            }
            1 => out.truncate(rng.random_range(0..len)),
            2 => {
                // Duplicate a span.
                let a = rng.random_range(0..len);
                let b = (a + rng.random_range(0..64)).min(out.len());
                let span: Vec<u8> = out.get(a..b).unwrap_or_default().to_vec();
                let at = rng.random_range(0..=out.len());
                out.splice(at..at, span);
            }
            3 => {
                // Random bytes spliced in.
                let at = rng.random_range(0..=out.len());
                let junk: Vec<u8> = (0..rng.random_range(1..32)).map(|_| rng.random()).collect();
                out.splice(at..at, junk);
            }
            4 | 5 => {
                // A digit run replaced by an extreme or non-finite number.
                let digits: Vec<usize> = (0..out.len())
                    .filter(|&i| out[i].is_ascii_digit())
                    .collect();
                if let Some(&i) = digits.get(rng.random_range(0..digits.len().max(1))) {
                    let word: &[u8] = [
                        &b"nan"[..],
                        b"inf",
                        b"-inf",
                        b"1e308",
                        b"-99999999999999999999",
                        b"18446744073709551615",
                        b"",
                    ][rng.random_range(0..7)];
                    out.splice(i..i + 1, word.iter().copied());
                }
            }
            6 => {
                // A separator removed or added.
                let seps: Vec<usize> = (0..out.len())
                    .filter(|&i| matches!(out[i], b',' | b'\n' | b'{' | b'}' | b'"' | b':'))
                    .collect();
                if let Some(&i) = seps.get(rng.random_range(0..seps.len().max(1))) {
                    if rng.random_bool(0.5) {
                        out.remove(i);
                    } else {
                        out.insert(i, out[i]);
                    }
                }
            }
            _ => {
                // Bytes replaced by little-endian huge integers (length fields).
                if out.len() >= 8 {
                    let i = rng.random_range(0..out.len() - 7);
                    let v: u64 = [u64::MAX, u32::MAX as u64, 1 << 40, 0][rng.random_range(0..4)];
                    out[i..i + 8].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    out
}

/// Runs `read` on `cases()` mutations of `valid` (and on random bytes), written to a file
/// named like `valid`; panics are failures, errors must name the file.
fn fuzz<T, E: std::fmt::Display>(
    name: &str,
    valid: &Path,
    read: impl Fn(&Path) -> Result<T, E>,
) -> (usize, usize) {
    let bytes = std::fs::read(valid).unwrap();
    let dir = std::env::temp_dir().join(format!("avaloc-fuzz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file_name = valid.file_name().unwrap().to_string_lossy().into_owned();
    let target = dir.join(&file_name);
    let mut rng = StdRng::seed_from_u64(seed() ^ name.bytes().map(u64::from).sum::<u64>());
    let (mut ok, mut err) = (0, 0);
    for case in 0..cases() {
        let input = if case % 10 == 9 {
            (0..rng.random_range(0..256))
                .map(|_| rng.random())
                .collect()
        } else {
            mutate(&bytes, &mut rng)
        };
        std::fs::write(&target, &input).unwrap();
        match catch_unwind(AssertUnwindSafe(|| read(&target))) {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                let message = e.to_string();
                assert!(
                    message.contains(&file_name),
                    "{name} case {case}: the error does not name the file: {message}"
                );
                err += 1;
            }
            Err(_) => {
                let kept = std::env::temp_dir().join(format!("avaloc-fuzz-panic-{name}"));
                std::fs::write(&kept, &input).unwrap();
                panic!(
                    "{name} case {case} panicked; input kept in {}",
                    kept.display()
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    (ok, err)
}

/// The synthetic dataset, made once under the target folder and reused by later runs: made in
/// a folder of this process's own and renamed into place, so concurrent runs never see half of
/// one (a loser of the race removes its copy).
fn dataset() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-data");
        if !root.is_dir() {
            let scratch = root.with_extension(std::process::id().to_string());
            let config = SynthConfig {
                train_videos: 1,
                val_videos: 1,
                test_videos: 0,
                seconds: 5,
                width: 96,
                height: 72,
                seed: 1,
            };
            generate(&scratch, &config).unwrap();
            if std::fs::rename(&scratch, &root).is_err() {
                std::fs::remove_dir_all(&scratch).unwrap();
            }
        }
        root
    })
    .clone()
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn data_files() {
    let root = dataset();
    let ann = root.join("annotations");
    let mut report = Vec::new();
    report.push((
        "ava csv",
        fuzz("ava_csv", &ann.join("ava_val_v2.2.csv"), read_ava_csv),
    ));
    report.push((
        "label map",
        fuzz(
            "labelmap",
            &ann.join("ava_action_list_v2.2.pbtxt"),
            LabelMap::read,
        ),
    ));
    report.push((
        "label map (item dialect)",
        fuzz(
            "labelmap_items",
            &repo("tests/fixtures/ava_eval/labelmap.pbtxt"),
            LabelMap::read,
        ),
    ));
    report.push((
        "exclusions",
        fuzz(
            "exclusions",
            &repo("tests/fixtures/ava_eval/exclusions.csv"),
            read_exclusions,
        ),
    ));
    report.push((
        "person boxes",
        fuzz(
            "boxes",
            &ann.join("ava_detection_val_boxes_and_labels.csv"),
            |p| read_person_boxes(p, 0.0),
        ),
    ));
    report.push((
        "frame list",
        fuzz(
            "frame_list",
            &root.join("frame_lists/val.csv"),
            read_frame_list,
        ),
    ));
    report.push((
        "keypoints csv",
        fuzz(
            "keypoints",
            &ann.join("synth_keypoints_val.csv"),
            read_keypoints,
        ),
    ));
    report.push((
        "coco keypoints",
        fuzz(
            "coco",
            &ann.join("person_keypoints_val.json"),
            CocoKeypoints::read,
        ),
    ));
    report.push((
        "coco results",
        fuzz(
            "coco_results",
            &repo("tests/fixtures/coco_keypoints/case0_dt.json"),
            read_coco_results,
        ),
    ));
    for (name, (ok, err)) in report {
        println!("{name}: {ok} read, {err} refused with the file named");
    }
}

#[test]
fn configs_checkpoints_banks_and_histories() {
    let mut report = Vec::new();
    for config in [
        "configs/action/slowfast_lfb_synth.toml",
        "configs/action/slowfast_arm_synth.toml",
        "configs/detector/faster_rcnn_tiny.toml",
        "configs/pose/cpn_synth.toml",
        "configs/ms_ava.toml",
    ] {
        report.push((
            config,
            fuzz("config", &repo(config), |p| NetworkFile::load(p)),
        ));
    }
    for checkpoint in [
        "tests/fixtures/weights_tiny.safetensors",
        "tests/fixtures/weights_tiny.pth",
        "tests/fixtures/weights_tiny_legacy.pth",
    ] {
        report.push((
            checkpoint,
            fuzz("checkpoint", &repo(checkpoint), |p| {
                Checkpoint::open(p).map(|c| c.tensors().len())
            }),
        ));
    }
    let dir = std::env::temp_dir().join(format!("avaloc-fuzz-bank-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let entries: Vec<BankEntry> = (0..6)
        .map(|i| BankEntry {
            second: 900 + i,
            score: 0.9,
            box_xyxy_norm: [0.1, 0.2, 0.5, 0.9],
            feature: vec![i as f32; 8],
        })
        .collect();
    let bank = write_video(&dir, "vid", &entries, 8, BankDtype::F16).unwrap();
    report.push((
        "bank file",
        fuzz("bank", &bank, |p| {
            VideoBank::open(p).map(|b| {
                let mut out = vec![0.0; b.dim()];
                for i in 0..b.entries().len() {
                    b.feature_into(i, &mut out);
                }
            })
        }),
    ));
    common::bank_manifest(8).write(&dir).unwrap();
    report.push((
        "bank manifest.json",
        fuzz("manifest", &dir.join("manifest.json"), |p| {
            BankManifest::read(p.parent().unwrap())
        }),
    ));
    let fusion = dir.join("fusion.toml");
    std::fs::write(
        &fusion,
        "# chosen on val\nmode = \"mean\"\nweight = 0.5\nclasses = [34, 43, 58, 69]\n",
    )
    .unwrap();
    report.push(("fusion.toml", fuzz("fusion", &fusion, Fusion::read)));
    // A system file naming real configs and files, and a stage manifest.
    let data = dataset();
    let system = dir.join("system.toml");
    std::fs::write(
        &system,
        format!(
            "[persons]\nboxes = {:?}\nthreshold = 0.8\n\n[poses]\nkeypoints = {:?}\n\n\
             [actions]\nconfig = {:?}\nweights = {:?}\nlabelmap = {:?}\nshort_sides = [112]\n\n\
             [render]\nkeyframes = 4\n",
            data.join("annotations/ava_detection_val_boxes_and_labels.csv"),
            data.join("annotations/synth_keypoints_val.csv"),
            repo("configs/action/slowfast_synth.toml"),
            repo("Cargo.toml"),
            data.join("annotations/ava_action_list_v2.2.pbtxt"),
        ),
    )
    .unwrap();
    avaloc::localize::system::SystemFile::load(&system, &[]).unwrap();
    report.push((
        "system.toml",
        fuzz("system", &system, |p| {
            avaloc::localize::system::SystemFile::load(p, &[])
        }),
    ));
    let stage = dir.join("persons.json");
    std::fs::write(
        &stage,
        r#"{"format_version": 1, "stage": "persons", "inputs": {"table": "sha256:00"},
"outputs": {"persons.csv": "sha256:11"}, "seconds": 0.5, "counts": {"keyframes": 30},
"note": ""}"#,
    )
    .unwrap();
    avaloc::localize::stage::StageManifest::read(&stage).unwrap();
    report.push((
        "stage manifest",
        fuzz("stage", &stage, |p| {
            avaloc::localize::stage::StageManifest::read(p).map_err(|e| format!("{e:#}"))
        }),
    ));
    let history = dir.join("metrics.csv");
    std::fs::write(
        &history,
        "epoch,updates,lr,seconds,train_loss,val_frame_map\n1,10,0.1,3.5,0.9,0.2\n2,20,0.1,3.4,0.8,0.3\n",
    )
    .unwrap();
    report.push((
        "metrics.csv",
        fuzz("history", &history, |p| {
            History::read(p).map_err(|e| format!("{}: {e}", p.display()))
        }),
    ));
    std::fs::remove_dir_all(dir).unwrap();
    for (name, (ok, err)) in report {
        println!("{name}: {ok} read, {err} refused with the file named");
    }
}
