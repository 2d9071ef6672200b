//! One episode (SIMULATOR.md §2): a user, a hidden taste, a first track, then the
//! recommender is asked until the budget runs out. Events go to a byte buffer.

use super::latency_clock::LatencyClock;
use super::listen::{Playback, listen_time};
use crate::config::SimulationConfig;
use crate::log::Message;
use crate::log::session::SessionTotals;
use crate::log::writer::{EventFields, SessionParts, append_session_event, render_treatments};
use crate::recommend::{RecRng, RecommendError, Recommender, SessionStart};
use crate::world::World;
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::sync::{Mutex, PoisonError};

/// The random streams of a run's episodes. Episode `index` draws its user model from
/// stream `2 index` and its recommender from `2 index + 1` of the ChaCha key of `seed`,
/// so any scheduling gives the same episode. The key is derived once per run: deriving
/// it is the dearest part of starting a stream.
#[derive(Clone, Copy)]
pub struct EpisodeStreams {
    key: [u8; 32],
}

impl EpisodeStreams {
    pub fn new(seed: u64) -> EpisodeStreams {
        EpisodeStreams {
            key: ChaCha8Rng::seed_from_u64(seed).get_seed(),
        }
    }

    fn stream(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(stream);
        rng
    }

    /// The recommender's stream of episode `index`.
    pub fn recommender_stream(&self, index: u64) -> RecRng {
        self.stream(2 * index + 1)
    }
}

/// An episode's first draws, its user and session interest, with the stream it goes on
/// with: drawn once, by the runner that groups episodes by user.
pub struct EpisodeStart {
    pub index: u64,
    pub user: u32,
    pub interest: u32,
    /// Each start is run once, by one worker, through a slice the workers share: the lock
    /// lets that worker go on drawing from the stream in place (a copy of the 300-byte
    /// generator per episode was 1 % of a run's instructions).
    user_rng: Mutex<ChaCha8Rng>,
    /// To start the recommender's stream where the episode runs: started here, its 300
    /// bytes were copied three times more (1.6 % of a run's instructions).
    streams: EpisodeStreams,
    /// Where the user-model stream stands after the first draws: a paired episode replays
    /// it from here under every arm.
    drawn: u128,
}

impl EpisodeStart {
    /// The first two draws of episode `index`'s user-model stream.
    pub fn draw(streams: &EpisodeStreams, index: u64, world: &World) -> EpisodeStart {
        let mut user_rng = streams.stream(2 * index);
        let user = user_rng.random_range(0..world.users.len() as u32);
        let interests = &world.users[user as usize].interests;
        let interest = interests[user_rng.random_range(0..interests.len())];
        EpisodeStart {
            index,
            user,
            interest,
            drawn: user_rng.get_word_pos(),
            user_rng: Mutex::new(user_rng),
            streams: *streams,
        }
    }

    /// The user-model stream as it stands after the first draws, anew: every arm of a
    /// paired episode draws the same first track and the same listening draws from it.
    pub fn replay_user_stream(&self) -> ChaCha8Rng {
        let mut rng = self.streams.stream(2 * self.index);
        rng.set_word_pos(self.drawn);
        rng
    }
}

/// An arm as the runner sees it.
pub struct LiveArm {
    pub name: String,
    pub recommender: Box<dyn Recommender>,
}

/// The `experiments` JSON object of each arm's events, rendered once.
pub fn arm_treatments(experiment: &str, arms: &[LiveArm]) -> Vec<String> {
    arms.iter()
        .map(|arm| render_treatments(&[(experiment, arm.name.as_str())]))
        .collect()
}

/// What is fixed across the episodes of a run.
pub struct EpisodeSetup<'a> {
    pub world: &'a World,
    pub arms: &'a [LiveArm],
    /// Per arm, its events' `experiments` object (see [`arm_treatments`]).
    pub treatments: &'a [String],
    /// Arm index of each user.
    pub user_arm: &'a [u8],
    pub simulation: &'a SimulationConfig,
}

