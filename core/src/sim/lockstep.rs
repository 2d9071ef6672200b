//! The sessions of batched arms ([`BatchRecommender`]: an in-process Python arm) stepped
//! in lockstep: each round asks every batched arm once, for all of its live sessions, so
//! a call across the language boundary serves hundreds of requests.
//!
//! Within a block, each user's episodes still run in episode order, one at a time (its
//! next episode begins after the round its previous one ended in), and every session is
//! the same [`UserSession`] that `run_episode` steps: the user model, the streams and the
//! log lines are those of a one-at-a-time run. The order in which an arm sees the
//! requests depends only on the block's episodes, never on the number of workers.

use super::episode::{
    EpisodeError, EpisodeLog, EpisodeSetup, EpisodeStart, EpisodeSummary, UserSession,
    outside_catalogue,
};
use super::latency_clock::LatencyClock;
use super::listen::Playback;
use crate::log::writer::SessionParts;
use crate::recommend::batch::{BatchError, BatchRecommender, BatchRequests};
use chacha20::ChaCha8Rng;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{MutexGuard, PoisonError};

/// A finished episode's summary and the bytes of its lines in the buffer, or why it failed.
pub type EpisodeOutput = Result<(EpisodeSummary, Range<usize>), EpisodeError>;

/// The batched arm of each arm of `setup` (`None`: one session at a time).
pub fn batched_arms<'a>(setup: &EpisodeSetup<'a>) -> Vec<Option<&'a dyn BatchRecommender>> {
    setup
        .arms
        .iter()
        .map(|arm| arm.recommender.batch())
        .collect()
}

/// A user's episodes of the block and the one it is in.
struct Slot<'b> {
    /// Positions in the block's starts of the episodes still to begin, in episode order.
    queue: std::slice::Iter<'b, usize>,
    live: Option<Live<'b>>,
    /// Memory kept from one episode to the next.
    played: Playback,
    parts: SessionParts,
}

/// An episode under way.
struct Live<'b> {
    position: usize,
    start: &'b EpisodeStart,
    rng: MutexGuard<'b, ChaCha8Rng>,
    session: UserSession,
    log: EpisodeLog,
    arm: u8,
    /// Its lines so far: an episode's lines are contiguous in the block's buffer.
    lines: Vec<u8>,
}

/// One batched arm's requests of the round.
#[derive(Default)]
struct Round {
    begun: Vec<u32>,
    requests: BatchRequests,
    /// The slot of each request.
    slots: Vec<usize>,
    answers: Vec<u32>,
    ended: Vec<usize>,
    ended_users: Vec<u32>,
}

