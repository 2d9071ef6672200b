//! Python objects as arms of an experiment: `recommend(user, track, time) -> int` per
//! request, or `recommend_batch(users, tracks, times) -> array` over many live sessions
//! (preferred when present), with optional `start(user)` and `end(user)` hooks. Both are
//! batched arms for the runner (one GIL acquisition per round of requests).

use botify_sim::recommend::batch::{BatchError, BatchRecommender, BatchRequests, one_at_a_time};
use botify_sim::recommend::{RecSession, Recommender, SessionStart};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBool;
use std::sync::{Arc, Mutex, PoisonError};

/// A Python object answering for one arm.
pub struct PyArm {
    /// `recommend_batch` if the object has one, else `recommend`.
    recommend: Py<PyAny>,
    batched: bool,
    start: Option<Py<PyAny>>,
    end: Option<Py<PyAny>>,
    /// The first exception the object raised: the cause of the run's error.
    raised: Mutex<Option<PyErr>>,
}

impl PyArm {
    /// The arm `arm` answered by `object`; a `TypeError` names the arm if the object has
    /// neither method.
    pub fn new(arm: &str, object: &Bound<'_, PyAny>) -> PyResult<PyArm> {
        let method = |name: &str| -> PyResult<Option<Py<PyAny>>> {
            match object.getattr_opt(name)? {
                Some(m) if m.is_callable() => Ok(Some(m.unbind())),
                _ => Ok(None),
            }
        };
        let (recommend, batched) = match (method("recommend_batch")?, method("recommend")?) {
            (Some(m), _) => (m, true),
            (None, Some(m)) => (m, false),
            (None, None) => {
                return Err(PyTypeError::new_err(format!(
                    "arm {arm}: {} has neither recommend(user, track, time) nor \
                     recommend_batch(users, tracks, times)",
                    describe(object)
                )));
            }
        };
        Ok(PyArm {
            recommend,
            batched,
            start: method("start")?,
            end: method("end")?,
            raised: Mutex::new(None),
        })
    }

    /// The exception the object raised first, if it raised one.
    pub fn raised(&self, py: Python<'_>) -> Option<PyErr> {
        let raised = self.raised.lock().unwrap_or_else(PoisonError::into_inner);
        raised.as_ref().map(|e| e.clone_ref(py))
    }

    /// A failure of `call` for `user`, with the Python traceback; the exception is kept.
    fn raised_by(&self, py: Python<'_>, user: Option<u32>, call: String, e: PyErr) -> BatchError {
        let traceback = format_exception(py, &e);
        self.raised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(e);
        BatchError::Failed {
            user,
            message: format!("{call} raised:\n{traceback}"),
        }
    }

    fn hook(&self, hook: &Option<Py<PyAny>>, name: &str, users: &[u32]) -> Result<(), BatchError> {
        let (Some(hook), false) = (hook, users.is_empty()) else {
            return Ok(());
        };
        Python::attach(|py| {
            for &user in users {
                if let Err(e) = hook.call1(py, (user,)) {
                    return Err(self.raised_by(py, Some(user), format!("{name}({user})"), e));
                }
            }
            Ok(())
        })
    }