/// The course's per-episode numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodeSummary {
    pub index: u64,
    pub user: u32,
    pub arm: u8,
    /// Sum of listen times of the recommended tracks (the first track's 1.0 excluded).
    pub reward: f64,
    /// Number of recommendations.
    pub steps: u32,
    /// Its events as a reader of the log totals them (see [`crate::log::session`]).
    pub logged: SessionTotals,
}

/// Appends one event to the episode's lines and folds it into its totals.
fn log_event(
    out: &mut Vec<u8>,
    parts: &mut SessionParts,
    logged: &mut SessionTotals,
    event: &EventFields,
) {
    let latency = append_session_event(out, parts, event);
    logged.add(event.timestamp, event.time, latency);
}

#[derive(Debug, thiserror::Error)]
pub enum EpisodeError {
    #[error(
        "arm {arm}: recommender answered track {track} for user {user}, outside the catalogue 0..{max}"
    )]
    TrackOutOfRange {
        arm: String,
        user: u32,
        track: u64,
        max: usize,
    },
    #[error("arm {arm}, user {user}: {message}")]
    Recommender {
        arm: String,
        user: u32,
        message: String,
    },
    /// The recommender asked to end the run (the console's `q`); the episode is dropped.
    #[error("the run was ended at the console")]
    Quit,
}

/// Memory of an episode that the next episode on the same worker reuses: malloc and free
/// were 4 % of a run's instructions, these allocations among them.
#[derive(Default)]
pub struct EpisodeScratch {
    played: Playback,
    parts: SessionParts,
}

/// Runs the episode `start` began to its end under the user's arm, appending its events
/// to `out`.
pub fn run_episode(
    setup: &EpisodeSetup,
    start: &EpisodeStart,
    scratch: &mut EpisodeScratch,
    out: &mut Vec<u8>,
) -> Result<EpisodeSummary, EpisodeError> {
    let arm = setup.user_arm[start.user as usize];
    let mut rng = start
        .user_rng
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let EpisodeScratch { played, parts } = scratch;
    parts.start(
        u64::from(start.user),
        &setup.treatments[arm as usize],
        Some(start.index),
        Some(start.index),
    );
    let rec_rng = start.streams.recommender_stream(start.index);
    play(
        setup,
        start,
        arm,
        &mut rng,
        rec_rng,
        played,
        &mut Lines { out, parts },
    )
}

/// Runs the episode `start` began under `arm`, whatever the user's arm, as one arm of a
/// paired episode (`sim run --paired`): the same first track, listening draws and
/// recommender stream as under every other arm. Its events carry the session id
/// `index * arms + arm` and `"pair": index`.
pub fn run_paired_episode(
    setup: &EpisodeSetup,
    start: &EpisodeStart,
    arm: u8,
    scratch: &mut EpisodeScratch,
    out: &mut Vec<u8>,
) -> Result<EpisodeSummary, EpisodeError> {
    let mut rng = start.replay_user_stream();
    let EpisodeScratch { played, parts } = scratch;
    let session = start
        .index
        .wrapping_mul(setup.arms.len() as u64)
        .wrapping_add(u64::from(arm));
    parts.start_in_pair(
        u64::from(start.user),
        &setup.treatments[arm as usize],
        Some(session),
        Some(start.index),
        Some(start.index),
    );
    let rec_rng = start.streams.recommender_stream(start.index);
    play(
        setup,
        start,
        arm,
        &mut rng,
        rec_rng,
        played,
        &mut Lines { out, parts },
    )
}

/// Runs the episode `start` began under `arm` without writing events or measuring
/// latency (0 in the totals): what `sim calibrate` needs, in memory. `rec_rng` is the
/// recommender's stream (that of [`EpisodeStreams::recommender_stream`] to match a run);
/// `replay`: draw the user model from [`EpisodeStart::replay_user_stream`], as every arm of
/// a paired episode does.
pub fn simulate_episode(
    setup: &EpisodeSetup,
    start: &EpisodeStart,
    arm: u8,
    rec_rng: RecRng,
    replay: bool,
    played: &mut Playback,
) -> Result<EpisodeSummary, EpisodeError> {
    if replay {
        let mut rng = start.replay_user_stream();
        return play(setup, start, arm, &mut rng, rec_rng, played, &mut Unlogged);
    }
    let mut rng = start
        .user_rng
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    play(setup, start, arm, &mut rng, rec_rng, played, &mut Unlogged)
}

