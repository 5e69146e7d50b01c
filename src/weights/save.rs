use std::path::Path;

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn_store::{ModuleSnapshot, SafetensorsStore};

use super::WeightsError;
use super::checkpoint::NATIVE_MARK;

/// Writes the module's parameters as safetensors in Burn's naming, atomically (a temporary
/// file renamed into place), marked so that [`super::Checkpoint`] loads them back unchanged.
pub fn save_safetensors<B: Backend, M: Module<B>>(
    module: &M,
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let io = |source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = crate::fs::temp_path(path).map_err(io)?;
    let mut store = SafetensorsStore::from_file(&tmp)
        .metadata(NATIVE_MARK, "burn")
        .overwrite(true);
    module
        .save_into(&mut store)
        .map_err(|e| WeightsError::format(path, format!("cannot write safetensors: {e}")))?;
    std::fs::rename(&tmp, path).map_err(io)
}
