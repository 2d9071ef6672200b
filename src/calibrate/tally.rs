//! Counting the replicates: per kind (A/A, real arms), method, metric and treatment, how
//! often the interval excluded 0 (the false-positive rate of A/A, the power of the real
//! arms), how often it held the true effect, and the spread of the estimate, which sizes
//! the episodes each design needs for the report's power.

use super::{Options, Replicate, metrics};
use crate::report::Method;
use crate::report::Row;
use crate::report::metrics::{Metric, UserTotals};
use crate::report::stats::{Moments, wilson, z_quantile};
use serde::Serialize;
use std::collections::BTreeMap;

/// Every arm the control, or the experiment's own arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[serde(rename = "aa")]
    AA,
    Real,
}

/// A way of deciding that is calibrated: a report method, the delta-method interval of
/// the Welch rows, or Welch looked at after every look (what the sequential interval
/// replaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CalMethod {
    Welch,
    Delta,
    Cuped,
    Paired,
    PairedEpisode,
    Sequential,
    WelchPeeking,
}

impl From<Method> for CalMethod {
    fn from(method: Method) -> CalMethod {
        match method {
            Method::Welch => CalMethod::Welch,
            Method::Paired => CalMethod::Paired,
            Method::PairedEpisode => CalMethod::PairedEpisode,
            Method::Cuped => CalMethod::Cuped,
            Method::Sequential => CalMethod::Sequential,
        }
    }
}

impl CalMethod {
    pub fn name(self) -> &'static str {
        match self {
            CalMethod::Welch => "welch",
            CalMethod::Delta => "delta",
            CalMethod::Cuped => "cuped",
            CalMethod::Paired => "paired",
            CalMethod::PairedEpisode => "paired_episode",
            CalMethod::Sequential => "sequential",
            CalMethod::WelchPeeking => "welch_peeking",
        }
    }

    /// Judged over every look (rejects when any look does), not the last one only.
    fn over_looks(self) -> bool {
        matches!(self, CalMethod::Sequential | CalMethod::WelchPeeking)
    }
}

/// A proportion with its Wilson interval.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rate {
    pub count: u64,
    pub trials: u64,
    pub rate: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Rate {
    fn new(count: u64, trials: u64, alpha: f64) -> Rate {
        let (lower, upper) = wilson(count, trials, alpha);
        Rate {
            count,
            trials,
            rate: count as f64 / trials.max(1) as f64,
            lower,
            upper,
        }
    }
}

/// The true relative effects (percent) of each treatment on each metric: user level (the
/// table's), and session level (the estimand of `paired_episode`).
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub episodes: u64,
    pub effects: Vec<TrueEffect>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrueEffect {
    pub treatment: String,
    pub metric: Metric,
    pub user_level: f64,
    pub session_level: f64,
}

impl Truth {
    /// From a paired run's totals per (arm, user) and per arm.
    pub fn new(
        per_user: &[UserTotals],
        per_arm: &[UserTotals],
        users: usize,
        names: &[String],
        control: usize,
        episodes: u64,
    ) -> Truth {
        let user_mean = |arm: usize, m: Metric| {
            let values: Vec<f64> = per_user[arm * users..(arm + 1) * users]
                .iter()
                .filter(|t| t.sessions > 0)
                .map(|t| t.value(m))
                .collect();
            Moments::of(&values).mean
        };
        // The mean over sessions of a session's value: its sums over the sessions.
        let session_mean = |arm: usize, m: Metric| {
            let t = &per_arm[arm];
            let n = t.sessions as f64;
            match m {
                Metric::Sessions => 1.0,
                Metric::Time | Metric::MeanTimePerSession => t.time / n,
                Metric::MeanTracksPerSession => t.tracks as f64 / n,
                Metric::MeanTimePerSessionWithoutFirstTrack => (t.time - t.first_time) / n,
                Metric::MeanRequestLatency => f64::NAN,
            }
        };
        let relative = |t: f64, c: f64| (t / c - 1.0) * 100.0;
        let mut effects = Vec::new();
        for (a, name) in names.iter().enumerate().filter(|&(a, _)| a != control) {
            for m in metrics() {
                effects.push(TrueEffect {
                    treatment: name.clone(),
                    metric: m,
                    user_level: relative(user_mean(a, m), user_mean(control, m)),
                    session_level: relative(session_mean(a, m), session_mean(control, m)),
                });
            }
        }
        Truth { episodes, effects }
    }

    fn of(&self, treatment: &str, metric: Metric, method: CalMethod) -> f64 {
        self.effects
            .iter()
            .find(|e| e.treatment == treatment && e.metric == metric)
            .map_or(f64::NAN, |e| {
                if method == CalMethod::PairedEpisode {
                    e.session_level
                } else {
                    e.user_level
                }
            })
    }
}

