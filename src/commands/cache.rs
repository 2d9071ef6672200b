//! `sim cache list` and `sim cache clean`: what the artifact cache holds, and freeing it.
//!
//! Only entries the cache itself makes are touched: artifact folders (32 hex digits),
//! their build locks (`<key>.lock`), leftovers of interrupted builds (`<key>.tmp-<pid>`),
//! the neighbour sets (`neighbours/`) and the generated worlds (`worlds/`). Anything
//! else is named and left alone, so a `--cache-dir` pointed at the wrong folder by
//! mistake loses nothing. An artifact whose lock another process holds (it is being
//! built) is left alone too.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

/// One entry of the cache folder.
struct Entry {
    path: PathBuf,
    name: String,
    bytes: u64,
    modified: Option<SystemTime>,
}

fn is_key(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `name` is something the cache makes.
pub fn is_cache_entry(name: &str) -> bool {
    is_key(name)
        || name.strip_suffix(".lock").is_some_and(is_key)
        || name
            .split_once(".tmp-")
            .is_some_and(|(key, pid)| is_key(key) && pid.bytes().all(|b| b.is_ascii_digit()))
        || name == "neighbours"
        || name == "worlds"
}

/// Whether a process is building the artifact an entry belongs to (holds `<key>.lock`).
fn is_being_built(dir: &Path, name: &str) -> bool {
    let Some(key) = name.get(..32).filter(|k| is_key(k)) else {
        return false;
    };
    let Ok(lock) = std::fs::File::open(dir.join(format!("{key}.lock"))) else {
        return false;
    };
    matches!(lock.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// The cache's entries and the names of other things in the folder; an absent folder is empty.
fn entries(dir: &Path) -> anyhow::Result<(Vec<Entry>, Vec<String>)> {
    let (mut ours, mut others) = (Vec::new(), Vec::new());
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((ours, others)),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the cache {}", dir.display()));
        }
    };
    for item in read {
        let item = item.with_context(|| format!("cannot read the cache {}", dir.display()))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if !is_cache_entry(&name) {
            others.push(name);
            continue;
        }
        let path = item.path();
        ours.push(Entry {
            bytes: size(&path),
            modified: item.metadata().ok().and_then(|m| m.modified().ok()),
            path,
            name,
        });
    }
    ours.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
    others.sort();
    Ok((ours, others))
}

/// Bytes under `path` (files only; unreadable parts count as 0).
fn size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|read| read.filter_map(Result::ok).map(|e| size(&e.path())).sum())
        .unwrap_or(0)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// What made an artifact, from its `recipe.json`: the experiments simulated for it.
fn describe(entry: &Entry) -> String {
    if entry.name == "neighbours" {
        return "neighbour sets".into();
    }
    if entry.name == "worlds" {
        return "generated worlds".into();
    }
    if entry.name.ends_with(".lock") {
        return "build lock".into();
    }
    if entry.name.contains(".tmp-") {
        return "unfinished build (interrupted, or running now)".into();
    }
    let Ok(text) = std::fs::read_to_string(entry.path.join("recipe.json")) else {
        return "artifact (no recipe.json)".into();
    };
    let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else {
        return "artifact (unreadable recipe.json)".into();
    };
    let recipe = &record["recipe"];
    let logs: Vec<String> = recipe["logs_from"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            format!(
                "{} x{}",
                l["experiment"].as_str().unwrap_or("?"),
                l["episodes"]
            )
        })
        .collect();
    format!(
        "{} top-{} on {}",
        recipe["train"].as_str().unwrap_or("?"),
        recipe["top_k"],
        logs.join(" + ")
    )
}

fn age(modified: Option<SystemTime>) -> String {
    let Some(seconds) = modified
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .map(|d| d.as_secs())
    else {
        return "?".into();
    };
    match seconds {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

pub fn list(dir: &Path) -> anyhow::Result<ExitCode> {
    let (ours, others) = entries(dir)?;
    for entry in &ours {
        crate::out!(
            "{:<44} {:>10} {:>7}  {}",
            entry.name,
            megabytes(entry.bytes),
            age(entry.modified),
            describe(entry)
        );
    }
    let total: u64 = ours.iter().map(|e| e.bytes).sum();
    crate::note!(
        "{}: {} entries, {}{}",
        dir.display(),
        ours.len(),
        megabytes(total),
        not_ours(&others)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn clean(dir: &Path) -> anyhow::Result<ExitCode> {
    let (ours, others) = entries(dir)?;
    let (mut freed, mut removed_entries, mut busy) = (0, 0, Vec::new());
    for entry in &ours {
        if is_being_built(dir, &entry.name) {
            busy.push(entry.name.as_str());
            continue;
        }
        let removed = if entry.path.is_dir() {
            std::fs::remove_dir_all(&entry.path)
        } else {
            std::fs::remove_file(&entry.path)
        };
        removed.with_context(|| format!("cannot remove {}", entry.path.display()))?;
        freed += entry.bytes;
        removed_entries += 1;
    }
    crate::out!(
        "removed {removed_entries} entries ({}) from {}",
        megabytes(freed),
        dir.display()
    );
    if !busy.is_empty() {
        crate::note!(
            "left alone, being built by another process: {}",
            busy.join(", ")
        );
    }
    if !others.is_empty() {
        crate::note!("{}", not_ours(&others).trim_start_matches("; "));
    }
    Ok(ExitCode::SUCCESS)
}

/// Names what is in the folder but not made by the cache (left alone).
fn not_ours(others: &[String]) -> String {
    if others.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = others.iter().take(5).map(String::as_str).collect();
    format!(
        "; left alone, not made by the cache: {}{}",
        shown.join(", "),
        if others.len() > 5 { ", ..." } else { "" }
    )
}
