//! From log files to the A/B table: read, sessionize, user metrics, comparisons.

use super::compare::{ArmUnits, Comparisons, PairedEpisodes};
use super::cuped::{CovariateSummary, Covariates};
use super::design::{Criteria, Direction, Method, Role, RowResult};
use super::metrics::{Metric, UserTotals, user_totals};
use super::run_record::RunRecord;
use super::sessionize::{Session, Sessionized, Sessionizer};
use super::stats::{self, Moments};
use super::verdict::{Health, MIN_USERS_PER_ARM, Verdict, VerdictInputs, verdicts};
use anyhow::{Context, bail};
use botify_sim_core::experiment::plan::Plan;
use botify_sim_core::log::reader::{self, ExperimentSets, ReadStats, ReaderOptions};
use botify_sim_core::log::session::SessionTotals;
use rustc_hash::FxBuildHasher;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// A sample-ratio mismatch is reported when the chi-square p-value is below this.
pub const SRM_THRESHOLD: f64 = 0.001;

/// What to analyse and how.
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    /// Experiment name; default: the only experiment in the log.
    pub experiment: Option<String>,
    /// Control arm; default `C`.
    pub control: Option<String>,
    /// Count and skip malformed lines instead of failing.
    pub skip_bad_lines: bool,
    /// Two-sided significance level (the course uses 0.05).
    pub alpha: f64,
    /// Power for the minimum detectable effect.
    pub power: f64,
    /// Expected share (any positive weights) of users per arm, for the SRM check; default:
    /// an equal split between the arms in the log.
    pub split: Option<BTreeMap<String, f64>>,
    /// Add `mean_time_per_session_without_first_track` to the table (the course table's
    /// definition; see [`Metric::MeanTimePerSessionWithoutFirstTrack`]).
    pub without_first_track: bool,
    /// What decides (primary metric, guardrails); `None`: the run record's when
    /// [`run_record`](Self::run_record) finds one, else [`Criteria::default`].
    pub plan: Option<Plan>,
    /// Logs of a pre-period whose per-user metrics are CUPED's covariates; empty: the run
    /// record's pre-period, if any.
    pub covariate: Vec<PathBuf>,
    /// The always-valid interval decides: the run was looked at as it went (every day).
    pub sequential: bool,
    /// Units (users; pairs in a paired log) at which the always-valid interval is
    /// narrowest; `None`: the units of the whole table (of the whole log, for the days of
    /// a log read day by day), which the design, not the outcomes, fixes.
    pub sequential_tuning: Option<f64>,
    /// Why the logs are not the whole run (a run stopped early): no verdict is given.
    pub stopped_early: Option<String>,
    /// Read `run.json` beside the logs for what the options leave open.
    pub run_record: bool,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self {
            experiment: None,
            control: None,
            skip_bad_lines: false,
            alpha: 0.05,
            power: 0.8,
            split: None,
            without_first_track: false,
            plan: None,
            covariate: Vec::new(),
            sequential: false,
            sequential_tuning: None,
            stopped_early: None,
            run_record: false,
        }
    }
}

/// A file read, and how many events were taken from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileRead {
    pub path: PathBuf,
    pub events: u64,
}

/// A file of an input directory that was not read, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSkipped {
    pub path: PathBuf,
    pub reason: String,
}

/// Counters about the log itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogSummary {
    pub files: Vec<FileRead>,
    /// Files of input directories that are not event logs (a report's own outputs, ...).
    pub skipped_files: Vec<FileSkipped>,
    pub bytes: u64,
    pub events: u64,
    pub bad_lines: u64,
    pub bad_line_examples: Vec<String>,
    /// Events of other experiments (or of none), ignored.
    pub ignored_events: u64,
    /// Finished sessions of this experiment.
    pub sessions: u64,
    /// Sessions without a `"last"` event, dropped.
    pub unfinished_sessions: u64,
    pub unfinished_events: u64,
    /// Events without session id were out of time order and had to be sorted in memory.
    pub sorted_by_timestamp: bool,
    /// Events read twice (in two files), counted once.
    pub duplicates: Vec<DuplicateEvents>,
}

/// Events of `file` that `first` held already: dropped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateEvents {
    pub file: PathBuf,
    pub first: PathBuf,
    pub events: u64,
}

/// One arm of the experiment.
#[derive(Debug, Clone, Serialize)]
pub struct ArmSummary {
    pub treatment: String,
    /// Users with at least one event (used by the SRM check).
    pub users: u64,
    /// Users with at least one finished session (the `n` of the table).
    pub users_with_sessions: u64,
    pub sessions: u64,
    /// n, mean, var of the user-level values, per metric name.
    pub metrics: BTreeMap<String, Moments>,
}

