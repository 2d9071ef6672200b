//! Sequential monitoring of a log read day by day: after each day, the analysis of every
//! session so far, decided by the always-valid interval (tuned for the whole log's units,
//! the same at every look), so that looking after every day does not inflate false
//! positives; and whether stopping there is safe.

use super::analysis::{
    Analysis, AnalysisOptions, Setting, read_sessions, sessionized_part, sessions_by_day, tabulate,
};
use super::design::Method;
use super::render::{pct, pval};
use super::sessionize::Session;
use super::verdict::Decision;
use anyhow::Context;
use botify_sim_core::log::reader::ReadStats;
use std::path::PathBuf;

/// A log's tables day by day: each day's own sessions, and the looks at all the sessions
/// up to each day.
pub struct ByDay {
    /// (day, the analysis of that day's sessions, without verdicts: they describe it).
    pub days: Vec<(u64, Analysis)>,
    /// (day, the analysis of days 1..=day, decided by the always-valid interval).
    pub looks: Vec<(u64, Analysis)>,
}

/// Reads the logs once and makes both the days' tables and the looks; `days` as
/// [`sessions_by_day`] takes it.
pub fn analyze_days(
    inputs: &[PathBuf],
    opts: &AnalysisOptions,
    days: Option<u64>,
) -> anyhow::Result<ByDay> {
    let log = read_sessions(inputs, opts)?;
    let setting = Setting::resolve(&log.sessionized, log.record.as_ref(), opts)?;
    let by_day = sessions_by_day(&log.sessionized.sessions, days)?;
    // The analysis of some of the log's sessions (a day, or the days so far).
    let table = |sessions: Vec<Session>, setting: &Setting| {
        let part = sessionized_part(&log.sessionized, sessions);
        let read = ReadStats {
            events: part.sessions.iter().map(|s| s.tracks).sum(),
            ..log.read.clone()
        };
        tabulate(log.files.clone(), &read, part, opts, setting)
    };
    let mut days = Vec::with_capacity(by_day.len());
    for (&day, sessions) in &by_day {
        let mut analysis =
            table(sessions.clone(), &setting).with_context(|| format!("day {day}"))?;
        // A day's own sessions describe the day; the looks decide.
        analysis.verdicts.clear();
        days.push((day, analysis));
    }
    // The looks share one tuning: the units of the whole log, which the design fixes
    // before any outcome is seen.
    let sequential = Setting {
        sequential: true,
        ..setting
    };
    let whole = table(log.sessionized.sessions.clone(), &sequential)?;
    let look_setting = Setting {
        tuning: Some(whole.design.sequential_tuning),
        ..sequential
    };
    let mut looks = Vec::with_capacity(by_day.len());
    let mut so_far = Vec::new();
    for (&day, sessions) in &by_day {
        so_far.extend_from_slice(sessions);
        let analysis =
            table(so_far.clone(), &look_setting).with_context(|| format!("days 1 to {day}"))?;
        looks.push((day, analysis));
    }
    Ok(ByDay { days, looks })
}

/// Whether stopping after a look is safe: the always-valid interval has decided.
pub fn stop_is_safe(decision: Decision) -> bool {
    matches!(decision, Decision::Ship | Decision::DontShip)
}

/// One line per look and treatment: the always-valid interval of the primary metric so
/// far, the verdict, and whether stopping there is safe.
pub fn look_lines(looks: &[(u64, Analysis)]) -> Vec<String> {
    let mut lines = Vec::new();
    for (day, a) in looks {
        for v in &a.verdicts {
            let row = a.rows.iter().find(|r| {
                r.method == Method::Sequential && r.treatment == v.treatment && r.metric == v.metric
            });
            let users = row.map_or(0, |r| {
                if a.design.paired {
                    r.control_n
                } else {
                    r.control_n + r.treatment_n
                }
            });
            let stop = match v.decision {
                Decision::NoVerdict => "no verdict: keep going, and see why".to_string(),
                d if stop_is_safe(d) => format!("stopping here is safe: {}", d.word()),
                _ => "keep going: stopping here would decide nothing".to_string(),
            };
            lines.push(format!(
                "day {day}: {} vs {}: {} {} [{}, {}], always-valid p = {} ({users} users so far): {stop}",
                v.treatment,
                v.control,
                v.metric,
                pct(v.effect),
                pct(v.lower),
                pct(v.upper),
                pval(v.p_value),
            ));
        }
    }
    lines
}
