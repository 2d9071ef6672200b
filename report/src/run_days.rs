//! The days of logs that `sim run` wrote, for `sim report --by-day`: its virtual clock
//! steps one `episode_stride_ms` per episode, so a one-day run of 500 episodes spans
//! almost six days of timestamps. The run's `run.json` says how many days it had.

use anyhow::bail;
use botify_sim_core::log::reader;
use std::path::{Path, PathBuf};

/// The number of days of the runs that wrote `inputs`, from the `run.json` beside each
/// log (the largest, when several); `None` for logs not written by `sim run` (the
/// botify service's, whose timestamps are real time). A `sim run` log without its
/// `run.json` is an error naming it: its days cannot be known.
pub fn run_day_count(inputs: &[PathBuf]) -> anyhow::Result<Option<u64>> {
    let files = reader::expand_inputs(inputs)?.files;
    let mut days: Option<u64> = None;
    for file in &files {
        match recorded_days(file) {
            Some(n) => days = Some(days.map_or(n, |d| d.max(n))),
            None if written_by_sim_run(file) => bail!(
                "{}: a log of `sim run` without the run.json that lists it: its timestamps are a virtual clock (one `episode_stride_ms` per episode), not days, so --by-day cannot tell its days; read it in its run folder",
                file.display()
            ),
            None => {}
        }
    }
    Ok(days)
}

/// The days of the run whose `run.json` (beside `log`) lists `log` among its days.
fn recorded_days(log: &Path) -> Option<u64> {
    let name = log.file_name()?.to_str()?;
    let folder = log
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(folder.join("run.json")).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    let days = record["days"].as_array()?;
    days.iter()
        .any(|d| d["log"].as_str() == Some(name))
        .then_some(days.len() as u64)
}

/// Whether the first event of `log` carries an `episode`, as `sim run` writes it.
fn written_by_sim_run(log: &Path) -> bool {
    use std::io::{BufRead, Read};
    let Ok(file) = std::fs::File::open(log) else {
        return false;
    };
    let mut first = Vec::new();
    let _ = std::io::BufReader::new(file.take(64 << 10)).read_until(b'\n', &mut first);
    memchr::memmem::find(&first, b"\"episode\"").is_some()
}