/// The sample-ratio-mismatch check.
#[derive(Debug, Clone, Serialize)]
pub struct Srm {
    pub observed: BTreeMap<String, u64>,
    pub expected_shares: BTreeMap<String, f64>,
    pub chi2: f64,
    pub dof: usize,
    pub p_value: f64,
    /// p_value < [`SRM_THRESHOLD`].
    pub mismatch: bool,
}

/// One row of the A/B table: a treatment against the control on one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub treatment: String,
    pub metric: Metric,
    /// (mean_T - mean_C) / mean_C * 100.
    pub effect: f64,
    /// Course interval, percent of mean_C (mean_C treated as exact).
    pub upper: f64,
    pub lower: f64,
    pub control_mean: f64,
    pub treatment_mean: f64,
    /// The course's rule: the interval excludes 0.
    pub significant: bool,
    pub control_n: usize,
    pub treatment_n: usize,
    /// Welch-Satterthwaite degrees of freedom.
    pub dof: f64,
    /// Welch two-sided p-value.
    pub p_value: f64,
    /// Holm-adjusted p-value across all rows.
    pub p_holm: f64,
    pub significant_holm: bool,
    /// Delta-method interval of mean_T / mean_C - 1, percent.
    pub delta_lower: f64,
    pub delta_upper: f64,
    /// Minimum detectable effect at the given power, percent of mean_C.
    pub mde: f64,
    /// How the interval was made.
    pub method: Method,
    /// The metric's part in the decision.
    pub role: Role,
    /// Which way of the metric is good.
    pub direction: Direction,
    /// A guardrail's rule as the experiment gives it (`max_increase 2 ms`); empty if none.
    pub guardrail: String,
    /// A guardrail's threshold as an effect (percent of mean_C, signed the bad way): the
    /// interval is compared with it. NaN if none.
    pub threshold: f64,
    /// How the row reads: better / worse / n.s. by `p_holm` in its direction, or a
    /// guardrail's pass / fail / unclear by its threshold.
    pub result: RowResult,
    /// 1 - (this method's variance / the Welch variance of the same sessions); NaN for
    /// Welch itself.
    pub variance_reduction: f64,
    /// Standard error of mean_T - mean_C.
    pub se: f64,
}

/// Session times of one arm, in time order (for the charts).
#[derive(Debug, Clone, Serialize)]
pub struct ArmSessions {
    pub treatment: String,
    pub times: Vec<f64>,
    /// The user of each session (same order as `times`): the running-mean chart draws the
    /// user-level mean_time_per_session, as the table.
    pub users: Vec<u64>,
}

/// Everything the outputs show.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub experiment: String,
    pub control: String,
    pub alpha: f64,
    pub power: f64,
    pub log: LogSummary,
    pub arms: Vec<ArmSummary>,
    pub srm: Srm,
    /// Number of the Welch rows' comparisons (rows with a defined p-value) Holm corrects
    /// for together; latency's rows, and each other method's, are families of their own.
    pub comparisons: usize,
    /// Sorted by method (Welch first: the course's table), then metric, then treatment,
    /// both descending (as the course).
    pub rows: Vec<Row>,
    /// What decides.
    pub criteria: Criteria,
    /// The designs the log allows and the method that decides.
    pub design: Design,
    /// Whether a verdict can be trusted.
    pub health: Health,
    /// One per treatment.
    pub verdicts: Vec<Verdict>,
    #[serde(skip)]
    pub session_times: Vec<ArmSessions>,
}

/// What the log's design allows beyond independent arms.
#[derive(Debug, Clone, Serialize)]
pub struct Design {
    /// The method of the verdicts.
    pub decided_by: Method,
    /// Every episode was played under every arm (`sim run --paired`).
    pub paired: bool,
    /// Paired episodes with a session under every arm, and those without.
    pub pairs: u64,
    pub incomplete_pairs: u64,
    /// CUPED's pre-period, if any.
    pub covariate: Option<CovariateSummary>,
    /// Units at which the always-valid interval is narrowest.
    pub sequential_tuning: f64,
}

impl Analysis {
    pub fn arm(&self, treatment: &str) -> Option<&ArmSummary> {
        self.arms.iter().find(|a| a.treatment == treatment)
    }
}

/// Reads the logs, sessionizes and computes the whole report.
pub fn analyze(inputs: &[PathBuf], opts: &AnalysisOptions) -> anyhow::Result<Analysis> {
    let log = read_sessions(inputs, opts)?;
    let setting = Setting::resolve(&log.sessionized, log.record.as_ref(), opts)?;
    tabulate(log.files, &log.read, log.sessionized, opts, &setting)
}

