//! The output folder of `sim run`. A run is written into a temporary folder inside
//! `--out` and moved into place only when it ends cleanly (finished, Ctrl-C, a failed
//! episode or a full disk, each recorded in `run.json`), so a crash or a kill never
//! touches the previous run. A lock file refuses a second `sim run` into the same folder,
//! and temporary folders left by dead runs are removed.

use anyhow::{Context, bail};
use std::collections::BTreeSet;
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Held (and holding the owner's pid) while a run writes into the folder.
pub const LOCK: &str = ".sim-run.lock";
/// A run's temporary folder is `.run-<pid>.tmp`.
const STAGING_PREFIX: &str = ".run-";
const STAGING_SUFFIX: &str = ".tmp";
/// The file that records the run, and lists the files it wrote.
pub const RUN_JSON: &str = "run.json";

pub struct RunFolder {
    out: PathBuf,
    staging: PathBuf,
    /// The advisory lock, released when the folder is dropped.
    _lock: File,
    /// Whether the temporary folder stays after drop (the user was told where it is).
    keep: bool,
}

impl RunFolder {
    /// Locks `out` (created if needed), removes dead runs' temporary folders and makes
    /// this run's.
    pub fn begin(out: &Path) -> anyhow::Result<RunFolder> {
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create output directory {}", out.display()))?;
        let lock_path = out.join(LOCK);
        let mut lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("{}: cannot open the lock file", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut owner = String::new();
                let _ = lock.read_to_string(&mut owner);
                bail!(
                    "{}: another `sim run` (pid {}) is writing into this folder; wait for it or pass another --out",
                    out.display(),
                    owner.trim()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("{}: cannot lock", lock_path.display()));
            }
        }
        lock.set_len(0)
            .and_then(|()| lock.rewind())
            .and_then(|()| write!(lock, "{}", std::process::id()))
            .with_context(|| format!("{}: cannot write", lock_path.display()))?;
        for entry in std::fs::read_dir(out)
            .with_context(|| format!("{}: cannot list", out.display()))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            // With the lock held, no live run owns any temporary folder here.
            if name.starts_with(STAGING_PREFIX) && name.ends_with(STAGING_SUFFIX) {
                std::fs::remove_dir_all(entry.path()).with_context(|| {
                    format!(
                        "{}: cannot remove a dead run's folder",
                        entry.path().display()
                    )
                })?;
                crate::note!("removed the unfinished run {}", entry.path().display());
            }
        }
        let staging = out.join(format!(
            "{STAGING_PREFIX}{}{STAGING_SUFFIX}",
            std::process::id()
        ));
        std::fs::create_dir(&staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        Ok(RunFolder {
            out: out.to_path_buf(),
            staging,
            _lock: lock,
            keep: false,
        })
    }

    /// Where this run writes `name` until it is committed.
    pub fn staged(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Where `name` is once committed.
    pub fn final_path(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// The names of the files staged so far, sorted.
    pub fn staged_names(&self) -> anyhow::Result<BTreeSet<String>> {
        file_names(&self.staging)
    }

    /// Moves every staged file into the output folder (`run.json` last), then removes the
    /// previous run's files that this run did not write again.
    ///
    /// A previous file is first moved aside into the temporary folder (removed with it),
    /// and the new one renamed onto the then vacant name. A rename over an existing file
    /// makes ext4 (`auto_da_alloc`) write the new file out to disk at once: for the
    /// 400 MB log of `sim run --experiment seminar --episodes 300000` that rename took
    /// 0.26 s, and the disk then competed with the report step and the next run (five
    /// reruns into one folder: 1.53 s rising to 2.98 s each; into fresh folders 1.37-1.59
    /// s). A crash between the two renames leaves the previous file in the temporary
    /// folder, which the next run removes.
    pub fn commit(self) -> anyhow::Result<()> {
        let previous = previous_outputs(&self.out.join(RUN_JSON));
        let names = self.staged_names()?;
        let run_json_last = names
            .iter()
            .filter(|n| *n != RUN_JSON)
            .chain(names.iter().filter(|n| *n == RUN_JSON));
        for name in run_json_last {
            let (from, to) = (self.staging.join(name), self.out.join(name));
            if std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_file()) {
                let aside = self.staging.join(format!(".replaced.{name}"));
                std::fs::rename(&to, &aside).with_context(|| {
                    format!("cannot move {} to {}", to.display(), aside.display())
                })?;
            }
            std::fs::rename(&from, &to)
                .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
        }
        for old in previous.difference(&names) {
            let _ = std::fs::remove_file(self.out.join(old));
        }
        Ok(())
    }

    /// Leaves the staged files where they are, for the user, and says where.
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.staging.clone()
    }
}

impl Drop for RunFolder {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// The plain file names in `dir`.
pub fn file_names(dir: &Path) -> anyhow::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?
    {
        let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// The files a previous run's `run.json` says it wrote (plain names only: never a path
/// out of the folder); none if there is no readable `run.json`.
fn previous_outputs(run_json: &Path) -> BTreeSet<String> {
    let Ok(text) = std::fs::read(run_json) else {
        return BTreeSet::new();
    };
    let Ok(record) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return BTreeSet::new();
    };
    record["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str())
        .filter(|name| Path::new(name).file_name() == Some(std::ffi::OsStr::new(name)))
        .map(str::to_string)
        .collect()
}