/// Where an episode's events go.
trait Events {
    /// Whether latency is measured (the clock read around every answer).
    const MEASURED: bool;
    /// Takes one event and folds it into the session's totals.
    fn record(&mut self, logged: &mut SessionTotals, event: &EventFields);
}

/// Events as log lines.
struct Lines<'a> {
    out: &'a mut Vec<u8>,
    parts: &'a mut SessionParts,
}

impl Events for Lines<'_> {
    const MEASURED: bool = true;
    fn record(&mut self, logged: &mut SessionTotals, event: &EventFields) {
        log_event(self.out, self.parts, logged, event);
    }
}

/// Events only totalled.
struct Unlogged;

impl Events for Unlogged {
    const MEASURED: bool = false;
    fn record(&mut self, logged: &mut SessionTotals, event: &EventFields) {
        logged.add(event.timestamp, event.time, 0.0);
    }
}

/// The episode itself (SIMULATOR.md §2): first track, then the recommender is asked until
/// the budget runs out.
fn play<E: Events>(
    setup: &EpisodeSetup,
    start: &EpisodeStart,
    arm_index: u8,
    rng: &mut ChaCha8Rng,
    mut rec_rng: RecRng,
    played: &mut Playback,
    events: &mut E,
) -> Result<EpisodeSummary, EpisodeError> {
    let world = setup.world;
    let cat = &world.catalogue;
    let (index, user_id, interest) = (start.index, start.user, start.interest);
    let user = &world.users[user_id as usize];
    let candidates = world.first_track_candidates(user, interest);
    let first = candidates[rng.random_range(0..candidates.len())];
    let taste = cat.embedding(interest);

    let arm = &setup.arms[arm_index as usize];
    let start_ts = setup.simulation.start_timestamp_ms + index * setup.simulation.episode_stride_ms;
    let fail = |e: RecommendError| match e {
        RecommendError::Quit => EpisodeError::Quit,
        e => EpisodeError::Recommender {
            arm: arm.name.clone(),
            user: user_id,
            message: e.to_string(),
        },
    };

    let mut session = arm.recommender.start(&SessionStart {
        user: user_id,
        hidden_taste: interest,
    });
    played.clear();
    played.push(first, cat);
    let (mut prev, mut prev_time) = (first, 1.0);
    let mut budget = user.session_budget;
    let (mut steps, mut reward) = (0u32, 0.0f64);
    let mut logged = SessionTotals::new(start_ts);
    let clock = LatencyClock::get();
    loop {
        let asked = E::MEASURED.then(|| clock.now());
        let answer = session.next(prev, prev_time, &mut rec_rng).map_err(fail)?;
        let latency = asked.map_or(0.0, |asked| asked.elapsed_seconds());
        if answer as usize >= cat.len() {
            return Err(EpisodeError::TrackOutOfRange {
                arm: arm.name.clone(),
                user: user_id,
                track: answer as u64,
                max: cat.len() - 1,
            });
        }
        events.record(
            &mut logged,
            &EventFields {
                message: Message::Next,
                timestamp: start_ts + steps as u64,
                track: prev as u64,
                time: prev_time,
                latency,
                recommendation: Some(answer as u64),
            },
        );
        let time = listen_time(cat, user, taste, played, answer);
        if rng.random::<f64>() > time {
            budget -= 1;
        }
        played.push(answer, cat);
        steps += 1;
        reward += time;
        (prev, prev_time) = (answer, time);
        if budget <= 0 || steps >= setup.simulation.max_session_steps {
            break;
        }
    }
    let asked = E::MEASURED.then(|| clock.now());
    session.end(prev, prev_time).map_err(fail)?;
    events.record(
        &mut logged,
        &EventFields {
            message: Message::Last,
            timestamp: start_ts + steps as u64,
            track: prev as u64,
            time: prev_time,
            latency: asked.map_or(0.0, |asked| asked.elapsed_seconds()),
            recommendation: None,
        },
    );
    Ok(EpisodeSummary {
        index,
        user: user_id,
        arm: arm_index,
        reward,
        steps,
        logged,
    })
}