/// The log's sessions by day, day `k` (from 1) holding those that start `k - 1` to `k`
/// days ([`botify_sim_core::log::DAY_MS`]) after the first; with `days` (a run's own
/// count, from its `run.json`), later sessions belong to its last day.
pub(crate) fn sessions_by_day(
    sessions: &[Session],
    days: Option<u64>,
) -> anyhow::Result<BTreeMap<u64, Vec<Session>>> {
    let Some(first) = sessions.iter().map(|s| s.timestamp).min() else {
        bail!("the log holds no finished session");
    };
    let mut by_day: BTreeMap<u64, Vec<Session>> = BTreeMap::new();
    for session in sessions {
        let day = 1 + (session.timestamp - first) / botify_sim_core::log::DAY_MS;
        let day = days.map_or(day, |days| day.min(days.max(1)));
        by_day.entry(day).or_default().push(*session);
    }
    Ok(by_day)
}

/// `sessionized` reduced to `sessions` (a day, or the days so far).
pub(crate) fn sessionized_part(sessionized: &Sessionized, sessions: Vec<Session>) -> Sessionized {
    let mut units: Vec<(u32, u64)> = sessions.iter().map(|s| (s.treatment, s.user)).collect();
    units.sort_unstable();
    units.dedup();
    Sessionized {
        treatments: sessionized.treatments.clone(),
        experiments: sessionized.experiments.clone(),
        sessions,
        units,
        unfinished_sessions: 0,
        unfinished_events: 0,
        ignored_events: 0,
        sorted: sessionized.sorted,
        simulated: sessionized.simulated,
    }
}

/// A log described by the run that has just written it.
pub struct WrittenLog<'a> {
    pub path: PathBuf,
    pub bytes: u64,
    pub events: u64,
    pub experiment: &'a str,
    /// Arm names, by arm index.
    pub arms: &'a [String],
    /// `(arm index, user, totals)` of every session, in log order.
    pub sessions: &'a [(u8, u32, SessionTotals)],
}

/// The A/B table of a log its writer describes: what [`analyze`] computes from that log,
/// bit for bit (the sessions are totalled as the reader totals them, in the same order),
/// without reading it back, which would take most of a fast run's time.
pub fn analyze_written(log: &WrittenLog, opts: &AnalysisOptions) -> anyhow::Result<Analysis> {
    check_levels(opts)?;
    let sessions: Vec<Session> = log
        .sessions
        .iter()
        .map(|(arm, user, totals)| Session::new(u32::from(*arm), u64::from(*user), totals))
        .collect();
    let units = distinct_units(log.sessions);
    let sessionized = Sessionized {
        treatments: log
            .arms
            .iter()
            .map(|arm| (log.experiment.to_string(), arm.clone()))
            .collect(),
        experiments: BTreeSet::from([log.experiment.to_string()]),
        sessions,
        units,
        simulated: true,
        ..Sessionized::default()
    };
    let read = ReadStats {
        files: 1,
        events_per_file: vec![log.events],
        bytes: log.bytes,
        events: log.events,
        bad_lines: 0,
        bad_line_examples: Vec::new(),
        duplicates: Vec::new(),
    };
    let files = reader::Inputs {
        files: vec![log.path.clone()],
        skipped: Vec::new(),
    };
    let setting = Setting::resolve(&sessionized, None, opts)?;
    tabulate(files, &read, sessionized, opts, &setting)
}

/// The distinct (arm, user) pairs of `sessions`, sorted: marked in a table by arm and user
/// when it is not much larger than the sessions (users of a run are `0..n_users`), sorted
/// and deduplicated otherwise. The sort was 2 % of the instructions of `sim run
/// --experiment seminar --episodes 300000`, all of it in the serial report step.
pub fn distinct_units(sessions: &[(u8, u32, SessionTotals)]) -> Vec<(u32, u64)> {
    let arms = sessions.iter().map(|s| usize::from(s.0) + 1).max();
    let users = sessions.iter().map(|s| s.1 as usize + 1).max();
    let (Some(arms), Some(users)) = (arms, users) else {
        return Vec::new();
    };
    if arms * users > 4 * sessions.len() + 4096 {
        let mut units: Vec<(u32, u64)> = sessions
            .iter()
            .map(|&(arm, user, _)| (u32::from(arm), u64::from(user)))
            .collect();
        units.sort_unstable();
        units.dedup();
        return units;
    }
    let mut seen = vec![false; arms * users];
    for &(arm, user, _) in sessions {
        seen[usize::from(arm) * users + user as usize] = true;
    }
    seen.iter()
        .enumerate()
        .filter(|&(_, &seen)| seen)
        .map(|(i, _)| ((i / users) as u32, (i % users) as u64))
        .collect()
}

