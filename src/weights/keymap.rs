use regex::Regex;

/// Renames checkpoint keys from a source naming onto our module paths.
///
/// Rules are regex substitutions applied in order, each to the result of the previous one (as
/// burn-store's remapper does); keys matching an `ignore` pattern are dropped before renaming.
/// BatchNorm's `num_batches_tracked` counters are always dropped: they are training
/// bookkeeping with no counterpart in a Burn module.
///
/// ```
/// use avaloc::weights::KeyMap;
///
/// let map = KeyMap::identity()
///     .ignore(r"^fc\.")
///     .rename(r"^backbone\.body\.", "")
///     .rename(r"\.downsample\.0\.", ".downsample.conv.");
/// assert_eq!(
///     map.map("backbone.body.layer1.0.downsample.0.weight").as_deref(),
///     Some("layer1.0.downsample.conv.weight")
/// );
/// assert_eq!(map.map("fc.weight"), None);
/// assert_eq!(map.map("layer1.0.bn1.num_batches_tracked"), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    rules: Vec<(Regex, String)>,
    ignore: Vec<Regex>,
}

impl KeyMap {
    /// Keys are taken as they are.
    pub fn identity() -> Self {
        Self::default()
    }

    /// Adds a rule replacing `pattern` with `replacement` (`$1`-style groups).
    ///
    /// # Panics
    /// When `pattern` is not a valid regex: key maps are written in code, so that is a bug.
    pub fn rename(mut self, pattern: &str, replacement: &str) -> Self {
        let regex =
            Regex::new(pattern).unwrap_or_else(|e| panic!("key map pattern {pattern:?}: {e}"));
        self.rules.push((regex, replacement.to_string()));
        self
    }

    /// Drops keys matching `pattern` (for tensors the network has no use for).
    ///
    /// # Panics
    /// When `pattern` is not a valid regex.
    pub fn ignore(mut self, pattern: &str) -> Self {
        let regex =
            Regex::new(pattern).unwrap_or_else(|e| panic!("key map pattern {pattern:?}: {e}"));
        self.ignore.push(regex);
        self
    }

    /// The module path for a checkpoint key, or `None` when the key is ignored.
    pub fn map(&self, key: &str) -> Option<String> {
        if key.ends_with("num_batches_tracked") || self.ignore.iter().any(|r| r.is_match(key)) {
            return None;
        }
        let mut name = key.to_string();
        for (regex, replacement) in &self.rules {
            name = regex.replace_all(&name, replacement.as_str()).into_owned();
        }
        Some(name)
    }
}
