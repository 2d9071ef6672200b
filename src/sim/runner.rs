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
use super::shard::Shard;
use super::summary::RunTotals;
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
    /// Simulate only the episodes of this shard's users (`None`: every episode).
    pub shard: Option<Shard>,
}

/// What the log holds and why the run ended. Memory does not grow with the number of
/// episodes: finished episodes are added to per-arm totals, not kept.
#[derive(Debug)]
pub struct RunOutcome {
    /// Totals of exactly the episodes in the log.
    pub totals: RunTotals,
    pub end: RunEnd,
}

#[derive(Debug)]
pub enum RunEnd {
    Finished,
    /// Ctrl-C: the log holds every episode of the blocks before it.
    Interrupted,
    /// An episode or the log failed; the log holds the episodes of `totals`, whole.
    Failed(RunError),
    /// A recommender ended the run (the console's `q`): a clean, early end; the log holds
    /// every finished episode.
    Quit,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("episode {index} failed; {completed} finished episodes were logged: {source}")]
    Episode {
        index: u64,
        completed: u64,
        source: EpisodeError,
    },
    #[error("cannot write the event log: {source}; {}", cut_note(*.completed, .cut.as_ref()))]
    Log {
        completed: u64,
        source: std::io::Error,
        /// Why the log could not be cut back to its last whole episode, if it could not.
        cut: Option<std::io::Error>,
    },
    #[error("cannot start {workers} workers: {message}")]
    Pool { workers: usize, message: String },
}

fn cut_note(completed: u64, cut: Option<&std::io::Error>) -> String {
    match cut {
        None => format!("the log was cut back to the {completed} episodes written whole"),
        Some(e) => format!(
            "{completed} episodes were written whole, but the log could not be cut back \
             to them and may end with a cut line: {e}"
        ),
    }
}

/// A finished episode's summary and log lines, or why it failed.
type EpisodeOutput = Result<(EpisodeSummary, Vec<u8>), EpisodeError>;
type EpisodeResult = (u64, EpisodeOutput);
/// A block's finished episodes, in episode order.
type Block = Vec<(EpisodeSummary, Vec<u8>)>;

/// How the simulation side stopped.
enum Simulated {
    Finished,
    Interrupted,
    Quit,
    Failed { index: u64, source: EpisodeError },
}

/// Runs `options.episodes` episodes; every finished one is in the log even on error or stop.
///
/// A writer thread takes each block's lines while the workers simulate the next block; it
/// commits the log after each block, so a failed write (a full disk) leaves the log cut
/// at a block's end, with the totals of exactly the episodes it holds.
pub fn run(
    setup: &EpisodeSetup,
    options: &RunOptions,
    mut log: LogWriter,
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
    let arms = setup.arms.len();
    std::thread::scope(|scope| {
        let (blocks_tx, blocks_rx) = std::sync::mpsc::sync_channel::<Block>(2);
        let writer = scope.spawn(move || {
            let mut totals = RunTotals::new(arms);
            for block in blocks_rx {
                let written = block
                    .iter()
                    .try_for_each(|(_, lines)| log.write_lines(lines))
                    .and_then(|()| log.commit());
                if let Err(source) = written {
                    let cut = log.cut_to_commit().err();
                    let completed = totals.episodes();
                    return (
                        totals,
                        Some(RunError::Log {
                            completed,
                            source,
                            cut,
                        }),
                    );
                }
                block.iter().for_each(|(summary, _)| totals.add(summary));
            }
            (totals, None)
        });
        let simulated = simulate_blocks(setup, options, &pool, progress, stop, &blocks_tx);
        drop(blocks_tx);
        let (totals, log_error) = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A write error stops the simulation too (its sends fail), so it comes first.
        let end = match (log_error, simulated) {
            (Some(error), _) => RunEnd::Failed(error),
            (None, Simulated::Failed { index, source }) => RunEnd::Failed(RunError::Episode {
                index,
                completed: totals.episodes(),
                source,
            }),
            (None, Simulated::Interrupted) => RunEnd::Interrupted,
            (None, Simulated::Quit) => RunEnd::Quit,
            (None, Simulated::Finished) => RunEnd::Finished,
        };
        Ok(RunOutcome { totals, end })
    })
}

