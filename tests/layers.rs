//! The layer order of `src/lib.rs` holds: every `crate::`, `super::` and `self::` path in the
//! code of `src/` (comments and strings aside) points at a layer below its own file's, or
//! within it; no two files refer to each other (a module's children using their parent's
//! items is containment, not a cycle); and the table in `lib.rs` lists exactly the modules
//! it declares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file's module path (`["data", "bank", "store"]`; `[]` for lib.rs / main.rs).
type ModPath = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_path(file: &Path) -> ModPath {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments, string and char literals.
fn code(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if let Some(hashes) = raw_string_start(rest, &out) {
            // A raw string (`r"…"`, `r#"…"#`, `br"…"`): backslashes are not escapes.
            let close = format!("\"{}", "#".repeat(hashes));
            let open = 2 + hashes;
            i += open
                + rest[open..]
                    .find(&close)
                    .map_or(rest.len() - open, |e| e + close.len());
            out.push_str("\"\"");
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            out.push_str("\"\"");
        } else if rest.starts_with("'\\") {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            i += rest
                .get(3..)
                .and_then(|r| r.find('\''))
                .map_or(rest.len(), |e| e + 4);
            out.push_str("' '");
        } else if bytes[i] == b'\'' && rest.len() > 2 && rest.as_bytes()[2] == b'\'' {
            // A one-byte char literal ('x', '"'); a lifetime has no closing quote two bytes on.
            i += 3;
            out.push_str("' '");
        } else if bytes[i] == b'\'' && rest.chars().nth(2) == Some('\'') {
            // A multi-byte char literal ('é').
            i += rest.char_indices().nth(3).map_or(rest.len(), |(k, _)| k);
            out.push_str("' '");
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The number of `#`s of a raw string starting at `rest` (after `r`; a `b` before it is in
/// `before`), where one starts: `r` not ending an identifier, then `#`s and a quote.
fn raw_string_start(rest: &str, before: &str) -> Option<usize> {
    let after_r = rest.strip_prefix('r')?;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let prefix = before.strip_suffix('b').unwrap_or(before);
    if prefix.ends_with(ident) || (prefix.len() == before.len() && before.ends_with(ident)) {
        return None;
    }
    let hashes = after_r.len() - after_r.trim_start_matches('#').len();
    after_r[hashes..].starts_with('"').then_some(hashes)
}

/// Every path a file names from the crate, as module paths (`crate::a::b::c` → `[a, b, c]`;
/// `use crate::a::{b::c, d}` → `[a, b, c]`, `[a, d]`). Below a top-level `mod tests {`, an
/// inline module, `super` is the file's own module.
fn named_paths(file: &ModPath, code: &str) -> Vec<ModPath> {
    let (main, tests) = match code.find("\nmod tests {") {
        Some(at) => code.split_at(at),
        None => (code, ""),
    };
    let mut test_module = file.clone();
    test_module.push("tests".to_string());
    let mut out = paths_in(file, main);
    out.extend(paths_in(&test_module, tests));
    out
}

fn paths_in(module: &ModPath, code: &str) -> Vec<ModPath> {
    let pattern =
        regex::Regex::new(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\{)?").unwrap();
    let mut out = Vec::new();
    for m in pattern.captures_iter(code) {
        let rest: Vec<String> = m[2]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let base = match &m[1] {
            "crate" => rest,
            "self" => module.iter().cloned().chain(rest).collect(),
            _ => {
                let mut base = module.clone();
                base.pop();
                let mut rest = rest.into_iter().peekable();
                while rest.peek().is_some_and(|s| s == "super") {
                    rest.next();
                    base.pop();
                }
                base.into_iter().chain(rest).collect()
            }
        };
        match m.get(3) {
            None => out.push(base),
            Some(brace) => {
                let group = braced(&code[brace.end()..]);
                for item in expand(group) {
                    out.push(base.iter().cloned().chain(item).collect());
                }
            }
        }
    }
    out
}

/// The text up to the `}` that closes a group whose `{` was just read.
fn braced(text: &str) -> &str {
    let mut depth = 1;
    for (k, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..k];
                }
            }
            _ => {}
        }
    }
    text
}

/// The paths of a use group's items: `a::b, c::{d, e as f}, *` → `[a, b]`, `[c, d]`, `[c, e]`.
fn expand(group: &str) -> Vec<Vec<String>> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    let mut out = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let (head, inner) = match item.find('{') {
            Some(at) => (&item[..at], Some(braced(&item[at + 1..]))),
            None => (item.split(" as ").next().unwrap_or(item), None),
        };
        let head: Vec<String> = head
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "*" && *s != "self")
            .map(String::from)
            .collect();
        match inner {
            None => out.push(head),
            Some(inner) => {
                for tail in expand(inner) {
                    out.push(head.iter().cloned().chain(tail).collect());
                }
            }
        }
    }
    out
}

