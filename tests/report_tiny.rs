//! A hand-computed tiny log: 3 users, 5 finished sessions, one unfinished tail, in the
//! botify `data.json` format (no session ids: sessions are cut by timestamp order).
//!
//! User 3 was re-assigned from C to T (as after a salt change), so that each arm has two
//! (user, treatment) units and every Welch number is defined.
//!
//! Sessions (tracks = events, time = sum of `time`, latency = sum of `latency` * 1000):
//!   A user 1, C: ts 1000..3000, times 1.0+0.5+0.25 = 1.75, 3 tracks, 1+2+3 = 6 ms
//!   B user 1, C: ts 10000..11000, times 1.0+0.0 = 1.0,     2 tracks, 1+1 = 2 ms
//!   C user 2, T: ts 1500..4500, times 1.0+1.0+0.5+0.5 = 3, 4 tracks, 4*4 = 16 ms
//!   D user 3, C: ts 5000..6000, times 1.0+0.5 = 1.5,       2 tracks, 2+2 = 4 ms
//!   E user 3, T: ts 20000..21000, times 1.0+1.0 = 2.0,     2 tracks, 1+1 = 2 ms
//!   user 2, T: one `next` at ts 30000 after its last `last`: unfinished, dropped.
//!
//! User level (time, sessions, mean_request_latency, mean_tracks_per_session,
//! mean_time_per_session):
//!   (1, C): 1.75+1.0 = 2.75, 2, (6+2)/(3+2) = 1.6, 5/2 = 2.5, 2.75/2 = 1.375
//!   (3, C): 1.5,             1, 4/2 = 2.0,         2/1 = 2,   1.5
//!   (2, T): 3.0,             1, 16/4 = 4.0,        4,         3.0
//!   (3, T): 2.0,             1, 2/2 = 1.0,         2,         2.0

use botify_sim::report::{AnalysisOptions, Method, Metric, analyze};
use std::io::Write;

const LOG: &[(&str, u64, u64, &str, f64, f64)] = &[
    // (message, timestamp, user, arm, time, latency s); users interleaved in time
    ("next", 1000, 1, "C", 1.0, 0.001),
    ("next", 1500, 2, "T", 1.0, 0.004),
    ("next", 2000, 1, "C", 0.5, 0.002),
    ("next", 2500, 2, "T", 1.0, 0.004),
    ("last", 3000, 1, "C", 0.25, 0.003),
    ("next", 3500, 2, "T", 0.5, 0.004),
    ("last", 4500, 2, "T", 0.5, 0.004),
    ("next", 5000, 3, "C", 1.0, 0.002),
    ("last", 6000, 3, "C", 0.5, 0.002),
    ("next", 10000, 1, "C", 1.0, 0.001),
    ("last", 11000, 1, "C", 0.0, 0.001),
    ("next", 20000, 3, "T", 1.0, 0.001),
    ("last", 21000, 3, "T", 1.0, 0.001),
    ("next", 30000, 2, "T", 1.0, 0.001),
];

fn write_log(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("data.json");
    let mut f = std::fs::File::create(&path).unwrap();
    for (message, ts, user, arm, time, latency) in LOG {
        let rec = if *message == "last" { "null" } else { "7" };
        writeln!(
            f,
            r#"{{"message": "{message}", "timestamp": {ts}, "user": {user}, "track": 5, "time": {time:?}, "latency": {latency:?}, "recommendation": {rec}, "experiments": {{"exp": "{arm}"}}}}"#
        )
        .unwrap();
    }
    path
}

fn close(actual: f64, expected: f64, rel: f64) {
    assert!(
        (actual - expected).abs() <= rel * expected.abs(),
        "got {actual:?}, expected {expected:?}"
    );
}

/// Exact arithmetic (only a few roundings).
const EXACT: f64 = 1e-12;
/// Numbers through a t or normal quantile (values from scipy.stats).
const QUANT: f64 = 1e-9;

