//! A system configuration (`configs/system/*.toml`): the networks `avaloc localize` chains —
//! person detector, pose, the baseline model that builds the feature bank, the action model,
//! the arm branch and its fusion — each named by its config and weights, validated together
//! on load: a missing file, a table of the wrong kind, classes or feature widths that do not
//! agree between the parts are errors naming the system file and the key.
//!
//! Paths are relative to the working directory, as every avaloc command's are. `--set
//! table.key=value` overrides a key (e.g. the weights a user converted) before validation.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ActionFile, ConfigError, DetectorFile, PoseFile, read_toml};
use crate::data::LabelMap;
use crate::data::bank::BankDtype;
use crate::infer::fusion::Fusion;

/// Where a part's outputs come from: a network, or a file of them.
#[derive(Debug, Clone, PartialEq)]
pub enum PartSource {
    /// A network: its config file and weights.
    Network { config: PathBuf, weights: PathBuf },
    /// A file of the part's outputs, or a folder of per-video files (a sharded job's).
    Given(PathBuf),
}

impl PartSource {
    /// From a table's `config`, `weights` and given-file keys: exactly one of the two kinds.
    fn from_keys(
        (table, network, given_key): (&str, &str, &str),
        config: Option<PathBuf>,
        weights: Option<PathBuf>,
        given: Option<PathBuf>,
    ) -> Result<Self, String> {
        match (config, weights, given) {
            (Some(config), Some(weights), None) => Ok(Self::Network { config, weights }),
            (None, None, Some(file)) => Ok(Self::Given(file)),
            _ => Err(format!(
                "[{table}] needs {network} (config and weights) or given {given_key} \
                 ({given_key} = FILE), one of the two"
            )),
        }
    }

    /// The table's `config`, `weights` and given-file keys.
    fn keys(&self) -> (Option<PathBuf>, Option<PathBuf>, Option<PathBuf>) {
        match self {
            Self::Network { config, weights } => {
                (Some(config.clone()), Some(weights.clone()), None)
            }
            Self::Given(file) => (None, None, Some(file.clone())),
        }
    }
}

/// Person boxes: a detector, or given boxes (e.g. the synthetic set's detector-like ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPersons", into = "RawPersons")]
pub struct PersonsTable {
    /// A detector, or a person-box CSV holding every video's keyframes (`boxes = FILE`).
    pub source: PartSource,
    /// Minimum person score (the seed system: 0.8 on AVA, 0.7 on Kinetics).
    pub threshold: f64,
    pub person_label: i64,
    /// Frames per detector pass.
    pub batch: usize,
}

impl PersonsTable {
    /// Boxes from `source` at `threshold`, the other keys at their defaults.
    pub fn new(source: PartSource, threshold: f64) -> Self {
        Self {
            source,
            threshold,
            person_label: one(),
            batch: one_usize(),
        }
    }
}

/// The `[persons]` table as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPersons {
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weights: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    boxes: Option<PathBuf>,
    threshold: f64,
    #[serde(default = "one")]
    person_label: i64,
    #[serde(default = "one_usize")]
    batch: usize,
}

impl TryFrom<RawPersons> for PersonsTable {
    type Error = String;
    fn try_from(r: RawPersons) -> Result<Self, String> {
        Ok(Self {
            source: PartSource::from_keys(
                ("persons", "a detector", "boxes"),
                r.config,
                r.weights,
                r.boxes,
            )?,
            threshold: r.threshold,
            person_label: r.person_label,
            batch: r.batch,
        })
    }
}

impl From<PersonsTable> for RawPersons {
    fn from(t: PersonsTable) -> Self {
        let (config, weights, boxes) = t.source.keys();
        Self {
            config,
            weights,
            boxes,
            threshold: t.threshold,
            person_label: t.person_label,
            batch: t.batch,
        }
    }
}

/// Keypoints: CPN, or given keypoints (e.g. the synthetic set's ground truth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoses", into = "RawPoses")]
pub struct PosesTable {
    /// CPN, or a keypoint CSV holding every video's people (`keypoints = FILE`).
    pub source: PartSource,
    /// tf-cpn's flip test.
    pub flip: bool,
    pub batch: usize,
}

impl PosesTable {
    /// Keypoints from `source`, the other keys at their defaults.
    pub fn new(source: PartSource) -> Self {
        Self {
            source,
            flip: yes(),
            batch: sixteen(),
        }
    }
}

