//! `Sessions`: live sessions of the user model for the Gymnasium environments, one per
//! sub-environment, each going through the episodes of its own seed: episode `i` of seed
//! `s` is `sim run --seed s`'s episode `i` (the same [`EpisodeStart`] draws and the same
//! [`UserSession`] steps), so for the same actions the listen times are the same, bit for
//! bit. Sub-environments share nothing but the world, so stepping them in parallel gives
//! the same results for any number of threads.

use botify_sim::sim::episode::{
    EpisodeStart, EpisodeStreams, OutsideCatalogue, SessionEnd, UserSession,
};
use botify_sim::sim::listen::Playback;
use botify_sim::world::World;
use chacha20::ChaCha8Rng;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBool;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// A NumPy column of ids, and of the other fields a step returns.
type Ids<'py> = Bound<'py, PyArray1<i64>>;
type Floats<'py> = Bound<'py, PyArray1<f64>>;
type Flags<'py> = Bound<'py, PyArray1<bool>>;

/// Below this many sub-environments a step runs on the calling thread: handing work to
/// the thread pool costs more than it saves.
const PARALLEL_FROM: usize = 256;

/// One sub-environment: the episodes of one seed, one at a time.
struct Env {
    streams: Option<EpisodeStreams>,
    /// The episode the next reset begins.
    next_episode: u64,
    live: Option<Live>,
}

/// The episode a sub-environment is in.
struct Live {
    episode: u64,
    rng: ChaCha8Rng,
    session: UserSession,
    played: Playback,
    /// (track, listen time) of every play, for `render` (kept only when asked for).
    plays: Option<Vec<(u32, f64)>>,
}

impl Env {
    fn reseed(&mut self, seed: u64) {
        self.streams = Some(EpisodeStreams::new(seed));
        self.next_episode = 0;
    }

    /// Begins the next episode of the seed; `false` if there is no seed yet.
    fn begin(&mut self, world: &World, max_steps: u32, keep_plays: bool) -> bool {
        let Some(streams) = &self.streams else {
            return false;
        };
        let episode = self.next_episode;
        self.next_episode += 1;
        let start = EpisodeStart::draw(streams, episode, world);
        let (user, interest) = (start.user, start.interest);
        let mut rng = start.into_user_rng();
        let mut played = self.live.take().map(|l| l.played).unwrap_or_default();
        let session = UserSession::begin(world, user, interest, max_steps, &mut rng, &mut played);
        let plays = keep_plays.then(|| vec![(session.prev, session.prev_time)]);
        self.live = Some(Live {
            episode,
            rng,
            session,
            played,
            plays,
        });
        true
    }

    /// One step of a live, unfinished session.
    fn listen(live: &mut Live, world: &World, track: u32) -> Result<f64, OutsideCatalogue> {
        let time = live
            .session
            .listen(world, track, &mut live.rng, &mut live.played)?;
        if let Some(plays) = &mut live.plays {
            plays.push((track, time));
        }
        Ok(time)
    }
}

/// What a step reports of one sub-environment.
#[derive(Clone, Copy, Default)]
struct Outcome {
    user: u32,
    track: u32,
    reward: f64,
    terminated: bool,
    truncated: bool,
}

fn outcome(live: &Live, reward: f64) -> Outcome {
    Outcome {
        user: live.session.user,
        track: live.session.prev,
        reward,
        terminated: live.session.end() == Some(SessionEnd::BudgetSpent),
        truncated: live.session.end() == Some(SessionEnd::StepCap),
    }
}

/// The users and tracks of `outcomes`: the observation's two columns.
fn observations<'py>(py: Python<'py>, outcomes: &[Outcome]) -> (Ids<'py>, Ids<'py>) {
    let column = |field: fn(&Outcome) -> u32| {
        let ids: Vec<i64> = outcomes.iter().map(|o| i64::from(field(o))).collect();
        ids.into_pyarray(py)
    };
    (column(|o| o.user), column(|o| o.track))
}

/// Live sessions of one world (see the module's doc).
#[pyclass(module = "botify_sim._native")]
pub struct Sessions {
    world: Arc<World>,
    max_steps: u32,
    keep_plays: bool,
    envs: Vec<Env>,
}

