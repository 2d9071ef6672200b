//! One episode (SIMULATOR.md §2): a user, a hidden taste, a first track, then the
//! recommender is asked until the budget runs out. Events go to a byte buffer.

use super::listen::{Playback, listen_time};
use crate::config::SimulationConfig;
use crate::log::Message;
use crate::log::writer::{EventRecord, append_event, render_treatments};
use crate::recommend::{RecRng, Recommender, SessionStart};
use crate::world::World;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// The two random streams of episode `index`: the user model's and the recommender's.
/// Both derive from (seed, index) alone, so any scheduling gives the same episode.
pub fn episode_streams(seed: u64, index: u64) -> (ChaCha8Rng, RecRng) {
    let mut user = ChaCha8Rng::seed_from_u64(seed);
    user.set_stream(2 * index);
    let mut recommender = ChaCha8Rng::seed_from_u64(seed);
    recommender.set_stream(2 * index + 1);
    (user, recommender)
}

/// The episode's user and session interest: the first two draws of its user-model stream.
pub fn draw_user_and_interest(user_rng: &mut ChaCha8Rng, world: &World) -> (u32, u32) {
    let user = user_rng.random_range(0..world.users.len() as u32);
    let interests = &world.users[user as usize].interests;
    (user, interests[user_rng.random_range(0..interests.len())])
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
    /// The run's `--seed`.
    pub seed: u64,
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
}

#[derive(Debug, thiserror::Error)]
pub enum EpisodeError {
    #[error("arm {arm}: recommender answered track {track} for user {user}, outside the catalogue 0..{max}")]
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
}

/// Runs episode `index` to its end, appending its events to `out`.
pub fn run_episode(
    setup: &EpisodeSetup,
    index: u64,
    out: &mut Vec<u8>,
) -> Result<EpisodeSummary, EpisodeError> {
    let world = setup.world;
    let cat = &world.catalogue;
    let (mut rng, mut rec_rng) = episode_streams(setup.seed, index);
    let (user_id, interest) = draw_user_and_interest(&mut rng, world);
    let user = &world.users[user_id as usize];
    let candidates = world.first_track_candidates(user, interest);
    let first = candidates[rng.random_range(0..candidates.len())];
    let taste = cat.embedding(interest);

    let arm_index = setup.user_arm[user_id as usize];
    let arm = &setup.arms[arm_index as usize];
    let treatments = &setup.treatments[arm_index as usize];
    let start_ts = setup.simulation.start_timestamp_ms + index * setup.simulation.episode_stride_ms;
    let fail = |message: String| EpisodeError::Recommender {
        arm: arm.name.clone(),
        user: user_id,
        message,
    };

    let mut session = arm.recommender.start(&SessionStart {
        user: user_id,
        hidden_taste: interest,
    });
    let mut played = Playback::default();
    played.push(first, cat);
    let (mut prev, mut prev_time) = (first, 1.0);
    let mut budget = user.session_budget;
    let (mut steps, mut reward) = (0u32, 0.0f64);
    loop {
        let clock = Instant::now();
        let answer = session
            .next(prev, prev_time, &mut rec_rng)
            .map_err(|e| fail(e.to_string()))?;
        let latency = clock.elapsed().as_secs_f64();
        if answer as usize >= cat.len() {
            return Err(EpisodeError::TrackOutOfRange {
                arm: arm.name.clone(),
                user: user_id,
                track: answer as u64,
                max: cat.len() - 1,
            });
        }
        append_event(
            out,
            &EventRecord {
                message: Message::Next,
                timestamp: start_ts + steps as u64,
                user: user_id as u64,
                track: prev as u64,
                time: prev_time,
                latency,
                recommendation: Some(answer as u64),
                experiments: treatments,
                session: Some(index),
                episode: Some(index),
            },
        );
        let time = listen_time(cat, user, taste, &played, answer);
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
    let clock = Instant::now();
    session.end(prev, prev_time).map_err(|e| fail(e.to_string()))?;
    append_event(
        out,
        &EventRecord {
            message: Message::Last,
            timestamp: start_ts + steps as u64,
            user: user_id as u64,
            track: prev as u64,
            time: prev_time,
            latency: clock.elapsed().as_secs_f64(),
            recommendation: None,
            experiments: treatments,
            session: Some(index),
            episode: Some(index),
        },
    );
    Ok(EpisodeSummary {
        index,
        user: user_id,
        arm: arm_index,
        reward,
        steps,
    })
}
