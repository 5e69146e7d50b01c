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

    /// A finite number: `nan` and `inf` parse as floats but are refused here, since no AVA
    /// file means them (a NaN score would otherwise sort anywhere and skew the AP).
    pub fn number(&self, column: usize, what: &str) -> Result<f64, DataError> {
        let field = self.fields[column];
        match field.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(v) => Err(self.error(format!("{what} is {v}: expected a finite number"))),
            Err(_) => Err(self.error(format!("{what} {field:?} is not a number"))),
        }
    }

    pub fn integer(&self, column: usize, what: &str) -> Result<i64, DataError> {
        let field = self.fields[column];
        field
            .parse()
            .map_err(|_| self.error(format!("{what} {field:?} is not an integer")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_numbers_are_refused_naming_the_line() {
        let path = std::env::temp_dir().join(format!("avaloc-csv-nan-{}.csv", std::process::id()));
        std::fs::write(&path, "v,0902,0.5\nv,0903,nan\nv,0904,-inf\n").unwrap();
        let file = CsvFile::read(&path).unwrap();
        let results: Vec<String> = file
            .records()
            .map(|r| match r.number(2, "score") {
                Ok(v) => v.to_string(),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(results[0], "0.5");
        assert!(
            results[1].ends_with(":2: score is NaN: expected a finite number"),
            "{}",
            results[1]
        );
        assert!(
            results[2].ends_with(":3: score is -inf: expected a finite number"),
            "{}",
            results[2]
        );
        std::fs::remove_file(path).unwrap();
    }
}
