//! The seed's whole ablation (`avaloc demo --ablation`), every variant on the same budget:
//! S + G, S + L, S + G + L with each bank operator (avg, max, non-local) as heads on S's
//! frozen backbone, and the arm branch sharing S's backbone or separate; the table on the
//! test keyframes, a plot, and whether each feature raised the classes it is for. Each
//! variant is a config over the demo's (`base = ...`) with the keys it changes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::configs::{ARM_EPOCHS, epochs_keys, variant};
use super::recipe::Demo;
use super::systems::{Model, Parts};
use crate::eval::{FrameMapResult, comparison_table, write_comparison_plot};
use crate::localize::DETECTIONS;
use crate::train::RunInputs;

/// The seed's classes each feature is designed for, among the synthetic set's: the bank for
/// the long-context classes, the arm branch for the arm classes.
const LONG_CONTEXT: [i64; 2] = [74, 80];
const ARM_CLASSES: [i64; 4] = [69, 43, 58, 34];

/// What the default demo trained, which the ablation builds on.
pub struct Trained<'a> {
    pub base: &'a Model,
    pub lfb: &'a Model,
    pub lfb_config: &'a Path,
    pub with_bank: &'a RunInputs,
    pub test_boxes: &'a Path,
    /// Writes the whole system with an arm branch and its fusion, under a name.
    pub whole_system: &'a dyn Fn(&Model, &Path, &str) -> Result<PathBuf>,
}

/// `rows`: the default demo's S, S + G + L (max) and + arm fusion on the test keyframes.
pub fn run(
    demo: &Demo,
    t: &Trained,
    rows: Vec<(&'static str, FrameMapResult)>,
    heading: &str,
) -> Result<()> {
    let over_lfb = |name: &str, note: &str, keys: &str| {
        variant(
            &demo.out(&format!("ablation_{name}.toml")),
            t.lfb_config,
            note,
            keys,
        )
    };
    let no_bank = over_lfb(
        "s_g",
        "S + G, no bank",
        "[network]\n_delete_ = [\"bank\"]\n",
    )?;
    let no_global = over_lfb(
        "s_l",
        "S + L, no global feature",
        "[network]\n_delete_ = [\"global_pool\", \"global_dim\"]\n",
    )?;
    let operator = |op: &str| format!("[network.bank]\noperator = \"{op}\"\n");
    let avg = over_lfb("s_g_l_avg", "FBO avg", &operator("avg"))?;
    let non_local = over_lfb("s_g_l_nl", "FBO non-local", &operator("non_local"))?;
    let shared_path = variant(
        &demo.out("ablation_arm_shared.toml"),
        &t.base.config,
        "the arm branch as heads on S's backbone",
        &format!(
            "[network]\nnum_classes = 27\n{}[train.action]\nfreeze_backbone = true\n",
            epochs_keys(ARM_EPOCHS)
        ),
    )?;

    // Heads on S's frozen backbone, reading the bank or not.
    let heads = |name: &str, config: &Path, bank: bool, dir: &str| {
        let inputs = if bank {
            t.with_bank.clone()
        } else {
            RunInputs::default()
        };
        demo.train(name, config, false, inputs, Some(&t.base.weights), dir)
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
        Some(&t.base.weights),
        "ablation/arm_shared",
    )?;
    let shared_fusion = demo.fusion(t.lfb, t.base, &shared, "val_shared", "fusion_shared.toml")?;
    let test = |name: &str, parts: Parts| -> Result<FrameMapResult> {
        let system = demo.system(&format!("system_{name}.toml"), parts)?;
        tracing::info!("test split: {name}");
        let dir = format!("ablation/test_{name}");
        demo.localize(&system, demo.split("test"), &dir, false)?;
        demo.evaluate(&demo.out(&dir).join(DETECTIONS))
    };
    let with = |actions| Parts::alone(t.test_boxes, actions, Some(t.base));
    let shared_system = (t.whole_system)(&shared, &shared_fusion, "system_arm_shared.toml")?;
    demo.localize(
        &shared_system,
        demo.split("test"),
        "ablation/test_arm_shared",
        false,
    )?;
    let mut rows = rows.into_iter();
    let (s_row, lfb_row, separate_row) = match (rows.next(), rows.next(), rows.next()) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => anyhow::bail!("the ablation needs the default demo's three rows"),
    };
    let table = [
        s_row,
        (
            "S + G",
            test("s_g", Parts::alone(t.test_boxes, &s_g, None))?,
        ),
        ("S + L", test("s_l", with(&s_l))?),
        ("S + G + L (avg)", test("s_g_l_avg", with(&s_avg))?),
        ("S + G + L (max)", lfb_row.1),
        ("S + G + L (non-local)", test("s_g_l_nl", with(&s_nl))?),
        (
            "+ arm (shared)",
            demo.evaluate(&demo.out("ablation/test_arm_shared").join(DETECTIONS))?,
        ),
        ("+ arm (separate)", separate_row.1),
    ];
    let named: Vec<(&str, &FrameMapResult)> = table.iter().map(|(n, r)| (*n, r)).collect();
    let plot = demo.out("ablation_all.png");
    write_comparison_plot(&named, &plot).with_context(|| format!("writing {}", plot.display()))?;
    println!("\nthe ablation, every variant on the same budget; {heading}");
    print!("{}", comparison_table(&named));
    let of = |name: &str| {
        table
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r)
            .with_context(|| format!("no row {name}"))
    };
    let check = |feature: &str, without: &str, with: &str, classes: &[i64], what: &str| {
        let (a, b) = if classes.is_empty() {
            (of(without)?.map, of(with)?.map)
        } else {
            (mean_ap(of(without)?, classes), mean_ap(of(with)?, classes))
        };
        println!(
            "{feature}: {what} {a:.4} → {b:.4} ({:+.4}) {}",
            b - a,
            if b > a { "raised" } else { "NOT raised" }
        );
        anyhow::Ok(())
    };
    println!();
    check("G", "S", "S + G", &[], "mAP")?;
    let long = "listen to / watch mean AP";
    check("L", "S", "S + L", &LONG_CONTEXT, long)?;
    for op in ["avg", "max", "non-local"] {
        let row = format!("S + G + L ({op})");
        check(&format!("L, FBO {op}"), "S + G", &row, &LONG_CONTEXT, long)?;
    }
    for kind in ["shared", "separate"] {
        let row = format!("+ arm ({kind})");
        check(
            &format!("arm branch, {kind}"),
            "S + G + L (max)",
            &row,
            &ARM_CLASSES,
            "arm classes' mean AP",
        )?;
    }
    println!("{} (the table)", plot.display());
    Ok(())
}

fn mean_ap(result: &FrameMapResult, classes: &[i64]) -> f64 {
    let aps: Vec<f64> = result
        .per_class
        .iter()
        .filter(|(id, _, _)| classes.contains(id))
        .filter_map(|(_, _, ap)| *ap)
        .collect();
    aps.iter().sum::<f64>() / aps.len().max(1) as f64
}
