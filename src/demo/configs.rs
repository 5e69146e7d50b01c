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

/// The run folder's files that name the networks: each built-in config's name there (the
/// given config where one is), and the arm label map.
pub struct ConfigPaths {
    pub base: PathBuf,
    pub lfb: PathBuf,
    /// The arm branch's built-in config, and the demo's shorter training over it.
    pub arm_full: PathBuf,
    pub arm: PathBuf,
    pub arm_labels: PathBuf,
    pub detector: PathBuf,
    pub pose: PathBuf,
}

impl ConfigPaths {
    pub fn new(options: &super::DemoOptions) -> Self {
        let out = &options.out;
        let or = |given: &Option<PathBuf>, name: &str| given.clone().unwrap_or(out.join(name));
        Self {
            base: or(&options.config, "slowfast_synth.toml"),
            lfb: or(&options.lfb_config, "slowfast_lfb_g_synth.toml"),
            arm_full: out.join("slowfast_arm_synth.toml"),
            arm: or(&options.arm_config, "slowfast_arm_synth_6_epochs.toml"),
            arm_labels: out.join("ava_arm_actions.pbtxt"),
            detector: or(&options.detector_config, "faster_rcnn_synth.toml"),
            pose: or(&options.pose_config, "cpn_synth.toml"),
        }
    }

    /// Writes the built-in configs of the action models the demo trains where none is given.
    pub fn write_action_configs(&self, options: &super::DemoOptions) -> Result<()> {
        if options.config.is_none() {
            write(&self.base, BASE_CONFIG)?;
        }
        if options.lfb_config.is_none() {
            write(&self.lfb, LFB_CONFIG)?;
        }
        if options.arm_config.is_none() {
            write(&self.arm_full, ARM_CONFIG)?;
            variant(
                &self.arm,
                &self.arm_full,
                &format!("slowfast_arm_synth.toml trained {ARM_EPOCHS} epochs"),
                &epochs_keys(ARM_EPOCHS),
            )?;
        }
        write(&self.arm_labels, ARM_LABELS)?;
        Ok(())
    }

    /// Writes the built-in detector and CPN configs where none is given.
    pub fn write_full_configs(&self, options: &super::DemoOptions) -> Result<()> {
        if options.detector_config.is_none() {
            write(&self.detector, DETECTOR_CONFIG)?;
        }
        if options.pose_config.is_none() {
            write(&self.pose, POSE_CONFIG)?;
        }
        Ok(())
    }
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
        let full = write(&dir.join("arm.toml"), ARM_CONFIG).unwrap();
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
