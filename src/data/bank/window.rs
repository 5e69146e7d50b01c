//! The window of long-term features a keyframe reads, as FAIR's `sample_lfb`
//! (`lib/datasets/ava.py`) and MMAction2's `LFB` sample it: the `window_s` seconds
//! `[t − W/2, t − W/2 + W)` around the keyframe's second `t`, at most `per_second` features a
//! second, seconds-major (row `j · per_second + k`), zero rows where a second has fewer
//! features or lies outside the video.
//!
//! Within a second, training picks at random without replacement (seeded, so a run repeats);
//! testing takes the highest-scoring features first, so a test score does not depend on a
//! draw (both references draw at test too).

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

use super::VideoBank;
use crate::models::action::WindowSpec;

/// How features are chosen within a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The highest-scoring first (test).
    Best,
    /// At random without replacement, from this seed (training).
    Random(u64),
}

/// One keyframe's window: `rows × dim` features and which rows hold a feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub features: Vec<f32>,
    pub mask: Vec<bool>,
}

/// The window of `video` around second `t`.
pub fn sample_window(video: &VideoBank, t: i64, spec: WindowSpec, pick: Pick) -> Window {
    let dim = video.dim();
    let mut features = vec![0f32; spec.rows() * dim];
    let mut mask = vec![false; spec.rows()];
    let mut rng = match pick {
        Pick::Random(seed) => Some(StdRng::seed_from_u64(seed)),
        Pick::Best => None,
    };
    let first = spec.first_second(t);
    for j in 0..spec.window_s {
        let entries = video.second(first + j as i64);
        let available = entries.len();
        let take = available.min(spec.per_second);
        let chosen: Vec<usize> = match rng.as_mut() {
            Some(rng) => sample(rng, available, take).into_vec(),
            // Entries of a second are stored by falling score.
            None => (0..take).collect(),
        };
        for (k, offset) in chosen.into_iter().enumerate() {
            let row = j * spec.per_second + k;
            video.feature_into(
                entries.start + offset,
                &mut features[row * dim..(row + 1) * dim],
            );
            mask[row] = true;
        }
    }
    Window { features, mask }
}
