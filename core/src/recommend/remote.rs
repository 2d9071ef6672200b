//! `remote`: any service that speaks the botify protocol (SIMULATOR.md §4).
//!
//! A session maps 1:1 onto the protocol: every `next` is a `POST /next/<user>` with
//! `{"track", "time"}` of the previous track, and `end` is the `POST /last/<user>`.
//! Connections are kept alive and pooled ([`crate::http_client`]): each worker thread
//! uses one at a time, never two threads the same. A service that is unavailable (a
//! connection refused, reset or timed out, or a 503) is asked again with exponential
//! backoff for a bounded time ([`RemoteOptions::wait_ms`], long enough for a Redis behind
//! the service to restart), the wait said once on stderr; once a request has failed for
//! that long the service is taken as down and later requests fail at once, so a run
//! stops quickly.

use super::stall::StallWatch;
use super::{RecRng, RecSession, RecommendError, Recommender, SessionStart};
use crate::http_client::{Answer, HttpClient, HttpError, Target};
use crate::world::Catalogue;
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a remote arm talks to its service (the `remote` spec's keys).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteOptions {
    /// Base URL, e.g. `http://127.0.0.1:5001` (a trailing `/` is ignored).
    pub url: String,
    /// Timeout of each phase of a request: connect, send, wait for the answer, read it.
    pub timeout_ms: u64,
    /// Most extra attempts of one request after a transport error or a 503 (`None`: as
    /// many as `wait_ms` allows).
    pub retries: Option<u32>,
    /// Wait before the first retry; doubled for each further one, up to [`MAX_BACKOFF`].
    pub backoff_ms: u64,
    /// How long one request keeps asking an unavailable service before it fails.
    pub wait_ms: u64,
}

/// The longest wait between two attempts of a request.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

impl RemoteOptions {
    /// Checks the URL's shape: `http://host[:port][/prefix]`.
    pub fn validate(&self) -> Result<(), String> {
        Target::parse(&self.url).map_err(|e| format!("remote {e}"))?;
        if self.timeout_ms == 0 {
            return Err("remote timeout_ms must be at least 1".into());
        }
        Ok(())
    }

    fn base(&self) -> &str {
        self.url.trim_end_matches('/')
    }
}

pub struct Remote {
    options: RemoteOptions,
    base: String,
    client: HttpClient,
    /// Set once a request failed after all retries (to what it failed with): the
    /// service is down, stop asking.
    down_because: OnceLock<String>,
    /// A request is waiting for the service now (and said so on stderr).
    waiting: AtomicBool,
    /// Names a 40 ms stall per answer in the first answers (see `stall.rs`).
    stall: StallWatch,
}

/// A protocol call that failed, with everything needed to say why.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("POST {url}: {message} (after {attempts} attempt(s))")]
    Transport {
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("POST {url}: not asked, the service is down: {first}")]
    Down { url: String, first: String },
    #[error("POST {url} answered HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("POST {url}: the answer is not JSON ({message}): {body}")]
    NotJson {
        url: String,
        message: String,
        body: String,
    },
    #[error("POST {url}: the answer has no \"track\" holding a track id: {body}")]
    NoTrack { url: String, body: String },
    #[error("GET {url}: {message}")]
    Probe { url: String, message: String },
}

impl From<RemoteError> for RecommendError {
    fn from(e: RemoteError) -> Self {
        RecommendError::Failed(e.to_string())
    }
}

/// Random track ids `check_catalogue` asks for, besides the first, the last and one past it.
const CATALOGUE_SAMPLE: usize = 8;

/// At most this much of a body goes into an error message.
const BODY_IN_ERRORS: usize = 300;

fn clip(body: &str) -> String {
    let body = body.trim();
    if body.len() <= BODY_IN_ERRORS {
        return format!("{body:?}");
    }
    let mut end = BODY_IN_ERRORS;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}... ({} bytes)", &body[..end], body.len())
}

impl Remote {
    pub fn new(options: RemoteOptions) -> Result<Remote, String> {
        options.validate()?;
        let base = options.base().to_string();
        Ok(Remote {
            client: HttpClient::new(Duration::from_millis(options.timeout_ms)),
            base,
            options,
            down_because: OnceLock::new(),
            waiting: AtomicBool::new(false),
            stall: StallWatch::default(),
        })
    }

    pub fn options(&self) -> &RemoteOptions {
        &self.options
    }

