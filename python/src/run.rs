//! `run(...)`: `sim run` from Python, with Python objects as arms.
//!
//! The run goes on a thread of its own while the calling (main) thread waits with the GIL
//! released and checks Python's signals every [`SIGNAL_CHECK`]: Ctrl-C (a notebook's
//! interrupt) raises `KeyboardInterrupt` there, which sets the run's stop flag; the run
//! ends as `sim run` ends on Ctrl-C (every finished episode logged) and the interrupt is
//! raised again once it has.

use crate::arms::{PyArm, SharedArm};
use botify_sim::cli::RunArgs;
use botify_sim::commands::run::{Ran, execute};
use botify_sim::commands::setup::SuppliedArm;
use clap::Parser;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyDictMethods};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the waiting thread looks for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// The record, the failure, a Python arm's exception, and whether Ctrl-C stopped the run.
type RunReturn<'py> = (Bound<'py, PyAny>, Option<String>, Option<PyErr>, bool);

/// `sim run`'s arguments, parsed by its own definition: the same defaults and checks.
#[derive(Parser)]
#[command(name = "botify_sim.run", no_binary_name = true)]
struct Args {
    #[command(flatten)]
    run: RunArgs,
}

/// Runs an experiment as `sim run` does (see `botify_sim.run` for the arguments), the
/// objects of `arms` in place of the experiment's arms of the same names. Returns
/// `(record, failure, cause, interrupted)`: the run's `run.json` with the files written
/// (`files`), why it failed, the exception a Python arm raised, and whether Ctrl-C
/// stopped it.
#[pyfunction]
#[pyo3(signature = (experiment, episodes, seed, arms, out=None, config=None, workers=None, cache_dir=None, rebuild=false, quiet=false))]
#[allow(clippy::too_many_arguments)]
pub fn run<'py>(
    py: Python<'py>,
    experiment: String,
    episodes: u64,
    seed: u64,
    arms: &Bound<'py, PyDict>,
    out: Option<PathBuf>,
    config: Option<PathBuf>,
    workers: Option<u64>,
    cache_dir: Option<PathBuf>,
    rebuild: bool,
    quiet: bool,
) -> PyResult<RunReturn<'py>> {
    let mut argv: Vec<String> = vec![
        "--experiment".into(),
        experiment,
        "--episodes".into(),
        episodes.to_string(),
        "--seed".into(),
        seed.to_string(),
    ];
    let path = |flag: &str, value: Option<PathBuf>, argv: &mut Vec<String>| {
        if let Some(value) = value {
            argv.push(flag.into());
            argv.push(value.to_string_lossy().into_owned());
        }
    };
    path("--out", out, &mut argv);
    path("--config", config, &mut argv);
    path("--cache-dir", cache_dir, &mut argv);
    if let Some(workers) = workers {
        argv.extend(["--workers".into(), workers.to_string()]);
    }
    if rebuild {
        argv.push("--rebuild".into());
    }
    let args = Args::try_parse_from(&argv)
        .map_err(|e| PyValueError::new_err(e.render().to_string().trim().to_string()))?
        .run;
    let mut python_arms = Vec::new();
    let mut supplied = Vec::new();
    for (name, object) in arms.iter() {
        let name: String = name
            .extract()
            .map_err(|_| PyValueError::new_err(format!("arm names are strings, got {name}")))?;
        let arm = Arc::new(PyArm::new(&name, &object)?);
        let kind = object
            .get_type()
            .qualname()
            .map_or_else(|_| "?".into(), |n| n.to_string());
        supplied.push(SuppliedArm {
            name,
            label: format!("python: {kind}"),
            recommender: Box::new(SharedArm(Arc::clone(&arm))),
        });
        python_arms.push(arm);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done) = std::sync::mpsc::channel();
    let run_stop = Arc::clone(&stop);
    let was_quiet = botify_sim::terminal::is_quiet();
    botify_sim::terminal::set_quiet(quiet || was_quiet);
    let runner = std::thread::spawn(move || {
        let _ = done_tx.send(execute(&args, supplied, &run_stop, false));
    });
    let mut interrupt: Option<PyErr> = None;
    let mut done = done;
    let executed = loop {
        // The receiver goes to the GIL-free closure and back (it is not `Sync`).
        let (received, back) = py.detach(move || (done.recv_timeout(SIGNAL_CHECK), done));
        done = back;
        match received {
            Ok(executed) => break executed,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    stop.store(true, Ordering::Relaxed);
                    interrupt.get_or_insert(e);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                break Err(anyhow::anyhow!("the run's thread ended without a result"));
            }
        }
    };
    let _ = py.detach(|| runner.join());
    botify_sim::terminal::set_quiet(was_quiet);
    let cause = python_arms.iter().find_map(|arm| arm.raised(py));
    let interrupted = interrupt.is_some() || stop.load(Ordering::Relaxed);
    match executed {
        Ok(Ran {
            record, failure, ..
        }) => {
            let text = serde_json::to_string(&record)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            let record = py.import("json")?.getattr("loads")?.call1((text,))?;
            let failure = failure.map(|e| botify_sim::terminal::one_line(&e));
            Ok((record, failure, cause, interrupted))
        }
        // Ctrl-C before any episode (while the world loaded or artifacts trained).
        Err(e) if interrupted || botify_sim::interrupt::is_interrupted(&e) => Err(interrupt
            .unwrap_or_else(|| PyKeyboardInterrupt::new_err(botify_sim::terminal::one_line(&e)))),
        Err(e) => {
            let error = crate::runtime_error(&e);
            if let Some(cause) = cause {
                error.set_cause(py, Some(cause));
            }
            Err(error)
        }
    }
}
