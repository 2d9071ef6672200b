//! `sim serve`: a botify-compatible HTTP service over any in-process recommender.
//!
//! Routes (SIMULATOR.md §4): `GET /` (and `HEAD`), `GET /track/<id>`, `POST /next/<user>`,
//! `POST /last/<user>`. Each user goes to an arm by the experiment's murmur3 assignment.
//!
//! hyper on a tokio runtime: one task per connection ([`http`]). A user's session lives in
//! a [`store::SessionStore`] between requests, never in a connection or a thread: each
//! request resumes the arm's recommender from the session's memory and its random stream
//! from where it stopped, answers, and keeps the changed session, as one atomic unit per
//! user; `/last` ends the session. So replicas sharing a Redis store answer as one
//! process would, two requests of a user at once included. The service writes the botify
//! event log itself ([`log_file`]), with `experiments` and a `session` id, each event
//! before its answer leaves.

pub mod http;
pub mod log_file;
pub mod store;

use crate::experiment::assign;
use crate::log::Message;
use crate::log::writer::{EventRecord, append_event, render_treatments};
use crate::recommend::{RecRng, Recommender, SessionStart};
use crate::world::World;
use http::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use log_file::EventLog;
use rand::SeedableRng;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store::{Change, Session, SessionStore};

/// An arm as the service sees it.
pub struct ServedArm {
    pub name: String,
    /// A short description for `GET /`.
    pub label: String,
    pub recommender: Box<dyn Recommender>,
}

/// What is served: the catalogue, the experiment's arms and how users are routed.
pub struct Service {
    pub world: Arc<World>,
    pub experiment: String,
    pub arms: Vec<ServedArm>,
    /// Seed of the recommenders' per-session random streams.
    pub seed: u64,
    salt: u32,
    /// Per arm, its events' `experiments` object.
    treatments: Vec<String>,
}

impl Service {
    pub fn new(world: Arc<World>, experiment: String, arms: Vec<ServedArm>, seed: u64) -> Service {
        let treatments = arms
            .iter()
            .map(|a| render_treatments(&[(experiment.as_str(), a.name.as_str())]))
            .collect();
        Service {
            salt: assign::salt(&experiment),
            world,
            experiment,
            arms,
            seed,
            treatments,
        }
    }

    /// The arm index of `user`, as `Experiment::assign_users` gives it.
    pub fn arm_of(&self, user: u32) -> usize {
        assign::bucket(self.salt, user as u64, self.arms.len())
    }

    fn n_tracks(&self) -> usize {
        self.world.catalogue.len()
    }
}

/// The random stream of a user's `counter`-th session: a ChaCha8 key made of
/// (seed, user, counter), so answers do not depend on other users' traffic.
pub fn session_rng(seed: u64, user: u32, counter: u64) -> RecRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(user as u64).to_le_bytes());
    key[16..24].copy_from_slice(&counter.to_le_bytes());
    key[24..].copy_from_slice(b"botifysv");
    RecRng::from_seed(key)
}

/// Counters reported when the server stops.
#[derive(Debug, Default)]
pub struct ServeStats {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub sessions: AtomicU64,
    pub connections: AtomicU64,
    /// Why the event log stopped taking events, if it did.
    pub log_failure: Option<String>,
}

/// The tokio runtime a server runs on, with `threads` workers (at least 1). A Redis store
/// must be connected on it: its connection's task lives on the runtime that made it.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
}

/// Raises this process's soft limit of open files to its hard limit, since each
/// connection holds one: a soft limit of 1,024 (a common default) would refuse the
/// 1,025th client while memory and cores are plenty. Returns the (old, new) soft limit;
/// equal when it already was at the hard limit.
pub fn raise_open_file_limit() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let old = limit.rlim_cur;
    if old < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit reads one rlimit through a valid pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((old, limit.rlim_cur))
}

/// Lets a write past a file-size limit (`ulimit -f`) fail with EFBIG, which the event log
/// reports ([`log_file`]), instead of killing the process with SIGXFSZ.
pub fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN runs no code of ours in a handler.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// How the server treats idle connections and expired sessions.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A connection is closed when its next request is not in this long after its last
    /// answer (or after it opened), or when its answer could not be written for this long.
    pub idle_timeout: Duration,
    /// How often expired sessions are dropped from a store that does not expire them itself.
    pub sweep_every: Duration,
}