fn check_levels(opts: &AnalysisOptions) -> anyhow::Result<()> {
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        bail!("alpha must be in (0, 1), got {}", opts.alpha);
    }
    if !(opts.power > 0.0 && opts.power < 1.0) {
        bail!("power must be in (0, 1), got {}", opts.power);
    }
    if let Some(tuning) = opts.sequential_tuning
        && !(tuning.is_finite() && tuning >= 1.0)
    {
        bail!("the sequential tuning must be a number of units >= 1, got {tuning}");
    }
    Ok(())
}

/// A read, sessionized log.
pub(crate) struct ReadLog {
    pub files: reader::Inputs,
    pub read: ReadStats,
    pub sessionized: Sessionized,
    /// `run.json` beside the logs, when the options ask for it.
    pub record: Option<RunRecord>,
}

/// Reads and sessionizes the logs. A run record's pre-period log found by expanding a
/// folder is not read as part of the experiment (it is the covariate).
pub(crate) fn read_sessions(inputs: &[PathBuf], opts: &AnalysisOptions) -> anyhow::Result<ReadLog> {
    if inputs.is_empty() {
        bail!("no log given: pass one or more log files or directories");
    }
    check_levels(opts)?;
    let reader::Inputs {
        mut files,
        mut skipped,
    } = reader::expand_inputs(inputs)?;
    let record = if opts.run_record {
        RunRecord::beside(&files)
    } else {
        None
    };
    if let Some(record) = &record {
        let (pre, kept): (Vec<PathBuf>, Vec<PathBuf>) = files
            .into_iter()
            .partition(|f| !inputs.contains(f) && record.pre_period.contains(f));
        files = kept;
        skipped.extend(pre.into_iter().map(|f| {
            (
                f,
                "the run's pre-period: the covariate of CUPED, not the experiment".to_string(),
            )
        }));
    }
    let sessionized = sessionize(&files, opts.experiment.clone(), opts.skip_bad_lines)?;
    let (read, sessionized) = sessionized;
    if read.events == 0 {
        let names = list_paths(&files);
        if read.bad_lines > 0 {
            bail!(
                "nothing to compare: all {} lines of {names} are malformed and were skipped (first: {})",
                read.bad_lines,
                read.bad_line_examples.first().map_or("", String::as_str)
            );
        }
        bail!("nothing to compare: {names} hold no events");
    }
    Ok(ReadLog {
        files: reader::Inputs { files, skipped },
        read,
        sessionized,
        record,
    })
}

/// Reads `files` into sessions of `experiment` (every experiment when `None`).
fn sessionize(
    files: &[PathBuf],
    experiment: Option<String>,
    skip_bad_lines: bool,
) -> anyhow::Result<(ReadStats, Sessionized)> {
    let reader_opts = ReaderOptions {
        skip_bad_lines,
        ..ReaderOptions::default()
    };
    let mut sets = ExperimentSets::default();
    let mut sessionizer = Sessionizer::new(experiment);
    let read = reader::read_events(files, &reader_opts, &mut sets, |f, e, sets| {
        sessionizer.push(f, e, sets)
    })?;
    if sessionizer.out_of_order() {
        // Events without session ids are not in time order: sort them (second pass).
        sessionizer.restart_buffered();
        // Same interning table: the experiment-set ids of the first pass stay valid.
        reader::read_events(files, &reader_opts, &mut sets, |f, e, sets| {
            sessionizer.push(f, e, sets)
        })?;
    }
    Ok((read, sessionizer.finish()))
}

/// The options resolved against the log and its run record: what decides, the
/// covariates, the sequential tuning, and whether the run is whole.
#[derive(Clone)]
pub(crate) struct Setting {
    pub experiment: String,
    pub criteria: Criteria,
    pub covariates: Option<Covariates>,
    pub sequential: bool,
    pub tuning: Option<f64>,
    pub stopped_early: Option<String>,
}