/// The layers of lib.rs's table, top first: each a set of top-level modules.
fn layers() -> Vec<Vec<String>> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let block: Vec<&str> = lib
        .lines()
        .skip_while(|l| !l.starts_with("//! ```text layers"))
        .skip(1)
        .take_while(|l| !l.starts_with("//! ```"))
        .collect();
    assert!(!block.is_empty(), "lib.rs has no ```text layers table");
    block
        .iter()
        .map(|l| {
            let line = l.trim_start_matches("//!").trim();
            let names = line.split("  ").next().unwrap();
            names.split(',').map(|s| s.trim().to_string()).collect()
        })
        .collect()
}

#[test]
fn every_file_imports_only_layers_below_it_and_no_two_files_import_each_other() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeMap<ModPath, PathBuf> =
        files.iter().map(|f| (module_path(f), f.clone())).collect();
    let resolve = |path: &ModPath| -> Option<ModPath> {
        (1..=path.len())
            .rev()
            .map(|k| path[..k].to_vec())
            .find(|p| modules.contains_key(p))
    };

    let layers = layers();
    let rank: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (n.as_str(), i)))
        .collect();
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let listed: BTreeSet<String> = rank.keys().map(|s| s.to_string()).collect();
    assert_eq!(
        declared, listed,
        "lib.rs declares these modules, its layer table lists those"
    );

    let mut edges: BTreeSet<(ModPath, ModPath)> = BTreeSet::new();
    for (file, path) in &modules {
        let text = std::fs::read_to_string(path).unwrap();
        for named in named_paths(file, &code(&text)) {
            if let Some(target) = resolve(&named)
                && &target != file
            {
                edges.insert((file.clone(), target));
            }
        }
    }
    let show = |p: &ModPath| {
        if p.is_empty() {
            "lib".to_string()
        } else {
            p.join("::")
        }
    };
    let mut problems = Vec::new();
    for (from, to) in &edges {
        let (Some(a), Some(b)) = (from.first(), to.first()) else {
            continue; // lib.rs / main.rs and the crate root's own items
        };
        if a == b {
            continue;
        }
        match (rank.get(a.as_str()), rank.get(b.as_str())) {
            (Some(ra), Some(rb)) if ra >= rb => problems.push(format!(
                "upward: {} uses {} ({a} is not above {b})",
                show(from),
                show(to)
            )),
            (Some(_), Some(_)) => {}
            _ => problems.push(format!(
                "{} uses {}: a module missing from lib.rs's layer table",
                show(from),
                show(to)
            )),
        }
    }
    for (from, to) in &edges {
        let contained = to.starts_with(from) || from.starts_with(to);
        if from < to && !contained && edges.contains(&(to.clone(), from.clone())) {
            problems.push(format!(
                "mutual: {} and {} use each other",
                show(from),
                show(to)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} import(s) against the layer order:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_upward_paths_and_ignores_comments_and_strings() {
    let file: ModPath = vec!["models".into(), "action".into(), "spec".into()];
    let text = "// crate::cli::x\nuse super::super::super::nn::Conv;\nlet s = \"crate::demo::y\";\n\
        let c = '\"';\nlet r = r#\"crate::cli\"#;\nlet b = br\"\\\";\ncrate::data::ClipSpec::new();\n\
        use crate::{ops::{iou, nms as n}, weights::*};\nuse super::{Bank, store::Entry};\n\
        mod tests {\n    use super::Spec;\n}\n";
    let paths = named_paths(&file, &code(text));
    let heads: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        heads,
        vec![
            "nn::Conv",
            "data::ClipSpec::new",
            "ops::iou",
            "ops::nms",
            "weights",
            "models::action::Bank",
            "models::action::store::Entry",
            "models::action::spec::Spec",
        ]
    );
}