/// Everything a request handler needs.
struct Shared<S> {
    service: Arc<Service>,
    store: S,
    log: Option<EventLog>,
    stats: ServeStats,
    /// Connections open now.
    open_connections: AtomicU64,
}

/// Serves on `listener` until `stop` turns true (or its sender is dropped), then lets the
/// requests in flight finish (at most [`http::REQUEST_DEADLINE`]) and returns the counters.
pub fn serve<S: SessionStore>(
    runtime: tokio::runtime::Runtime,
    service: Arc<Service>,
    store: S,
    listener: TcpListener,
    log: Option<EventLog>,
    options: &ServeOptions,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<ServeStats> {
    let shared = Arc::new(Shared {
        service,
        store,
        log,
        stats: ServeStats::default(),
        open_connections: AtomicU64::new(0),
    });
    let result = runtime.block_on(accept_loop(&shared, listener, options, stop));
    // Connections still open after the grace period are dropped with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result?;
    let counted = |n: &AtomicU64| AtomicU64::new(n.load(Ordering::Relaxed));
    let stats = &shared.stats;
    Ok(ServeStats {
        requests: counted(&stats.requests),
        errors: counted(&stats.errors),
        sessions: counted(&stats.sessions),
        connections: counted(&stats.connections),
        log_failure: shared
            .log
            .as_ref()
            .and_then(|log| log.failure().map(str::to_string)),
    })
}

/// How long `accept` rests after a passing shortage (out of file descriptors, say): the
/// waiting clients stay in the listen backlog meanwhile.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

async fn accept_loop<S: SessionStore>(
    shared: &Arc<Shared<S>>,
    listener: TcpListener,
    options: &ServeOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let graceful = GracefulShutdown::new();
    let sweeper = {
        let shared = Arc::clone(shared);
        let every = options.sweep_every;
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                shared.store.expire();
            }
        })
    };
    let builder = http1_builder(options.idle_timeout);
    let result = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    // An answer the client does not read for the idle timeout closes it.
                    let io = TokioIo::new(http::StallGuard::new(stream, options.idle_timeout));
                    let for_handler = Arc::clone(shared);
                    let handler = hyper::service::service_fn(move |request| {
                        let shared = Arc::clone(&for_handler);
                        async move {
                            Ok::<_, std::convert::Infallible>(answer(&shared, request).await.into_hyper())
                        }
                    });
                    let connection = graceful.watch(builder.serve_connection(io, handler));
                    let shared = Arc::clone(shared);
                    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                    shared.open_connections.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        // Its errors are the client's (a reset, a timeout): nothing to do.
                        let _ = connection.await;
                        shared.open_connections.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(e) if is_transient_accept_error(&e) => tokio::time::sleep(ACCEPT_BACKOFF).await,
                Err(e) => break Err(e),
            },
            _ = stop.wait_for(|stop| *stop) => break Ok(()),
        }
    };
    drop(listener);
    sweeper.abort();
    // Idle connections close at once, the others after their answer is written.
    let _ = tokio::time::timeout(http::REQUEST_DEADLINE, graceful.shutdown()).await;
    result
}

/// Errors of `accept` that concern one connection or a passing shortage, not the listener.
fn is_transient_accept_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | TimedOut | Interrupted)
        || e.raw_os_error() == Some(24) // EMFILE
        || e.raw_os_error() == Some(23) // ENFILE
        || e.raw_os_error() == Some(12) // ENOMEM
        || e.raw_os_error() == Some(105) // ENOBUFS
}

/// How hyper serves a connection: its next request head is due within `idle_timeout` of
/// its last answer (hyper's clock for a head starts when it waits for one: so this is the
/// idle timeout, and it bounds a head sent byte by byte too).
fn http1_builder(idle_timeout: Duration) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .max_buf_size(http::HEAD_LIMIT)
        // A client may shut its side after the request and still read the answer.
        .half_close(true);
    builder
}