/// The `[poses]` table as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoses {
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weights: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keypoints: Option<PathBuf>,
    #[serde(default = "yes")]
    flip: bool,
    #[serde(default = "sixteen")]
    batch: usize,
}

impl TryFrom<RawPoses> for PosesTable {
    type Error = String;
    fn try_from(r: RawPoses) -> Result<Self, String> {
        Ok(Self {
            source: PartSource::from_keys(
                ("poses", "CPN", "keypoints"),
                r.config,
                r.weights,
                r.keypoints,
            )?,
            flip: r.flip,
            batch: r.batch,
        })
    }
}

impl From<PosesTable> for RawPoses {
    fn from(t: PosesTable) -> Self {
        let (config, weights, keypoints) = t.source.keys();
        Self {
            config,
            weights,
            keypoints,
            flip: t.flip,
            batch: t.batch,
        }
    }
}

/// The baseline action model whose short-term features fill the long-term feature bank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankTable {
    pub config: PathBuf,
    pub weights: PathBuf,
    /// Minimum score of the person boxes whose features are stored (FAIR: 0.9).
    #[serde(default = "ninety")]
    pub box_threshold: f64,
    #[serde(default = "f16")]
    pub dtype: BankDtype,
}

/// The action model (with its bank, when its config has one) and its test views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsTable {
    pub config: PathBuf,
    pub weights: PathBuf,
    /// The model's classes, in its output order.
    pub labelmap: PathBuf,
    /// Override the config's test.short_sides / test.flip (the seed: 224, 256, 320, flipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_sides: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flip: Option<bool>,
}

/// The arm branch, scored on its own clips at the people's arm boxes, and its fusion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmTable {
    pub config: PathBuf,
    pub weights: PathBuf,
    pub labelmap: PathBuf,
    /// `fusion.toml` from `avaloc fuse select`: the classes fused, the mode and weight.
    /// Without it the arm scores are written (`scores/arm.csv`, e.g. to select the classes on
    /// a validation split) and the detections are the action model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fusion: Option<PathBuf>,
}

/// What `localize` draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderTable {
    /// Actions written beside each box, and the lowest score written.
    #[serde(default = "three")]
    pub top: usize,
    #[serde(default = "min_score")]
    pub min_score: f64,
    /// Annotated keyframes in the summary page and `keyframes/`.
    #[serde(default = "twelve")]
    pub keyframes: usize,
}

impl Default for RenderTable {
    fn default() -> Self {
        Self {
            top: three(),
            min_score: min_score(),
            keyframes: twelve(),
        }
    }
}

fn one() -> i64 {
    1
}
fn one_usize() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn sixteen() -> usize {
    16
}
fn ninety() -> f64 {
    0.9
}
fn f16() -> BankDtype {
    BankDtype::F16
}
fn three() -> usize {
    3
}
fn min_score() -> f64 {
    0.3
}
fn twelve() -> usize {
    12
}

/// A system file's tables as written: what `avaloc demo` writes and [`SystemFile`] reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemTables {
    pub persons: PersonsTable,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poses: Option<PosesTable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<BankTable>,
    pub actions: ActionsTable,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<ArmTable>,
    #[serde(default)]
    pub render: RenderTable,
}

impl SystemTables {
    /// Writes the tables to `path` (atomically) under a `# comment` line.
    pub fn write(&self, path: &Path, comment: &str) -> Result<(), SystemError> {
        let error = |message: String| SystemError {
            path: path.to_path_buf(),
            message,
        };
        let text = toml::to_string(self).map_err(|e| error(e.to_string()))?;
        crate::fs::write_atomic(path, format!("# {comment}\n{text}").as_bytes())
            .map_err(|e| error(e.to_string()))
    }
}

/// A part's network with its config loaded, or the file of its outputs.
#[derive(Debug, Clone)]
pub enum Loaded<F> {
    Network { file: F, weights: PathBuf },
    Given(PathBuf),
}

/// The person boxes: the table and its detector.
#[derive(Debug, Clone)]
pub struct PersonsPart {
    pub table: PersonsTable,
    pub detector: Loaded<DetectorFile>,
}

/// The keypoints: the table and its CPN.
#[derive(Debug, Clone)]
pub struct PosesPart {
    pub table: PosesTable,
    pub cpn: Loaded<PoseFile>,
}

/// The model that builds the feature bank.
#[derive(Debug, Clone)]
pub struct BankPart {
    pub table: BankTable,
    pub model: ActionFile,
}

