//! One episode (SIMULATOR.md §2): a user, a hidden taste, a first track, then the
//! recommender is asked until the budget runs out. Events go to a byte buffer.

use super::listen::{Playback, listen_time};
use crate::config::SimulationConfig;
use crate::log::Message;
use crate::log::session::SessionTotals;
use crate::log::writer::{EventFields, SessionParts, append_session_event, render_treatments};
use crate::recommend::{RecRng, RecommendError, Recommender, SessionStart};
use crate::world::World;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// The random streams of a run's episodes. Episode `index` draws its user model from
/// stream `2 index` and its recommender from `2 index + 1` of the ChaCha key of `seed`,
/// so any scheduling gives the same episode. The key is derived once per run: deriving
/// it is the dearest part of starting a stream.
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
}

/// An episode's first draws, its user and session interest, with the streams it goes on
/// with: drawn once, by the runner that groups episodes by user.
pub struct EpisodeStart {
    pub index: u64,
    pub user: u32,
    pub interest: u32,
    user_rng: ChaCha8Rng,
    recommender_rng: RecRng,
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
            user_rng,
            recommender_rng: streams.stream(2 * index + 1),
        }
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

/// Runs the episode `start` began to its end, appending its events to `out`.
pub fn run_episode(
    setup: &EpisodeSetup,
    start: &EpisodeStart,
    scratch: &mut EpisodeScratch,
    out: &mut Vec<u8>,
) -> Result<EpisodeSummary, EpisodeError> {
    let world = setup.world;
    let cat = &world.catalogue;
    let (index, user_id, interest) = (start.index, start.user, start.interest);
    let (mut rng, mut rec_rng) = (start.user_rng.clone(), start.recommender_rng.clone());
    let user = &world.users[user_id as usize];
    let candidates = world.first_track_candidates(user, interest);
    let first = candidates[rng.random_range(0..candidates.len())];
    let taste = cat.embedding(interest);

    let arm_index = setup.user_arm[user_id as usize];
    let arm = &setup.arms[arm_index as usize];
    let treatments = &setup.treatments[arm_index as usize];
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
    let EpisodeScratch { played, parts } = scratch;
    played.clear();
    played.push(first, cat);
    let (mut prev, mut prev_time) = (first, 1.0);
    let mut budget = user.session_budget;
    let (mut steps, mut reward) = (0u32, 0.0f64);
    let mut logged = SessionTotals::new(start_ts);
    parts.start(u64::from(user_id), treatments, Some(index), Some(index));
    loop {
        let clock = Instant::now();
        let answer = session.next(prev, prev_time, &mut rec_rng).map_err(fail)?;
        let latency = clock.elapsed().as_secs_f64();
        if answer as usize >= cat.len() {
            return Err(EpisodeError::TrackOutOfRange {
                arm: arm.name.clone(),
                user: user_id,
                track: answer as u64,
                max: cat.len() - 1,
            });
        }
        log_event(
            out,
            parts,
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
    let clock = Instant::now();
    session.end(prev, prev_time).map_err(fail)?;
    log_event(
        out,
        parts,
        &mut logged,
        &EventFields {
            message: Message::Last,
            timestamp: start_ts + steps as u64,
            track: prev as u64,
            time: prev_time,
            latency: clock.elapsed().as_secs_f64(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Event;
    use crate::recommend::{RecSession, RecommendError};
    use crate::world::{Catalogue, User};

    /// Tracks on a line, each its own artist; embeddings `[i]` so nearest = largest ids.
    fn world(n: usize, user: User) -> World {
        let catalogue = Catalogue::new(
            1,
            (0..n).map(|i| i as f32).collect(),
            (0..n as u32).collect(),
            (0..n).map(|i| format!("artist {i}")).collect(),
            vec![String::new(); n],
            (0..n as u32).collect(),
        );
        World::new(catalogue, vec![user])
    }

    fn user(bias: f64, budget: i32) -> User {
        User {
            interests: vec![9],
            interest_neighbours: 3,
            consume_bias: bias,
            consume_sharpness: 1.0,
            session_budget: budget,
            artist_discount_gamma: 1.0,
        }
    }

    /// Answers a fixed script of tracks (cycling), or always the previous track.
    struct Scripted(Option<Vec<u32>>);
    struct ScriptedSession<'a>(&'a Option<Vec<u32>>, usize);
    impl Recommender for Scripted {
        fn start(&self, _: &SessionStart) -> Box<dyn RecSession + '_> {
            Box::new(ScriptedSession(&self.0, 0))
        }
    }
    impl RecSession for ScriptedSession<'_> {
        fn next(&mut self, prev: u32, _: f64, _: &mut RecRng) -> Result<u32, RecommendError> {
            self.1 += 1;
            Ok(match self.0 {
                Some(script) => script[(self.1 - 1) % script.len()],
                None => prev,
            })
        }
    }

    fn run(
        world: &World,
        recommender: Scripted,
        max_steps: u32,
        index: u64,
    ) -> (EpisodeSummary, Vec<Event>) {
        let arms = [LiveArm {
            name: "C".into(),
            recommender: Box::new(recommender),
        }];
        let simulation = SimulationConfig {
            max_session_steps: max_steps,
            ..SimulationConfig::default()
        };
        let setup = EpisodeSetup {
            world,
            arms: &arms,
            treatments: &arm_treatments("x", &arms),
            user_arm: &[0],
            simulation: &simulation,
        };
        let start = EpisodeStart::draw(&EpisodeStreams::new(5), index, world);
        let mut buf = Vec::new();
        let summary =
            run_episode(&setup, &start, &mut EpisodeScratch::default(), &mut buf).unwrap();
        let events = String::from_utf8(buf)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (summary, events)
    }

    #[test]
    fn first_track_is_one_of_the_interest_neighbours_with_time_one() {
        let w = world(10, user(0.0, 5));
        for index in 0..50 {
            let (_, events) = run(&w, Scripted(None), 100, index);
            assert!([9, 8, 7].contains(&events[0].track), "{}", events[0].track);
            assert_eq!(events[0].time, 1.0);
        }
    }

    #[test]
    fn repeating_the_first_track_earns_nothing_and_spends_the_whole_budget() {
        // Repeats have time 0, so every step costs a unit of budget: exactly 5 steps.
        let w = world(10, user(-100.0, 5));
        let (summary, events) = run(&w, Scripted(None), 100, 0);
        assert_eq!(summary.steps, 5);
        assert_eq!(summary.reward, 0.0);
        assert_eq!(events.len(), 6, "5 next events and a last one");
        assert!(events[1..].iter().all(|e| e.time == 0.0));
        assert_eq!(events[5].message, crate::log::Message::Last);
        assert_eq!(events[5].recommendation, None);
    }

    #[test]
    fn listened_in_full_never_spends_budget_so_only_the_cap_ends_the_session() {
        // Bias -100: every fresh track rounds to time 1.00 and u in [0, 1) is never > 1.
        let w = world(10, user(-100.0, 1));
        let script: Vec<u32> = (0..10).collect();
        let (summary, events) = run(&w, Scripted(Some(script)), 7, 0);
        assert_eq!(summary.steps, 7);
        let first = events[0].track;
        let fresh = (0..7).filter(|t| *t != first).count() as f64;
        assert_eq!(summary.reward, fresh, "repeat of the first track scores 0");
    }

    #[test]
    fn budget_drops_when_u_exceeds_the_time_and_the_session_ends_at_zero() {
        // Bias +100: fresh tracks have time 0.00, so the first step ends a budget-1 session.
        let w = world(10, user(100.0, 1));
        let (summary, events) = run(&w, Scripted(Some(vec![0, 1, 2])), 100, 0);
        assert_eq!(summary.steps, 1);
        // The log chains: each next event reports the previous answer and its time.
        assert_eq!(events[1].track, events[0].recommendation.unwrap());
        assert_eq!(events[1].time, 0.0);
    }

    #[test]
    fn an_answer_outside_the_catalogue_names_arm_user_and_id() {
        let w = world(10, user(0.0, 5));
        let arms = [LiveArm {
            name: "T1".into(),
            recommender: Box::new(Scripted(Some(vec![12]))),
        }];
        let setup = EpisodeSetup {
            world: &w,
            arms: &arms,
            treatments: &arm_treatments("x", &arms),
            user_arm: &[0],
            simulation: &SimulationConfig::default(),
        };
        let start = EpisodeStart::draw(&EpisodeStreams::new(1), 0, &w);
        let err = run_episode(
            &setup,
            &start,
            &mut EpisodeScratch::default(),
            &mut Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("arm T1") && err.contains("track 12") && err.contains("user 0"),
            "{err}"
        );
    }
}
