//! `sim serve`: a botify-compatible HTTP service over any in-process recommender.
//!
//! Routes (SIMULATOR.md §4): `GET /`, `GET /track/<id>`, `POST /next/<user>`,
//! `POST /last/<user>`. Each user goes to an arm by the experiment's murmur3 assignment.
//!
//! Threads: one per client connection reads and parses requests; user sessions live on
//! `shards` session threads, user `u` on shard `u % shards`. A session (the recommender's
//! `RecSession`, with its memory) is opened by a user's first `/next`, used by every
//! further `/next` and ended and dropped by `/last`; it never leaves its thread, so
//! recommenders need no locks and a user's requests are answered in order. The service
//! writes the botify event log itself, with `experiments` and a `session` id.

pub mod http;

use crate::experiment::assign;
use crate::log::Message;
use crate::log::writer::{EventRecord, LogWriter, append_event, render_treatments};
use crate::recommend::{RecRng, RecSession, Recommender, SessionStart};
use crate::world::World;
use http::{Connection, Incoming, Request, Responder, Response};
use rand::SeedableRng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 512;

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

/// A protocol call handed to a session thread.
struct Job {
    last: bool,
    user: u32,
    track: u32,
    time: f64,
    received: Instant,
    /// Where and in which place of the connection's order the answer goes.
    responder: Arc<Responder>,
    seq: u64,
    close: bool,
}

/// Answers a connection may have in flight (pipelined) before its reader waits.
const MAX_IN_FLIGHT: u64 = 32;

