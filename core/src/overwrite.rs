//! No output of a command may be one of its inputs: checked before any work, after
//! resolving links (symbolic and hard: two names of one file are one file), so that a
//! typo such as `--out` equal to `--logs` fails at once instead of replacing the input.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A path a command reads or writes, with what the user calls it (a flag, say).
pub struct Named<'a> {
    pub what: String,
    pub path: &'a Path,
}

impl<'a> Named<'a> {
    pub fn new(what: impl Into<String>, path: &'a Path) -> Named<'a> {
        Named {
            what: what.into(),
            path,
        }
    }
}

/// `path` with its links resolved: the file itself when it exists, else its resolved
/// folder joined with its name (or the path made absolute, when the folder is missing).
pub fn resolved(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(real), Some(name)) => real.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// Whether `a` and `b` name the same file: the same device and inode when both exist
/// (hard links too), else the same resolved path.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        (Err(_), Err(_)) => resolved(a) == resolved(b),
        _ => false,
    }
}

/// Fails, naming both, if an output is an input or two outputs are one file.
pub fn refuse_outputs_over_inputs(inputs: &[Named], outputs: &[Named]) -> anyhow::Result<()> {
    for output in outputs {
        if let Some(input) = inputs.iter().find(|i| same_file(i.path, output.path)) {
            anyhow::bail!(
                "{} {} is {} {}: the output would overwrite an input; give another {}",
                output.what,
                output.path.display(),
                input.what,
                input.path.display(),
                output.what
            );
        }
    }
    for (i, first) in outputs.iter().enumerate() {
        if let Some(second) = outputs[i + 1..]
            .iter()
            .find(|o| same_file(first.path, o.path))
        {
            anyhow::bail!(
                "{} {} and {} {} are the same file: one would overwrite the other; give them different paths",
                first.what,
                first.path.display(),
                second.what,
                second.path.display()
            );
        }
    }
    Ok(())
}
