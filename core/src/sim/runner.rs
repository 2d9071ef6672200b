//! Runs episodes in parallel and writes their events in episode order, so the log is
//! the same for any number of workers (the `latency` field aside).
//!
//! Episodes go in blocks; within a block all episodes of one user run in order on one
//! worker, and blocks run one after another, so two sessions of a user never overlap
//! (what a stateful remote service needs).

use super::episode::{
    EpisodeError, EpisodeScratch, EpisodeSetup, EpisodeStart, EpisodeStreams, EpisodeSummary,
    run_episode,
};
use super::lockstep::{EpisodeOutput, batched_arms, run_lockstep};
use super::shard::Shard;
use super::summary::RunTotals;
use crate::log::writer::LogWriter;
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

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

/// A block's finished episodes, in episode order, and the buffers that hold their lines.
///
/// A worker writes the lines of a whole chunk of episodes into one buffer, and the buffers
/// go back to the workers once written: allocating a buffer per episode on a worker and
/// freeing it on the writer thread cost more than formatting the lines.
struct Block {
    buffers: Vec<Vec<u8>>,
    /// (summary, buffer, bytes of its lines in the buffer).
    episodes: Vec<(EpisodeSummary, usize, Range<usize>)>,
}

impl Block {
    /// Writes the lines in episode order, one part per run of lines adjacent in a buffer.
    fn write_to(&self, log: &mut LogWriter) -> std::io::Result<()> {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(self.episodes.len());
        let mut run: Option<(usize, Range<usize>)> = None;
        for (_, buffer, lines) in &self.episodes {
            match &mut run {
                Some((b, bytes)) if b == buffer && bytes.end == lines.start => {
                    bytes.end = lines.end;
                }
                _ => {
                    if let Some((b, bytes)) = run.replace((*buffer, lines.clone())) {
                        parts.push(&self.buffers[b][bytes]);
                    }
                }
            }
        }
        if let Some((b, bytes)) = run {
            parts.push(&self.buffers[b][bytes]);
        }
        log.write_parts(&parts)
    }
}

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
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<Vec<u8>>>();
        let writer = scope.spawn(move || {
            let mut totals = RunTotals::new(arms);
            for block in blocks_rx {
                let written = block.write_to(&mut log).and_then(|()| log.commit());
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
                block
                    .episodes
                    .iter()
                    .for_each(|(summary, _, _)| totals.add(summary));
                // The simulation may have ended: then nobody reuses them.
                let _ = spare_tx.send(block.buffers);
            }
            (totals, None)
        });
        let channels = Channels {
            blocks: blocks_tx,
            spare: spare_rx,
        };
        let simulated = simulate_blocks(setup, options, &pool, progress, stop, &channels);
        drop(channels);
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

/// The simulation side's ends of the channels to and from the writer.
struct Channels {
    blocks: SyncSender<Block>,
    /// Buffers the writer is done with.
    spare: Receiver<Vec<Vec<u8>>>,
}