    /// `GET /` once (with the retries): fails fast, naming the URL, when nothing answers.
    pub fn probe(&self) -> Result<(), RemoteError> {
        let url = format!("{}/", self.base);
        match self.get(&url) {
            Ok((status, _)) if (200..300).contains(&status) => Ok(()),
            Ok((status, body)) => Err(RemoteError::Probe {
                url,
                message: format!("the service answered HTTP {status}: {}", clip(&body)),
            }),
            Err(message) => Err(RemoteError::Probe {
                url,
                message: format!("no botify service answers there: {message}"),
            }),
        }
    }

    /// Checks that the service serves the simulated catalogue: `GET /track/<id>` of the
    /// first and last track and of `CATALOGUE_SAMPLE` seeded random ones must give the
    /// world's artist and title, and the first id past the end must be unknown (404).
    /// Without it, a service with another catalogue gives plausible garbage.
    pub fn check_catalogue(&self, catalogue: &Catalogue, seed: u64) -> Result<(), RemoteError> {
        let n = catalogue.len() as u32;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ids = vec![0, n.saturating_sub(1)];
        ids.extend((0..CATALOGUE_SAMPLE).map(|_| rng.random_range(0..n.max(1))));
        let hint = "(use --no-catalogue-check for a service without GET /track/<id>)";
        for id in ids {
            let url = format!("{}/track/{id}", self.base);
            let fail = |message: String| RemoteError::Probe {
                url: url.clone(),
                message,
            };
            let (status, body) = self.get(&url).map_err(&fail)?;
            if status != 200 {
                return Err(fail(format!(
                    "the service answered HTTP {status} for a track of the simulated catalogue: {} {hint}",
                    clip(&body)
                )));
            }
            let answer: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                fail(format!(
                    "the answer is not JSON ({e}): {} {hint}",
                    clip(&body)
                ))
            })?;
            let field = |key: &str| answer.get(key).and_then(serde_json::Value::as_str);
            let (Some(artist), Some(title)) = (field("artist"), field("title")) else {
                return Err(fail(format!(
                    "the answer has no \"artist\" and \"title\" strings: {} {hint}",
                    clip(&body)
                )));
            };
            let (want_artist, want_title) = (
                catalogue.artist_name(id),
                catalogue.titles.get(id as usize).map_or("", String::as_str),
            );
            if (artist, title) != (want_artist, want_title) {
                return Err(fail(format!(
                    "the service has another catalogue: track {id} is {artist:?} - {title:?} there, {want_artist:?} - {want_title:?} in the simulated world {hint}"
                )));
            }
        }
        let url = format!("{}/track/{n}", self.base);
        match self.get(&url) {
            Ok((404, _)) => Ok(()),
            Ok((status, body)) => Err(RemoteError::Probe {
                url,
                message: format!(
                    "the service has more tracks than the simulated world ({n}, ids 0..{}): HTTP {status} {} {hint}",
                    n.saturating_sub(1),
                    clip(&body)
                ),
            }),
            Err(message) => Err(RemoteError::Probe { url, message }),
        }
    }

    /// `GET url` with the retries of an unavailable service: the status and the body.
    fn get(&self, url: &str) -> Result<(u16, String), String> {
        self.ask(url, || self.client.get(url))
            .map(|answer| (answer.status, answer.body))
            .map_err(|(e, attempts)| format!("{e} (after {attempts} attempt(s))"))
    }

    /// One request to `url` (an attempt is `call`), asked again while the service is
    /// unavailable and the wait allows: the first answer that is not a 503, or the last
    /// answer once the wait is over, or the error that ended it with the attempts made.
    fn ask(
        &self,
        url: &str,
        call: impl Fn() -> Result<Answer, HttpError>,
    ) -> Result<Answer, (HttpError, u32)> {
        let mut retry = Retry::new();
        loop {
            match call() {
                // 503: the service is up but cannot answer now (say, its session store
                // restarts): worth the same wait as a lost connection.
                Ok(answer) if is_unavailable(&answer) => {
                    if !self.wait(&mut retry, url, || unavailable(&answer)) {
                        self.waiting.store(false, Ordering::Relaxed);
                        return Ok(answer);
                    }
                }
                Ok(answer) => {
                    if self.waiting.swap(false, Ordering::Relaxed) {
                        crate::note!("{} answers again", self.base);
                    }
                    return Ok(answer);
                }
                Err(e) if e.is_transport() && self.wait(&mut retry, url, || e.to_string()) => {}
                Err(e) => return Err((e, retry.attempts)),
            }
        }
    }

    /// After a failed attempt of a request to `url`: waits and returns true if the request
    /// may be tried again (the retries and the time left allow it), saying so on stderr
    /// the first time a wait begins; false if it has failed for good.
    fn wait(&self, retry: &mut Retry, url: &str, why: impl FnOnce() -> String) -> bool {
        let options = &self.options;
        if options.retries.is_some_and(|most| retry.attempts > most) {
            return false;
        }
        let factor = 1u32 << (retry.attempts.saturating_sub(1)).min(16);
        let pause = Duration::from_millis(options.backoff_ms)
            .saturating_mul(factor)
            .min(MAX_BACKOFF);
        let budget = Duration::from_millis(options.wait_ms);
        if retry.started.elapsed() + pause > budget {
            return false;
        }
        if !self.waiting.swap(true, Ordering::Relaxed) {
            let why: String = why()
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            crate::note!(
                "waiting for {url} to answer ({why}), for up to {:.1} s",
                budget.as_secs_f64()
            );
        }
        std::thread::sleep(pause);
        retry.attempts += 1;
        true
    }

    /// `POST <base>/<what>/<user>` with `{"track", "time"}`; the URL and the answer's body.
    fn post(
        &self,
        what: &str,
        user: u32,
        track: u32,
        time: f64,
    ) -> Result<(String, String), RemoteError> {
        let url = format!("{}/{what}/{user}", self.base);
        if let Some(first) = self.down_because.get() {
            return Err(RemoteError::Down {
                url,
                first: first.clone(),
            });
        }
        let body = serde_json::json!({"track": track, "time": time}).to_string();
        match self.ask(&url, || self.client.post_json(&url, body.clone())) {
            Ok(answer) if !answer.is_success() => Err(RemoteError::Status {
                url,
                status: answer.status,
                body: clip(&answer.body),
            }),
            Ok(answer) => Ok((url, answer.body)),
            Err((e, attempts)) => {
                let transport = e.is_transport();
                Err(self.give_up(url, e.to_string(), attempts, transport))
            }
        }
    }

    fn give_up(&self, url: String, message: String, attempts: u32, transport: bool) -> RemoteError {
        let error = RemoteError::Transport {
            url,
            message,
            attempts,
        };
        if transport {
            let _ = self.down_because.set(error.to_string());
        }
        error
    }
}

