//! Comma-separated AVA files: non-blank lines split into trimmed fields, with the file and
//! 1-based line number at hand for every message. A folder reads as the concatenation of its
//! `*.csv` files in name order: the per-video files of a sharded job ([`crate::data::shard`]).

use std::path::{Path, PathBuf};

use super::DataError;

pub(crate) struct CsvFile {
    /// Each file read, with its text.
    parts: Vec<(PathBuf, String)>,
}

/// One non-blank line of a [`CsvFile`].
pub(crate) struct Record<'a> {
    path: &'a Path,
    pub line: usize,
    pub fields: Vec<&'a str>,
}

impl CsvFile {
    pub fn read(path: &Path) -> Result<Self, DataError> {
        if !path.is_dir() {
            return Ok(Self {
                parts: vec![(path.to_path_buf(), DataError::read(path)?)],
            });
        }
        let listing = std::fs::read_dir(path).map_err(|e| DataError::File {
            path: path.to_path_buf(),
            message: format!("cannot list the folder: {e}"),
        })?;
        // Hidden files are atomic writes' temporaries.
        let mut files: Vec<PathBuf> = listing
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| e == "csv")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    && p.is_file()
            })
            .collect();
        if files.is_empty() {
            return Err(DataError::File {
                path: path.to_path_buf(),
                message: "a folder without *.csv files (expected one file per video)".into(),
            });
        }
        files.sort();
        let parts = files
            .into_iter()
            .map(|file| DataError::read(&file).map(|text| (file, text)))
            .collect::<Result<_, _>>()?;
        Ok(Self { parts })
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.parts.iter().flat_map(|(path, text)| {
            text.lines().enumerate().filter_map(move |(index, line)| {
                let line = line.trim_end_matches('\r');
                (!line.trim().is_empty()).then(|| Record {
                    path,
                    line: index + 1,
                    fields: line.split(',').map(str::trim).collect(),
                })
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

    #[test]
    fn a_folder_reads_as_its_csv_files_in_name_order_naming_each_file() {
        let dir = std::env::temp_dir().join(format!("avaloc-csv-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.csv"), "b,0902\nb,x\n").unwrap();
        std::fs::write(dir.join("a.csv"), "a,0901\n").unwrap();
        // An atomic write's temporary and other files are not read.
        std::fs::write(dir.join(".c.csv.tmp"), "c,0903\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "n,0904\n").unwrap();
        let file = CsvFile::read(&dir).unwrap();
        let ids: Vec<String> = file.records().map(|r| r.fields.join(",")).collect();
        assert_eq!(ids, ["a,0901", "b,0902", "b,x"]);
        let error = file
            .records()
            .find_map(|r| r.integer(1, "timestamp").err())
            .unwrap()
            .to_string();
        assert!(error.contains("b.csv:2:"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let empty = CsvFile::read(&dir).err().unwrap().to_string();
        assert!(empty.contains("without *.csv files"), "{empty}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