/// Simulates block after block, sending each block's finished episodes, in episode
/// order, to the writer. Nothing is allocated per episode of the whole run.
fn simulate_blocks(
    setup: &EpisodeSetup,
    options: &RunOptions,
    pool: &rayon::ThreadPool,
    progress: &ProgressBar,
    stop: &AtomicBool,
    channels: &Channels,
) -> Simulated {
    // A shard keeps about 1/count of a block's episodes: scan count times as many.
    let shard_count = options.shard.map_or(1, |s| u64::from(s.count));
    let batched = batched_arms(setup);
    let lockstep = batched.iter().any(Option::is_some);
    // A batched arm sees the requests of a block's episodes: a block of a fixed size
    // makes what it sees independent of the number of workers.
    let per_block = if lockstep {
        LOCKSTEP_BLOCK
    } else {
        (options.workers.max(1) as u64 * 512).max(1024)
    };
    let block = per_block * shard_count;
    // A few chunks per worker balance the load; one buffer each.
    let chunks = options.workers.max(1) * 4;
    let streams = EpisodeStreams::new(options.seed);
    let mut group_of_user = vec![NO_GROUP; setup.world.users.len()];
    let last = options.first_episode.saturating_add(options.episodes);
    let mut start = options.first_episode;
    let mut starts = Vec::new();
    while start < last {
        if stop.load(Ordering::Relaxed) {
            return Simulated::Interrupted;
        }
        let end = start.saturating_add(block).min(last);
        draw_starts(setup, options, &streams, pool, start..end, &mut starts);
        let interests: Vec<u32> = starts.iter().map(|s| s.interest).collect();
        pool.install(|| {
            setup
                .world
                .neighbours
                .warm(&setup.world.catalogue, &interests)
        });
        let mut order = group_by_user(&starts, &mut group_of_user);
        // The users of batched arms go to the lockstep, whose buffer is the last.
        let in_lockstep = |&position: &usize| {
            batched[setup.user_arm[starts[position].user as usize] as usize].is_some()
        };
        let stepped: Vec<usize> = order.iter().copied().filter(in_lockstep).collect();
        order.retain(|p| !in_lockstep(p));
        let cuts = chunk_cuts(&starts, &order, chunks);
        let mut buffers = channels.spare.try_recv().unwrap_or_default();
        buffers.resize_with(cuts.len() + usize::from(lockstep), Vec::new);
        let (chunk_buffers, lockstep_buffer) = buffers.split_at_mut(cuts.len());
        let (mut results, stepped_results) = pool.install(|| {
            rayon::join(
                || -> Vec<Vec<(usize, EpisodeOutput)>> {
                    cuts.par_iter()
                        .zip(chunk_buffers.par_iter_mut())
                        .map(|(range, buffer)| {
                            run_chunk(setup, &starts, &order[range.clone()], buffer)
                        })
                        .collect()
                },
                || {
                    lockstep_buffer.first_mut().map(|buffer| {
                        run_lockstep(setup, &batched, &starts, &stepped, buffer, stop)
                    })
                },
            )
        });
        results.extend(stepped_results);
        let mut slots: Vec<Option<(usize, EpisodeOutput)>> = starts.iter().map(|_| None).collect();
        for (chunk, chunk_results) in results.into_iter().enumerate() {
            for (position, result) in chunk_results {
                slots[position] = Some((chunk, result));
            }
        }
        // Every finished episode is logged, even those after a failure in this block
        // (other users' episodes); the first failure in episode order is reported, an
        // interruption only when nothing failed.
        let mut finished = Vec::with_capacity(slots.len());
        let mut failure = None;
        let mut interrupted = false;
        for (position, slot) in slots.into_iter().enumerate() {
            match slot {
                Some((chunk, Ok((summary, lines)))) => finished.push((summary, chunk, lines)),
                Some((_, Err(EpisodeError::Interrupted))) => interrupted = true,
                Some((_, Err(source))) => {
                    failure.get_or_insert((starts[position].index, source));
                }
                // Episodes after a failed one of the same user did not run.
                None => {}
            }
        }
        // A failed send means the writer stopped on an error, which `run` reports.
        let sent = channels.blocks.send(Block {
            buffers,
            episodes: finished,
        });
        // The console's `q`: the block's finished episodes are logged, the run ends cleanly.
        if let Some((_, EpisodeError::Quit)) = failure {
            return Simulated::Quit;
        }
        if let Some((index, source)) = failure {
            return Simulated::Failed { index, source };
        }
        if interrupted {
            return Simulated::Interrupted;
        }
        if sent.is_err() {
            break;
        }
        progress.inc(end - start);
        start = end;
    }
    Simulated::Finished
}

