//! Comma-separated AVA files: non-blank lines split into trimmed fields, with the file and
//! 1-based line number at hand for every message.

use std::path::{Path, PathBuf};

use super::DataError;

pub(crate) struct CsvFile {
    path: PathBuf,
    text: String,
}

/// One non-blank line of a [`CsvFile`].
pub(crate) struct Record<'a> {
    path: &'a Path,
    pub line: usize,
    pub fields: Vec<&'a str>,
}

impl CsvFile {
    pub fn read(path: &Path) -> Result<Self, DataError> {
        Ok(Self {
            path: path.to_path_buf(),
            text: DataError::read(path)?,
        })
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.text.lines().enumerate().filter_map(|(index, line)| {
            let line = line.trim_end_matches('\r');
            (!line.trim().is_empty()).then(|| Record {
                path: &self.path,
                line: index + 1,
                fields: line.split(',').map(str::trim).collect(),
            })
        })
    }
}

impl Record<'_> {
    pub fn error(&self, message: impl Into<String>) -> DataError {
        DataError::line(self.path, self.line, message)
    }

    pub fn number(&self, column: usize, what: &str) -> Result<f64, DataError> {
        let field = self.fields[column];
        field
            .parse()
            .map_err(|_| self.error(format!("{what} {field:?} is not a number")))
    }

    pub fn integer(&self, column: usize, what: &str) -> Result<i64, DataError> {
        let field = self.fields[column];
        field
            .parse()
            .map_err(|_| self.error(format!("{what} {field:?} is not an integer")))
    }
}
