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
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A full disk leaves no partial temporary file behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Checks, before long work, that `path` can be written: its folder exists (or is created)
/// and takes a file. The error names the path.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    let named = |e: std::io::Error| {
        std::io::Error::new(
            e.kind(),
            format!("{}: cannot be written: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(named)?;
    }
    let probe = temp_path(path)?;
    std::fs::write(&probe, b"").map_err(named)?;
    std::fs::remove_file(&probe).map_err(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritable_output_is_named_before_any_work() {
        let dir = std::env::temp_dir().join(format!("avaloc-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A folder where a file is expected.
        let blocker = dir.join("blocker");
        std::fs::write(&blocker, b"x").unwrap();
        let out = blocker.join("out.csv");
        let err = check_writable(&out).unwrap_err().to_string();
        assert!(
            err.contains("blocker/out.csv") && err.contains("cannot be written"),
            "{err}"
        );
        // A writable one leaves nothing behind.
        let fine = dir.join("sub/out.csv");
        check_writable(&fine).unwrap();
        assert_eq!(std::fs::read_dir(dir.join("sub")).unwrap().count(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
