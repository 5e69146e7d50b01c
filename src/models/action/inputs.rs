//! What an action model reads besides its weights, as the data layer must cut it: the clip
//! around each keyframe and the window of the feature bank around it.

/// Frames per clip and the stride between them (SlowFast 32×2 reads 32 frames 2 apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipSpec {
    pub num_frames: usize,
    pub stride: usize,
}

/// How many seconds a window spans and how many features each second contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// 100 in the seed system (FAIR's AVA configs: 60).
    pub window_s: usize,
    /// 5 in FAIR's and MMAction2's configs.
    pub per_second: usize,
}

impl WindowSpec {
    /// Rows of a window.
    pub fn rows(&self) -> usize {
        self.window_s * self.per_second
    }

    /// The first second of the window around second `t`.
    pub fn first_second(&self, t: i64) -> i64 {
        t - (self.window_s / 2) as i64
    }
}
