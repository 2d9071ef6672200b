//! The event log of `sim serve`: appended to, never truncated (each served session has its
//! own `session` id, so runs appended to one log stay separable), and held by one server at
//! a time: an advisory lock on the log itself, the owner's pid in a file beside it.
//!
//! Each event is written to the file as it is answered, one `write(2)` per event and no
//! buffer of ours: once the answer is sent the event is the operating system's, so a
//! server killed with `kill -9` loses no answered event. The first write that fails (a
//! full disk, a file-size limit) turns every later answer into a 503 naming the log and
//! the cause ([`EventLog::failure`]): nothing is answered that is not logged.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The log a server writes its events to.
pub struct EventLog {
    path: PathBuf,
    file: Mutex<File>,
    failure: OnceLock<String>,
}

impl EventLog {
    /// A new log at `path` (truncated if it exists), unlocked: for servers of a benchmark.
    pub fn create(path: &Path) -> std::io::Result<EventLog> {
        Ok(EventLog::from_file(path, File::create(path)?))
    }

    fn from_file(path: &Path, file: File) -> EventLog {
        EventLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            failure: OnceLock::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the log can no longer be written, once a write failed.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Writes `line` (one whole event) to the file; the failure if this or an earlier
    /// write failed.
    pub fn append(&self, line: &[u8]) -> Result<(), &str> {
        if let Some(failure) = self.failure() {
            return Err(failure);
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(line) {
            let _ = self.failure.set(format!(
                "the event log {} cannot be written ({e}): this server answers 503 until it is restarted",
                self.path.display()
            ));
        }
        drop(file);
        self.failure().map_or(Ok(()), Err)
    }
}

/// The owner's pid file beside a claimed log, removed when dropped.
pub struct PidFile(PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `.<name>.pid` beside the log.
pub fn pid_file(log: &Path) -> PathBuf {
    let name = log
        .file_name()
        .map_or_else(|| "log".into(), |n| n.to_string_lossy().into_owned());
    log.with_file_name(format!(".{name}.pid"))
}

/// Opens `path` to append (created if missing) and locks it for as long as the writer
/// lives; refused, naming the log and the other server's pid, when another process holds it.
pub fn claim(path: &Path) -> anyhow::Result<(EventLog, PidFile)> {
    let context =
        |e: std::io::Error| anyhow::anyhow!("cannot open the event log {}: {e}", path.display());
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(context)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let owner = std::fs::read_to_string(pid_file(path))
                .ok()
                .map(|pid| pid.trim().to_string())
                .filter(|pid| !pid.is_empty())
                .map_or_else(
                    || "another process".to_string(),
                    |pid| format!("process {pid}"),
                );
            anyhow::bail!(
                "the event log {} is in use by {owner} (another sim serve?): stop it or pass another --log",
                path.display()
            );
        }
        Err(TryLockError::Error(e)) => return Err(context(e)),
    }
    // A log cut mid-line (a killed writer, a full disk) gets a line end first, so the
    // first appended event does not glue onto the cut one.
    let length = file.metadata().map_err(context)?.len();
    if length > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(length - 1)).map_err(context)?;
        file.read_exact(&mut last).map_err(context)?;
        if last[0] != b'\n' {
            file.write_all(b"\n").map_err(context)?;
        }
    }
    let pid_file = pid_file(path);
    crate::atomic_file::write(&pid_file, format!("{}\n", std::process::id()).as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", pid_file.display()))?;
    Ok((EventLog::from_file(path, file), PidFile(pid_file)))
}
