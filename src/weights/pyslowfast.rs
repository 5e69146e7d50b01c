//! Key map from PySlowFast's naming.

use super::KeyMap;

/// PySlowFast's `SlowFastModel` with the AVA head (`s1.pathway0_stem.conv`, `s1_fuse.conv_f2s`,
/// `s2.pathway0_res0.branch2.a`, `s4.pathway0_nonlocal6.conv_theta`, `head.projection` → `classifier.projection`, ...) onto
/// [`crate::models::action::ActionModel`].
pub fn pyslowfast_slowfast() -> KeyMap {
    KeyMap::identity()
        .rename(r"^(s\d(_fuse)?)\.", "backbone.$1.")
        .rename(r"\.pathway(\d)_res(\d+)\.", ".pathway$1.$2.")
        .rename(r"\.pathway0_nonlocal(\d+)\.", ".pathway0_nonlocal.$1.")
        .rename(r"^head\.projection\.", "classifier.projection.")
}
