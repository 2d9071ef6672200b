//! `sim serve`: a botify-compatible HTTP service over any in-process recommender.
//!
//! Routes (SIMULATOR.md §4): `GET /` (and `HEAD`), `GET /track/<id>`, `POST /next/<user>`,
//! `POST /last/<user>`. Each user goes to an arm by the experiment's murmur3 assignment.
//!
//! hyper on a tokio runtime: one task per connection ([`http`]). A user's session lives in
//! a [`store::SessionStore`] between requests, never in a connection or a thread: each
//! `/next` loads it, resumes the arm's recommender from its memory and its random stream
//! from where it stopped, answers, and saves it back; `/last` ends and deletes it. So
//! replicas sharing a Redis store answer as one process would. The service writes the
//! botify event log itself, with `experiments` and a `session` id.

pub mod http;
pub mod log_file;
pub mod resp;
pub mod store;

use crate::experiment::assign;
use crate::log::Message;
use crate::log::writer::{EventRecord, LogWriter, append_event, render_treatments};
use crate::recommend::{RecRng, Recommender, SessionStart};
use crate::world::World;
use http::{Activity, Response, Watched};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::SeedableRng;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store::{SessionRecord, SessionStore, StoreError};

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
}

/// The tokio runtime a server runs on, with `threads` workers (at least 1). A Redis store
/// must be connected on it: its connection lives on the runtime that made it.
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

/// How the server treats idle connections and expired sessions.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A connection without a byte in or out for this long is closed.
    pub idle_timeout: Duration,
    /// How often expired sessions are dropped from a store that does not expire them itself.
    pub sweep_every: Duration,
}

/// Everything a request handler needs.
struct Shared<S> {
    service: Arc<Service>,
    store: S,
    log: Option<Mutex<LogWriter>>,
    stats: ServeStats,
}

/// Where `sim serve` keeps its sessions. [`serve`] takes this, not any [`SessionStore`],
/// so that the serving code is compiled in this crate at its opt-level 3: a generic entry
/// point would be compiled in its caller, the command layer, at opt-level 0.
pub enum Sessions {
    Memory(store::MemoryStore),
    Redis(store::RedisStore),
}

/// Serves on `listener` until `stop` is set, then lets the requests in flight finish
/// (at most [`http::REQUEST_DEADLINE`]), flushes the log and returns.
pub fn serve(
    runtime: tokio::runtime::Runtime,
    service: Arc<Service>,
    sessions: Sessions,
    listener: TcpListener,
    log: Option<LogWriter>,
    options: &ServeOptions,
    stop: &AtomicBool,
) -> std::io::Result<ServeStats> {
    match sessions {
        Sessions::Memory(store) => {
            serve_with(runtime, service, store, listener, log, options, stop)
        }
        Sessions::Redis(store) => serve_with(runtime, service, store, listener, log, options, stop),
    }
}

fn serve_with<S: SessionStore>(
    runtime: tokio::runtime::Runtime,
    service: Arc<Service>,
    store: S,
    listener: TcpListener,
    log: Option<LogWriter>,
    options: &ServeOptions,
    stop: &AtomicBool,
) -> std::io::Result<ServeStats> {
    let shared = Arc::new(Shared {
        service,
        store,
        log: log.map(Mutex::new),
        stats: ServeStats::default(),
    });
    let result = runtime.block_on(accept_loop(&shared, listener, options, stop));
    // Connections still open after the grace period are dropped with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(log) = &shared.log {
        lock(log).flush()?;
    }
    result?;
    let counted = |n: &AtomicU64| AtomicU64::new(n.load(Ordering::Relaxed));
    let stats = &shared.stats;
    Ok(ServeStats {
        requests: counted(&stats.requests),
        errors: counted(&stats.errors),
        sessions: counted(&stats.sessions),
        connections: counted(&stats.connections),
    })
}

