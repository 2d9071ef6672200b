//! From log files to the A/B table: read, sessionize, user metrics, comparisons.

use super::metrics::{Metric, user_totals};
use super::sessionize::{Session, Sessionized, Sessionizer};
use super::stats::{self, Moments};
use anyhow::{Context, bail};
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
    /// Number of primary comparisons (rows with a defined p-value) Holm corrects for; the
    /// guardrail rows are a family of their own.
    pub comparisons: usize,
    /// Sorted by metric, then treatment, both descending (as the course).
    pub rows: Vec<Row>,
    #[serde(skip)]
    pub session_times: Vec<ArmSessions>,
}

impl Analysis {
    pub fn arm(&self, treatment: &str) -> Option<&ArmSummary> {
        self.arms.iter().find(|a| a.treatment == treatment)
    }
}

/// Reads the logs, sessionizes and computes the whole report.
pub fn analyze(inputs: &[PathBuf], opts: &AnalysisOptions) -> anyhow::Result<Analysis> {
    let (files, read, sessionized) = read_sessions(inputs, opts)?;
    tabulate(files, &read, sessionized, opts)
}

/// One A/B table per day of the log, day `k` being the sessions that start `k - 1` to `k`
/// days ([`botify_sim_core::log::DAY_MS`]) after the log's first session; with `days`
/// (a run's own count, from its `run.json`), later sessions belong to its last day.
/// Days without sessions are left out. The log counters (files, bytes, bad lines) are
/// the whole log's; events and sessions are the day's.
pub fn analyze_by_day(
    inputs: &[PathBuf],
    opts: &AnalysisOptions,
    days: Option<u64>,
) -> anyhow::Result<Vec<(u64, Analysis)>> {
    let (files, read, sessionized) = read_sessions(inputs, opts)?;
    let Some(first) = sessionized.sessions.iter().map(|s| s.timestamp).min() else {
        bail!("the log holds no finished session");
    };
    let mut by_day: BTreeMap<u64, Vec<Session>> = BTreeMap::new();
    for session in &sessionized.sessions {
        let day = 1 + (session.timestamp - first) / botify_sim_core::log::DAY_MS;
        let day = days.map_or(day, |days| day.min(days.max(1)));
        by_day.entry(day).or_default().push(*session);
    }
    let mut days = Vec::with_capacity(by_day.len());
    for (day, sessions) in by_day {
        let mut units: Vec<(u32, u64)> = sessions.iter().map(|s| (s.treatment, s.user)).collect();
        units.sort_unstable();
        units.dedup();
        let events = sessions.iter().map(|s| s.tracks).sum();
        let one_day = Sessionized {
            treatments: sessionized.treatments.clone(),
            experiments: sessionized.experiments.clone(),
            sessions,
            units,
            unfinished_sessions: 0,
            unfinished_events: 0,
            ignored_events: 0,
            sorted: sessionized.sorted,
        };
        let read = ReadStats {
            events,
            ..read.clone()
        };
        let analysis =
            tabulate(files.clone(), &read, one_day, opts).with_context(|| format!("day {day}"))?;
        days.push((day, analysis));
    }
    Ok(days)
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
    tabulate(files, &read, sessionized, opts)
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
    Ok(())
}

/// Reads and sessionizes the logs.
fn read_sessions(
    inputs: &[PathBuf],
    opts: &AnalysisOptions,
) -> anyhow::Result<(reader::Inputs, ReadStats, Sessionized)> {
    if inputs.is_empty() {
        bail!("no log given: pass one or more log files or directories");
    }
    check_levels(opts)?;
    let reader::Inputs { files, skipped } = reader::expand_inputs(inputs)?;
    let reader_opts = ReaderOptions {
        skip_bad_lines: opts.skip_bad_lines,
        ..ReaderOptions::default()
    };
    let mut sets = ExperimentSets::default();
    let mut sessionizer = Sessionizer::new(opts.experiment.clone());
    let read = reader::read_events(&files, &reader_opts, &mut sets, |f, e, sets| {
        sessionizer.push(f, e, sets)
    })?;
    if sessionizer.out_of_order() {
        // Events without session ids are not in time order: sort them (second pass).
        sessionizer.restart_buffered();
        // Same interning table: the experiment-set ids of the first pass stay valid.
        reader::read_events(&files, &reader_opts, &mut sets, |f, e, sets| {
            sessionizer.push(f, e, sets)
        })?;
    }
    let sessionized = sessionizer.finish();
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
    Ok((reader::Inputs { files, skipped }, read, sessionized))
}

