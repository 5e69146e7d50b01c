use std::path::PathBuf;

/// A problem with an input file, naming the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

impl DataError {
    pub(crate) fn line(path: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        Self::Line {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn read(path: &std::path::Path) -> Result<String, Self> {
        std::fs::read_to_string(path).map_err(|source| Self::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