#[test]
fn tiny_log_every_number() {
    let dir = tempfile::tempdir().unwrap();
    let a = analyze(&[write_log(dir.path())], &AnalysisOptions::default()).unwrap();
    assert_eq!(a.experiment, "exp");
    assert_eq!(a.control, "C");
    assert_eq!(a.log.events, 14);
    assert_eq!(a.log.sessions, 5);
    assert_eq!(a.log.unfinished_sessions, 1);
    assert_eq!(a.log.unfinished_events, 1);

    // Arms: C = units (1, C), (3, C) with sessions A, B, D; T = (2, T), (3, T) with C, E.
    let c = a.arm("C").unwrap();
    let t = a.arm("T").unwrap();
    assert_eq!((c.users, c.users_with_sessions, c.sessions), (2, 2, 3));
    assert_eq!((t.users, t.users_with_sessions, t.sessions), (2, 2, 2));
    // SRM: 2 vs 2 users against 1:1 -> chi2 = 0, p = 1.
    assert_eq!(a.srm.chi2, 0.0);
    close(a.srm.p_value, 1.0, EXACT);
    assert!(!a.srm.mismatch);

    // mean, var (ddof 1) of the user-level values.
    let m = |arm: &botify_sim::report::ArmSummary, metric: Metric| {
        let mo = &arm.metrics[metric.name()];
        (mo.n, mo.mean, mo.var)
    };
    // time: C [2.75, 1.5] mean 2.125, var 2 * 0.625^2 = 0.78125; T [3, 2] mean 2.5, var 0.5
    assert_eq!(m(c, Metric::Time), (2, 2.125, 0.78125));
    assert_eq!(m(t, Metric::Time), (2, 2.5, 0.5));
    // sessions: C [2, 1] mean 1.5 var 0.5; T [1, 1] mean 1 var 0
    assert_eq!(m(c, Metric::Sessions), (2, 1.5, 0.5));
    assert_eq!(m(t, Metric::Sessions), (2, 1.0, 0.0));
    // mean_request_latency: C [1.6, 2.0] mean 1.8 var 2 * 0.2^2 = 0.08; T [4, 1] mean 2.5 var 4.5
    let (n, mean, var) = m(c, Metric::MeanRequestLatency);
    assert_eq!(n, 2);
    close(mean, 1.8, EXACT);
    close(var, 0.08, 1e-9); // 0.07999999999999996 in floating point, as pandas
    assert_eq!(m(t, Metric::MeanRequestLatency), (2, 2.5, 4.5));
    // mean_tracks_per_session: C [2.5, 2] mean 2.25 var 0.125; T [4, 2] mean 3 var 2
    assert_eq!(m(c, Metric::MeanTracksPerSession), (2, 2.25, 0.125));
    assert_eq!(m(t, Metric::MeanTracksPerSession), (2, 3.0, 2.0));
    // mean_time_per_session: C [1.375, 1.5] mean 1.4375 var 2 * 0.0625^2 = 0.0078125;
    // T [3, 2] mean 2.5 var 0.5
    assert_eq!(m(c, Metric::MeanTimePerSession), (2, 1.4375, 0.0078125));
    assert_eq!(m(t, Metric::MeanTimePerSession), (2, 2.5, 0.5));

    // Rows, sorted by metric descending: time, sessions, mean_tracks_per_session,
    // mean_time_per_session, mean_request_latency (one treatment).
    let order: Vec<&str> = a
        .rows
        .iter()
        .filter(|r| r.method == Method::Welch)
        .map(|r| r.metric.name())
        .collect();
    assert_eq!(
        order,
        [
            "time",
            "sessions",
            "mean_tracks_per_session",
            "mean_time_per_session",
            "mean_request_latency"
        ]
    );
    assert_eq!(
        a.comparisons, 4,
        "the primary rows; latency is a family of its own"
    );

    // (metric, effect, lower, upper, dof, p, delta_lower, delta_upper, mde)
    // With n = 2 per arm: se = sqrt(vC/2 + vT/2);
    // dof = (vC/2 + vT/2)^2 / (vC^2/4 + vT^2/4); half = t.ppf(0.975, dof) * se;
    // delta: R = mT/mC - 1 +- 1.959963984540054 * sqrt(vT/2/mC^2 + mT^2 vC/2/mC^4);
    // mde = (t.ppf(0.975, dof) + t.ppf(0.8, dof)) * se / mC.
    #[allow(clippy::type_complexity)]
    let expected: [(Metric, f64, f64, f64, f64, f64, f64, f64, f64); 5] = [
        // time: effect 0.375/2.125 = 17.647%; se = sqrt(0.390625 + 0.25) = 0.80039;
        // dof = 0.640625^2 / (0.152587890625 + 0.0625) = 1.90806; t = 4.507567956168752;
        // half = 3.6078147; lower = (0.375 - 3.6078)/2.125; upper = (0.375 + 3.6078)/2.125
        (
            Metric::Time,
            17.647058823529413,
            -152.1324566589399,
            187.42657430599874,
            1.9080590238365494,
            0.6874590797378407,
            -64.36606184044385,
            99.66017948750267,
            210.20886348115312,
        ),
        // sessions: effect -0.5/1.5 = -33.33%; se = sqrt(0.25 + 0) = 0.5;
        // dof = 0.25^2 / (0.0625 + 0) = 1; t = 12.706204736174694; half = 6.3531;
        // p = 2 * P(T_1 > 1) = 0.5
        (
            Metric::Sessions,
            -33.33333333333333,
            -456.87349120582314,
            390.20682453915646,
            1.0,
            0.5000000000000001,
            -76.88808854533453,
            10.221421878667863,
            469.4195552215289,
        ),
        // mean_tracks_per_session: effect 0.75/2.25 = 33.33%; se = sqrt(0.0625 + 1);
        // dof = 1.0625^2 / (0.00390625 + 1) = 1.12451; t = 9.819481112107674
        (
            Metric::MeanTracksPerSession,
            33.33333333333333,
            -416.51953126641683,
            483.1861979330835,
            1.1245136186770428,
            0.5882950283399672,
            -58.48815293400912,
            125.15481960067576,
            509.2313659299459,
        ),
        // mean_time_per_session: effect 1.0625/1.4375 = 73.91%; se = sqrt(0.00390625 + 0.25);
        // dof = 0.25390625^2 / (0.0000152587890625 + 0.0625) = 1.03124; t = 11.83168...
        // The delta interval (z, not t) excludes 0 here; the course interval does not.
        (
            Metric::MeanTimePerSession,
            73.91304347826086,
            -340.8263988203891,
            488.65248577691085,
            1.0312423724676592,
            0.2759315674214454,
            4.148093312915114,
            143.6779936436066,
            462.19319702865056,
        ),
        // mean_request_latency: effect 0.7/1.8 = 38.89%; se = sqrt(0.04 + 2.25);
        // dof = 2.29^2 / (0.0016 + 5.0625) = 1.03554; t = 11.72053225482641
        (
            Metric::MeanRequestLatency,
            38.888888888888886,
            -946.4657612000531,
            1024.243538977831,
            1.0355443217945934,
            0.7220616628139128,
            -127.21842439158326,
            204.99620216936103,
            1098.9167122552012,
        ),
    ];
    for (row, (metric, effect, lower, upper, dof, p, dl, du, mde)) in a.rows.iter().zip(expected) {
        assert_eq!(row.metric, metric);
        assert_eq!(row.treatment, "T");
        close(row.effect, effect, EXACT);
        close(row.lower, lower, QUANT);
        close(row.upper, upper, QUANT);
        close(row.dof, dof, EXACT);
        close(row.p_value, p, QUANT);
        close(row.delta_lower, dl, QUANT);
        close(row.delta_upper, du, QUANT);
        close(row.mde, mde, QUANT);
        // No interval excludes 0: (effect + half) * (effect - half) < 0.
        assert!(!row.significant, "{metric}");
        // Holm over the 4 primary rows: smallest p 0.2759 * 4 > 1 -> every adjusted p is 1;
        // the guardrail, alone in its family, keeps its p.
        if metric.is_measured() {
            assert_eq!(row.p_holm, row.p_value);
        } else {
            assert_eq!(row.p_holm, 1.0);
        }
        assert!(!row.significant_holm);
        assert_eq!((row.control_n, row.treatment_n), (2, 2));
    }
    let mtps = &a.rows[3];
    close(mtps.control_mean, 1.4375, EXACT);
    close(mtps.treatment_mean, 2.5, EXACT);

    // Degenerate data (n = 2, a zero variance) still renders every output.
    let out = dir.path().join("out");
    let written = botify_sim::report::write_outputs(&a, &out).unwrap();
    assert_eq!(written.len(), 10);
    let table = botify_sim::report::render_terminal(&a, false);
    assert!(
        table.contains("1 unfinished sessions (1 events) dropped"),
        "{table}"
    );
}

