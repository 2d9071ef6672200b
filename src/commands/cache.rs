//! `sim cache list` and `sim cache clean`: what the artifact cache holds, and freeing it.
//!
//! Only entries the cache itself makes are considered: artifact folders (32 hex digits),
//! their build locks (`<key>.lock`), leftovers of interrupted builds (`<key>.tmp-<pid>`),
//! the neighbour sets (`neighbours/`) and the generated worlds (`worlds/`). `clean`
//! removes only what it can prove the cache made, whatever its name: an artifact folder
//! holding the artifact's own `manifest.json`; a lock that is an empty file; a build's
//! leftover holding only what a build writes; in `neighbours/` and `worlds/`, the files
//! that begin with the cache file's magic (and the temporary files of their writes),
//! then the folder when nothing else is left in it. Everything else is named in the
//! report, with why it was left, so a `--cache-dir` pointed at the wrong folder by
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

/// What `clean` decided about one entry.
enum Verdict {
    /// Proven the cache's: remove these paths (files or folders), then the entry itself
    /// if it is a folder left empty.
    Remove(Vec<PathBuf>),
    /// Left alone, and why.
    Keep(String),
}

/// Whether `dir` holds only what an artifact build writes: `logs/*.jsonl`, `recs.jsonl`,
/// `recs.summary.json`, `recipe.json`, `manifest.json`, and the temporary files of their
/// atomic writes (`.<name>.<random>`).
fn only_build_files(dir: &Path) -> bool {
    const NAMES: [&str; 4] = [
        "recs.jsonl",
        "recs.summary.json",
        "recipe.json",
        "manifest.json",
    ];
    let temporary = |name: &str| NAMES.iter().any(|n| name.starts_with(&format!(".{n}.")));
    let Ok(read) = std::fs::read_dir(dir) else {
        return false;
    };
    read.flatten().all(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if name == "logs" && entry.file_type().is_ok_and(|t| t.is_dir()) {
            return std::fs::read_dir(entry.path()).is_ok_and(|logs| {
                logs.flatten().all(|log| {
                    let name = log.file_name().to_string_lossy().into_owned();
                    log.file_type().is_ok_and(|t| t.is_file())
                        && (name.ends_with(".jsonl") || name.starts_with('.'))
                })
            });
        }
        is_file && (NAMES.contains(&name.as_str()) || temporary(&name))
    })
}

/// The cache files in `folder` (`neighbours/` or `worlds/`) that begin with `magic`, and
/// the temporary files of their writes (`.<key>.bin.<random>`); and what else is there.
fn cache_files(folder: &Path, magic: &[u8]) -> (Vec<PathBuf>, Vec<String>) {
    let (mut ours, mut others) = (Vec::new(), Vec::new());
    let Ok(read) = std::fs::read_dir(folder) else {
        return (ours, others);
    };
    for entry in read.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let keyed = |n: &str| n.strip_suffix(".bin").is_some_and(is_key);
        let temporary = name
            .strip_prefix('.')
            .and_then(|rest| rest.get(..36))
            .is_some_and(keyed);
        let starts_with_magic = || {
            let mut head = vec![0u8; magic.len()];
            std::fs::File::open(entry.path())
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok_and(|()| head == magic)
        };
        if is_file && ((keyed(&name) && starts_with_magic()) || temporary) {
            ours.push(entry.path());
        } else {
            others.push(name);
        }
    }
    (ours, others)
}

fn judge(dir: &Path, entry: &Entry) -> Verdict {
    let name = entry.name.as_str();
    if is_being_built(dir, name) {
        return Verdict::Keep("being built by another process".into());
    }
    let is_dir = entry.path.is_dir();
    match name {
        "neighbours" | "worlds" if is_dir => {
            let magic = if name == "neighbours" {
                crate::world::neighbour_file::MAGIC
            } else {
                crate::world::world_file::MAGIC
            };
            let (ours, others) = cache_files(&entry.path, magic);
            if others.is_empty() {
                Verdict::Remove(ours)
            } else if ours.is_empty() {
                Verdict::Keep(format!(
                    "holds no cache file of sim: {}",
                    list_some(&others)
                ))
            } else {
                // Its own files go; the folder stays for the others.
                let mut paths = ours;
                paths.push(PathBuf::new());
                Verdict::Remove(paths)
            }
        }
        _ if name.ends_with(".lock") => match std::fs::symlink_metadata(&entry.path) {
            Ok(meta) if meta.is_file() && meta.len() == 0 => Verdict::Remove(Vec::new()),
            _ => Verdict::Keep("not the empty file of a build lock".into()),
        },
        _ if name.contains(".tmp-") => {
            if is_dir && only_build_files(&entry.path) {
                Verdict::Remove(Vec::new())
            } else {
                Verdict::Keep("holds files no artifact build writes".into())
            }
        }
        _ if is_dir => {
            if crate::pipeline::manifest::is_manifest(&entry.path) {
                Verdict::Remove(Vec::new())
            } else {
                Verdict::Keep("no manifest.json of an artifact in it".into())
            }
        }
        _ => Verdict::Keep("not a folder, as an artifact is".into()),
    }
}

/// Removes `path`, a file or a whole folder.
fn remove(path: &Path) -> anyhow::Result<()> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.with_context(|| format!("cannot remove {}", path.display()))
}

pub fn clean(dir: &Path) -> anyhow::Result<ExitCode> {
    let (ours, others) = entries(dir)?;
    let (mut freed, mut removed_entries, mut kept) = (0, 0, Vec::new());
    for entry in &ours {
        match judge(dir, entry) {
            Verdict::Keep(why) => kept.push(format!("{} ({why})", entry.name)),
            Verdict::Remove(inside) if inside.is_empty() => {
                remove(&entry.path)?;
                freed += entry.bytes;
                removed_entries += 1;
            }
            Verdict::Remove(inside) => {
                let folder_stays = inside.iter().any(|p| p.as_os_str().is_empty());
                for path in inside.iter().filter(|p| !p.as_os_str().is_empty()) {
                    freed += size(path);
                    remove(path)?;
                }
                if folder_stays {
                    let (_, others) = cache_files(&entry.path, &[]);
                    kept.push(format!(
                        "{} (its cache files removed; it also holds {})",
                        entry.name,
                        list_some(&others)
                    ));
                } else {
                    std::fs::remove_dir(&entry.path)
                        .with_context(|| format!("cannot remove {}", entry.path.display()))?;
                }
                removed_entries += 1;
            }
        }
    }
    crate::out!(
        "removed {removed_entries} entries ({}) from {}",
        megabytes(freed),
        dir.display()
    );
    if !kept.is_empty() {
        crate::note!("left alone: {}", kept.join("; "));
    }
    if !others.is_empty() {
        crate::note!("{}", not_ours(&others).trim_start_matches("; "));
    }
    Ok(ExitCode::SUCCESS)
}

/// The first few of `names`, and "..." when there are more.
fn list_some(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    format!(
        "{}{}",
        shown.join(", "),
        if names.len() > 5 { ", ..." } else { "" }
    )
}

/// Names what is in the folder but not made by the cache (left alone).
fn not_ours(others: &[String]) -> String {
    if others.is_empty() {
        return String::new();
    }
    format!("; left alone, not made by the cache: {}", list_some(others))
}
