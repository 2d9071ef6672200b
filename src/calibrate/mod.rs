//! `sim calibrate`: replicate experiments in memory to measure the report's real error
//! rates. Each replicate is `sim run --seed <its seed>` of the experiment, its sessions
//! folded straight into user totals (no event is written, latency is not measured), then
//! analysed by the report's own comparisons: as an A/A experiment (every arm the control)
//! and with the real arms, unpaired (Welch, delta, CUPED on a pre-period, and the
//! sequential interval looked at after every `episodes / looks` episodes, besides Welch
//! looked at as often) and paired. The true effects come from one very large paired run.

pub mod tally;

use crate::experiment::Experiment;
use crate::pipeline::build_arms;
use crate::report::compare::{ArmUnits, Comparisons, PairedEpisodes};
use crate::report::cuped::Covariates;
use crate::report::metrics::{Metric, UserTotals};
use crate::report::{Method, Row};
use crate::sim::days::pre_period_plan;
use crate::sim::episode::{
    EpisodeError, EpisodeSetup, EpisodeStart, EpisodeStreams, LiveArm, arm_treatments,
    simulate_episode,
};
use crate::sim::listen::Playback;
use crate::world::World;
use anyhow::{Context, bail};
use chacha20::ChaCha8Rng;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
pub use tally::{Calibration, DesignCost, Rate, TallyRow, Truth};

/// What to calibrate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Episodes of each replicate experiment.
    pub episodes: u64,
    pub replicates: u64,
    /// The replicates' seeds are drawn from it ([`replicate_seed`]).
    pub seed: u64,
    /// Days of the CUPED design's pre-period (0: no CUPED).
    pub pre_days: u32,
    /// Looks of the sequential design: after every `episodes / looks` episodes.
    pub looks: u32,
    /// Episodes of the paired run that gives the true effects.
    pub truth_episodes: u64,
    /// Also the paired design.
    pub paired: bool,
    pub alpha: f64,
    pub power: f64,
    pub workers: usize,
    /// The metric the episodes needed for the power are sized on.
    pub primary: Metric,
}

/// The metrics calibrated: the simulated ones (latency is wall time, not simulated).
pub fn metrics() -> Vec<Metric> {
    Metric::ALL
        .into_iter()
        .filter(|m| !m.is_measured())
        .collect()
}

/// The seed of replicate `r`: a draw from a ChaCha8 stream of `seed` that no run uses for
/// its episodes (which use streams `2i` and `2i + 1` of their own seed's key).
pub fn replicate_seed(seed: u64, r: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX / 2 + r);
    rng.next_u64()
}

/// The arms of one design, as the episode code takes them.
struct ArmsSetup {
    arms: Vec<LiveArm>,
    treatments: Vec<String>,
}

/// What the replicates share.
pub struct Calibrator {
    world: Arc<World>,
    simulation: crate::config::SimulationConfig,
    real: ArmsSetup,
    /// Every arm the control's recommender.
    aa: ArmsSetup,
    user_arm: Vec<u8>,
    control: u8,
    names: Vec<String>,
    options: Options,
}

/// A replicate's rows, by design.
#[derive(Debug, Clone, Default)]
pub struct Replicate {
    /// Kind (A/A or real) -> calibrated method -> the rows it judged by.
    pub rows: BTreeMap<(tally::Kind, tally::CalMethod), Vec<Row>>,
}

impl Calibrator {
    /// The arms of `experiment` (its artifacts built: `prepare`) and their A/A twins.
    pub fn new(
        world: Arc<World>,
        simulation: crate::config::SimulationConfig,
        experiment: &Experiment,
        arms: Vec<LiveArm>,
        options: Options,
    ) -> anyhow::Result<Calibrator> {
        if experiment.arms.len() < 2 {
            bail!(
                "experiment {} has one arm: a calibration needs a control and a treatment",
                experiment.name
            );
        }
        if let Some(arm) = experiment
            .arms
            .iter()
            .find(|a| a.spec.uses_remote() || a.spec.uses_console())
        {
            bail!(
                "arm {} of {} is not in-process (a remote service or the console): replicates run in memory",
                arm.name,
                experiment.name
            );
        }
        if options.looks == 0 || u64::from(options.looks) > options.episodes {
            bail!(
                "--looks {}: between 1 and the episodes of a replicate ({})",
                options.looks,
                options.episodes
            );
        }
        let control = experiment
            .arms
            .iter()
            .position(|a| a.name == experiment.control)
            .context("the control is not an arm")?;
        let mut aa = experiment.clone();
        let control_spec = experiment.arms[control].spec.clone();
        for arm in &mut aa.arms {
            arm.spec = control_spec.clone();
        }
        let aa_arms = build_arms(&aa, &world)?;
        let names: Vec<String> = experiment.arms.iter().map(|a| a.name.clone()).collect();
        let setup = |arms: Vec<LiveArm>| ArmsSetup {
            treatments: arm_treatments(&experiment.name, &arms),
            arms,
        };
        let interests: Vec<u32> = world
            .users
            .iter()
            .flat_map(|u| u.interests.iter().copied())
            .collect();
        world.neighbours.warm(&world.catalogue, &interests);
        Ok(Calibrator {
            user_arm: experiment.assign_users(world.users.len()),
            world,
            simulation,
            real: setup(arms),
            aa: setup(aa_arms),
            control: control as u8,
            names,
            options,
        })
    }

