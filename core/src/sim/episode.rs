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

    /// Stream `stream` of the run's key.
    pub fn stream(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(stream);
        rng
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
    pub(super) user_rng: Mutex<ChaCha8Rng>,
    /// To start the recommender's stream where the episode runs: started here, its 300
    /// bytes were copied three times more (1.6 % of a run's instructions).
    streams: EpisodeStreams,
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
            user_rng: Mutex::new(user_rng),
            streams: *streams,
        }
    }

    /// The user-model stream, to go on drawing from (the third draw picks the first
    /// track, see [`UserSession::begin`]).
    pub fn into_user_rng(self) -> ChaCha8Rng {
        self.user_rng
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The budget ran out: the course model's only end.
    BudgetSpent,
    /// `simulation.max_session_steps` recommendations were made (the safety cap).
    StepCap,
}

/// The user model's side of one live session (SIMULATOR.md §2-3): the first track, then
/// one listen per recommendation until the session ends. Every caller steps sessions
/// through it (`run_episode`, the lockstep runner of batched arms, the Python
/// environments): there is one implementation of the model.
///
/// It holds no borrow: the world, the user-model stream and the playback list are passed
/// to each call, so an owner (an environment) can keep all of them side by side.
#[derive(Debug, Clone)]
pub struct UserSession {
    pub user: u32,
    /// The session's hidden taste: an interest track of the user.
    pub interest: u32,
    /// The track the next recommendation follows, and its listen time (1.0 for the first).
    pub prev: u32,
    pub prev_time: f64,
    /// Recommendations so far.
    pub steps: u32,
    /// Sum of their listen times (the first track's 1.0 excluded).
    pub reward: f64,
    budget: i32,
    max_steps: u32,
    end: Option<SessionEnd>,
}

/// A recommended track outside the catalogue `0..tracks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutsideCatalogue {
    pub track: u32,
    pub tracks: usize,
}

impl UserSession {
    /// Starts `user`'s session of taste `interest`: draws the first track from `rng` (the
    /// episode's user-model stream after its user and interest draws) and plays it.
    pub fn begin(
        world: &World,
        user: u32,
        interest: u32,
        max_steps: u32,
        rng: &mut ChaCha8Rng,
        played: &mut Playback,
    ) -> UserSession {
        let profile = &world.users[user as usize];
        let candidates = world.first_track_candidates(profile, interest);
        let first = candidates[rng.random_range(0..candidates.len())];
        played.clear();
        played.push(first, &world.catalogue);
        UserSession {
            user,
            interest,
            prev: first,
            prev_time: 1.0,
            steps: 0,
            reward: 0.0,
            budget: profile.session_budget,
            max_steps,
            end: None,
        }
    }

    /// The user listens to `track`: returns its listen time. A track outside the
    /// catalogue changes nothing. The caller stops at [`UserSession::end`].
    ///
    /// Inlined into each caller's loop: called, `sim run --experiment seminar --episodes
    /// 20000 --workers 1` executed 2.1 % more instructions than when `run_episode` had the
    /// model written into its own loop (412.4 M), inlined 0.5 % more (`valgrind
    /// --tool=cachegrind`).
    #[inline]
    pub fn listen(
        &mut self,
        world: &World,
        track: u32,
        rng: &mut ChaCha8Rng,
        played: &mut Playback,
    ) -> Result<f64, OutsideCatalogue> {
        let catalogue = &world.catalogue;
        if track as usize >= catalogue.len() {
            return Err(OutsideCatalogue {
                track,
                tracks: catalogue.len(),
            });
        }
        let user = &world.users[self.user as usize];
        let time = listen_time(
            catalogue,
            user,
            catalogue.embedding(self.interest),
            played,
            track,
        );
        if rng.random::<f64>() > time {
            self.budget -= 1;
        }
        played.push(track, catalogue);
        self.steps += 1;
        self.reward += time;
        (self.prev, self.prev_time) = (track, time);
        if self.budget <= 0 {
            self.end = Some(SessionEnd::BudgetSpent);
        } else if self.steps >= self.max_steps {
            self.end = Some(SessionEnd::StepCap);
        }
        Ok(time)
    }

    /// `None` while the session goes on.
    #[inline]
    pub fn end(&self) -> Option<SessionEnd> {
        self.end
    }

    /// The patience left: a session ends when it reaches 0 (hidden from recommenders;
    /// the course's `render` shows it).
    pub fn budget(&self) -> i32 {
        self.budget
    }

    /// What the next recommendation is asked with.
    #[inline]
    pub fn request(&self) -> Request {
        Request {
            step: self.steps,
            track: self.prev,
            time: self.prev_time,
        }
    }
}

