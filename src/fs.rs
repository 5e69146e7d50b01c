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

/// Bytes an unprivileged writer can still put on the file system holding `dir` (`None` where
/// the platform does not say).
pub fn free_bytes(dir: &Path) -> std::io::Result<Option<u64>> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::other(format!("{}: {e}", dir.display())))?;
        let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // Safety: a NUL-terminated path and a buffer statvfs fills on success.
        if unsafe { libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stats = unsafe { stats.assume_init() };
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        Ok(Some(stats.f_bavail as u64 * stats.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(None)
    }
}

/// Checks, before long work, that the file system of `dir` (an existing folder) has about
/// `needed` bytes free for `what`; the error names the folder and both sizes.
pub fn check_free_space(dir: &Path, needed: u64, what: &str) -> std::io::Result<()> {
    let named = |e: std::io::Error| {
        std::io::Error::new(
            e.kind(),
            format!("{}: cannot tell the free space: {e}", dir.display()),
        )
    };
    match free_bytes(dir).map_err(named)? {
        Some(free) if free < needed => Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            format!(
                "{}: {} free, but {what} needs about {}",
                dir.display(),
                human_bytes(free),
                human_bytes(needed)
            ),
        )),
        _ => Ok(()),
    }
}

/// `1.5 GB`-style sizes for messages.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a file's bytes in hex, read in a stream (checkpoints run to gigabytes): the
/// one digest that manifests and settings files record of their inputs. The error names the
/// file.
pub fn file_digest(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    let named =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut hash = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).map_err(named)?, &mut hash).map_err(named)?;
    Ok(hex(&hash.finalize()))
}

/// Keeps freed memory in the process for the next tensor of its size instead of returning it
/// to the system: glibc hands blocks above 32 MB (its largest dynamic threshold) straight to
/// `mmap` and back on free, so each large intermediate of a forward or backward pass faulted
/// its pages in afresh and had them zeroed (a quarter of RoIAlign's forward time). Peak
/// memory is unchanged; memory freed at a peak stays with the process until it exits.
/// Called once, first thing, by the binary and the benches.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
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

    #[cfg(unix)]
    #[test]
    fn too_little_free_space_is_named_before_any_work() {
        let dir = std::env::temp_dir();
        let free = free_bytes(&dir).unwrap().unwrap();
        assert!(free > 0);
        check_free_space(&dir, 1, "a test").unwrap();
        let err = check_free_space(&dir, free.saturating_mul(4).max(1 << 50), "the bank")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&dir.display().to_string())
                && err.contains("free, but the bank needs about")
                && err.contains(" TB"),
            "{err}"
        );
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000_000), "1.5 GB");
    }
}