/// A 503 Service Unavailable answer.
fn is_unavailable(answer: &Answer) -> bool {
    answer.status == 503
}

/// The attempts of one request so far and when the first began.
struct Retry {
    started: Instant,
    attempts: u32,
}

impl Retry {
    fn new() -> Retry {
        Retry {
            started: Instant::now(),
            attempts: 1,
        }
    }
}

/// What an unavailable answer says, for the message of a wait.
fn unavailable(answer: &Answer) -> String {
    format!("HTTP {}: {}", answer.status, clip(&answer.body))
}

/// The recommended track of a `/next` answer: `{"track": <id>, ...}`.
pub fn parse_next_answer(url: &str, body: &str) -> Result<u32, RemoteError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| RemoteError::NotJson {
            url: url.to_string(),
            message: e.to_string(),
            body: clip(body),
        })?;
    value
        .get("track")
        .and_then(serde_json::Value::as_u64)
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| RemoteError::NoTrack {
            url: url.to_string(),
            body: clip(body),
        })
}

impl Recommender for Remote {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        Box::new(RemoteSession {
            remote: self,
            user: start.user,
        })
    }
}

struct RemoteSession<'a> {
    remote: &'a Remote,
    user: u32,
}

impl RecSession for RemoteSession<'_> {
    fn next(&mut self, prev: u32, time: f64, _rng: &mut RecRng) -> Result<u32, RecommendError> {
        let asked = std::time::Instant::now();
        let (url, body) = self.remote.post("next", self.user, prev, time)?;
        if let Some(warning) = self
            .remote
            .stall
            .observe(&self.remote.base, asked.elapsed())
        {
            crate::problem!("{warning}");
        }
        Ok(parse_next_answer(&url, &body)?)
    }

    fn end(&mut self, last: u32, time: f64) -> Result<(), RecommendError> {
        self.remote.post("last", self.user, last, time)?;
        Ok(())
    }
}