    fn recommend_each(
        &self,
        py: Python<'_>,
        requests: &BatchRequests,
        answers: &mut Vec<u32>,
    ) -> Result<(), BatchError> {
        for i in 0..requests.len() {
            let (user, track, time) = (requests.users[i], requests.tracks[i], requests.times[i]);
            let call = || format!("recommend({user}, {track}, {time:?})");
            let answer = self
                .recommend
                .call1(py, (user, track, time))
                .map_err(|e| self.raised_by(py, Some(user), call(), e))?;
            let answer = answer.bind(py);
            let id = if answer.is_instance_of::<PyBool>() {
                None
            } else {
                answer.extract::<i64>().ok()
            };
            match id {
                Some(id) => answers.push(self.track_id(id, user, &call())?),
                None => {
                    return Err(BatchError::Failed {
                        user: Some(user),
                        message: format!(
                            "{} returned {}, not a track id (an int)",
                            call(),
                            describe(answer),
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn recommend_batch(
        &self,
        py: Python<'_>,
        requests: &BatchRequests,
        answers: &mut Vec<u32>,
    ) -> Result<(), BatchError> {
        let column = |values: &[u32]| values.iter().map(|&v| i64::from(v)).collect::<Vec<_>>();
        let users = PyArray1::from_vec(py, column(&requests.users));
        let tracks = PyArray1::from_vec(py, column(&requests.tracks));
        let times = PyArray1::from_slice(py, &requests.times);
        let n = requests.len();
        let call = || {
            format!(
                "recommend_batch over {n} sessions (users {})",
                first_users(&requests.users)
            )
        };
        let failed = |message: String| BatchError::Failed {
            user: None,
            message: format!("{} {message}", call()),
        };
        let answer = self
            .recommend
            .call1(py, (users, tracks, times))
            .map_err(|e| self.raised_by(py, None, call(), e))?;
        let answer = answer.bind(py);
        let array = py
            .import("numpy")
            .and_then(|np| np.getattr("asarray")?.call1((answer,)))
            .map_err(|e| failed(format!("returned {}, not an array: {e}", describe(answer))))?;
        let kind: String = array
            .getattr("dtype")
            .and_then(|d| d.getattr("kind"))
            .and_then(|k| k.extract())
            .unwrap_or_default();
        if kind != "i" && kind != "u" {
            let dtype = array
                .getattr("dtype")
                .map_or_else(|_| "?".into(), |d| d.to_string());
            return Err(failed(format!(
                "returned {} (dtype {dtype}): the answers must be integers (track ids)",
                describe(answer)
            )));
        }
        let shape: Vec<usize> = array
            .getattr("shape")
            .and_then(|s| s.extract())
            .unwrap_or_default();
        if shape != [n] {
            return Err(failed(format!(
                "returned an array of shape {shape:?}, not ({n},)"
            )));
        }
        let ids: PyReadonlyArray1<i64> = array
            .call_method1("astype", ("int64",))
            .and_then(|a| Ok(a.cast_into::<PyArray1<i64>>()?.readonly()))
            .map_err(|e| failed(format!("cannot read its answers as int64: {e}")))?;
        let ids = ids.as_array();
        for (i, &id) in ids.iter().enumerate() {
            let user = requests.users[i];
            answers.push(self.track_id(id, user, &format!("recommend_batch (request {i})"))?);
        }
        Ok(())
    }

    /// `id` as a track id; the runner checks it against the catalogue.
    fn track_id(&self, id: i64, user: u32, call: &str) -> Result<u32, BatchError> {
        u32::try_from(id).map_err(|_| BatchError::Failed {
            user: Some(user),
            message: format!("{call} answered track {id} for user {user}: not a track id"),
        })
    }
}

impl BatchRecommender for PyArm {
    fn start(&self, users: &[u32]) -> Result<(), BatchError> {
        self.hook(&self.start, "start", users)
    }

    fn recommend(
        &self,
        requests: &BatchRequests,
        answers: &mut Vec<u32>,
    ) -> Result<(), BatchError> {
        answers.clear();
        Python::attach(|py| {
            if self.batched {
                self.recommend_batch(py, requests, answers)
            } else {
                self.recommend_each(py, requests, answers)
            }
        })
    }

    fn end(&self, users: &[u32]) -> Result<(), BatchError> {
        self.hook(&self.end, "end", users)
    }
}

/// The arm as the experiment's recommender; the arm itself stays with the caller, to
/// read the exception it raised.
pub struct SharedArm(pub Arc<PyArm>);

impl Recommender for SharedArm {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        one_at_a_time(&*self.0, start.user)
    }

    fn batch(&self) -> Option<&dyn BatchRecommender> {
        Some(&*self.0)
    }
}

/// `repr(object)` and its type, for messages.
fn describe(object: &Bound<'_, PyAny>) -> String {
    let repr = object
        .repr()
        .map_or_else(|_| "?".to_string(), |r| r.to_string());
    let repr = if repr.chars().count() > 80 {
        format!("{}…", repr.chars().take(79).collect::<String>())
    } else {
        repr
    };
    let kind = object
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    format!("{repr} ({kind})")
}

/// The first few users of a batch, for messages.
fn first_users(users: &[u32]) -> String {
    let shown: Vec<String> = users.iter().take(5).map(u32::to_string).collect();
    if users.len() > 5 {
        format!("{}, ...", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// The exception with its traceback, as Python prints it.
fn format_exception(py: Python<'_>, e: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|tb| {
        let lines = tb.getattr("format_exception")?.call1((
            e.get_type(py),
            e.value(py),
            e.traceback(py),
        ))?;
        let lines: Vec<String> = lines.extract()?;
        Ok(lines.concat())
    });
    formatted
        .unwrap_or_else(|_| e.to_string())
        .trim_end()
        .to_string()
}
