use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use burn::module::{Module, ParamId};
use burn::tensor::{DType, backend::Backend};
use burn_store::{ApplyError, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter, TensorSnapshot};

use super::{Checkpoint, KeyMap, WeightsError};

/// How a checkpoint that does not fit the network exactly is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadMode {
    /// Every parameter must come from the checkpoint, every checkpoint tensor must be used,
    /// and all shapes must agree; otherwise nothing is loaded and the error lists it all.
    #[default]
    Strict,
    /// For fine-tuning (a new classifier, an extra branch): parameters without a tensor keep
    /// their initialisation, unused tensors and tensors of the wrong shape are skipped; each is
    /// logged and listed in the report.
    Lenient,
}

/// A checkpoint tensor whose shape differs from the parameter it maps to.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeMismatch {
    /// The key in the checkpoint.
    pub key: String,
    /// The module parameter it maps to.
    pub param: String,
    pub expected: Vec<usize>,
    pub found: Vec<usize>,
}

/// What a load did, and everything that did not fit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Number of parameters loaded.
    pub loaded: usize,
    /// Checkpoint tensors dropped by the key map (and BatchNorm counters).
    pub ignored: usize,
    /// Module parameters with no tensor in the checkpoint.
    pub missing: Vec<String>,
    /// Checkpoint keys that map to no parameter (with the name they were mapped to).
    pub unexpected: Vec<(String, String)>,
    pub shape_mismatches: Vec<ShapeMismatch>,
    /// Tensors that could not be read or converted.
    pub errors: Vec<String>,
    /// Checkpoint keys holding NaN or infinite values, with how many (loaded, and warned of:
    /// a network computing with them gives NaN scores).
    pub non_finite: Vec<(String, usize)>,
}

impl LoadReport {
    /// True when the checkpoint and the network fit exactly.
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.shape_mismatches.is_empty()
            && self.errors.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} parameters loaded, {} tensors ignored",
            self.loaded, self.ignored
        )?;
        if !self.missing.is_empty() {
            writeln!(
                f,
                "{} missing (no tensor in the checkpoint):",
                self.missing.len()
            )?;
            for p in &self.missing {
                writeln!(f, "  {p}")?;
            }
        }
        if !self.unexpected.is_empty() {
            writeln!(
                f,
                "{} unexpected (no parameter of that name):",
                self.unexpected.len()
            )?;
            for (key, mapped) in &self.unexpected {
                if key == mapped {
                    writeln!(f, "  {key}")?;
                } else {
                    writeln!(f, "  {key} (as {mapped})")?;
                }
            }
        }
        if !self.shape_mismatches.is_empty() {
            writeln!(f, "{} shape mismatches:", self.shape_mismatches.len())?;
            for m in &self.shape_mismatches {
                writeln!(
                    f,
                    "  {} -> {}: network expects {:?}, checkpoint has {:?}",
                    m.key, m.param, m.expected, m.found
                )?;
            }
        }
        if !self.errors.is_empty() {
            writeln!(f, "{} unreadable tensors:", self.errors.len())?;
            for e in &self.errors {
                writeln!(f, "  {e}")?;
            }
        }
        if !self.non_finite.is_empty() {
            writeln!(
                f,
                "{} tensors holding NaN or infinite values:",
                self.non_finite.len()
            )?;
            for (key, count) in &self.non_finite {
                writeln!(f, "  {key}: {count} values")?;
            }
        }
        Ok(())
    }
}

/// Loads `checkpoint` into `module`: a checkpoint avaloc wrote through `native` (Burn's names
/// with the network's renames since older releases, so that older runs keep loading), any
/// other through `source`, the key map of the network's public checkpoints.
pub fn load_checkpoint<B: Backend, M: Module<B>>(
    module: M,
    checkpoint: &Checkpoint,
    source: KeyMap,
    native: KeyMap,
    mode: LoadMode,
) -> Result<(M, LoadReport), WeightsError> {
    let keymap = if checkpoint.is_native() {
        native
    } else {
        source
    };
    load_into(module, checkpoint, &keymap, mode)
}

