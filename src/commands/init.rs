//! `sim experiments` and `sim init`: what is built into the binary, and editable copies of it.

use crate::cli::InitArgs;
use crate::experiment::Experiment;
use crate::experiment::builtin::{BUILT_INS, locate, names};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The default config, as shipped in `config/env.yml` (the built-in defaults, written out).
const DEFAULT_CONFIG: &str = include_str!("../../config/env.yml");

/// One line per built-in: its name, arms and the first line of its leading comment.
pub fn list() -> anyhow::Result<ExitCode> {
    let width = names().iter().map(|n| n.len()).max().unwrap_or(0);
    for ((file, text), name) in BUILT_INS.iter().zip(names()) {
        let experiment =
            Experiment::load(&locate(name)?).with_context(|| format!("built-in {file}"))?;
        let arms: Vec<String> = experiment
            .arms
            .iter()
            .map(|a| format!("{} {}", a.name, a.spec.label()))
            .collect();
        crate::out!("{name:<width$}  {}", summary(text));
        crate::out!("{:<width$}  arms: {}", "", arms.join("; "));
    }
    crate::note!("run one with `sim run --experiment NAME`; `sim init` writes editable copies");
    Ok(ExitCode::SUCCESS)
}

/// The first sentence of the file's leading `#` comment, or "" without one.
fn summary(text: &str) -> String {
    let comment: Vec<&str> = text
        .lines()
        .map_while(|line| line.strip_prefix('#'))
        .map(str::trim)
        .collect();
    let comment = comment.join(" ");
    match comment.find(". ") {
        Some(end) => comment[..=end].to_string(),
        None => comment,
    }
}

pub fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let mut files: Vec<(PathBuf, &str)> = vec![(PathBuf::from("config/env.yml"), DEFAULT_CONFIG)];
    for (file, text) in BUILT_INS {
        files.push((Path::new("experiments").join(file), text));
    }
    let (mut written, mut kept) = (0, 0);
    for (relative, text) in files {
        let path = args.dir.join(relative);
        if path.exists() && !args.force {
            crate::note!("kept {} (exists; --force overwrites)", path.display());
            kept += 1;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crate::atomic_file::write(&path, text.as_bytes())?;
        crate::out!("{}", path.display());
        written += 1;
    }
    crate::note!(
        "wrote {written} files, kept {kept}; run from {}: sim run --experiment experiments/seminar.yml --config config/env.yml",
        args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