async fn accept_loop<S: SessionStore>(
    shared: &Arc<Shared<S>>,
    listener: TcpListener,
    options: &ServeOptions,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let (closing, closed) = tokio::sync::watch::channel(false);
    let active = Arc::new(AtomicUsize::new(0));
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut last_flush = Instant::now();
    let mut last_sweep = Instant::now();
    let mut accept_error = None;
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                    active.fetch_add(1, Ordering::Relaxed);
                    let (shared, closed, active) = (Arc::clone(shared), closed.clone(), Arc::clone(&active));
                    let idle_timeout = options.idle_timeout;
                    tokio::spawn(async move {
                        connection(shared, stream, closed, idle_timeout).await;
                        active.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(e) if is_transient_accept_error(&e) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    accept_error = Some(e);
                    break;
                }
            },
            _ = tick.tick() => {}
        }
        if last_flush.elapsed() > Duration::from_secs(1) {
            if let Some(log) = &shared.log {
                let _ = lock(log).flush();
            }
            last_flush = Instant::now();
        }
        if last_sweep.elapsed() > options.sweep_every {
            shared.store.expire();
            last_sweep = Instant::now();
        }
    }
    drop(listener);
    let _ = closing.send(true);
    let deadline = Instant::now() + http::REQUEST_DEADLINE;
    while active.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    match accept_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One client connection, until it closes, idles past `idle_timeout` or the server stops.
async fn connection<S: SessionStore>(
    shared: Arc<Shared<S>>,
    stream: tokio::net::TcpStream,
    mut closing: tokio::sync::watch::Receiver<bool>,
    idle_timeout: Duration,
) {
    let _ = stream.set_nodelay(true);
    let activity = Activity::new();
    let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
    let handler = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, std::convert::Infallible>(answer(&shared, request).await.into_hyper()) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(http::REQUEST_DEADLINE)
        .max_buf_size(http::HEAD_LIMIT)
        // A client may shut its side after the request and still read the answer.
        .half_close(true)
        .serve_connection(io, handler);
    tokio::pin!(connection);
    let check = (idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = closing.changed() => break,
            _ = tokio::time::sleep(check) => if activity.idle() > idle_timeout {
                break;
            },
        }
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(http::REQUEST_DEADLINE, connection).await;
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
        ("GET" | "HEAD", [""]) => Response::json(
            200,
            json!({
                "status": "alive",
                "experiment": service.experiment,
                "arms": service.arms.iter().map(|a| (a.name.clone(), Value::from(a.label.clone())))
                    .collect::<serde_json::Map<_, _>>(),
                "tracks": service.n_tracks(),
            })
            .to_string(),
        ),
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

/// A `/next` or `/last` of `user`: the session from the store, one step of its
/// recommender, the session back to the store, the event in the log.
async fn step<S: SessionStore>(
    shared: &Shared<S>,
    last: bool,
    user: u32,
    track: u32,
    time: f64,
    received: Instant,
) -> Response {
    let unavailable = |e: StoreError| Response::error(503, e.to_string());
    let mut record = match shared.store.load(user).await {
        Ok(Some(record)) => record,
        Ok(None) => match shared.store.open(user).await {
            Ok((counter, id)) => {
                shared.stats.sessions.fetch_add(1, Ordering::Relaxed);
                SessionRecord {
                    id,
                    counter,
                    rng_words: 0,
                    memory: Default::default(),
                }
            }
            Err(e) => return unavailable(e),
        },
        Err(e) => return unavailable(e),
    };
    let service = &shared.service;
    let arm = service.arm_of(user);
    let (response, recommendation) = recommend(service, arm, user, last, track, time, &mut record);
    // Stored before the answer leaves: the user's next request may reach another replica.
    let stored = if last {
        shared.store.close(user).await
    } else {
        shared.store.save(user, &record).await
    };
    if let Err(e) = stored {
        return unavailable(e);
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
                session: Some(record.id),
                episode: None,
            },
        );
        let _ = lock(log).write_lines(&line);
    }
    response
}

/// One step of the arm's recommender on the session `record`, which it updates.
fn recommend(
    service: &Service,
    arm: usize,
    user: u32,
    last: bool,
    track: u32,
    time: f64,
    record: &mut SessionRecord,
) -> (Response, Option<u32>) {
    let served = &service.arms[arm];
    let start = SessionStart {
        user,
        // The service cannot know the simulator's hidden taste (no oracle here).
        hidden_taste: 0,
    };
    let mut session = served.recommender.resume(&start, &record.memory);
    let n_tracks = service.n_tracks();
    let answer = if last {
        match session.end(track, time) {
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
        let mut rng = session_rng(service.seed, user, record.counter);
        rng.set_word_pos(record.rng_words as u128);
        let answer = match session.next(track, time, &mut rng) {
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
        record.rng_words = rng.get_word_pos() as u64;
        answer
    };
    record.memory = session.memory();
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