/// Loads `checkpoint` into `module`, renaming keys through `keymap`.
///
/// Checkpoints from PyTorch code are adapted to Burn's conventions on the way (linear weights
/// transposed, BatchNorm `weight`/`bias` as `gamma`/`beta`); floating-point tensors of other
/// precisions are converted to f32. Checkpoints avaloc wrote itself load as they are.
pub fn load_into<B: Backend, M: Module<B>>(
    mut module: M,
    checkpoint: &Checkpoint,
    keymap: &KeyMap,
    mode: LoadMode,
) -> Result<(M, LoadReport), WeightsError> {
    let mut report = LoadReport::default();
    let mut source_of: HashMap<String, String> = HashMap::new();
    let mut snapshots = Vec::new();
    let non_finite: NonFinite = Rc::default();
    for (key, snapshot) in checkpoint.snapshots() {
        let Some(target) = keymap.map(key) else {
            report.ignored += 1;
            continue;
        };
        if let Some(other) = source_of.insert(target.clone(), key.clone()) {
            return Err(WeightsError::format(
                checkpoint.path(),
                format!("keys {other:?} and {key:?} both map to parameter {target:?}"),
            ));
        }
        snapshots.push(renamed_f32(snapshot, key, &target, &non_finite));
    }
    let adapter: Option<Box<dyn ModuleAdapter>> = if checkpoint.is_native() {
        None
    } else {
        Some(Box::new(PyTorchToBurnAdapter))
    };
    let result = module.apply(snapshots, None, adapter, false);
    report.non_finite = non_finite.take().into_iter().collect();

    let source = |param: &str| {
        source_of
            .get(param)
            .cloned()
            .unwrap_or_else(|| param.to_string())
    };
    report.loaded = result.applied.len();
    report.missing = result
        .missing
        .iter()
        .map(|(path, _)| path.clone())
        .collect();
    report.unexpected = result
        .unused
        .iter()
        .filter(|param| !applied_under_burn_name(param, &result.applied))
        .map(|param| (source(param), param.clone()))
        .collect();
    for error in &result.errors {
        match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => report.shape_mismatches.push(ShapeMismatch {
                key: source(path),
                param: path.clone(),
                expected: expected.to_vec(),
                found: found.to_vec(),
            }),
            other => report.errors.push(other.to_string()),
        }
    }
    report.missing.sort();
    report.unexpected.sort();

    let fatal = match mode {
        LoadMode::Strict => !report.is_exact(),
        LoadMode::Lenient => !report.errors.is_empty(),
    };
    if fatal {
        return Err(WeightsError::Mismatch {
            path: checkpoint.path().to_path_buf(),
            report: Box::new(report),
        });
    }
    if !report.is_exact() {
        tracing::warn!(
            "{}: loaded leniently\n{report}",
            checkpoint.path().display()
        );
    }
    for (key, count) in &report.non_finite {
        tracing::warn!(
            "{}: tensor {key} holds {count} NaN or infinite values",
            checkpoint.path().display()
        );
    }
    Ok((module, report))
}

/// burn-store loads a PyTorch norm layer's `weight` / `bias` into Burn's `gamma` / `beta` by
/// looking the PyTorch name up as an alternative, but still lists the tensor as unused.
fn applied_under_burn_name(param: &str, applied: &[String]) -> bool {
    let burn_name = if let Some(prefix) = param.strip_suffix(".weight") {
        format!("{prefix}.gamma")
    } else if let Some(prefix) = param.strip_suffix(".bias") {
        format!("{prefix}.beta")
    } else {
        return false;
    };
    applied.contains(&burn_name)
}

/// Non-finite value counts by checkpoint key, filled as the tensors are read.
type NonFinite = Rc<std::cell::RefCell<std::collections::BTreeMap<String, usize>>>;

/// The snapshot under a new path, with half- and double-precision data read as f32 (the
/// networks run in f32; burn-store would otherwise keep the file's precision). Float data is
/// counted for NaN and infinite values as it is read, once, into `non_finite` under `key`.
fn renamed_f32(
    snapshot: &TensorSnapshot,
    key: &str,
    target: &str,
    non_finite: &NonFinite,
) -> TensorSnapshot {
    let path: Vec<String> = target.split('.').map(str::to_string).collect();
    match snapshot.dtype {
        DType::F64 | DType::F32 | DType::F16 | DType::BF16 => {
            let (original, key, counts) = (snapshot.clone(), key.to_string(), non_finite.clone());
            TensorSnapshot::from_closure(
                Rc::new(move || {
                    let data = original.to_data()?.convert::<f32>();
                    let count = data
                        .as_slice::<f32>()
                        .map_or(0, |v| v.iter().filter(|x| !x.is_finite()).count());
                    if count > 0 {
                        counts.borrow_mut().insert(key.clone(), count);
                    }
                    Ok(data)
                }),
                DType::F32,
                snapshot.shape.clone(),
                path,
                Vec::new(),
                ParamId::new(),
            )
        }
        _ => {
            let mut renamed = snapshot.clone();
            renamed.path_stack = Some(path);
            renamed
        }
    }
}