    fn setup<'a>(&'a self, arms: &'a ArmsSetup) -> EpisodeSetup<'a> {
        EpisodeSetup {
            world: &self.world,
            arms: &arms.arms,
            treatments: &arms.treatments,
            user_arm: &self.user_arm,
            simulation: &self.simulation,
        }
    }

    /// Runs every replicate on the workers, then the true effects; `progress` counts
    /// replicates. Ctrl-C (`stop`) ends it after the replicates under way, with the
    /// calibration of those done.
    pub fn run(&self, progress: &ProgressBar, stop: &AtomicBool) -> anyhow::Result<Calibration> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.options.workers.max(1))
            .build()
            .context("cannot start the workers")?;
        let clock = std::time::Instant::now();
        let replicates: Vec<anyhow::Result<Option<Replicate>>> = pool.install(|| {
            (0..self.options.replicates)
                .into_par_iter()
                .map_init(Scratch::default, |scratch, r| {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(None);
                    }
                    let done = self.replicate_with(r, scratch).map(Some);
                    progress.inc(1);
                    done
                })
                .collect()
        });
        let seconds = clock.elapsed().as_secs_f64();
        let mut done = Vec::with_capacity(replicates.len());
        for (r, replicate) in replicates.into_iter().enumerate() {
            match replicate {
                Ok(Some(replicate)) => done.push(replicate),
                Ok(None) => {}
                Err(e) => return Err(e.context(format!("replicate {r}"))),
            }
        }
        let truth = pool.install(|| self.truth())?;
        Ok(tally::tally(
            &done,
            &truth,
            &tally::Context {
                options: &self.options,
                names: &self.names,
                control: usize::from(self.control),
                seconds,
                interrupted: stop.load(Ordering::Relaxed),
                arms: self.names.len(),
            },
        ))
    }

    /// Replicate `r`'s rows.
    pub fn replicate(&self, r: u64) -> anyhow::Result<Replicate> {
        self.replicate_with(r, &mut Scratch::default())
    }

    fn replicate_with(&self, r: u64, scratch: &mut Scratch) -> anyhow::Result<Replicate> {
        let o = &self.options;
        let seed = replicate_seed(o.seed, r);
        let streams = EpisodeStreams::new(seed);
        let (real, aa) = (self.setup(&self.real), self.setup(&self.aa));
        let arms = self.names.len();
        let users = self.world.users.len();
        let mut out = Replicate::default();
        let metrics = metrics();
        let compare = |units: &[ArmUnits],
                       paired: Option<&PairedEpisodes>,
                       covariates: Option<&Covariates>,
                       tuning: f64| {
            Comparisons {
                arms: units,
                names: &self.names,
                control: usize::from(self.control),
                metrics: &metrics,
                paired,
                covariates,
                tuning,
                alpha: o.alpha,
                power: o.power,
            }
            .rows()
        };
        // Unpaired, both kinds on the same episode starts, looked at `looks` times.
        scratch.real.reset(arms, users);
        scratch.aa.reset(arms, users);
        let mut looks_real = Vec::new();
        let mut looks_aa = Vec::new();
        let look_every = o.episodes / u64::from(o.looks);
        for index in 0..o.episodes {
            let start = EpisodeStart::draw(&streams, index, &self.world);
            let arm = self.user_arm[start.user as usize];
            for (setup, acc) in [(&real, &mut scratch.real), (&aa, &mut scratch.aa)] {
                let rec = streams.recommender_stream(index);
                let s = simulate_episode(setup, &start, arm, rec, &mut scratch.played)?;
                acc.add(arm, start.user, &s.logged);
            }
            let look = index + 1;
            if look % look_every == 0 && look / look_every < u64::from(o.looks) {
                looks_real.push(scratch.real.units());
                looks_aa.push(scratch.aa.units());
            }
        }
        looks_real.push(scratch.real.units());
        looks_aa.push(scratch.aa.units());
        let covariates = match o.pre_days {
            0 => None,
            _ => Some(self.pre_period(seed, scratch)?),
        };
        for (kind, looks) in [
            (tally::Kind::Real, &looks_real),
            (tally::Kind::AA, &looks_aa),
        ] {
            let last = looks.last().map(Vec::as_slice).unwrap_or_default();
            let tuning = tuning_of(last, usize::from(self.control), false);
            let mut peeking = Vec::new();
            let mut sequential = Vec::new();
            for units in looks {
                let rows = compare(units, None, None, tuning);
                peeking.extend(rows.iter().filter(|r| r.method == Method::Welch).cloned());
                sequential.extend(rows.into_iter().filter(|r| r.method == Method::Sequential));
            }
            let last_rows = compare(last, None, None, tuning);
            out.rows.insert(
                (kind, tally::CalMethod::Welch),
                last_rows
                    .into_iter()
                    .filter(|r| r.method == Method::Welch)
                    .collect(),
            );
            out.rows
                .insert((kind, tally::CalMethod::WelchPeeking), peeking);
            out.rows
                .insert((kind, tally::CalMethod::Sequential), sequential);
            if let Some(covariates) = &covariates {
                let rows = compare(last, None, Some(covariates), tuning);
                out.rows.insert(
                    (kind, tally::CalMethod::Cuped),
                    rows.into_iter()
                        .filter(|r| r.method == Method::Cuped)
                        .collect(),
                );
            }
        }
        if o.paired {
            for (kind, setup, own_streams) in [
                (tally::Kind::Real, &real, false),
                (tally::Kind::AA, &aa, true),
            ] {
                let (units, pairs) = self.paired(setup, &streams, seed, own_streams, scratch)?;
                let tuning = tuning_of(&units, usize::from(self.control), true);
                let rows = compare(&units, Some(&pairs), None, tuning);
                for method in [Method::Paired, Method::PairedEpisode] {
                    out.rows.insert(
                        (kind, tally::CalMethod::from(method)),
                        rows.iter()
                            .filter(|r| r.method == method)
                            .cloned()
                            .collect(),
                    );
                }
            }
        }
        Ok(out)
    }

    /// The pre-period of replicate seed `seed`, as `sim run --pre-days` simulates it: the
    /// control arm for every user, on the pre-period's own streams.
    fn pre_period(&self, seed: u64, scratch: &mut Scratch) -> anyhow::Result<Covariates> {
        let o = &self.options;
        let plan = pre_period_plan(o.pre_days, o.episodes, seed, &self.simulation)
            .map_err(anyhow::Error::msg)?;
        let streams = EpisodeStreams::new(plan.seed);
        let setup = self.setup(&self.real);
        let mut covariates = Covariates::default();
        for index in 0..o.episodes * u64::from(o.pre_days) {
            let start = EpisodeStart::draw(&streams, index, &self.world);
            let rec = streams.recommender_stream(index);
            let s = simulate_episode(&setup, &start, self.control, rec, &mut scratch.played)?;
            covariates.sessions += 1;
            covariates
                .users
                .entry(u64::from(start.user))
                .or_default()
                .add(&user_totals(&s.logged));
        }
        Ok(covariates)
    }

    /// The paired design: every episode under every arm. An A/A pair would be one session
    /// played k times alike, so there (`own_streams`) each arm draws its recommendations
    /// from a stream of its own: two runs of one policy, as an A/A test means.
    fn paired(
        &self,
        setup: &EpisodeSetup,
        streams: &EpisodeStreams,
        seed: u64,
        own_streams: bool,
        scratch: &mut Scratch,
    ) -> Result<(Vec<ArmUnits>, PairedEpisodes), EpisodeError> {
        let arms = self.names.len();
        scratch.real.reset(arms, self.world.users.len());
        let arm_streams: Vec<EpisodeStreams> = (0..arms as u64)
            .map(|a| EpisodeStreams::new(replicate_seed(seed, a)))
            .collect();
        let mut pairs = PairedEpisodes {
            sessions: vec![Vec::with_capacity(self.options.episodes as usize); arms],
            incomplete: 0,
        };
        for index in 0..self.options.episodes {
            let start = EpisodeStart::draw(streams, index, &self.world);
            for (arm, own) in arm_streams.iter().enumerate() {
                let rec = if own_streams && arm > 0 {
                    own.recommender_stream(index)
                } else {
                    streams.recommender_stream(index)
                };
                let s = simulate_episode(setup, &start, arm as u8, rec, &mut scratch.played)?;
                scratch.real.add(arm as u8, start.user, &s.logged);
                pairs.sessions[arm].push(user_totals(&s.logged));
            }
        }
        Ok((scratch.real.units(), pairs))
    }

    /// The true effects: user-level and session-level means per arm over a paired run of
    /// `truth_episodes` episodes (every user's mean per session converges to their own,
    /// whatever the number of their sessions; so does the mean over sessions).
    fn truth(&self) -> anyhow::Result<Truth> {
        let arms = self.names.len();
        let users = self.world.users.len();
        let setup = self.setup(&self.real);
        let streams = EpisodeStreams::new(replicate_seed(self.options.seed, u64::MAX / 4));
        let chunk = 4096u64;
        let chunks = self.options.truth_episodes.div_ceil(chunk);
        let folded = (0..chunks)
            .into_par_iter()
            .map(
                |c| -> Result<(Vec<UserTotals>, Vec<UserTotals>), EpisodeError> {
                    let mut per_user = vec![UserTotals::default(); arms * users];
                    let mut per_arm = vec![UserTotals::default(); arms];
                    let mut played = Playback::default();
                    let end = ((c + 1) * chunk).min(self.options.truth_episodes);
                    for index in c * chunk..end {
                        let start = EpisodeStart::draw(&streams, index, &self.world);
                        for arm in 0..arms {
                            let rec = streams.recommender_stream(index);
                            let s = simulate_episode(&setup, &start, arm as u8, rec, &mut played)?;
                            let t = user_totals(&s.logged);
                            per_user[arm * users + start.user as usize].add(&t);
                            per_arm[arm].add(&t);
                        }
                    }
                    Ok((per_user, per_arm))
                },
            )
            .try_reduce(
                || {
                    (
                        vec![UserTotals::default(); arms * users],
                        vec![UserTotals::default(); arms],
                    )
                },
                |mut a, b| {
                    a.0.iter_mut().zip(&b.0).for_each(|(x, y)| x.add(y));
                    a.1.iter_mut().zip(&b.1).for_each(|(x, y)| x.add(y));
                    Ok(a)
                },
            )
            .map_err(|e| anyhow::anyhow!("the run of the true effects failed: {e}"))?;
        Ok(Truth::new(
            &folded.0,
            &folded.1,
            users,
            &self.names,
            usize::from(self.control),
            self.options.truth_episodes,
        ))
    }
}