impl Setting {
    pub fn resolve(
        sessionized: &Sessionized,
        record: Option<&RunRecord>,
        opts: &AnalysisOptions,
    ) -> anyhow::Result<Setting> {
        let experiment = choose_experiment(sessionized, opts)?;
        let record = record.filter(|r| r.experiment == experiment);
        let plan = match (&opts.plan, record) {
            (Some(plan), _) => plan.clone(),
            (None, Some(r)) => r.plan.clone(),
            (None, None) => Plan::default(),
        };
        let criteria = Criteria::from_plan(&plan).with_context(|| match record {
            Some(r) if opts.plan.is_none() => {
                format!("{}: the experiment's plan", r.path.display())
            }
            _ => "the decision plan".to_string(),
        })?;
        let covariate_logs = match (&opts.covariate, record) {
            (logs, _) if !logs.is_empty() => logs.clone(),
            (_, Some(r)) => r.pre_period.clone(),
            _ => Vec::new(),
        };
        let covariates = if covariate_logs.is_empty() {
            None
        } else {
            Some(load_covariates(
                &covariate_logs,
                &experiment,
                opts.skip_bad_lines,
            )?)
        };
        Ok(Setting {
            experiment,
            criteria,
            covariates,
            sequential: opts.sequential || record.is_some_and(|r| r.days > 1),
            tuning: opts.sequential_tuning,
            stopped_early: opts
                .stopped_early
                .clone()
                .or_else(|| record.and_then(|r| r.stopped_early.clone())),
        })
    }
}

/// The experiment to analyse: `--experiment`, or the only one in the log.
fn choose_experiment(sessionized: &Sessionized, opts: &AnalysisOptions) -> anyhow::Result<String> {
    Ok(match &opts.experiment {
        Some(name) => {
            if !sessionized.experiments.contains(name) {
                bail!(
                    "experiment `{name}` is not in the log; experiments in the log: {}",
                    list(sessionized.experiments.iter())
                );
            }
            name.clone()
        }
        None => match sessionized.experiments.len() {
            0 => bail!("the log holds no experiment (no events with `experiments`)"),
            1 => sessionized
                .experiments
                .iter()
                .next()
                .cloned()
                .unwrap_or_default(),
            _ => bail!(
                "the log holds several experiments: {}; choose one with --experiment",
                list(sessionized.experiments.iter())
            ),
        },
    })
}

/// The per-user totals of the covariate logs' sessions: of `experiment` if they hold it,
/// else of the only experiment they hold (a pre-period or an earlier day of a service).
pub fn load_covariates(
    files: &[PathBuf],
    experiment: &str,
    skip_bad_lines: bool,
) -> anyhow::Result<Covariates> {
    let reader::Inputs { files, .. } = reader::expand_inputs(files)?;
    let (_, sessionized) = sessionize(&files, None, skip_bad_lines)
        .with_context(|| format!("the covariate logs {}", list_paths(&files)))?;
    let chosen = if sessionized.experiments.contains(experiment) {
        experiment.to_string()
    } else if sessionized.experiments.len() == 1 {
        sessionized
            .experiments
            .iter()
            .next()
            .cloned()
            .unwrap_or_default()
    } else {
        bail!(
            "the covariate logs {} hold {}; none is `{experiment}`, so which one is the pre-period is not clear",
            list_paths(&files),
            match sessionized.experiments.len() {
                0 => "no experiment".to_string(),
                _ => format!(
                    "several experiments ({})",
                    list(sessionized.experiments.iter())
                ),
            }
        );
    };
    let totals = user_totals(&sessionized.sessions, |t| {
        sessionized.treatments[t as usize].0 == chosen
    });
    let mut covariates = Covariates {
        files: files.clone(),
        experiment: chosen,
        ..Covariates::default()
    };
    for ((_, user), t) in totals {
        covariates.sessions += t.sessions;
        covariates.users.entry(user).or_default().add(&t);
    }
    Ok(covariates)
}