/// Simulates block after block, sending each block's finished episodes, in episode
/// order, to the writer. Nothing is allocated per episode of the whole run.
fn simulate_blocks(
    setup: &EpisodeSetup,
    options: &RunOptions,
    pool: &rayon::ThreadPool,
    progress: &ProgressBar,
    stop: &AtomicBool,
    blocks_tx: &std::sync::mpsc::SyncSender<Block>,
) -> Simulated {
    // A shard keeps about 1/count of a block's episodes: scan count times as many.
    let shard_count = options.shard.map_or(1, |s| u64::from(s.count));
    let block = (options.workers.max(1) as u64 * 512).max(1024) * shard_count;
    let last = options.first_episode.saturating_add(options.episodes);
    let mut start = options.first_episode;
    while start < last {
        if stop.load(Ordering::Relaxed) {
            return Simulated::Interrupted;
        }
        let end = start.saturating_add(block).min(last);
        let (groups, interests) = group_by_user(setup, options, pool, start..end);
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
        // Slots of the block's episodes in order (only this shard's when sharded).
        let mut order: Vec<u64> = groups.iter().flatten().copied().collect();
        order.sort_unstable();
        let mut slots: Vec<Option<EpisodeOutput>> = order.iter().map(|_| None).collect();
        for (index, result) in results.into_iter().flatten() {
            if let Ok(slot) = order.binary_search(&index) {
                slots[slot] = Some(result);
            }
        }
        // Every finished episode is logged, even those after a failure in this block
        // (other users' episodes); the first failure in episode order is reported.
        let mut finished = Vec::with_capacity(slots.len());
        let mut failure = None;
        for (offset, slot) in slots.into_iter().enumerate() {
            match slot {
                Some(Ok(episode)) => finished.push(episode),
                Some(Err(source)) => {
                    failure.get_or_insert((order[offset], source));
                }
                // Episodes after a failed one of the same user did not run.
                None => {}
            }
        }
        // A failed send means the writer stopped on an error, which `run` reports.
        let sent = blocks_tx.send(finished);
        // The console's `q`: the block's finished episodes are logged, the run ends cleanly.
        if let Some((_, EpisodeError::Quit)) = failure {
            return Simulated::Quit;
        }
        if let Some((index, source)) = failure {
            return Simulated::Failed { index, source };
        }
        if sent.is_err() {
            break;
        }
        progress.inc(end - start);
        start = end;
    }
    Simulated::Finished
}

/// The block's episodes (of the shard's users) grouped by user, each group in episode
/// order, and the session interests the block will need neighbours of.
fn group_by_user(
    setup: &EpisodeSetup,
    options: &RunOptions,
    pool: &rayon::ThreadPool,
    episodes: std::ops::Range<u64>,
) -> (Vec<Vec<u64>>, Vec<u32>) {
    // Drawn in parallel: a shard of N scans N times as many episodes as it runs.
    let draws: Vec<Option<(u32, u32)>> = pool.install(|| {
        episodes
            .clone()
            .into_par_iter()
            .map(|index| {
                let (user, interest) = draw_user_and_interest(
                    &mut episode_streams(options.seed, index).0,
                    setup.world,
                );
                options
                    .shard
                    .is_none_or(|shard| shard.contains(user))
                    .then_some((user, interest))
            })
            .collect()
    });
    let mut interests = Vec::with_capacity((episodes.end - episodes.start) as usize);
    let mut group_of: HashMap<u32, usize> = HashMap::new();
    let mut groups: Vec<Vec<u64>> = Vec::new();
    for (index, (user, interest)) in episodes
        .zip(draws)
        .filter_map(|(index, draw)| Some((index, draw?)))
    {
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
