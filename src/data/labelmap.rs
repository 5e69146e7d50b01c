use std::path::Path;

use super::DataError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub id: i64,
    pub name: String,
}

/// An AVA label map (`.pbtxt`), in either dialect: `item { name: "..." id: N }` (the AVA
/// action list) or `label { name: "..." label_id: N label_type: ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMap {
    pub labels: Vec<Label>,
}

impl LabelMap {
    pub fn read(path: &Path) -> Result<Self, DataError> {
        Self::parse(&DataError::read(path)?, path)
    }

    /// Parses label map text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, DataError> {
        let mut labels: Vec<Label> = Vec::new();
        let mut open: Option<(usize, Option<String>, Option<i64>)> = None;
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if line.ends_with('{') {
                if open.is_some() {
                    return Err(DataError::line(
                        path,
                        number,
                        "a new block opens before the last one closed",
                    ));
                }
                open = Some((number, None, None));
                continue;
            }
            if line == "}" {
                let Some((start, name, id)) = open.take() else {
                    return Err(DataError::line(path, number, "'}' without an open block"));
                };
                let (Some(name), Some(id)) = (name, id) else {
                    return Err(DataError::line(
                        path,
                        start,
                        "a label needs both a name and an id",
                    ));
                };
                if id < 1 {
                    return Err(DataError::line(
                        path,
                        start,
                        format!("label id {id}: ids start at 1"),
                    ));
                }
                if labels.iter().any(|l| l.id == id) {
                    return Err(DataError::line(
                        path,
                        start,
                        format!("label id {id} appears twice"),
                    ));
                }
                labels.push(Label { id, name });
                continue;
            }
            let Some((field, value)) = line.split_once(':') else {
                return Err(DataError::line(
                    path,
                    number,
                    format!("expected `field: value`, found {line:?}"),
                ));
            };
            let Some((_, name, id)) = open.as_mut() else {
                return Err(DataError::line(
                    path,
                    number,
                    "field outside an item/label block",
                ));
            };
            let value = value.trim();
            match field.trim() {
                "name" | "display_name" if name.is_none() => {
                    *name = Some(value.trim_matches('"').to_string());
                }
                "id" | "label_id" => {
                    *id = Some(value.parse().map_err(|_| {
                        DataError::line(
                            path,
                            number,
                            format!("label id {value:?} is not an integer"),
                        )
                    })?);
                }
                _ => {}
            }
        }
        if let Some((start, _, _)) = open {
            return Err(DataError::line(path, start, "block is never closed"));
        }
        if labels.is_empty() {
            return Err(DataError::File {
                path: path.to_path_buf(),
                message: "the label map defines no labels".into(),
            });
        }
        Ok(Self { labels })
    }

    pub fn contains(&self, id: i64) -> bool {
        self.labels.iter().any(|l| l.id == id)
    }

    pub fn name(&self, id: i64) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.name.as_str())
    }
}
