//! `botify_sim._native`: the simulator for Python. The pure-Python package `botify_sim`
//! (Gymnasium classes, registration, DataFrames) is built on these few entry points:
//!
//! - [`sessions::Sessions`]: live sessions of the user model, stepped one at a time
//!   (`SessionEnv`) or all at once in parallel with the GIL released (`SessionVectorEnv`);
//! - [`run::run`]: `sim run` with Python objects as arms ([`arms`]);
//! - [`logs::read_log`] and [`logs::report_csv`]: the log reader and the A/B table.
//!
//! Everything is the Rust crates' own code: episode `i` of seed `s` is `sim run --seed
//! s`'s episode `i`, a run's log is `sim run`'s, a report is `sim report`'s.

mod arms;
mod logs;
mod run;
mod sessions;
mod world;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<sessions::Sessions>()?;
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_function(wrap_pyfunction!(logs::read_log, m)?)?;
    m.add_function(wrap_pyfunction!(logs::report_csv, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// A Rust error as a Python `RuntimeError` with every cause on one line.
fn runtime_error(e: &anyhow::Error) -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(botify_sim::terminal::one_line(e))
}
