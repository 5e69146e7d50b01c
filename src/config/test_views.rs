//! The `[test]` table of an action-model file: the views each clip is scored under.

use serde::Deserialize;

use crate::data::bank::BankView;

/// The `[test]` table: the views each clip is scored under, and the clips per batch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestViews {
    /// Short sides the frames are resized to (the seed system: 224, 256, 320).
    #[serde(default = "short_sides")]
    pub short_sides: Vec<u32>,
    /// Also score the horizontally flipped clip.
    #[serde(default)]
    pub flip: bool,
    #[serde(default = "eight")]
    pub batch_size: usize,
}

fn short_sides() -> Vec<u32> {
    vec![256]
}
fn eight() -> usize {
    8
}

impl Default for TestViews {
    fn default() -> Self {
        Self {
            short_sides: short_sides(),
            flip: false,
            batch_size: eight(),
        }
    }
}

impl TestViews {
    /// Each view's short side and flip: short sides × (plain, flipped).
    pub fn views(&self) -> Vec<BankView> {
        let flips: &[bool] = if self.flip { &[false, true] } else { &[false] };
        self.short_sides
            .iter()
            .flat_map(|&short_side| flips.iter().map(move |&flip| BankView { short_side, flip }))
            .collect()
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.short_sides.is_empty() || self.short_sides.contains(&0) || self.batch_size == 0 {
            return Err(
                "test.short_sides must be positive and not empty; test.batch_size > 0".into(),
            );
        }
        Ok(())
    }
}
