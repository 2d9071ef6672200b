//! Runs episodes in parallel and writes their events in episode order, so the log is
//! the same for any number of workers (the `latency` field aside).
//!
//! Episodes go in blocks; within a block all episodes of one user run in order on one
//! worker, and blocks run one after another, so two sessions of a user never overlap
//! (what a stateful remote service needs).

use super::episode::{
    EpisodeError, EpisodeSetup, EpisodeSummary, draw_user_and_interest, episode_streams,
    run_episode,
};
use crate::log::writer::LogWriter;
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Index of the first episode: episodes `first_episode..first_episode + episodes` run
    /// (their index is their session id and picks their random streams). 0 but for days
    /// after the first of a multi-day run.
    pub first_episode: u64,
    pub episodes: u64,
    pub seed: u64,
    pub workers: usize,
}

/// The finished episodes, in order, and whether Ctrl-C cut the run short.
#[derive(Debug)]
pub struct RunOutcome {
    pub summaries: Vec<EpisodeSummary>,
    pub interrupted: bool,
    /// A recommender ended the run (the console's `q`): a clean, early end.
    pub quit: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("episode {index} failed; {completed} finished episodes were logged: {source}")]
    Episode {
        index: u64,
        completed: u64,
        source: EpisodeError,
    },
    #[error("cannot write the event log {path}: {source}")]
    Log {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start {workers} workers: {message}")]
    Pool { workers: usize, message: String },
}

/// A finished episode's summary and log lines, or why it failed.
type EpisodeOutput = Result<(EpisodeSummary, Vec<u8>), EpisodeError>;
type EpisodeResult = (u64, EpisodeOutput);

/// Runs `options.episodes` episodes; every finished one is in the log even on error or stop.
///
/// A writer thread takes each block's lines while the workers simulate the next block.
pub fn run(
    setup: &EpisodeSetup,
    options: &RunOptions,
    log: &mut LogWriter,
    progress: &ProgressBar,
    stop: &AtomicBool,
) -> Result<RunOutcome, RunError> {
    let workers = options.workers.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| RunError::Pool {
            workers,
            message: e.to_string(),
        })?;
    let path = log.path().display().to_string();
    std::thread::scope(|scope| {
        let (lines_tx, lines_rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(2);
        let writer = scope.spawn(move || -> std::io::Result<()> {
            for block in lines_rx {
                for lines in block {
                    log.write_lines(&lines)?;
                }
            }
            log.flush()
        });
        let simulated = simulate_blocks(setup, options, &pool, progress, stop, &lines_tx);
        drop(lines_tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the log writer panicked")));
        // A write error stops the simulation too (its sends fail), so report it first.
        written.map_err(|source| RunError::Log {
            path: path.clone(),
            source,
        })?;
        simulated
    })
}

/// Simulates block after block, sending each block's lines, in episode order, to the writer.
fn simulate_blocks(
    setup: &EpisodeSetup,
    options: &RunOptions,
    pool: &rayon::ThreadPool,
    progress: &ProgressBar,
    stop: &AtomicBool,
    lines_tx: &std::sync::mpsc::SyncSender<Vec<Vec<u8>>>,
) -> Result<RunOutcome, RunError> {
    let block = (options.workers.max(1) as u64 * 512).max(1024);
    let mut summaries = Vec::with_capacity(options.episodes as usize);
    let last = options.first_episode + options.episodes;
    let mut start = options.first_episode;
    while start < last {
        if stop.load(Ordering::Relaxed) {
            return Ok(RunOutcome {
                summaries,
                interrupted: true,
                quit: false,
            });
        }
        let end = (start + block).min(last);
        let (groups, interests) = group_by_user(setup, options.seed, start..end);
        pool.install(|| {
            setup
                .world
                .neighbours
                .warm(&setup.world.catalogue, &interests)
        });
        let results: Vec<Vec<EpisodeResult>> = pool.install(|| {
            groups
                .par_iter()
                .map(|episodes| run_in_order(setup, episodes))
                .collect()
        });
        let mut slots: Vec<Option<EpisodeOutput>> = (start..end).map(|_| None).collect();
        for (index, result) in results.into_iter().flatten() {
            slots[(index - start) as usize] = Some(result);
        }
        // Every finished episode is logged, even those after a failure in this block
        // (other users' episodes); the first failure in episode order is reported.
        let mut lines = Vec::with_capacity(slots.len());
        let mut failure = None;
        for (offset, slot) in slots.into_iter().enumerate() {
            match slot {
                Some(Ok((summary, episode_lines))) => {
                    lines.push(episode_lines);
                    summaries.push(summary);
                }
                Some(Err(source)) => {
                    failure.get_or_insert((start + offset as u64, source));
                }
                // Episodes after a failed one of the same user did not run.
                None => {}
            }
        }
        // The console's `q`: the block's finished episodes are logged, the run ends cleanly.
        if matches!(failure, Some((_, EpisodeError::Quit))) {
            let _ = lines_tx.send(lines);
            return Ok(RunOutcome {
                summaries,
                interrupted: false,
                quit: true,
            });
        }
        let failure = failure.map(|(index, source)| RunError::Episode {
            index,
            completed: summaries.len() as u64,
            source,
        });
        // A failed send means the writer stopped on an error, which `run` reports.
        let sent = lines_tx.send(lines);
        if let Some(failure) = failure {
            return Err(failure);
        }
        if sent.is_err() {
            break;
        }
        progress.inc(end - start);
        start = end;
    }
    Ok(RunOutcome {
        summaries,
        interrupted: false,
        quit: false,
    })
}

/// The block's episodes grouped by user, each group in episode order, and the
/// session interests the block will need neighbours of.
fn group_by_user(
    setup: &EpisodeSetup,
    seed: u64,
    episodes: std::ops::Range<u64>,
) -> (Vec<Vec<u64>>, Vec<u32>) {
    let mut interests = Vec::with_capacity((episodes.end - episodes.start) as usize);
    let mut group_of: HashMap<u32, usize> = HashMap::new();
    let mut groups: Vec<Vec<u64>> = Vec::new();
    for index in episodes {
        let (user, interest) =
            draw_user_and_interest(&mut episode_streams(seed, index).0, setup.world);
        interests.push(interest);
        let g = *group_of.entry(user).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(index);
    }
    (groups, interests)
}

/// One user's episodes of a block, in order, stopping at the first failure.
fn run_in_order(setup: &EpisodeSetup, episodes: &[u64]) -> Vec<EpisodeResult> {
    let mut results = Vec::with_capacity(episodes.len());
    for &index in episodes {
        let mut lines = Vec::with_capacity(2048);
        let result = run_episode(setup, index, &mut lines);
        let failed = result.is_err();
        results.push((index, result.map(|summary| (summary, lines))));
        if failed {
            break;
        }
    }
    results
}
