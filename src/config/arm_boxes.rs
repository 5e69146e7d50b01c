//! The `[arm]` table of an arm-branch file: when an arm gets a box and how large.

use serde::Deserialize;

/// The `[arm]` table: when an arm gets a box and how large.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmBoxConfig {
    /// The keypoint score elbow and wrist need (ground-truth files give COCO's visibility, 2;
    /// `avaloc poses` gives 0.5 plus the heatmap peak over 255).
    #[serde(default = "min_score")]
    pub min_score: f64,
    /// Enlargement of the tight box about its centre.
    #[serde(default = "scale")]
    pub scale: f64,
    /// The smallest side, as a share of the person box's height.
    #[serde(default = "min_size")]
    pub min_size: f64,
    /// Arm-centred clips: each arm box gets its own clip, every frame cropped to the square
    /// `zoom` times the box's longer side about its centre before the test or training
    /// transform, so that the arm fills the input instead of a few cells of the frame's
    /// feature map. Absent: the arm boxes are read from the full frame's clip, as the body
    /// boxes are (the seed system's arm branch).
    #[serde(default)]
    pub zoom: Option<f64>,
}

impl ArmBoxConfig {
    pub fn validate(&self) -> Result<(), String> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !(positive(self.scale) && self.min_size.is_finite() && self.min_size >= 0.0) {
            return Err("arm.scale must be positive and arm.min_size not negative".into());
        }
        if self.zoom.is_some_and(|z| !positive(z)) {
            return Err("arm.zoom must be positive".into());
        }
        if !self.min_score.is_finite() {
            return Err("arm.min_score must be a number".into());
        }
        Ok(())
    }
}

fn min_score() -> f64 {
    0.55
}
fn scale() -> f64 {
    1.5
}
fn min_size() -> f64 {
    0.3
}

impl Default for ArmBoxConfig {
    fn default() -> Self {
        Self {
            min_score: min_score(),
            scale: scale(),
            min_size: min_size(),
            zoom: None,
        }
    }
}