/// One line of the calibration: a method on a metric for one treatment.
#[derive(Debug, Clone, Serialize)]
pub struct TallyRow {
    pub method: CalMethod,
    pub metric: Metric,
    pub treatment: String,
    /// A/A: the share of replicates whose interval excluded 0, the false-positive rate.
    pub false_positives: Option<Rate>,
    /// The real arms: the share that excluded 0 (the power when the true effect is not 0).
    pub rejections: Option<Rate>,
    /// The real arms: the share whose interval (the row's `lower`, `upper`: the control
    /// mean taken as exact) held the true relative effect.
    pub coverage: Option<Rate>,
    /// The same of the delta-method interval, which counts the control mean's error too.
    pub delta_coverage: Option<Rate>,
    /// The true effect (percent) it is held against.
    pub true_effect: f64,
    /// Mean and standard deviation of the estimated effect (percent) over the real arms'
    /// replicates, and the mean half-width of their intervals.
    pub mean_effect: f64,
    pub sd_effect: f64,
    pub mean_half_width: f64,
    /// Mean over the real arms' replicates of the test statistic, the absolute effect over
    /// its standard error: what the power depends on.
    pub mean_z: f64,
}

/// Episodes a design needs to detect a treatment's true effect on the primary metric at
/// the report's power: `episodes * ((z_{1-alpha/2} + z_power) / mean z)^2`, the test
/// statistic growing as the square root of the episodes. (The spread of the relative
/// effect would not do: it holds the control mean's error, which the test of the
/// difference does not see, and overstates the episodes a large effect needs.)
#[derive(Debug, Clone, Serialize)]
pub struct DesignCost {
    pub design: &'static str,
    pub method: CalMethod,
    pub treatment: String,
    pub metric: Metric,
    pub episodes: f64,
    /// Sessions simulated for them: one per episode, one per arm of each paired episode,
    /// plus the pre-period's of CUPED.
    pub sessions: f64,
}

/// The whole calibration, as `sim calibrate --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub episodes: u64,
    pub replicates: u64,
    pub seed: u64,
    pub pre_days: u32,
    pub looks: u32,
    pub alpha: f64,
    pub power: f64,
    pub workers: usize,
    /// Ctrl-C ended it: the replicates done are counted.
    pub interrupted: bool,
    pub truth: Truth,
    pub rows: Vec<TallyRow>,
    pub episodes_for_power: Vec<DesignCost>,
    /// Wall time of the replicates (the truth run apart), and what it made.
    pub seconds: f64,
    pub experiments_per_second: f64,
    pub sessions_per_second: f64,
}

/// What a tally needs besides the replicates.
pub struct Context<'a> {
    pub options: &'a Options,
    pub names: &'a [String],
    pub control: usize,
    pub seconds: f64,
    pub interrupted: bool,
    pub arms: usize,
}

/// Counts of one (kind, method, metric, treatment).
#[derive(Default)]
struct Counts {
    trials: u64,
    rejected: u64,
    covered: u64,
    delta_covered: u64,
    effects: Vec<f64>,
    half_widths: Vec<f64>,
    z: Vec<f64>,
}

/// One replicate's judgement of a (treatment, metric) by one method.
#[derive(Debug, Clone, Copy)]
struct Judged {
    rejected: bool,
    /// The interval, and the delta-method one, in percent.
    lower: f64,
    upper: f64,
    delta: (f64, f64),
    effect: f64,
    /// The absolute effect over its standard error.
    z: f64,
}

/// The judgement of one replicate's rows of one method.
fn judge(method: CalMethod, rows: &[Row]) -> BTreeMap<(String, Metric), Judged> {
    let mut out: BTreeMap<(String, Metric), Judged> = BTreeMap::new();
    for r in rows {
        let (lower, upper, rejected) = match method {
            CalMethod::Delta => (
                r.delta_lower,
                r.delta_upper,
                r.delta_lower * r.delta_upper > 0.0,
            ),
            _ => (r.lower, r.upper, r.significant),
        };
        let key = (r.treatment.clone(), r.metric);
        // Over looks, the rows come look after look: any rejection counts, the last
        // look's interval is the one held against the truth.
        let ever = method.over_looks() && out.get(&key).is_some_and(|j| j.rejected);
        out.insert(
            key,
            Judged {
                rejected: rejected || ever,
                lower,
                upper,
                delta: (r.delta_lower, r.delta_upper),
                effect: r.effect,
                z: r.effect / 100.0 * r.control_mean / r.se,
            },
        );
    }
    out
}