/// Serves on `listener` until `stop` is set, then finishes the requests in flight,
/// flushes the log and returns. `shards` session threads (at least 1).
pub fn serve(
    service: &Service,
    listener: TcpListener,
    log: Option<LogWriter>,
    shards: usize,
    stop: &AtomicBool,
) -> std::io::Result<ServeStats> {
    listener.set_nonblocking(true)?;
    let stats = ServeStats::default();
    let log = log.map(Mutex::new);
    let next_session = AtomicU64::new(0);
    let shards = shards.max(1);
    let mut accept_error = None;
    std::thread::scope(|outer| {
        let mut senders = Vec::with_capacity(shards);
        for _ in 0..shards {
            let (tx, rx) = mpsc::channel::<Job>();
            senders.push(tx);
            let (log, stats, next_session) = (&log, &stats, &next_session);
            outer.spawn(move || session_thread(service, rx, log.as_ref(), stats, next_session));
        }
        let active = AtomicUsize::new(0);
        std::thread::scope(|inner| {
            let mut last_flush = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stats.connections.fetch_add(1, Ordering::Relaxed);
                        let Ok(mut conn) = Connection::new(stream) else {
                            continue;
                        };
                        if active.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                            let busy = Response::error(503, "too many connections");
                            let _ = conn.respond(&busy, true);
                            continue;
                        }
                        active.fetch_add(1, Ordering::Relaxed);
                        let (senders, active, stats) = (&senders, &active, &stats);
                        inner.spawn(move || {
                            connection_thread(service, conn, senders, stats, stop);
                            active.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) if is_transient_accept_error(&e) => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => {
                        accept_error = Some(e);
                        break;
                    }
                }
                if last_flush.elapsed() > Duration::from_secs(1) {
                    if let Some(log) = &log {
                        let _ = lock(log).flush();
                    }
                    last_flush = Instant::now();
                }
            }
        });
        // Every connection thread has ended: the session threads drain and stop.
        drop(senders);
    });
    if let Some(log) = log {
        let mut log = log
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        log.flush()?;
    }
    match accept_error {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

/// Errors of `accept` that concern one connection or a passing shortage, not the listener.
fn is_transient_accept_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | TimedOut) || e.raw_os_error() == Some(24) // EMFILE
        || e.raw_os_error() == Some(23) // ENFILE
        || e.raw_os_error() == Some(12) // ENOMEM
        || e.raw_os_error() == Some(105) // ENOBUFS
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn connection_thread(
    service: &Service,
    mut conn: Connection,
    shards: &[Sender<Job>],
    stats: &ServeStats,
    stop: &AtomicBool,
) {
    let responder = match conn.responder() {
        Ok(r) => Arc::new(r),
        Err(_) => return,
    };
    let mut seq = 0u64;
    loop {
        responder.wait_below(seq, MAX_IN_FLIGHT);
        if responder.is_closed() {
            return;
        }
        match conn.next_request(stop) {
            Incoming::Closed => return,
            Incoming::Reject(response) => {
                stats.requests.fetch_add(1, Ordering::Relaxed);
                stats.errors.fetch_add(1, Ordering::Relaxed);
                responder.send(seq, response, true);
                return;
            }
            Incoming::Request(request) => {
                stats.requests.fetch_add(1, Ordering::Relaxed);
                let close = request.close || stop.load(Ordering::Relaxed);
                let ticket = (&responder, seq, close);
                // `None`: handed to a session thread, which writes the answer.
                if let Some(response) = route(service, &request, shards, ticket) {
                    if response.status >= 400 {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    responder.send(seq, response, close);
                }
                seq += 1;
                if close {
                    return;
                }
            }
        }
    }
}

fn route(
    service: &Service,
    request: &Request,
    shards: &[Sender<Job>],
    (responder, seq, close): (&Arc<Responder>, u64, bool),
) -> Option<Response> {
    let received = Instant::now();
    let segments: Vec<&str> = request.path[1..].split('/').collect();
    let method = request.method.as_str();
    Some(match (method, &segments[..]) {
        ("GET", [""]) => Response::json(
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
        ("GET", ["track", id]) => track_info(service, id),
        ("POST", [kind @ ("next" | "last"), user]) => {
            let call = match parse_call(service, user, &request.body) {
                Ok(call) => call,
                Err(response) => return Some(response),
            };
            let (user, track, time) = call;
            let job = Job {
                last: *kind == "last",
                user,
                track,
                time,
                received,
                responder: Arc::clone(responder),
                seq,
                close,
            };
            match shards[user as usize % shards.len()].send(job) {
                Ok(()) => return None,
                Err(_) => Response::error(503, "the service is stopping"),
            }
        }
        (_, [""] | ["track", _]) => Response::error(
            405,
            format!(
                "{} {} is not supported: use GET",
                method,
                http::truncate(&request.path)
            ),
        ),
        (_, ["next" | "last", _]) => Response::error(
            405,
            format!(
                "{} {} is not supported: use POST",
                method,
                http::truncate(&request.path)
            ),
        ),
        _ => Response::error(
            404,
            format!(
                "no route {} {}: the service answers GET /, GET /track/<id>, POST /next/<user>, POST /last/<user>",
                method,
                http::truncate(&request.path)
            ),
        ),
    })
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
fn parse_id(text: &str) -> Option<u32> {
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

/// An open session of a user.
struct OpenSession<'a> {
    session: Box<dyn RecSession + 'a>,
    rng: RecRng,
    arm: usize,
    id: u64,
}

#[derive(Default)]
struct UserState<'a> {
    /// Sessions this user has opened so far (their random streams' index).
    opened: u64,
    open: Option<OpenSession<'a>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Owns the sessions of its users; answers jobs in the order they arrive.
fn session_thread(
    service: &Service,
    jobs: Receiver<Job>,
    log: Option<&Mutex<LogWriter>>,
    stats: &ServeStats,
    next_session: &AtomicU64,
) {
    let mut users: HashMap<u32, UserState<'_>> = HashMap::new();
    let mut line = Vec::with_capacity(256);
    let n_tracks = service.n_tracks();
    while let Ok(job) = jobs.recv() {
        let state = users.entry(job.user).or_default();
        if state.open.is_none() {
            let arm = service.arm_of(job.user);
            let counter = state.opened;
            state.opened += 1;
            stats.sessions.fetch_add(1, Ordering::Relaxed);
            state.open = Some(OpenSession {
                session: service.arms[arm].recommender.start(&SessionStart {
                    user: job.user,
                    // The service cannot know the simulator's hidden taste (no oracle here).
                    hidden_taste: 0,
                }),
                rng: session_rng(service.seed, job.user, counter),
                arm,
                id: next_session.fetch_add(1, Ordering::Relaxed),
            });
        }
        let Some(open) = state.open.as_mut() else {
            continue;
        };
        let arm = &service.arms[open.arm];
        let (response, recommendation) = if job.last {
            let result = open.session.end(job.track, job.time);
            let response = match result {
                Ok(()) => Response::json(200, json!({ "user": job.user }).to_string()),
                Err(e) => Response::error(
                    500,
                    format!(
                        "arm {}: recommender failed at the end of the session: {e}",
                        arm.name
                    ),
                ),
            };
            (response, None)
        } else {
            match open.session.next(job.track, job.time, &mut open.rng) {
                Ok(t) if (t as usize) < n_tracks => (
                    Response::json(200, json!({ "user": job.user, "track": t }).to_string()),
                    Some(t),
                ),
                Ok(t) => (
                    Response::error(
                        500,
                        format!(
                            "arm {}: recommender answered track {t}, outside the catalogue 0..{}",
                            arm.name,
                            n_tracks.saturating_sub(1)
                        ),
                    ),
                    None,
                ),
                Err(e) => (
                    Response::error(500, format!("arm {}: recommender failed: {e}", arm.name)),
                    None,
                ),
            }
        };
        let latency = job.received.elapsed().as_secs_f64();
        let (arm_index, session_id) = (open.arm, open.id);
        if job.last {
            state.open = None;
        }
        if let Some(log) = log
            && (job.last || recommendation.is_some())
        {
            line.clear();
            append_event(
                &mut line,
                &EventRecord {
                    message: if job.last {
                        Message::Last
                    } else {
                        Message::Next
                    },
                    timestamp: now_ms(),
                    user: job.user as u64,
                    track: job.track as u64,
                    time: job.time,
                    latency,
                    recommendation: recommendation.map(u64::from),
                    experiments: &service.treatments[arm_index],
                    session: Some(session_id),
                    episode: None,
                },
            );
            let _ = lock(log).write_lines(&line);
        }
        if response.status >= 400 {
            stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        job.responder.send(job.seq, response, job.close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_streams_differ_by_seed_user_and_counter() {
        use rand::RngExt;
        let draw = |s, u, c| session_rng(s, u, c).random::<u64>();
        let a = draw(1, 2, 3);
        assert_eq!(a, draw(1, 2, 3));
        assert_ne!(a, draw(0, 2, 3));
        assert_ne!(a, draw(1, 0, 3));
        assert_ne!(a, draw(1, 2, 0));
    }

    #[test]
    fn ids_are_plain_decimals() {
        assert_eq!(parse_id("17"), Some(17));
        for bad in ["", "-1", "+1", " 1", "1.0", "abc", "99999999999"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }
}
