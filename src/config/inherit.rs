//! Config inheritance, as MMAction2's `_base_`: a file may name another with `base =
//! "other.toml"` (relative to the file's own folder) and give only the keys it changes.
//!
//! - The base is read first (it may have a base of its own); a cycle is an error naming the
//!   files in it.
//! - Tables merge key by key, at any depth; any other value (arrays included) replaces the
//!   inherited one whole.
//! - `_delete_ = ["key", ...]` in a table removes those inherited keys before the table's own
//!   are merged; `_delete_ = true` drops every inherited key of the table (MMAction2's
//!   meaning), so the table is exactly the one written.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// The key naming a file's base.
pub const BASE: &str = "base";
/// The key that removes inherited keys of a table.
pub const DELETE: &str = "_delete_";

/// The TOML of `path` with its chain of bases merged in.
pub fn read_toml(path: &Path) -> Result<toml::Table, ConfigError> {
    read_chain(path, &mut Vec::new())
}

/// `path` read as `T`, its bases merged in. A file without a base is parsed from its text, so
/// that an error keeps its line and column.
pub fn load_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let toml_error = |source| ConfigError::Toml {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(toml_error)?;
    if table.contains_key(BASE) || has_deletes(&table) {
        read_toml(path)?.try_into().map_err(toml_error)
    } else {
        toml::from_str(&text).map_err(toml_error)
    }
}

/// A digest of what `path` configures: the file's own digest (`fs::file_digest`) where it
/// has no base, so that records made before inheritance still match; with a base, the digest
/// of the merged table, so that editing a base changes the digest of every file over it.
pub fn config_digest(path: &Path) -> Result<String, ConfigError> {
    match merged_digest(path)? {
        Some(digest) => Ok(digest),
        None => crate::fs::file_digest(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The digest of the merged table of a file with a base; `None` for a file without one.
pub fn merged_digest(path: &Path) -> Result<Option<String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::Toml {
        path: path.to_path_buf(),
        source,
    })?;
    if !table.contains_key(BASE) {
        return Ok(None);
    }
    use sha2::Digest;
    let merged = read_toml(path)?.to_string();
    Ok(Some(format!(
        "merged:{}",
        crate::fs::hex(&sha2::Sha256::digest(merged.as_bytes()))
    )))
}

/// Whether any table of `table` has a `_delete_` key.
fn has_deletes(table: &toml::Table) -> bool {
    table.contains_key(DELETE)
        || table
            .values()
            .any(|v| v.as_table().is_some_and(has_deletes))
}

fn read_chain(path: &Path, chain: &mut Vec<PathBuf>) -> Result<toml::Table, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    // Files are compared by their canonical paths, so `a.toml` and `./a.toml` are one file.
    let canonical = std::fs::canonicalize(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(first) = chain.iter().position(|p| *p == canonical) {
        let cycle: Vec<String> = chain[first..]
            .iter()
            .chain([&canonical])
            .map(|p| p.display().to_string())
            .collect();
        return Err(invalid(format!(
            "the base chain is a cycle: {}",
            cycle.join(" -> ")
        )));
    }
    chain.push(canonical);
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::Toml {
        path: path.to_path_buf(),
        source,
    })?;
    let merged = match table.remove(BASE) {
        None => {
            strip_deletes(&mut table, "").map_err(invalid)?;
            table
        }
        Some(toml::Value::String(base)) => {
            let base_path = path.parent().unwrap_or(Path::new("")).join(&base);
            let mut merged = read_chain(&base_path, chain)?;
            merge(&mut merged, table, "").map_err(invalid)?;
            merged
        }
        Some(other) => {
            return Err(invalid(format!(
                "base = {other}: expected the path of another TOML file, as a string"
            )));
        }
    };
    chain.pop();
    Ok(merged)
}

/// Merges `over` into `into`: tables key by key, other values replacing; `_delete_` first.
fn merge(into: &mut toml::Table, mut over: toml::Table, at: &str) -> Result<(), String> {
    match over.remove(DELETE) {
        None => {}
        Some(toml::Value::Boolean(true)) => into.clear(),
        Some(toml::Value::Array(keys)) => {
            for key in keys {
                let key = key
                    .as_str()
                    .ok_or_else(|| format!("{at}{DELETE}: expected key names, found {key}"))?;
                if into.remove(key).is_none() {
                    return Err(format!(
                        "{at}{DELETE} removes {key:?}, which the base does not have"
                    ));
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "{at}{DELETE} = {other}: expected true or a list of key names"
            ));
        }
    }
    for (key, value) in over {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(table)) => {
                merge(base, table, &format!("{at}{key}."))?;
            }
            (_, mut value) => {
                if let toml::Value::Table(t) = &mut value {
                    strip_deletes(t, &format!("{at}{key}."))?;
                }
                into.insert(key, value);
            }
        }
    }
    Ok(())
}