/// The A/B table of sessionized logs.
pub(crate) fn tabulate(
    reader::Inputs { files, skipped }: reader::Inputs,
    read: &ReadStats,
    sessionized: Sessionized,
    opts: &AnalysisOptions,
    setting: &Setting,
) -> anyhow::Result<Analysis> {
    let experiment = setting.experiment.clone();
    // Treatments of the chosen experiment, by name.
    let mut arm_of: HashMap<u32, usize, FxBuildHasher> = HashMap::default();
    let mut arm_names: Vec<String> = sessionized
        .treatments
        .iter()
        .filter(|(e, _)| *e == experiment)
        .map(|(_, t)| t.clone())
        .collect();
    arm_names.sort();
    arm_names.dedup();
    for (i, (e, t)) in sessionized.treatments.iter().enumerate() {
        if *e == experiment
            && let Ok(pos) = arm_names.binary_search(t)
        {
            arm_of.insert(i as u32, pos);
        }
    }
    if arm_names.len() < 2 {
        bail!(
            "nothing to compare: experiment `{experiment}` has a single arm in the log ({}); an A/B table needs a control and at least one treatment",
            list(arm_names.iter())
        );
    }
    let control = opts.control.clone().unwrap_or_else(|| "C".to_string());
    let Ok(control_index) = arm_names.binary_search(&control) else {
        bail!(
            "control arm `{control}` is not in experiment `{experiment}`; its arms: {}{}",
            list(arm_names.iter()),
            if opts.control.is_none() {
                " (name the control with --control)"
            } else {
                ""
            }
        );
    };

    // Users with any event, per arm (SRM).
    let mut users = vec![0u64; arm_names.len()];
    for (t, _) in &sessionized.units {
        if let Some(&a) = arm_of.get(t) {
            users[a] += 1;
        }
    }
    // User-level metrics, per arm in user order.
    let metrics = Metric::of_table(opts.without_first_track);
    let totals = user_totals(&sessionized.sessions, |t| arm_of.contains_key(&t));
    let mut units: Vec<ArmUnits> = vec![ArmUnits::default(); arm_names.len()];
    for ((t, user), tot) in &totals {
        let Some(&a) = arm_of.get(t) else { continue };
        units[a].users.push(*user);
        units[a].totals.push(*tot);
    }
    let arms: Vec<ArmSummary> = arm_names
        .iter()
        .zip(&units)
        .enumerate()
        .map(|(a, (name, arm))| ArmSummary {
            treatment: name.clone(),
            users: users[a],
            users_with_sessions: arm.users.len() as u64,
            sessions: arm.totals.iter().map(|t| t.sessions).sum(),
            metrics: metrics
                .iter()
                .map(|&m| (m.name().to_string(), Moments::of(&arm.values(m))))
                .collect(),
        })
        .collect();

    let finished = |a: &ArmSummary| a.users_with_sessions > 0;
    if !finished(&arms[control_index]) {
        bail!(
            "nothing to compare: control arm `{control}` of experiment `{experiment}` has no finished session (no `last` event){}",
            unfinished_note(&sessionized)
        );
    }
    if !arms
        .iter()
        .enumerate()
        .any(|(a, arm)| a != control_index && finished(arm))
    {
        bail!(
            "nothing to compare: no treatment arm of experiment `{experiment}` has a finished session (no `last` event){}",
            unfinished_note(&sessionized)
        );
    }

    let pairing = pair_sessions(&sessionized.sessions, &arm_of, arm_names.len());
    let paired = pairing.paired.as_ref();
    // One tuning for the table's always-valid intervals: the units of the largest
    // comparison (users of the control and an arm; a paired log's users, each in every
    // arm), unless the options fix it.
    let tuning = setting.tuning.unwrap_or_else(|| {
        let control_users = units[control_index].users.len();
        let most = units
            .iter()
            .enumerate()
            .filter(|&(a, _)| a != control_index)
            .map(|(_, u)| u.users.len())
            .max()
            .unwrap_or(0);
        (if paired.is_some() {
            control_users
        } else {
            control_users + most
        })
        .max(1) as f64
    });
    let comparisons = |alpha: f64| Comparisons {
        arms: &units,
        names: &arm_names,
        control: control_index,
        metrics: &metrics,
        paired,
        covariates: setting.covariates.as_ref(),
        tuning,
        alpha,
        power: opts.power,
    };
    let table = comparisons(opts.alpha);
    let mut rows = table.rows();
    let comparisons_made = classify(
        &mut rows,
        &setting.criteria,
        sessionized.simulated,
        opts.alpha,
    );
    let srm = srm_check(&arm_names, &users, opts.split.as_ref())?;

    let decided_by = if setting.sequential {
        Method::Sequential
    } else {
        table.base_method()
    };
    let health = health(&arms, &srm, &pairing, setting);
    let treatments: Vec<String> = arm_names
        .iter()
        .enumerate()
        .filter(|&(a, _)| a != control_index && finished(&arms[a]))
        .map(|(_, n)| n.clone())
        .collect();
    // Bonferroni over the treatments: each verdict at alpha / m.
    let verdict_alpha = opts.alpha / treatments.len().max(1) as f64;
    let verdict_rows = if treatments.len() > 1 {
        comparisons(verdict_alpha).rows()
    } else {
        rows.clone()
    };
    let verdicts = verdicts(&VerdictInputs {
        rows: &verdict_rows,
        criteria: &setting.criteria,
        method: decided_by,
        health: &health,
        control: &control,
        treatments: &treatments,
        alpha: verdict_alpha,
        power: opts.power,
        tuning: (decided_by == Method::Sequential).then_some(tuning),
        paired: paired.is_some(),
    });
    let design = Design {
        decided_by,
        paired: paired.is_some(),
        pairs: paired.map_or(0, |p| p.sessions.first().map_or(0, Vec::len) as u64),
        incomplete_pairs: paired.map_or(0, |p| p.incomplete),
        covariate: setting.covariates.as_ref().map(|c| {
            let all: usize = units.iter().map(|u| u.users.len()).sum();
            let covered: usize = units
                .iter()
                .flat_map(|u| &u.users)
                .filter(|u| c.users.get(u).is_some_and(|t| t.sessions > 0))
                .count();
            CovariateSummary {
                files: c.files.clone(),
                experiment: c.experiment.clone(),
                sessions: c.sessions,
                users: c.users.len(),
                coverage: covered as f64 / all.max(1) as f64,
                theta: table
                    .thetas()
                    .into_iter()
                    .map(|(m, theta)| (m.name().to_string(), theta))
                    .collect(),
            }
        }),
        sequential_tuning: tuning,
    };

    // Session times per arm in time order.
    let mut ordered: Vec<(u64, u64, usize, f64)> = sessionized
        .sessions
        .iter()
        .filter_map(|s| {
            arm_of
                .get(&s.treatment)
                .map(|&a| (s.timestamp, s.user, a, s.time))
        })
        .collect();
    ordered.sort_by_key(|x| (x.0, x.1));
    let mut session_times: Vec<ArmSessions> = arm_names
        .iter()
        .map(|n| ArmSessions {
            treatment: n.clone(),
            times: Vec::new(),
            users: Vec::new(),
        })
        .collect();
    for (_, user, a, time) in &ordered {
        session_times[*a].times.push(*time);
        session_times[*a].users.push(*user);
    }

    Ok(Analysis {
        experiment,
        control,
        alpha: opts.alpha,
        power: opts.power,
        log: LogSummary {
            duplicates: read
                .duplicates
                .iter()
                .map(|&(file, first, events)| DuplicateEvents {
                    file: files[file].clone(),
                    first: files[first].clone(),
                    events,
                })
                .collect(),
            files: files
                .into_iter()
                .zip(read.events_per_file.iter().copied())
                .map(|(path, events)| FileRead { path, events })
                .collect(),
            skipped_files: skipped
                .into_iter()
                .map(|(path, reason)| FileSkipped { path, reason })
                .collect(),
            bytes: read.bytes,
            events: read.events,
            bad_lines: read.bad_lines,
            bad_line_examples: read.bad_line_examples.clone(),
            ignored_events: sessionized.ignored_events,
            sessions: ordered.len() as u64,
            unfinished_sessions: sessionized.unfinished_sessions,
            unfinished_events: sessionized.unfinished_events,
            sorted_by_timestamp: sessionized.sorted,
        },
        arms,
        srm,
        comparisons: comparisons_made,
        rows,
        criteria: setting.criteria.clone(),
        design,
        health,
        verdicts,
        session_times,
    })
}

