//! The demo's network configs: the built-in files written into the run folder, and the
//! variants it trains as small files over them (`base = ...`, the keys they change).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The demo's networks and recipes, written into the run folder unless given.
pub const BASE_CONFIG: &str = include_str!("../../configs/action/slowfast_synth.toml");
pub const LFB_CONFIG: &str = include_str!("../../configs/action/slowfast_lfb_g_synth.toml");
pub const ARM_CONFIG: &str = include_str!("../../configs/action/slowfast_arm_synth.toml");
pub const ARM_LABELS: &str = include_str!("../../configs/arm/ava_arm_actions.pbtxt");
pub const DETECTOR_CONFIG: &str = include_str!("../../configs/detector/faster_rcnn_synth.toml");
pub const POSE_CONFIG: &str = include_str!("../../configs/pose/cpn_synth.toml");

/// The arm branch's epochs in the demo (its config's 10 take 6.5 minutes; these 6 gave 0.49
/// validation mAP at the arm boxes in 4 minutes), the rate ÷10 for the last.
pub const ARM_EPOCHS: usize = 6;

/// `given`, or `text` written into `dir/name`.
pub fn config_file(given: &Option<PathBuf>, text: &str, dir: &Path, name: &str) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.clone());
    }
    write(&dir.join(name), text)
}

fn write(path: &Path, text: &str) -> Result<PathBuf> {
    crate::fs::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// A config over `base` written to `path`: `# note`, the base, then `keys` (TOML).
pub fn variant(path: &Path, base: &Path, note: &str, keys: &str) -> Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new(""));
    // Relative to the variant's folder where the base is beside it; else as given, absolute.
    let base = match base.strip_prefix(dir) {
        Ok(relative) => relative.to_path_buf(),
        Err(_) => {
            std::path::absolute(base).with_context(|| format!("resolving {}", base.display()))?
        }
    };
    let base = toml::Value::String(base.display().to_string());
    write(
        path,
        &format!("# Written by `avaloc demo`: {note}.\nbase = {base}\n{keys}"),
    )
}

/// The `[train]` keys of a training of `epochs` epochs with the rate ÷10 for the last.
pub fn epochs_keys(epochs: usize) -> String {
    let last = epochs.saturating_sub(1).max(1);
    format!("[train]\nepochs = {epochs}\nsteps = [{last}]\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ActionFile;

    #[test]
    fn the_arm_branch_trains_for_the_demos_epochs() {
        let dir = std::env::temp_dir().join(format!("avaloc-demo-arm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let full = config_file(&None, ARM_CONFIG, &dir, "arm.toml").unwrap();
        let path = variant(
            &dir.join("arm_6.toml"),
            &full,
            "6 epochs",
            &epochs_keys(ARM_EPOCHS),
        )
        .unwrap();
        let settings = ActionFile::load(&path).unwrap().train_settings().unwrap();
        assert_eq!(settings.epochs, 6);
        assert_eq!(settings.steps, vec![5]);
        // Every other key is the built-in file's.
        let mut base = ActionFile::load(&full).unwrap().train_settings().unwrap();
        base.epochs = 6;
        base.steps = vec![5];
        assert_eq!(settings, base);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