/// The answer to one request.
async fn answer<S: SessionStore>(
    shared: &Shared<S>,
    request: hyper::Request<Incoming>,
) -> Response {
    let received = Instant::now();
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let response = route(shared, request, received).await;
    if response.status >= 400 {
        stats.errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn route<S: SessionStore>(
    shared: &Shared<S>,
    request: hyper::Request<Incoming>,
    received: Instant,
) -> Response {
    let service = &shared.service;
    let path = request.uri().path().to_string();
    let method = request.method().as_str().to_string();
    let segments: Vec<&str> = path.get(1..).unwrap_or("").split('/').collect();
    match (method.as_str(), &segments[..]) {
        ("GET" | "HEAD", [""]) => status(shared),
        ("GET" | "HEAD", ["track", id]) => track_info(service, id),
        ("POST", [kind @ ("next" | "last"), user]) => {
            let last = *kind == "last";
            let body = match http::read_body(request).await {
                Ok(body) => body,
                Err(refused) => return refused,
            };
            match parse_call(service, user, &body) {
                Ok((user, track, time)) => step(shared, last, user, track, time, received).await,
                Err(response) => response,
            }
        }
        (_, [""] | ["track", _]) => Response::error(
            405,
            format!(
                "{method} {} is not supported: use GET",
                http::truncate(&path)
            ),
        ),
        (_, ["next" | "last", _]) => Response::error(
            405,
            format!(
                "{method} {} is not supported: use POST",
                http::truncate(&path)
            ),
        ),
        _ => Response::error(
            404,
            format!(
                "no route {method} {}: the service answers GET /, GET /track/<id>, POST /next/<user>, POST /last/<user>",
                http::truncate(&path)
            ),
        ),
    }
}

/// `GET /`: alive, what is served and how many connections are open; a 503 naming the
/// cause once the event log cannot be written.
fn status<S>(shared: &Shared<S>) -> Response {
    let service = &shared.service;
    let mut status = json!({
        "status": "alive",
        "experiment": service.experiment,
        "arms": service.arms.iter().map(|a| (a.name.clone(), Value::from(a.label.clone())))
            .collect::<serde_json::Map<_, _>>(),
        "tracks": service.n_tracks(),
        "open_connections": shared.open_connections.load(Ordering::Relaxed),
    });
    match shared.log.as_ref().and_then(EventLog::failure) {
        None => Response::json(200, status.to_string()),
        Some(failure) => {
            status["status"] = "failing".into();
            status["error"] = failure.into();
            Response::json(503, status.to_string())
        }
    }
}

/// A `/next` or `/last` of `user`: one step of its recommender on its session, kept in the
/// store as one atomic unit, the event in the log, then the answer.
async fn step<S: SessionStore>(
    shared: &Shared<S>,
    last: bool,
    user: u32,
    track: u32,
    time: f64,
    received: Instant,
) -> Response {
    if let Some(failure) = shared.log.as_ref().and_then(EventLog::failure) {
        return Response::error(503, failure);
    }
    let service = &shared.service;
    let arm = service.arm_of(user);
    let outcome = shared
        .store
        .update(user, |state| {
            let (opens, mut session) = match &state.open {
                Some(open) => (false, open.session.clone()),
                None => (true, Session::new(state.opened)),
            };
            let answer = recommend(service, arm, user, last, track, time, &mut session);
            let open = (!last).then_some(session);
            (Change { opens, open }, (opens, answer))
        })
        .await;
    let ((opened, (response, recommendation)), id) = match outcome {
        Ok(outcome) => outcome,
        Err(e) => return Response::error(503, e.to_string()),
    };
    if opened {
        shared.stats.sessions.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(log) = &shared.log
        && (last || recommendation.is_some())
    {
        let mut line = Vec::with_capacity(256);
        append_event(
            &mut line,
            &EventRecord {
                message: if last { Message::Last } else { Message::Next },
                timestamp: now_ms(),
                user: user as u64,
                track: track as u64,
                time,
                latency: received.elapsed().as_secs_f64(),
                recommendation: recommendation.map(u64::from),
                experiments: &service.treatments[arm],
                session: Some(id),
                episode: None,
            },
        );
        if let Err(failure) = log.append(&line) {
            return Response::error(503, failure);
        }
    }
    response
}

/// One step of the arm's recommender on `session`, which it updates.
fn recommend(
    service: &Service,
    arm: usize,
    user: u32,
    last: bool,
    track: u32,
    time: f64,
    session: &mut Session,
) -> (Response, Option<u32>) {
    let served = &service.arms[arm];
    let start = SessionStart {
        user,
        // The service cannot know the simulator's hidden taste (no oracle here).
        hidden_taste: 0,
    };
    let mut resumed = served.recommender.resume(&start, &session.memory);
    let n_tracks = service.n_tracks();
    let answer = if last {
        match resumed.end(track, time) {
            Ok(()) => (
                Response::json(200, json!({ "user": user }).to_string()),
                None,
            ),
            Err(e) => (
                Response::error(
                    500,
                    format!(
                        "arm {}: recommender failed at the end of the session: {e}",
                        served.name
                    ),
                ),
                None,
            ),
        }
    } else {
        let mut rng = session_rng(service.seed, user, session.counter);
        rng.set_word_pos(session.rng_words as u128);
        let answer = match resumed.next(track, time, &mut rng) {
            Ok(t) if (t as usize) < n_tracks => (
                Response::json(200, json!({ "user": user, "track": t }).to_string()),
                Some(t),
            ),
            Ok(t) => (
                Response::error(
                    500,
                    format!(
                        "arm {}: recommender answered track {t}, outside the catalogue 0..{}",
                        served.name,
                        n_tracks.saturating_sub(1)
                    ),
                ),
                None,
            ),
            Err(e) => (
                Response::error(500, format!("arm {}: recommender failed: {e}", served.name)),
                None,
            ),
        };
        session.rng_words = rng.get_word_pos() as u64;
        answer
    };
    session.memory = resumed.memory();
    answer
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn track_info(service: &Service, id: &str) -> Response {
    let cat = &service.world.catalogue;
    match parse_id(id) {
        Some(track) if (track as usize) < cat.len() => Response::json(
            200,
            json!({
                "track": track,
                "artist": cat.artist_name(track),
                "title": cat.titles.get(track as usize).map(String::as_str).unwrap_or(""),
            })
            .to_string(),
        ),
        _ => Response::error(
            404,
            format!(
                "no track {:?}: track ids are 0..{}",
                http::truncate(id),
                cat.len().saturating_sub(1)
            ),
        ),
    }
}

/// A decimal id that fits in u32 (digits only: no sign, no spaces).
pub fn parse_id(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The user of the path and the `track`, `time` of the body, or a 400 naming the fault.
fn parse_call(service: &Service, user: &str, body: &[u8]) -> Result<(u32, u32, f64), Response> {
    let bad = |m: String| Response::error(400, m);
    let user = parse_id(user).ok_or_else(|| {
        bad(format!(
            "user {:?} is not a user id: expected a non-negative integer up to {}",
            http::truncate(user),
            u32::MAX
        ))
    })?;
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the body is not JSON ({e}): expected {{\"track\": <id>, \"time\": <listen time>}}"
        ))
    })?;
    let Some(object) = value.as_object() else {
        return Err(bad(format!(
            "the body must be a JSON object {{\"track\": <id>, \"time\": <listen time>}}, got {}",
            http::truncate(&value.to_string())
        )));
    };
    let track = match object.get("track") {
        None => return Err(bad("missing field \"track\"".into())),
        Some(v) => v.as_u64().ok_or_else(|| {
            bad(format!(
                "field \"track\" must be a non-negative integer track id, got {}",
                http::truncate(&v.to_string())
            ))
        })?,
    };
    let n = service.n_tracks();
    if track >= n as u64 {
        return Err(bad(format!(
            "field \"track\" is {track}, not a track of the catalogue 0..{}",
            n.saturating_sub(1)
        )));
    }
    let time = match object.get("time") {
        None => return Err(bad("missing field \"time\"".into())),
        Some(v) => v.as_f64().filter(|t| t.is_finite()).ok_or_else(|| {
            bad(format!(
                "field \"time\" must be a number (the listen time), got {}",
                http::truncate(&v.to_string())
            ))
        })?,
    };
    Ok((user, track as u32, time))
}