/// How a log's sessions are paired.
struct Pairing {
    /// The complete pairs, when every session of the experiment belongs to a pair.
    paired: Option<PairedEpisodes>,
    /// Sessions with and without a pair.
    in_pairs: u64,
    alone: u64,
}

/// The paired episodes of the experiment's sessions (arm of each treatment index in
/// `arm_of`): every session must carry a pair for the log to count as paired.
fn pair_sessions(
    sessions: &[Session],
    arm_of: &HashMap<u32, usize, FxBuildHasher>,
    arms: usize,
) -> Pairing {
    let mut by_pair: BTreeMap<u64, Vec<Option<UserTotals>>> = BTreeMap::new();
    let (mut in_pairs, mut alone) = (0, 0);
    for s in sessions {
        let Some(&a) = arm_of.get(&s.treatment) else {
            continue;
        };
        let Some(pair) = s.pair else {
            alone += 1;
            continue;
        };
        in_pairs += 1;
        let slots = by_pair.entry(pair).or_insert_with(|| vec![None; arms]);
        slots[a] = Some(UserTotals {
            time: s.time,
            first_time: s.first_time,
            sessions: 1,
            latency_ms: s.latency_ms,
            tracks: s.tracks,
        });
    }
    if in_pairs == 0 || alone > 0 {
        return Pairing {
            paired: None,
            in_pairs,
            alone,
        };
    }
    let mut paired = PairedEpisodes {
        sessions: vec![Vec::new(); arms],
        incomplete: 0,
    };
    for slots in by_pair.into_values() {
        if slots.iter().all(Option::is_some) {
            for (arm, slot) in paired.sessions.iter_mut().zip(slots.into_iter().flatten()) {
                arm.push(slot);
            }
        } else {
            paired.incomplete += 1;
        }
    }
    Pairing {
        paired: Some(paired),
        in_pairs,
        alone,
    }
}

