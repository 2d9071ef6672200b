//! Unit tests of `core/src/sim/episode.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::config::SimulationConfig;
use botify_sim::log::Event;
use botify_sim::recommend::RecSession;
use botify_sim::recommend::{RecRng, RecommendError, Recommender, SessionStart};
use botify_sim::sim::episode::*;
use botify_sim::world::World;
use botify_sim::world::{Catalogue, User};

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
    let summary = run_episode(&setup, &start, &mut EpisodeScratch::default(), &mut buf).unwrap();
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
    assert_eq!(events[5].message, botify_sim::log::Message::Last);
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
