//! `avaloc [--backend B] backend-check`: every network on the chosen backend against flex, the
//! CPU reference, with the same seeded weights (written once, loaded strictly by both sides)
//! and the same inputs: the largest difference of their outputs, and each side's forward time.
//! On a GPU this is the parity check and timing table of `scripts/gpu_check.sh`; on flex it
//! compares flex with itself, which checks the wiring only.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::backend::BackendChoice;
use crate::infer::backend_check::{BackendCheck, render};

#[derive(Debug, clap::Args)]
pub struct BackendCheckArgs {
    /// Timed forward passes per network and backend, after one untimed (the median is shown).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Largest difference from flex allowed, relative to the output's largest magnitude
    /// (at least 1); by default 1e-4, and 5e-2 with --bf16.
    #[arg(long)]
    pub tolerance: Option<f32>,
    /// Run the chosen backend in bfloat16 (cuda), against flex's float32.
    #[arg(long)]
    pub bf16: bool,
    /// Also the full-size networks (SlowFast R50 32×2 on a 224² clip, Faster R-CNN R50-FPN's
    /// backbone at 800×1344, CPN R50 on 16 crops): minutes on a CPU.
    #[arg(long)]
    pub large: bool,
    /// Also write the table as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(args: BackendCheckArgs, choice: BackendChoice) -> Result<()> {
    if !cfg!(feature = "flex") {
        bail!("backend-check compares with flex, the CPU reference: build with the flex feature");
    }
    let tolerance = args
        .tolerance
        .unwrap_or(if args.bf16 { 5e-2 } else { 1e-4 });
    let check = BackendCheck {
        repeat: args.repeat,
        large: args.large,
        tolerance,
    };
    let (backend, rows) = if args.bf16 {
        let name = format!("{} bf16", choice.kind.feature());
        (name, crate::backend::run_bf16(choice, check)?)
    } else {
        let name = choice.kind.feature().to_string();
        (name, crate::backend::run(choice, check)?)
    };
    let backend = backend.as_str();
    let table = render(&rows, backend);
    print!("{table}");
    if let Some(path) = &args.json {
        let json = serde_json::json!({"backend": backend, "tolerance": tolerance, "rows": rows});
        crate::fs::write_atomic(path, serde_json::to_string_pretty(&json)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| !r.within_tolerance)
        .map(|r| r.network)
        .collect();
    if !failed.is_empty() {
        bail!(
            "{backend} differs from flex by more than {} in: {}",
            tolerance,
            failed.join(", ")
        );
    }
    Ok(())
}
