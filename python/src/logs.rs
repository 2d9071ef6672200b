//! Logs and reports for DataFrames: the Rust log reader (the report's own, parallel and
//! streaming) into NumPy columns, and the A/B table as `sim report` writes `ab.csv`.

use botify_sim::log::reader::{self, ExperimentSets, ReaderOptions};
use botify_sim::report::render::{Csv, Json, Renderer, ReportContent};
use botify_sim::report::{AnalysisOptions, analyze};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// The events of `paths` (files, or folders of `*.jsonl`, `*.json` and rotated
/// `*.json.N` logs), several files merged by timestamp as `sim report` reads them.
/// Returns a dict of NumPy columns: `timestamp`, `user`, `track`, `time`, `latency`,
/// `recommendation`, `session` (-1 where the line has none), `last` (bool), `set` (the
/// index of the event's `experiments` object in `sets`), and `sets` (a list of dicts).
#[pyfunction]
#[pyo3(signature = (paths, skip_bad_lines=false))]
pub fn read_log<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    skip_bad_lines: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let read = py.detach(|| -> anyhow::Result<Columns> {
        let inputs = reader::expand_inputs(&paths)?;
        let options = ReaderOptions {
            skip_bad_lines,
            ..ReaderOptions::default()
        };
        let mut sets = ExperimentSets::default();
        let mut columns = Columns::default();
        let stats = reader::read_events(&inputs.files, &options, &mut sets, |_, event, _| {
            columns.timestamp.push(event.timestamp as i64);
            columns.user.push(event.user as i64);
            columns.track.push(event.track.map_or(-1, |t| t as i64));
            columns.time.push(event.time);
            columns.latency.push(event.latency);
            columns
                .recommendation
                .push(event.recommendation.map_or(-1, |t| t as i64));
            columns.session.push(event.session.map_or(-1, |s| s as i64));
            columns.last.push(event.last);
            columns.set.push(i64::from(event.experiments));
        })?;
        columns.bad_lines = stats.bad_lines;
        columns.sets = (0..sets.len() as u32)
            .map(|id| sets.get(id).to_vec())
            .collect();
        Ok(columns)
    });
    let columns = read.map_err(|e| crate::runtime_error(&e))?;
    let out = PyDict::new(py);
    out.set_item("timestamp", columns.timestamp.into_pyarray(py))?;
    out.set_item("user", columns.user.into_pyarray(py))?;
    out.set_item("track", columns.track.into_pyarray(py))?;
    out.set_item("time", columns.time.into_pyarray(py))?;
    out.set_item("latency", columns.latency.into_pyarray(py))?;
    out.set_item("recommendation", columns.recommendation.into_pyarray(py))?;
    out.set_item("session", columns.session.into_pyarray(py))?;
    out.set_item("last", PyArray1::from_vec(py, columns.last))?;
    out.set_item("set", columns.set.into_pyarray(py))?;
    let sets = columns
        .sets
        .into_iter()
        .map(|pairs| {
            let set = PyDict::new(py);
            for (experiment, treatment) in pairs {
                set.set_item(experiment, treatment)?;
            }
            Ok(set)
        })
        .collect::<PyResult<Vec<_>>>()?;
    out.set_item("sets", sets)?;
    out.set_item("bad_lines", columns.bad_lines)?;
    Ok(out)
}

#[derive(Default)]
struct Columns {
    timestamp: Vec<i64>,
    user: Vec<i64>,
    track: Vec<i64>,
    time: Vec<f64>,
    latency: Vec<f64>,
    recommendation: Vec<i64>,
    session: Vec<i64>,
    last: Vec<bool>,
    set: Vec<i64>,
    sets: Vec<Vec<(String, String)>>,
    bad_lines: u64,
}

/// The A/B table of `paths` as `sim report` computes it: returns the bytes of its
/// `ab.csv` and of its `ab.json` (the whole analysis: log counters, arms, SRM check).
#[pyfunction]
#[pyo3(signature = (paths, experiment=None, control=None, alpha=0.05, power=0.8, skip_bad_lines=false, without_first_track=false))]
#[allow(clippy::too_many_arguments)]
pub fn report_csv(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    experiment: Option<String>,
    control: Option<String>,
    alpha: f64,
    power: f64,
    skip_bad_lines: bool,
    without_first_track: bool,
) -> PyResult<(Vec<u8>, Vec<u8>)> {
    let options = AnalysisOptions {
        experiment,
        control,
        skip_bad_lines,
        alpha,
        power,
        split: None,
        without_first_track,
    };
    py.detach(|| -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let analysis = analyze(&paths, &options)?;
        let content = ReportContent {
            analysis: &analysis,
            charts: Vec::new(),
        };
        Ok((Csv.render(&content)?, Json.render(&content)?))
    })
    .map_err(|e| crate::runtime_error(&e))
}