#[pymethods]
impl Sessions {
    /// `num_envs` sub-environments over the world of `config` (a path, or `None`:
    /// `config/env.yml` if present, else the built-in default world); `plays`: remember
    /// each session's plays for `render`.
    #[new]
    #[pyo3(signature = (num_envs, config=None, cache_dir=None, plays=false))]
    fn new(
        py: Python<'_>,
        num_envs: usize,
        config: Option<PathBuf>,
        cache_dir: Option<PathBuf>,
        plays: bool,
    ) -> PyResult<Sessions> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be at least 1, got 0"));
        }
        let cache = crate::world::cache_dir(cache_dir);
        let (config, world) = py
            .detach(|| crate::world::load(config.as_deref(), &cache))
            .map_err(|e| crate::runtime_error(&e))?;
        Ok(Sessions {
            world,
            max_steps: config.simulation.max_session_steps,
            keep_plays: plays,
            envs: (0..num_envs)
                .map(|_| Env {
                    streams: None,
                    next_episode: 0,
                    live: None,
                })
                .collect(),
        })
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.envs.len()
    }

    #[getter]
    fn n_users(&self) -> usize {
        self.world.users.len()
    }

    #[getter]
    fn n_tracks(&self) -> usize {
        self.world.catalogue.len()
    }

    /// Begins the next episode of sub-environment `env` (episode 0 of `seed` if given):
    /// returns (user, first track, episode index).
    #[pyo3(signature = (env, seed=None))]
    fn reset(&mut self, env: usize, seed: Option<u64>) -> PyResult<(u32, u32, u64)> {
        let (world, max_steps, keep) = (Arc::clone(&self.world), self.max_steps, self.keep_plays);
        let sub = self.env(env)?;
        if let Some(seed) = seed {
            sub.reseed(seed);
        }
        if !sub.begin(&world, max_steps, keep) {
            return Err(PyRuntimeError::new_err(
                "the first reset needs a seed (reset(seed=...))",
            ));
        }
        let live = sub
            .live
            .as_ref()
            .map(|l| (l.session.user, l.session.prev, l.episode));
        live.ok_or_else(|| PyRuntimeError::new_err("no episode began"))
    }

    /// Recommends `action` in sub-environment `env`: returns (user, track, listen time,
    /// terminated, truncated). A finished session must be reset first.
    fn step(
        &mut self,
        env: usize,
        action: &Bound<'_, PyAny>,
    ) -> PyResult<(u32, u32, f64, bool, bool)> {
        let track = track_id(action, self.world.catalogue.len())?;
        let world = Arc::clone(&self.world);
        let sub = self.env(env)?;
        let Some(live) = sub.live.as_mut() else {
            return Err(PyRuntimeError::new_err(
                "step() before reset(): call reset() first",
            ));
        };
        if live.session.end().is_some() {
            return Err(PyRuntimeError::new_err(
                "the session has ended (terminated or truncated): call reset() before step()",
            ));
        }
        let time =
            Env::listen(live, &world, track).map_err(|e| out_of_range(e.track.into(), e.tracks))?;
        let o = outcome(live, time);
        Ok((o.user, o.track, o.reward, o.terminated, o.truncated))
    }

    /// Begins the next episode of every sub-environment (episode 0 of `seeds[j]` for
    /// sub-environment `j`, when given): returns (users, first tracks).
    #[pyo3(signature = (seeds=None))]
    fn reset_all<'py>(
        &mut self,
        py: Python<'py>,
        seeds: Option<Vec<u64>>,
    ) -> PyResult<(Ids<'py>, Ids<'py>)> {
        if let Some(seeds) = &seeds {
            if seeds.len() != self.envs.len() {
                return Err(PyValueError::new_err(format!(
                    "{} seeds for {} sub-environments",
                    seeds.len(),
                    self.envs.len()
                )));
            }
            for (env, &seed) in self.envs.iter_mut().zip(seeds) {
                env.reseed(seed);
            }
        }
        if self.envs.iter().any(|e| e.streams.is_none()) {
            return Err(PyRuntimeError::new_err(
                "the first reset needs seeds (reset(seed=...))",
            ));
        }
        let (world, max_steps, keep) = (&*self.world, self.max_steps, self.keep_plays);
        let envs = &mut self.envs;
        let outcomes = py.detach(|| {
            for_each(envs, |env| {
                env.begin(world, max_steps, keep);
                env.live
                    .as_ref()
                    .map(|l| outcome(l, 0.0))
                    .unwrap_or_default()
            })
        });
        Ok(observations(py, &outcomes))
    }

    /// Steps every sub-environment with its action, in parallel with the GIL released:
    /// returns (users, tracks, rewards, terminated, truncated). A sub-environment whose
    /// session ended at the previous step begins its next episode instead, ignoring its
    /// action, and reports reward 0 (Gymnasium's next-step autoreset).
    fn step_all<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<(Ids<'py>, Ids<'py>, Floats<'py>, Flags<'py>, Flags<'py>)> {
        let actions = actions
            .as_slice()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        if actions.len() != self.envs.len() {
            return Err(PyValueError::new_err(format!(
                "{} actions for {} sub-environments",
                actions.len(),
                self.envs.len()
            )));
        }
        let n_tracks = self.world.catalogue.len();
        if let Some((j, &a)) = actions
            .iter()
            .enumerate()
            .find(|(_, a)| !(0..n_tracks as i64).contains(a))
        {
            return Err(PyValueError::new_err(format!(
                "actions[{j}] = {a} is not a track id (0..{})",
                n_tracks - 1
            )));
        }
        if self.envs.iter().any(|e| e.live.is_none()) {
            return Err(PyRuntimeError::new_err(
                "step() before reset(): call reset() first",
            ));
        }
        let (world, max_steps, keep) = (&*self.world, self.max_steps, self.keep_plays);
        let envs = &mut self.envs;
        let outcomes = py.detach(|| {
            let mut stepped = envs.iter_mut().zip(actions).collect::<Vec<_>>();
            for_each(&mut stepped, |(env, action)| {
                let action = **action;
                let ended = env.live.as_ref().is_some_and(|l| l.session.end().is_some());
                if ended {
                    env.begin(world, max_steps, keep);
                }
                match env.live.as_mut() {
                    Some(live) if !ended => {
                        // In range: checked above.
                        let time = Env::listen(live, world, action as u32).unwrap_or(0.0);
                        outcome(live, time)
                    }
                    Some(live) => outcome(live, 0.0),
                    None => Outcome::default(),
                }
            })
        });
        let (users, tracks) = observations(py, &outcomes);
        let rewards = outcomes.iter().map(|o| o.reward).collect::<Vec<_>>();
        let terminated = outcomes.iter().map(|o| o.terminated).collect::<Vec<_>>();
        let truncated = outcomes.iter().map(|o| o.truncated).collect::<Vec<_>>();
        Ok((
            users,
            tracks,
            rewards.into_pyarray(py),
            terminated.into_pyarray(py),
            truncated.into_pyarray(py),
        ))
    }

    /// The episode index sub-environment `env` is in (its seed's `sim run` episode).
    fn episode(&mut self, env: usize) -> PyResult<Option<u64>> {
        Ok(self.env(env)?.live.as_ref().map(|l| l.episode))
    }

    /// The session as the course's environment prints it:
    /// `user:[Playback(track=.., time=.., artist='..'), ...]:budget`, with a final `.`
    /// once it has ended.
    fn render(&mut self, env: usize) -> PyResult<String> {
        let world = Arc::clone(&self.world);
        let Some(live) = self.env(env)?.live.as_ref() else {
            return Ok(String::new());
        };
        let plays = live.plays.as_deref().unwrap_or(&[]);
        let playbacks: Vec<String> = plays
            .iter()
            .map(|&(track, time)| {
                format!(
                    "Playback(track={track}, time={time:?}, artist={})",
                    python_str(world.catalogue.artist_name(track))
                )
            })
            .collect();
        let end = if live.session.end().is_some() {
            "."
        } else {
            ""
        };
        Ok(format!(
            "{}:[{}]:{}{end}",
            live.session.user,
            playbacks.join(", "),
            live.session.budget()
        ))
    }

    /// The artist of `track`.
    fn artist(&self, track: &Bound<'_, PyAny>) -> PyResult<String> {
        let track = track_id(track, self.world.catalogue.len())?;
        Ok(self.world.catalogue.artist_name(track).to_string())
    }
}

