//! Shard logs (`sim run --shard K/N`) merged back into the single run's log.
//!
//! Each shard's log holds its episodes in increasing order, and every episode is in
//! exactly one shard, so a k-way merge on the `episode` field rebuilds the single run's
//! log (equal but for `latency`). The per-arm totals are recomputed from the merged log,
//! in episode order, so they are the single run's to the last bit. Here, not in the
//! `sim merge` command, because it runs per event: this crate is the optimized one.

use crate::log::session::SessionTotals;
use crate::sim::episode::EpisodeSummary;
use crate::sim::summary::RunTotals;
use serde_json::value::RawValue;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The fields of an event the merge reads.
#[derive(serde::Deserialize)]
struct Fields<'a> {
    message: &'a str,
    timestamp: u64,
    user: u32,
    #[serde(borrow)]
    time: &'a RawValue,
    #[serde(borrow)]
    latency: &'a RawValue,
    #[serde(borrow)]
    experiments: &'a RawValue,
    episode: u64,
}

/// A shard log read one line at a time, its next line kept.
struct Reader {
    path: PathBuf,
    lines: BufReader<File>,
    line: Vec<u8>,
    number: u64,
}

impl Reader {
    /// Reads the next line; `false` at the end of the log.
    fn advance(&mut self) -> std::io::Result<bool> {
        self.line.clear();
        self.number += 1;
        Ok(self.lines.read_until(b'\n', &mut self.line)? > 0)
    }

    fn fields(&self) -> std::io::Result<Fields<'_>> {
        serde_json::from_slice(&self.line).map_err(|e| {
            std::io::Error::other(format!(
                "{}:{}: not an event of a sim run log: {e}",
                self.path.display(),
                self.number
            ))
        })
    }
}

/// Merges the shard `logs` of a run of `expected_episodes` episodes into the log `path`
/// (written atomically: not at all if a log is cut or from another run); returns the
/// per-arm totals.
pub fn merge_into(
    path: &Path,
    logs: &[PathBuf],
    treatments: &[String],
    expected_episodes: u64,
) -> anyhow::Result<RunTotals> {
    let mut totals = RunTotals::new(treatments.len());
    crate::atomic_file::write_with(path, |out| {
        totals = merge_logs(logs, treatments, out)?;
        if totals.episodes() != expected_episodes {
            return Err(std::io::Error::other(format!(
                "the shards hold {} episodes of the run's {expected_episodes}: a shard log is cut or from another run",
                totals.episodes()
            )));
        }
        Ok(())
    })?;
    Ok(totals)
}

/// Merges the shard logs into `out` in episode order; the per-arm totals of the
/// episodes, added in episode order (as the single run adds them).
fn merge_logs(
    logs: &[PathBuf],
    treatments: &[String],
    out: &mut impl Write,
) -> std::io::Result<RunTotals> {
    let mut readers = Vec::with_capacity(logs.len());
    let mut heads = BinaryHeap::new();
    for (i, log) in logs.iter().enumerate() {
        let file = File::open(log)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", log.display())))?;
        let mut reader = Reader {
            path: log.clone(),
            lines: BufReader::with_capacity(1 << 16, file),
            line: Vec::new(),
            number: 0,
        };
        if reader.advance()? {
            heads.push(Reverse((reader.fields()?.episode, i)));
        }
        readers.push(reader);
    }
    let mut totals = RunTotals::new(treatments.len());
    // The last episode written, and where it came from.
    let mut last: Option<(u64, PathBuf, u64)> = None;
    while let Some(Reverse((episode, i))) = heads.pop() {
        let reader = &mut readers[i];
        if let Some((last, path, line)) = last.as_ref().filter(|(last, _, _)| *last >= episode) {
            return Err(std::io::Error::other(format!(
                "{}:{}: episode {episode} comes after episode {last} at {}:{line}: logs of different runs, or a log edited by hand",
                reader.path.display(),
                reader.number,
                path.display(),
            )));
        }
        last = Some((episode, reader.path.clone(), reader.number));
        let mut summary: Option<EpisodeSummary> = None;
        loop {
            let fields = reader.fields()?;
            if fields.episode != episode {
                heads.push(Reverse((fields.episode, i)));
                break;
            }
            let bad = |what: String| {
                std::io::Error::other(format!(
                    "{}:{}: {what}",
                    reader.path.display(),
                    reader.number
                ))
            };
            let arm = treatments
                .iter()
                .position(|t| t == fields.experiments.get())
                .ok_or_else(|| {
                    bad(format!(
                        "experiments {} is no arm of the run",
                        fields.experiments.get()
                    ))
                })?;
            let time: f64 = fields
                .time
                .get()
                .parse()
                .map_err(|_| bad(format!("time {} is not a number", fields.time.get())))?;
            let latency: f64 =
                fields.latency.get().parse().map_err(|_| {
                    bad(format!("latency {} is not a number", fields.latency.get()))
                })?;
            let s = match &mut summary {
                // The first event's time is the first track's, not a recommendation's.
                None => summary.insert(EpisodeSummary {
                    index: episode,
                    user: fields.user,
                    arm: arm as u8,
                    reward: 0.0,
                    steps: 0,
                    logged: SessionTotals::new(fields.timestamp),
                }),
                Some(s) => {
                    s.reward += time;
                    s
                }
            };
            s.logged.add(fields.timestamp, time, latency);
            if fields.message == "next" {
                s.steps += 1;
            }
            out.write_all(&reader.line)?;
            if !reader.advance()? {
                break;
            }
        }
        if let Some(summary) = summary {
            totals.add(&summary);
        }
    }
    Ok(totals)
}
