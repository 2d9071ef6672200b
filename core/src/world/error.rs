//! Errors of world loading: each names the file and what is wrong with it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
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
    #[error("invalid world config: {0}")]
    Config(String),
}

impl WorldError {
    pub fn file(path: &std::path::Path, message: impl Into<String>) -> WorldError {
        WorldError::File {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
