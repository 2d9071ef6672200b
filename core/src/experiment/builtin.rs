//! The experiments shipped in `experiments/`, built into the binary (see build.rs), so an
//! installed `sim` runs them from any folder: `--experiment seminar`.
//!
//! A built-in is addressed by a virtual path `<built-in>/NAME.yml`: relative references
//! inside it (a recipe's `experiment: seminar.yml`) then resolve among the built-ins,
//! exactly as references inside a file on disk resolve next to that file.

use anyhow::bail;
use std::path::{Path, PathBuf};

/// `(file name, contents)` of every built-in experiment, sorted by name.
pub const BUILT_INS: &[(&str, &str)] =
    include!(concat!(env!("OUT_DIR"), "/builtin_experiments.rs"));

/// The folder of the virtual paths of built-ins; no real folder is read.
const BUILT_IN_DIR: &str = "<built-in>";

/// The path an `--experiment` value stands for: a value with a path separator or a
/// `.yml`/`.yaml` extension is a file; anything else is the name of a built-in.
pub fn locate(value: &str) -> anyhow::Result<PathBuf> {
    let is_path = value.contains('/')
        || value.contains(std::path::MAIN_SEPARATOR)
        || value.ends_with(".yml")
        || value.ends_with(".yaml");
    if is_path {
        return Ok(PathBuf::from(value));
    }
    let file = format!("{value}.yml");
    if !BUILT_INS.iter().any(|(name, _)| *name == file) {
        bail!(
            "no built-in experiment {value:?} (built-ins: {}); give a path such as ./{value}.yml for a file",
            names().join(", ")
        );
    }
    Ok(Path::new(BUILT_IN_DIR).join(file))
}

/// The contents of `path` if it is a built-in's virtual path.
pub fn contents(path: &Path) -> Option<anyhow::Result<&'static str>> {
    if path.parent() != Some(Path::new(BUILT_IN_DIR)) {
        return None;
    }
    let file = path.file_name().map(|f| f.to_string_lossy());
    Some(
        BUILT_INS
            .iter()
            .find(|(name, _)| Some(*name) == file.as_deref())
            .map(|(_, text)| *text)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no built-in experiment {} (built-ins: {})",
                    path.display(),
                    names().join(", ")
                )
            }),
    )
}

/// Built-in names as `--experiment` takes them (file names without `.yml`).
pub fn names() -> Vec<&'static str> {
    BUILT_INS
        .iter()
        .map(|(file, _)| file.trim_end_matches(".yml"))
        .collect()
}