/// Makes `starts` the start of each episode of `episodes` that is the shard's, in
/// episode order.
fn draw_starts(
    setup: &EpisodeSetup,
    options: &RunOptions,
    streams: &EpisodeStreams,
    pool: &rayon::ThreadPool,
    episodes: Range<u64>,
    starts: &mut Vec<EpisodeStart>,
) {
    // Drawn in parallel (a shard of N scans N times as many episodes as it runs) straight
    // into place: an unindexed collect copied every start (two random streams, 700
    // bytes) once more.
    let count = (episodes.end - episodes.start) as usize;
    pool.install(|| {
        (0..count)
            .into_par_iter()
            .map(|i| EpisodeStart::draw(streams, episodes.start + i as u64, setup.world))
            .collect_into_vec(starts)
    });
    if let Some(shard) = options.shard {
        starts.retain(|start| shard.contains(start.user));
    }
}

/// Episodes per block of a run with a batched arm: about as many live sessions per
/// round, so that a round's call serves hundreds of requests.
const LOCKSTEP_BLOCK: u64 = 4096;

/// Marks a user without a group in the block yet.
pub const NO_GROUP: u32 = u32::MAX;

/// Positions in `starts` grouped by user (groups in order of their first episode, each
/// in episode order). `group_of_user` is all [`NO_GROUP`] before and after.
pub fn group_by_user(starts: &[EpisodeStart], group_of_user: &mut [u32]) -> Vec<usize> {
    let mut groups = 0;
    let group: Vec<u32> = starts
        .iter()
        .map(|start| {
            let g = &mut group_of_user[start.user as usize];
            if *g == NO_GROUP {
                *g = groups;
                groups += 1;
            }
            *g
        })
        .collect();
    starts
        .iter()
        .for_each(|start| group_of_user[start.user as usize] = NO_GROUP);
    // A counting sort by group, stable (a user's episodes stay in episode order): the
    // sort it replaces was 1.5 % of a run's instructions.
    let mut next_of_group = vec![0usize; groups as usize + 1];
    for &g in &group {
        next_of_group[g as usize + 1] += 1;
    }
    for g in 1..next_of_group.len() {
        next_of_group[g] += next_of_group[g - 1];
    }
    let mut order = vec![0; starts.len()];
    for (position, &g) in group.iter().enumerate() {
        order[next_of_group[g as usize]] = position;
        next_of_group[g as usize] += 1;
    }
    order
}

/// Cuts `order` into at most `chunks` ranges of about equal length, never inside a user's
/// group (a user's episodes run in order on one worker).
pub fn chunk_cuts(starts: &[EpisodeStart], order: &[usize], chunks: usize) -> Vec<Range<usize>> {
    let target = order.len().div_ceil(chunks.max(1)).max(1);
    let user_at = |i: usize| starts[order[i]].user;
    let mut cuts = Vec::with_capacity(chunks);
    let mut from = 0;
    for i in 1..order.len() {
        if i - from >= target && user_at(i) != user_at(i - 1) {
            cuts.push(from..i);
            from = i;
        }
    }
    if from < order.len() {
        cuts.push(from..order.len());
    }
    cuts
}

/// Runs the episodes at `positions` of `starts` in order into `buffer`, skipping the
/// episodes of a user after its first failure.
fn run_chunk(
    setup: &EpisodeSetup,
    starts: &[EpisodeStart],
    positions: &[usize],
    buffer: &mut Vec<u8>,
) -> Vec<(usize, EpisodeOutput)> {
    buffer.clear();
    // About what the seminar's episodes write, so that a new buffer seldom grows.
    buffer.reserve(positions.len() * 2048);
    let mut results = Vec::with_capacity(positions.len());
    let mut failed_user = None;
    let mut scratch = EpisodeScratch::default();
    for &position in positions {
        let start = &starts[position];
        if failed_user == Some(start.user) {
            continue;
        }
        let from = buffer.len();
        let result = run_episode(setup, start, &mut scratch, buffer);
        if result.is_err() {
            // Lines of an unfinished episode are not logged.
            buffer.truncate(from);
            failed_user = Some(start.user);
        }
        results.push((
            position,
            result.map(|summary| (summary, from..buffer.len())),
        ));
    }
    results
}
