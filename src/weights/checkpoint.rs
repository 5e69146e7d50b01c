use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::tensor::DType;
use burn_store::{ModuleStore, PytorchStore, SafetensorsStore, TensorSnapshot};

use super::WeightsError;

/// Top-level keys under which training frameworks nest the weights: PySlowFast's
/// `model_state`, MMAction2's `state_dict`, detectron2's and others' `model`.
const NESTING_KEYS: [&str; 3] = ["model_state", "state_dict", "model"];

/// Safetensors metadata key that marks a file written by avaloc in Burn's own naming.
pub(crate) const NATIVE_MARK: &str = "avaloc_naming";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointFormat {
    Safetensors,
    PyTorch,
}

impl std::fmt::Display for CheckpointFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Safetensors => "safetensors",
            Self::PyTorch => "PyTorch",
        })
    }
}

/// Name, shape and element type of one tensor in a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// The tensors of one checkpoint file, read lazily (data is read when a tensor is loaded).
pub struct Checkpoint {
    path: PathBuf,
    format: CheckpointFormat,
    nested_under: Option<String>,
    native: bool,
    tensors: BTreeMap<String, TensorSnapshot>,
}

impl Checkpoint {
    /// Opens a safetensors or PyTorch file. Weights nested under `model_state`, `state_dict`
    /// or `model` are found on their own, and a DataParallel `module.` prefix is dropped.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WeightsError> {
        Self::open_nested(path, None)
    }

    /// Like [`Checkpoint::open`], reading the weights under the given top-level key.
    pub fn open_nested(
        path: impl AsRef<Path>,
        top_level_key: Option<&str>,
    ) -> Result<Self, WeightsError> {
        let path = path.as_ref();
        let format = sniff_format(path)?;
        let (tensors, native) = match format {
            CheckpointFormat::Safetensors => {
                if let Some(key) = top_level_key {
                    return Err(WeightsError::format(
                        path,
                        format!("safetensors files are flat: there is no top-level key {key:?}"),
                    ));
                }
                let mut store = SafetensorsStore::from_file(path);
                let tensors = store
                    .get_all_snapshots()
                    .map_err(|e| WeightsError::format(path, format!("bad safetensors file: {e}")))?
                    .clone();
                (
                    tensors,
                    safetensors_metadata(path)?.contains_key(NATIVE_MARK),
                )
            }
            CheckpointFormat::PyTorch => {
                let mut store = PytorchStore::from_file(path);
                if let Some(key) = top_level_key {
                    store = store.with_top_level_key(key);
                }
                let tensors = store
                    .get_all_snapshots()
                    .map_err(|e| {
                        WeightsError::format(
                            path,
                            format!(
                                "cannot read as a PyTorch checkpoint: {e} (Detectron and Caffe2 \
                                 .pkl files are numpy pickles: convert them first, see \
                                 model_zoo/README.md)"
                            ),
                        )
                    })?
                    .clone();
                (tensors, false)
            }
        };
        let (tensors, nested) = match top_level_key {
            Some(key) => (tensors, Some(key.to_string())),
            None => unnest(tensors),
        };
        let tensors = strip_prefix_everywhere(tensors, "module.");
        if tensors.is_empty() {
            return Err(WeightsError::format(
                path,
                "the checkpoint holds no tensors",
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            format,
            nested_under: nested,
            native,
            tensors,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> CheckpointFormat {
        self.format
    }

    /// The top-level key the weights were read from, if they were nested.
    pub fn nested_under(&self) -> Option<&str> {
        self.nested_under.as_deref()
    }

    /// Whether avaloc wrote this file in Burn's own naming (no PyTorch conventions to adapt).
    pub fn is_native(&self) -> bool {
        self.native
    }

    /// Every tensor, sorted by name.
    pub fn tensors(&self) -> Vec<TensorInfo> {
        self.tensors
            .iter()
            .map(|(name, s)| TensorInfo {
                name: name.clone(),
                shape: s.shape.to_vec(),
                dtype: s.dtype,
            })
            .collect()
    }

    pub(crate) fn snapshots(&self) -> &BTreeMap<String, TensorSnapshot> {
        &self.tensors
    }
}

fn sniff_format(path: &Path) -> Result<CheckpointFormat, WeightsError> {
    let io = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut head = [0u8; 9];
    let n = file.read(&mut head).map_err(io)?;
    let head = &head[..n];
    // Safetensors first: its header length may start with the byte 0x80 that also opens a
    // pickle (a zip or pickle never has `{` at byte 8 after a length that fits the file).
    if n == 9 && head[8] == b'{' {
        let header_len = u64::from_le_bytes(head[..8].try_into().unwrap());
        if header_len.saturating_add(8) <= len {
            return Ok(CheckpointFormat::Safetensors);
        }
    }
    if head.starts_with(b"PK\x03\x04") || head.first() == Some(&0x80) {
        return Ok(CheckpointFormat::PyTorch);
    }
    Err(WeightsError::format(
        path,
        "not a safetensors or PyTorch checkpoint (unrecognised first bytes)",
    ))
}

/// The `__metadata__` strings of a safetensors header.
fn safetensors_metadata(path: &Path) -> Result<BTreeMap<String, String>, WeightsError> {
    let io = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(io)?;
    let mut header = vec![0u8; u64::from_le_bytes(len) as usize];
    file.read_exact(&mut header).map_err(io)?;
    let header: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| WeightsError::format(path, format!("bad safetensors header: {e}")))?;
    Ok(header
        .get("__metadata__")
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

/// When exactly one known nesting key holds tensors, keep only its tensors, un-prefixed
/// (a training checkpoint's optimizer state and counters are not weights).
fn unnest(
    tensors: BTreeMap<String, TensorSnapshot>,
) -> (BTreeMap<String, TensorSnapshot>, Option<String>) {
    let nests: Vec<&str> = NESTING_KEYS
        .into_iter()
        .filter(|k| {
            let prefix = format!("{k}.");
            tensors.keys().any(|name| name.starts_with(&prefix))
        })
        .collect();
    match nests.as_slice() {
        [key] => {
            let prefix = format!("{key}.");
            let inner = tensors
                .into_iter()
                .filter_map(|(name, s)| Some((name.strip_prefix(&prefix)?.to_string(), s)))
                .collect();
            (inner, Some(key.to_string()))
        }
        _ => (tensors, None),
    }
}

fn strip_prefix_everywhere(
    tensors: BTreeMap<String, TensorSnapshot>,
    prefix: &str,
) -> BTreeMap<String, TensorSnapshot> {
    if tensors.is_empty() || !tensors.keys().all(|k| k.starts_with(prefix)) {
        return tensors;
    }
    tensors
        .into_iter()
        .map(|(k, s)| (k[prefix.len()..].to_string(), s))
        .collect()
}