/// The A/B table of sessionized logs.
fn tabulate(
    reader::Inputs { files, skipped }: reader::Inputs,
    read: &ReadStats,
    sessionized: Sessionized,
    opts: &AnalysisOptions,
) -> anyhow::Result<Analysis> {
    let experiment = match &opts.experiment {
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
    };
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
    // User-level metrics.
    let metrics = Metric::of_table(opts.without_first_track);
    let totals = user_totals(&sessionized.sessions, |t| arm_of.contains_key(&t));
    let mut values: Vec<BTreeMap<Metric, Vec<f64>>> = vec![BTreeMap::new(); arm_names.len()];
    let mut sessions_per_arm = vec![0u64; arm_names.len()];
    for ((t, _), tot) in &totals {
        let Some(&a) = arm_of.get(t) else { continue };
        sessions_per_arm[a] += tot.sessions;
        for &metric in &metrics {
            values[a].entry(metric).or_default().push(tot.value(metric));
        }
    }
    let moments: Vec<BTreeMap<Metric, Moments>> = values
        .iter()
        .map(|per_metric| {
            metrics
                .iter()
                .map(|&m| (m, Moments::of(per_metric.get(&m).map_or(&[][..], |v| v))))
                .collect()
        })
        .collect();
    let arms: Vec<ArmSummary> = arm_names
        .iter()
        .enumerate()
        .map(|(a, name)| ArmSummary {
            treatment: name.clone(),
            users: users[a],
            users_with_sessions: values[a].get(&Metric::Time).map_or(0, |v| v.len() as u64),
            sessions: sessions_per_arm[a],
            metrics: moments[a]
                .iter()
                .map(|(m, mo)| (m.name().to_string(), *mo))
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

    // Comparisons, sorted by metric then treatment, both descending (string order).
    let mut rows = Vec::new();
    for &metric in &metrics {
        for (a, name) in arm_names.iter().enumerate() {
            if a == control_index {
                continue;
            }
            let c = &moments[control_index][&metric];
            let t = &moments[a][&metric];
            let cmp = stats::compare(c, t, opts.alpha, opts.power);
            rows.push(Row {
                treatment: name.clone(),
                metric,
                effect: cmp.effect,
                upper: cmp.upper,
                lower: cmp.lower,
                control_mean: c.mean,
                treatment_mean: t.mean,
                significant: cmp.significant,
                control_n: c.n,
                treatment_n: t.n,
                dof: cmp.dof,
                p_value: cmp.p_value,
                p_holm: f64::NAN,
                significant_holm: false,
                delta_lower: cmp.delta_lower,
                delta_upper: cmp.delta_upper,
                mde: cmp.mde,
            });
        }
    }
    rows.sort_by(|x, y| {
        (y.metric.name(), y.treatment.as_str()).cmp(&(x.metric.name(), x.treatment.as_str()))
    });
    // Two families, each Holm-corrected on its own: the primary metrics, and the guardrails
    // (latency). Wall-time latency differs from run to run; apart, it cannot move the
    // primary rows' p_holm, so a rerun reproduces them exactly.
    let mut comparisons = 0;
    for guardrail in [false, true] {
        let family: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].metric.is_guardrail() == guardrail)
            .collect();
        let p: Vec<f64> = family.iter().map(|&i| rows[i].p_value).collect();
        if !guardrail {
            comparisons = p.iter().filter(|p| !p.is_nan()).count();
        }
        for (&i, p_holm) in family.iter().zip(stats::holm(&p)) {
            rows[i].p_holm = p_holm;
            rows[i].significant_holm = p_holm < opts.alpha;
        }
    }

    let srm = srm_check(&arm_names, &users, opts.split.as_ref())?;

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
        comparisons,
        rows,
        session_times,
    })
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