/// `_delete_` where nothing is inherited: `true` has nothing to drop; a key named is an
/// error, as where the inherited table lacks it.
fn strip_deletes(table: &mut toml::Table, at: &str) -> Result<(), String> {
    match table.remove(DELETE) {
        None | Some(toml::Value::Boolean(true)) => {}
        Some(toml::Value::Array(keys)) if keys.is_empty() => {}
        Some(toml::Value::Array(keys)) => {
            return Err(format!(
                "{at}{DELETE} removes {}, which the base does not have",
                keys[0]
            ));
        }
        Some(other) => {
            return Err(format!(
                "{at}{DELETE} = {other}: expected true or a list of key names"
            ));
        }
    }
    for (key, value) in table.iter_mut() {
        if let toml::Value::Table(t) = value {
            strip_deletes(t, &format!("{at}{key}."))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("avaloc-inherit-{name}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    #[test]
    fn tables_merge_key_by_key_and_arrays_are_replaced() {
        let dir = folder(
            "merge",
            &[
                (
                    "a.toml",
                    "[n]\nx = 1\ny = [1, 2]\n[n.m]\np = 1\nq = 2\n[t]\nk = 1\n",
                ),
                (
                    "sub/b.toml",
                    "base = \"../a.toml\"\n[n]\ny = [3]\n[n.m]\nq = 5\n",
                ),
                ("c.toml", "base = \"sub/b.toml\"\n[n]\nz = true\n"),
            ],
        );
        let got = read_toml(&dir.join("c.toml")).unwrap();
        let want: toml::Table = "[n]\nx = 1\ny = [3]\nz = true\n[n.m]\np = 1\nq = 5\n[t]\nk = 1\n"
            .parse()
            .unwrap();
        assert_eq!(got, want);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn delete_removes_named_keys_or_the_whole_inherited_table() {
        let dir = folder(
            "delete",
            &[
                (
                    "a.toml",
                    "[n]\nx = 1\ny = 2\n[n.bank]\nop = \"max\"\n[t]\nk = 1\nj = 2\n",
                ),
                (
                    "b.toml",
                    "base = \"a.toml\"\n[n]\n_delete_ = [\"bank\", \"y\"]\n[t]\n_delete_ = true\nj = 3\n",
                ),
                (
                    "c.toml",
                    "base = \"a.toml\"\n[n]\n_delete_ = [\"nothing\"]\n",
                ),
                ("d.toml", "base = \"a.toml\"\n[new]\n_delete_ = [\"x\"]\n"),
            ],
        );
        let got = read_toml(&dir.join("b.toml")).unwrap();
        let want: toml::Table = "[n]\nx = 1\n[t]\nj = 3\n".parse().unwrap();
        assert_eq!(got, want);
        let err = read_toml(&dir.join("c.toml")).unwrap_err().to_string();
        assert!(
            err.contains("c.toml") && err.contains("\"nothing\""),
            "{err}"
        );
        // A table the base lacks has nothing to remove either.
        let err = read_toml(&dir.join("d.toml")).unwrap_err().to_string();
        assert!(
            err.contains("new._delete_") && err.contains("\"x\""),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_cycle_is_an_error_naming_its_files() {
        let dir = folder(
            "cycle",
            &[
                ("a.toml", "base = \"b.toml\"\n"),
                ("b.toml", "base = \"a.toml\"\n"),
                ("c.toml", "base = 3\n"),
            ],
        );
        let err = read_toml(&dir.join("a.toml")).unwrap_err().to_string();
        assert!(
            err.contains("cycle") && err.contains("a.toml -> ") && err.contains("b.toml"),
            "{err}"
        );
        let err = read_toml(&dir.join("c.toml")).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("base = 3"), "{err}");
        let err = read_toml(&dir.join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.toml"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_config_digest_follows_its_base() {
        let dir = folder(
            "digest",
            &[
                ("a.toml", "[n]\nx = 1\n"),
                ("b.toml", "base = \"a.toml\"\n[n]\ny = 2\n"),
            ],
        );
        let (a, b) = (dir.join("a.toml"), dir.join("b.toml"));
        // Without a base: the file's own digest, as records made before inheritance hold.
        assert_eq!(
            config_digest(&a).unwrap(),
            crate::fs::file_digest(&a).unwrap()
        );
        let before = config_digest(&b).unwrap();
        std::fs::write(&a, "[n]\nx = 3\n").unwrap();
        assert_ne!(config_digest(&b).unwrap(), before);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