impl Sessions {
    fn env(&mut self, env: usize) -> PyResult<&mut Env> {
        let n = self.envs.len();
        self.envs
            .get_mut(env)
            .ok_or_else(|| PyValueError::new_err(format!("no sub-environment {env} of {n}")))
    }
}

/// `f` of every item, in parallel when there are many.
fn for_each<T: Send, R: Send + Default + Clone>(
    items: &mut [T],
    f: impl Fn(&mut T) -> R + Sync + Send,
) -> Vec<R> {
    if items.len() < PARALLEL_FROM {
        return items.iter_mut().map(f).collect();
    }
    let mut out = vec![R::default(); items.len()];
    items
        .par_iter_mut()
        .zip(out.par_iter_mut())
        .with_min_len(PARALLEL_FROM / 4)
        .for_each(|(item, slot)| *slot = f(item));
    out
}

/// A track id from a Python action: an int or a NumPy integer (not a bool, not a float)
/// in `0..n_tracks`.
pub fn track_id(action: &Bound<'_, PyAny>, n_tracks: usize) -> PyResult<u32> {
    let value = if action.is_instance_of::<PyBool>() {
        None
    } else {
        action.extract::<i64>().ok()
    };
    match value {
        Some(v) if (0..n_tracks as i64).contains(&v) => Ok(v as u32),
        Some(v) => Err(out_of_range(v, n_tracks)),
        None => Err(PyValueError::new_err(format!(
            "an action is a track id, an integer in 0..{}; got {} of type {}",
            n_tracks - 1,
            action
                .repr()
                .map_or_else(|_| "?".to_string(), |r| r.to_string()),
            action
                .get_type()
                .name()
                .map_or_else(|_| "?".to_string(), |n| n.to_string()),
        ))),
    }
}

fn out_of_range(track: i64, n_tracks: usize) -> PyErr {
    PyValueError::new_err(format!(
        "track {track} is not in the catalogue: track ids are 0..{}",
        n_tracks - 1
    ))
}

/// `text` as Python's `repr` writes a string.
fn python_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}