/// Holm's correction within each method, the measured latency apart (it changes between
/// reruns; apart, it never moves another row's `p_holm`); each row's role, direction,
/// threshold and result. Returns the number of the Welch rows' primary family, as the
/// table's preamble counts them.
fn classify(rows: &mut [Row], criteria: &Criteria, simulated: bool, alpha: f64) -> usize {
    let mut families: BTreeMap<(Method, bool), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        families
            .entry((r.method, r.metric.is_measured()))
            .or_default()
            .push(i);
    }
    let mut comparisons = 0;
    for ((method, measured), family) in &families {
        let p: Vec<f64> = family.iter().map(|&i| rows[i].p_value).collect();
        if *method == Method::Welch && !measured {
            comparisons = p.iter().filter(|p| !p.is_nan()).count();
        }
        for (&i, p_holm) in family.iter().zip(stats::holm(&p)) {
            rows[i].p_holm = p_holm;
            rows[i].significant_holm = p_holm < alpha;
        }
    }
    for r in rows.iter_mut() {
        r.role = criteria.role(r.metric, simulated);
        r.direction = criteria.direction(r.metric);
        r.result = match criteria.guardrail(r.metric) {
            Some(g) => {
                r.guardrail = g.rule.describe();
                r.threshold = g.threshold_percent(r.control_mean);
                g.judge(r.lower, r.upper, r.control_mean)
            }
            None if !r.significant_holm || !r.effect.is_finite() || r.effect == 0.0 => {
                RowResult::NotSignificant
            }
            None if r.direction.is_good(r.effect) => RowResult::Better,
            None => RowResult::Worse,
        };
    }
    comparisons
}

/// The reasons not to trust a verdict.
fn health(arms: &[ArmSummary], srm: &Srm, pairing: &Pairing, setting: &Setting) -> Health {
    let mut problems = Vec::new();
    if srm.mismatch {
        problems.push(format!(
            "sample ratio mismatch (users per arm against the split: chi-square p = {})",
            super::render::pval(srm.p_value)
        ));
    }
    for arm in arms {
        if arm.users_with_sessions < MIN_USERS_PER_ARM {
            problems.push(format!(
                "arm {} has {} users with finished sessions, fewer than the {MIN_USERS_PER_ARM} the intervals need",
                arm.treatment, arm.users_with_sessions
            ));
        }
    }
    if pairing.in_pairs > 0 && pairing.alone > 0 {
        problems.push(format!(
            "the log mixes paired sessions ({}) with unpaired ones ({}); they were analysed as unpaired",
            pairing.in_pairs, pairing.alone
        ));
    }
    if let Some(p) = &pairing.paired
        && p.incomplete > 0
    {
        problems.push(format!(
            "{} paired episodes miss the session of some arm",
            p.incomplete
        ));
    }
    if let Some(why) = &setting.stopped_early {
        problems.push(format!("{why}: the logs are not the whole run"));
    }
    Health::new(problems)
}

fn srm_check(
    arms: &[String],
    users: &[u64],
    split: Option<&BTreeMap<String, f64>>,
) -> anyhow::Result<Srm> {
    let mut names: Vec<String> = arms.to_vec();
    let mut observed: Vec<u64> = users.to_vec();
    let shares: Vec<f64> =
        match split {
            None => vec![1.0; arms.len()],
            Some(split) => {
                for name in split.keys() {
                    if !names.contains(name) {
                        names.push(name.clone());
                        observed.push(0);
                    }
                }
                names
                    .iter()
                    .map(|n| {
                        split.get(n).copied().filter(|w| *w > 0.0).with_context(|| {
                            format!("the split gives no positive weight to arm `{n}`")
                        })
                    })
                    .collect::<anyhow::Result<_>>()?
            }
        };
    let (chi2, dof, p_value) = stats::chi_square(&observed, &shares);
    let total: f64 = shares.iter().sum();
    Ok(Srm {
        observed: names.iter().cloned().zip(observed).collect(),
        expected_shares: names
            .iter()
            .cloned()
            .zip(shares.iter().map(|s| s / total))
            .collect(),
        chi2,
        dof,
        p_value,
        mismatch: p_value < SRM_THRESHOLD,
    })
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn unfinished_note(sessionized: &super::sessionize::Sessionized) -> String {
    if sessionized.unfinished_sessions == 0 {
        return String::new();
    }
    format!(
        "; {} unfinished sessions ({} events) were dropped",
        sessionized.unfinished_sessions, sessionized.unfinished_events
    )
}
