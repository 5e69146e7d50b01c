//! Output files are written to a temporary file beside the target and renamed into place, so
//! an interrupted run never leaves a half-written file.

use std::path::{Path, PathBuf};

/// The temporary sibling `.<name>.tmp` that an output is written to before the rename.
pub fn temp_path(path: &Path) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{}: not a file path", path.display())))?;
    Ok(path.with_file_name(format!(".{}.tmp", name.to_string_lossy())))
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