/// `--without-first-track` (the course table's session time): each session's first
/// event's time is left out; the five course metrics keep their numbers.
///   (1, C): A 1.75 - 1.0 = 0.75, B 1.0 - 1.0 = 0 -> 0.375;  (3, C): D 0.5
///   (2, T): C 3.0 - 1.0 = 2.0;  (3, T): E 2.0 - 1.0 = 1.0
///   C [0.375, 0.5] mean 0.4375 var 2 * 0.0625^2 = 0.0078125; T [2, 1] mean 1.5 var 0.5
#[test]
fn tiny_log_without_first_track() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path());
    let default = analyze(std::slice::from_ref(&log), &AnalysisOptions::default()).unwrap();
    assert!(
        default
            .rows
            .iter()
            .all(|r| r.metric != Metric::MeanTimePerSessionWithoutFirstTrack),
        "opt-in only"
    );
    let opts = AnalysisOptions {
        without_first_track: true,
        ..AnalysisOptions::default()
    };
    let a = analyze(&[log], &opts).unwrap();
    let metric = Metric::MeanTimePerSessionWithoutFirstTrack;
    let c = &a.arm("C").unwrap().metrics[metric.name()];
    let t = &a.arm("T").unwrap().metrics[metric.name()];
    assert_eq!((c.n, c.mean, c.var), (2, 0.4375, 0.0078125));
    assert_eq!((t.n, t.mean, t.var), (2, 1.5, 0.5));
    let row = a.rows.iter().find(|r| r.metric == metric).unwrap();
    close(row.effect, (1.5 - 0.4375) / 0.4375 * 100.0, EXACT);
    let same = |m: Metric| {
        let x = default.rows.iter().find(|r| r.metric == m).unwrap();
        let y = a.rows.iter().find(|r| r.metric == m).unwrap();
        (x.effect, x.p_value) == (y.effect, y.p_value)
    };
    assert!(same(Metric::MeanTimePerSession) && same(Metric::Time));
}