/// A request for the next track: the `step`-th recommendation, after `track` listened
/// to for `time`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub step: u32,
    pub track: u32,
    pub time: f64,
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
    /// Ctrl-C while the episode ran (the lockstep of batched arms checks between rounds);
    /// the episode is dropped.
    #[error("interrupted by Ctrl-C")]
    Interrupted,
}

/// Memory of an episode that the next episode on the same worker reuses: malloc and free
/// were 4 % of a run's instructions, these allocations among them.
#[derive(Default)]
pub struct EpisodeScratch {
    played: Playback,
    parts: SessionParts,
}

/// What an episode's events are stamped and tagged with: the log's side of a session.
pub(super) struct EpisodeLog {
    pub(super) start_ts: u64,
    pub(super) logged: SessionTotals,
}

impl EpisodeLog {
    /// Starts the lines of episode `index` of `user`, in arm `arm_index`.
    pub(super) fn begin(
        setup: &EpisodeSetup,
        index: u64,
        user: u32,
        arm_index: u8,
        parts: &mut SessionParts,
    ) -> EpisodeLog {
        let simulation = setup.simulation;
        let start_ts = simulation.start_timestamp_ms + index * simulation.episode_stride_ms;
        let treatments = &setup.treatments[arm_index as usize];
        parts.start(u64::from(user), treatments, Some(index), Some(index));
        EpisodeLog {
            start_ts,
            logged: SessionTotals::new(start_ts),
        }
    }

    /// The `next` event of `request`, answered by `answer`.
    pub(super) fn next(
        &mut self,
        out: &mut Vec<u8>,
        parts: &mut SessionParts,
        request: &Request,
        answer: u32,
        latency: f64,
    ) {
        log_event(
            out,
            parts,
            &mut self.logged,
            &EventFields {
                message: Message::Next,
                timestamp: self.start_ts + request.step as u64,
                track: request.track as u64,
                time: request.time,
                latency,
                recommendation: Some(answer as u64),
            },
        );
    }

    /// The `last` event of the ended `session`, and the episode's summary.
    pub(super) fn last(
        mut self,
        out: &mut Vec<u8>,
        parts: &mut SessionParts,
        session: &UserSession,
        index: u64,
        arm: u8,
        latency: f64,
    ) -> EpisodeSummary {
        log_event(
            out,
            parts,
            &mut self.logged,
            &EventFields {
                message: Message::Last,
                timestamp: self.start_ts + session.steps as u64,
                track: session.prev as u64,
                time: session.prev_time,
                latency,
                recommendation: None,
            },
        );
        EpisodeSummary {
            index,
            user: session.user,
            arm,
            reward: session.reward,
            steps: session.steps,
            logged: self.logged,
        }
    }
}

/// The error of arm `arm` answering `track` for `user`, outside the catalogue.
pub(super) fn outside_catalogue(arm: &str, user: u32, e: OutsideCatalogue) -> EpisodeError {
    EpisodeError::TrackOutOfRange {
        arm: arm.to_string(),
        user,
        track: u64::from(e.track),
        max: e.tracks - 1,
    }
}

/// Runs the episode `start` began to its end, appending its events to `out`.
pub fn run_episode(
    setup: &EpisodeSetup,
    start: &EpisodeStart,
    scratch: &mut EpisodeScratch,
    out: &mut Vec<u8>,
) -> Result<EpisodeSummary, EpisodeError> {
    let world = setup.world;
    let (index, user_id) = (start.index, start.user);
    let mut rng = start
        .user_rng
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mut rec_rng: RecRng = start.streams.stream(2 * index + 1);
    let EpisodeScratch { played, parts } = scratch;
    let mut user = UserSession::begin(
        world,
        user_id,
        start.interest,
        setup.simulation.max_session_steps,
        &mut rng,
        played,
    );
    let arm_index = setup.user_arm[user_id as usize];
    let arm = &setup.arms[arm_index as usize];
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
        hidden_taste: start.interest,
    });
    let mut log = EpisodeLog::begin(setup, index, user_id, arm_index, parts);
    let clock = LatencyClock::get();
    while user.end().is_none() {
        let asked = clock.now();
        let answer = session
            .next(user.prev, user.prev_time, &mut rec_rng)
            .map_err(fail)?;
        let latency = asked.elapsed_seconds();
        let request = user.request();
        user.listen(world, answer, &mut rng, played)
            .map_err(|e| outside_catalogue(&arm.name, user_id, e))?;
        log.next(out, parts, &request, answer, latency);
    }
    let asked = clock.now();
    session.end(user.prev, user.prev_time).map_err(fail)?;
    Ok(log.last(out, parts, &user, index, arm_index, asked.elapsed_seconds()))
}