/// The arm branch: its table, model, classes and fusion.
#[derive(Debug, Clone)]
pub struct ArmPart {
    pub table: ArmTable,
    pub model: ActionFile,
    pub labels: LabelMap,
    pub fusion: Option<Fusion>,
}

/// A loaded, validated system: every part's table, with the networks' configs read.
#[derive(Debug, Clone)]
pub struct SystemFile {
    pub path: PathBuf,
    pub persons: PersonsPart,
    pub poses: Option<PosesPart>,
    pub bank: Option<BankPart>,
    pub actions: ActionsTable,
    pub action_model: ActionFile,
    pub labels: LabelMap,
    pub arm: Option<ArmPart>,
    pub render: RenderTable,
    /// Each table as loaded (after overrides), for the stages' manifests.
    tables: toml::Table,
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct SystemError {
    pub path: PathBuf,
    pub message: String,
}

impl SystemFile {
    /// Reads (with its `base` chain: `config::read_toml`), overrides (`table.key=value`, the
    /// value read as TOML, else as a string) and validates a system file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, SystemError> {
        let error = |message: String| SystemError {
            path: path.to_path_buf(),
            message,
        };
        let mut tables = read_toml(path).map_err(|e| match e {
            ConfigError::Io { source, .. } => error(source.to_string()),
            ConfigError::Toml { path: p, source } if p == path => error(source.to_string()),
            other => error(other.to_string()),
        })?;
        for item in overrides {
            apply_override(&mut tables, item).map_err(|m| error(format!("--set {item}: {m}")))?;
        }
        let parsed: SystemTables = tables
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| error(e.to_string()))?;
        let mut system = Self::resolve(path, parsed).map_err(error)?;
        system.tables = tables;
        Ok(system)
    }

    /// The TOML text of table `name` as loaded (empty when absent).
    pub fn table_text(&self, name: &str) -> String {
        self.tables
            .get(name)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    fn resolve(path: &Path, s: SystemTables) -> Result<Self, String> {
        let file = |key: &str, p: &Path| -> Result<(), String> {
            if p.is_file() {
                Ok(())
            } else {
                Err(format!(
                    "{key} = {:?}: no such file",
                    p.display().to_string()
                ))
            }
        };
        let persons = s.persons;
        if !(0.0..=1.0).contains(&persons.threshold) || persons.batch == 0 {
            return Err("persons.threshold must be in [0, 1] and persons.batch > 0".into());
        }
        let detector = load_part(("persons", "boxes"), &persons.source, |config| {
            DetectorFile::load(config)
        })?;
        let poses = match s.poses {
            None => None,
            Some(table) => Some(PosesPart {
                cpn: load_part(("poses", "keypoints"), &table.source, |config| {
                    PoseFile::load(config)
                })?,
                table,
            }),
        };
        let actions = s.actions;
        file("actions.weights", &actions.weights)?;
        let action_model =
            ActionFile::load(&actions.config).map_err(|e| format!("actions.config: {e}"))?;
        let labels =
            LabelMap::read(&actions.labelmap).map_err(|e| format!("actions.labelmap: {e}"))?;
        action_model
            .check_labels(&labels, Some(&actions.labelmap))
            .map_err(|e| format!("actions: {e}"))?;
        if let Some(sides) = &actions.short_sides
            && (sides.is_empty() || sides.contains(&0))
        {
            return Err("actions.short_sides must be positive and not empty".into());
        }
        let fbo = action_model.network.model_config().bank;
        let bank = match (s.bank, fbo) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(format!(
                    "a [bank] table, but the action model ({}) reads no feature bank: remove \
                     the table or give a model with [network.bank]",
                    actions.config.display()
                ));
            }
            (None, Some(_)) => {
                return Err(format!(
                    "the action model ({}) reads a feature bank: add a [bank] table naming the \
                     baseline model that builds it (config, weights)",
                    actions.config.display()
                ));
            }
            (Some(bank), Some(fbo)) => {
                file("bank.weights", &bank.weights)?;
                if !(0.0..=1.0).contains(&bank.box_threshold) {
                    return Err("bank.box_threshold must be in [0, 1]".into());
                }
                let model =
                    ActionFile::load(&bank.config).map_err(|e| format!("bank.config: {e}"))?;
                let dim = model.network.bank_feature_dim();
                if dim != fbo.bank_dim {
                    return Err(format!(
                        "bank.config ({}) stores {dim}-wide features, but the action model ({}) \
                         reads {}-wide ones",
                        bank.config.display(),
                        actions.config.display(),
                        fbo.bank_dim
                    ));
                }
                Some(BankPart { table: bank, model })
            }
        };
        let arm = match s.arm {
            None => None,
            Some(arm) => {
                if poses.is_none() {
                    return Err(
                        "the arm branch ([arm]) needs keypoints: add a [poses] table".into(),
                    );
                }
                file("arm.weights", &arm.weights)?;
                let model =
                    ActionFile::load(&arm.config).map_err(|e| format!("arm.config: {e}"))?;
                let arm_labels =
                    LabelMap::read(&arm.labelmap).map_err(|e| format!("arm.labelmap: {e}"))?;
                model
                    .check_labels(&arm_labels, Some(&arm.labelmap))
                    .map_err(|e| format!("arm: {e}"))?;
                let fusion = arm
                    .fusion
                    .as_deref()
                    .map(|f| Fusion::read(f).map_err(|e| format!("arm.fusion: {e}")))
                    .transpose()?;
                for class in fusion.iter().flat_map(|f| &f.classes) {
                    for (what, map) in
                        [("arm.labelmap", &arm_labels), ("actions.labelmap", &labels)]
                    {
                        if !map.labels.iter().any(|l| l.id == *class) {
                            return Err(format!(
                                "arm.fusion ({}) fuses class {class}, which {what} lacks",
                                arm.fusion.as_deref().unwrap_or(Path::new("")).display()
                            ));
                        }
                    }
                }
                Some(ArmPart {
                    table: arm,
                    model,
                    labels: arm_labels,
                    fusion,
                })
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            persons: PersonsPart {
                table: persons,
                detector,
            },
            poses,
            bank,
            actions,
            action_model,
            labels,
            arm,
            render: s.render,
            tables: toml::Table::new(),
        })
    }
}