/// The sequential interval's tuning: the units of a replicate's final look (its design
/// fixes them before any outcome).
fn tuning_of(units: &[ArmUnits], control: usize, paired: bool) -> f64 {
    let n = |a: usize| units.get(a).map_or(0, |u| u.users.len());
    let most = (0..units.len())
        .filter(|&a| a != control)
        .map(n)
        .max()
        .unwrap_or(0);
    let total = if paired {
        n(control)
    } else {
        n(control) + most
    };
    total.max(1) as f64
}

/// A session as the totals of a user with that one session.
fn user_totals(s: &crate::log::session::SessionTotals) -> UserTotals {
    UserTotals {
        time: s.time,
        first_time: s.first_time,
        sessions: 1,
        latency_ms: s.latency_ms,
        tracks: s.tracks,
    }
}

/// Per (arm, user) totals of a replicate, folded session by session in episode order (as
/// the report folds a log), reused from replicate to replicate.
#[derive(Default)]
struct Accumulator {
    arms: usize,
    users: usize,
    totals: Vec<UserTotals>,
    /// (arm, user) of every unit with a session, in first-seen order.
    touched: Vec<(u8, u32)>,
}

impl Accumulator {
    fn reset(&mut self, arms: usize, users: usize) {
        if self.totals.len() != arms * users {
            self.totals = vec![UserTotals::default(); arms * users];
        } else {
            for &(arm, user) in &self.touched {
                self.totals[usize::from(arm) * users + user as usize] = UserTotals::default();
            }
        }
        self.arms = arms;
        self.users = users;
        self.touched.clear();
    }

    fn add(&mut self, arm: u8, user: u32, session: &crate::log::session::SessionTotals) {
        let slot = &mut self.totals[usize::from(arm) * self.users + user as usize];
        if slot.sessions == 0 {
            self.touched.push((arm, user));
        }
        slot.add(&user_totals(session));
    }

    /// Each arm's users, sorted, with their totals so far.
    fn units(&self) -> Vec<ArmUnits> {
        let mut keys = self.touched.clone();
        keys.sort_unstable();
        let mut units = vec![ArmUnits::default(); self.arms];
        for (arm, user) in keys {
            let u = &mut units[usize::from(arm)];
            u.users.push(u64::from(user));
            u.totals
                .push(self.totals[usize::from(arm) * self.users + user as usize]);
        }
        units
    }
}

/// Memory a worker reuses from replicate to replicate.
#[derive(Default)]
struct Scratch {
    real: Accumulator,
    aa: Accumulator,
    played: Playback,
}