/// Runs the episodes at `positions` of `starts` (grouped by user, each group in episode
/// order; every user's arm batched) in lockstep, their lines into `buffer`.
///
/// At the first failure the block's live sessions are dropped unlogged and the failure is
/// the result of the session it names (or the earliest episode of the failed batch);
/// `stop` (Ctrl-C) is checked every round and ends the lockstep the same way, with
/// [`EpisodeError::Interrupted`].
pub fn run_lockstep(
    setup: &EpisodeSetup,
    batched: &[Option<&dyn BatchRecommender>],
    starts: &[EpisodeStart],
    positions: &[usize],
    buffer: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Vec<(usize, EpisodeOutput)> {
    buffer.clear();
    let mut slots = user_slots(starts, positions);
    let mut rounds: Vec<Round> = batched.iter().map(|_| Round::default()).collect();
    let mut results = Vec::with_capacity(positions.len());
    let clock = LatencyClock::get();
    loop {
        if stop.load(Ordering::Relaxed) {
            fail_earliest(&slots, EpisodeError::Interrupted, &mut results);
            return results;
        }
        for (s, slot) in slots.iter_mut().enumerate() {
            if slot.live.is_none()
                && let Some(&position) = slot.queue.next()
            {
                let live = begin(setup, &starts[position], position, slot);
                rounds[live.arm as usize].begun.push(live.session.user);
                slot.live = Some(live);
            }
            if let Some(live) = &slot.live {
                let request = live.session.request();
                let round = &mut rounds[live.arm as usize];
                round
                    .requests
                    .push(live.session.user, request.track, request.time);
                round.slots.push(s);
            }
        }
        if rounds.iter().all(|r| r.requests.is_empty()) {
            return results;
        }
        for (arm_index, round) in rounds.iter_mut().enumerate() {
            if round.requests.is_empty() {
                continue;
            }
            let Some(arm) = batched[arm_index] else {
                unreachable!("lockstep runs only the users of batched arms");
            };
            let name = &setup.arms[arm_index].name;
            let answered = arm
                .start(&round.begun)
                .and_then(|()| {
                    let asked = clock.now();
                    arm.recommend(&round.requests, &mut round.answers)
                        .map(|()| asked.elapsed_seconds() / round.requests.len() as f64)
                })
                .and_then(|latency| answer_count(round).map(|()| latency));
            let latency = match answered {
                Ok(latency) => latency,
                Err(e) => {
                    fail_call(&slots, failed_slot(round, &e), name, e, &mut results);
                    return results;
                }
            };
            for (i, &s) in round.slots.iter().enumerate() {
                let slot = &mut slots[s];
                let Some(live) = slot.live.as_mut() else {
                    unreachable!("a request comes from a live session");
                };
                let answer = round.answers[i];
                let request = live.session.request();
                if let Err(e) =
                    live.session
                        .listen(setup.world, answer, &mut live.rng, &mut slot.played)
                {
                    let error = outside_catalogue(name, live.session.user, e);
                    fail_slot(&slots, s, error, &mut results);
                    return results;
                }
                live.log
                    .next(&mut live.lines, &mut slot.parts, &request, answer, latency);
                if live.session.end().is_some() {
                    round.ended.push(s);
                    round.ended_users.push(live.session.user);
                }
            }
            if !round.ended.is_empty() {
                let asked = clock.now();
                if let Err(e) = arm.end(&round.ended_users) {
                    fail_call(&slots, round.ended[0], name, e, &mut results);
                    return results;
                }
                let latency = asked.elapsed_seconds() / round.ended.len() as f64;
                for &s in &round.ended {
                    let slot = &mut slots[s];
                    if let Some(mut live) = slot.live.take() {
                        let summary = live.log.last(
                            &mut live.lines,
                            &mut slot.parts,
                            &live.session,
                            live.start.index,
                            live.arm,
                            latency,
                        );
                        let from = buffer.len();
                        buffer.extend_from_slice(&live.lines);
                        results.push((live.position, Ok((summary, from..buffer.len()))));
                    }
                }
            }
            round.begun.clear();
            round.requests.clear();
            round.slots.clear();
            round.ended.clear();
            round.ended_users.clear();
        }
    }
}

/// One slot per user group of `positions`.
fn user_slots<'b>(starts: &'b [EpisodeStart], positions: &'b [usize]) -> Vec<Slot<'b>> {
    let mut slots = Vec::new();
    let mut from = 0;
    for i in 1..=positions.len() {
        if i == positions.len() || starts[positions[i]].user != starts[positions[from]].user {
            slots.push(Slot {
                queue: positions[from..i].iter(),
                live: None,
                played: Playback::default(),
                parts: SessionParts::default(),
            });
            from = i;
        }
    }
    slots
}

fn begin<'b>(
    setup: &EpisodeSetup,
    start: &'b EpisodeStart,
    position: usize,
    slot: &mut Slot<'b>,
) -> Live<'b> {
    let mut rng = start
        .user_rng
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let session = UserSession::begin(
        setup.world,
        start.user,
        start.interest,
        setup.simulation.max_session_steps,
        &mut rng,
        &mut slot.played,
    );
    let arm = setup.user_arm[start.user as usize];
    let log = EpisodeLog::begin(setup, start.index, start.user, arm, &mut slot.parts);
    Live {
        position,
        start,
        rng,
        session,
        log,
        arm,
        lines: Vec::new(),
    }
}

/// An arm that answered a wrong number of tracks failed.
fn answer_count(round: &Round) -> Result<(), BatchError> {
    let (asked, answered) = (round.requests.len(), round.answers.len());
    if asked == answered {
        Ok(())
    } else {
        Err(BatchError::Failed {
            user: None,
            message: format!("answered {answered} tracks to {asked} requests"),
        })
    }
}

/// The slot a failed call names: its user's, or the earliest episode of the batch.
fn failed_slot(round: &Round, error: &BatchError) -> usize {
    let named = match error {
        BatchError::Failed {
            user: Some(user), ..
        } => round
            .requests
            .users
            .iter()
            .position(|u| u == user)
            .map(|i| round.slots[i]),
        _ => None,
    };
    named.unwrap_or(round.slots[0])
}

/// Ends the lockstep with arm `arm`'s failed call as the result of slot `failed`'s episode.
fn fail_call(
    slots: &[Slot],
    failed: usize,
    arm: &str,
    error: BatchError,
    results: &mut Vec<(usize, EpisodeOutput)>,
) {
    let error = match error {
        BatchError::Interrupted => EpisodeError::Interrupted,
        BatchError::Failed { message, .. } => EpisodeError::Recommender {
            arm: arm.to_string(),
            user: slots[failed].live.as_ref().map_or(0, |l| l.session.user),
            message,
        },
    };
    fail_slot(slots, failed, error, results);
}

/// Ends the lockstep with `error` as the result of slot `failed`'s episode.
fn fail_slot(
    slots: &[Slot],
    failed: usize,
    error: EpisodeError,
    results: &mut Vec<(usize, EpisodeOutput)>,
) {
    if let Some(live) = &slots[failed].live {
        results.push((live.position, Err(error)));
    }
}

/// Ends the lockstep with `error` as the result of the earliest live episode.
fn fail_earliest(slots: &[Slot], error: EpisodeError, results: &mut Vec<(usize, EpisodeOutput)>) {
    let earliest = slots
        .iter()
        .enumerate()
        .filter_map(|(s, slot)| slot.live.as_ref().map(|l| (l.start.index, s)))
        .min();
    match earliest {
        Some((_, s)) => fail_slot(slots, s, error, results),
        // Between two episodes of every user: the next one of the first queue stands for them.
        None => {
            if let Some(&position) = slots.iter().find_map(|s| s.queue.clone().next()) {
                results.push((position, Err(error)));
            }
        }
    }
}