/// A part's network loaded (its weights must exist), or its given outputs (a file, or a
/// folder of per-video files); `(table, given key)` name them in errors.
fn load_part<F>(
    (table, given_key): (&str, &str),
    source: &PartSource,
    load: impl FnOnce(&Path) -> Result<F, ConfigError>,
) -> Result<Loaded<F>, String> {
    let exists = |key: &str, p: &Path| {
        if p.is_file() {
            Ok(())
        } else {
            Err(format!(
                "{table}.{key} = {:?}: no such file",
                p.display().to_string()
            ))
        }
    };
    match source {
        PartSource::Network { config, weights } => {
            exists("weights", weights)?;
            let file = load(config).map_err(|e| format!("{table}.config: {e}"))?;
            Ok(Loaded::Network {
                file,
                weights: weights.clone(),
            })
        }
        PartSource::Given(file) if file.is_dir() => Ok(Loaded::Given(file.clone())),
        PartSource::Given(file) => {
            exists(given_key, file)?;
            Ok(Loaded::Given(file.clone()))
        }
    }
}

/// Sets `table.key` (dotted, any depth) to `value` in `tables`.
fn apply_override(tables: &mut toml::Table, item: &str) -> Result<(), String> {
    let (key, value) = item
        .split_once('=')
        .ok_or("expected table.key=value, e.g. actions.weights=model.safetensors")?;
    let value: toml::Value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        return Err("the key names a table and a key: table.key".into());
    }
    let mut table = tables;
    for part in &parts[..parts.len() - 1] {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| format!("{part} is not a table"))?;
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_sets_strings_numbers_and_new_tables() {
        let mut t: toml::Table = "[persons]\nthreshold = 0.8\n".parse().unwrap();
        apply_override(&mut t, "persons.threshold=0.7").unwrap();
        apply_override(&mut t, "actions.weights=runs/a b.safetensors").unwrap();
        apply_override(&mut t, "actions.short_sides=[224, 256]").unwrap();
        assert_eq!(t["persons"]["threshold"].as_float(), Some(0.7));
        assert_eq!(
            t["actions"]["weights"].as_str(),
            Some("runs/a b.safetensors")
        );
        assert_eq!(t["actions"]["short_sides"].as_array().unwrap().len(), 2);
        assert!(apply_override(&mut t, "threshold=1").is_err());
        assert!(apply_override(&mut t, "persons.threshold.x=1").is_err());
        assert!(apply_override(&mut t, "persons").is_err());
    }
}