pub fn tally(replicates: &[Replicate], truth: &Truth, cx: &Context) -> Calibration {
    let o = cx.options;
    let mut counts: BTreeMap<(CalMethod, Metric, String, Kind), Counts> = BTreeMap::new();
    for replicate in replicates {
        for (&(kind, method), rows) in &replicate.rows {
            let methods: &[CalMethod] = if method == CalMethod::Welch {
                &[CalMethod::Welch, CalMethod::Delta]
            } else {
                std::slice::from_ref(&method)
            };
            for &m in methods {
                for ((treatment, metric), j) in judge(m, rows) {
                    let t = truth.of(&treatment, metric, m);
                    let c = counts.entry((m, metric, treatment, kind)).or_default();
                    c.trials += 1;
                    c.rejected += u64::from(j.rejected);
                    c.covered += u64::from(j.lower <= t && t <= j.upper);
                    c.delta_covered += u64::from(j.delta.0 <= t && t <= j.delta.1);
                    c.effects.push(j.effect);
                    c.z.push(j.z);
                    c.half_widths.push((j.upper - j.lower) / 2.0);
                }
            }
        }
    }
    let mut rows = Vec::new();
    let keys: Vec<(CalMethod, Metric, String)> = {
        let mut k: Vec<_> = counts
            .keys()
            .map(|(m, metric, t, _)| (*m, *metric, t.clone()))
            .collect();
        k.dedup();
        k
    };
    for (method, metric, treatment) in keys {
        let get = |kind| counts.get(&(method, metric, treatment.clone(), kind));
        let aa = get(Kind::AA);
        let real = get(Kind::Real);
        let spread = real.map(|c| Moments::of(&c.effects));
        rows.push(TallyRow {
            method,
            metric,
            treatment: treatment.clone(),
            false_positives: aa.map(|c| Rate::new(c.rejected, c.trials, o.alpha)),
            rejections: real.map(|c| Rate::new(c.rejected, c.trials, o.alpha)),
            coverage: real.map(|c| Rate::new(c.covered, c.trials, o.alpha)),
            delta_coverage: real.map(|c| Rate::new(c.delta_covered, c.trials, o.alpha)),
            true_effect: truth.of(&treatment, metric, method),
            mean_effect: spread.map_or(f64::NAN, |m| m.mean),
            sd_effect: spread.map_or(f64::NAN, |m| m.var.sqrt()),
            mean_half_width: real.map_or(f64::NAN, |c| Moments::of(&c.half_widths).mean),
            mean_z: real.map_or(f64::NAN, |c| Moments::of(&c.z).mean),
        });
    }
    let done = replicates.len() as u64;
    let per_replicate = experiments_per_replicate(o);
    let sessions = done as f64 * sessions_per_replicate(o, cx.arms);
    Calibration {
        episodes: o.episodes,
        replicates: done,
        seed: o.seed,
        pre_days: o.pre_days,
        looks: o.looks,
        alpha: o.alpha,
        power: o.power,
        workers: o.workers,
        interrupted: cx.interrupted,
        truth: truth.clone(),
        episodes_for_power: costs(&rows, o, cx),
        rows,
        seconds: cx.seconds,
        experiments_per_second: done as f64 * per_replicate / cx.seconds.max(1e-9),
        sessions_per_second: sessions / cx.seconds.max(1e-9),
    }
}

/// Replicate experiments a replicate holds: A/A and real, unpaired and (if asked) paired.
fn experiments_per_replicate(o: &Options) -> f64 {
    if o.paired { 4.0 } else { 2.0 }
}

/// Sessions a replicate simulates.
fn sessions_per_replicate(o: &Options, arms: usize) -> f64 {
    let n = o.episodes as f64;
    let paired = if o.paired { 2.0 * n * arms as f64 } else { 0.0 };
    2.0 * n + n * f64::from(o.pre_days) + paired
}

/// What each design needs on the primary metric, from the replicates' spread.
fn costs(rows: &[TallyRow], o: &Options, cx: &Context) -> Vec<DesignCost> {
    let primary = o.primary;
    let z = z_quantile(1.0 - o.alpha / 2.0) + z_quantile(o.power);
    let n = o.episodes as f64;
    let designs = [
        ("unpaired", CalMethod::Welch, 1.0),
        ("paired", CalMethod::Paired, cx.arms as f64),
        ("cuped", CalMethod::Cuped, 1.0 + f64::from(o.pre_days)),
    ];
    let mut out = Vec::new();
    for (design, method, sessions_per_episode) in designs {
        for r in rows
            .iter()
            .filter(|r| r.method == method && r.metric == primary)
        {
            let episodes = n * (z / r.mean_z.abs()).powi(2);
            out.push(DesignCost {
                design,
                method,
                treatment: r.treatment.clone(),
                metric: primary,
                episodes,
                sessions: episodes * sessions_per_episode,
            });
        }
    }
    out
}
