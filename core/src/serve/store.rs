//! Where `sim serve` keeps its users' sessions between requests: in memory (one process)
//! or in Redis (replicas sharing one store answer as one service, request by request).
//!
//! Per user the store holds a [`UserState`]: how many sessions the user opened (the key of
//! the next one's random stream) and the open session, if any (its log id, how far its
//! random stream went, the recommender's memory). It is forgotten `ttl` after the user's
//! last request; `/last` ends the open session at once.
//!
//! A request changes a user's state as one atomic unit ([`SessionStore::update`]): two
//! requests of one user at once (two client sessions of a user, as the course simulator's
//! `multi` mode makes) give the results of one after the other, in either store, on any
//! replica.

use crate::recommend::SessionMemory;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A session as the store keeps it, but its id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Which of the user's sessions this is (0 = first): the key of its random stream.
    pub counter: u64,
    /// Words of its random stream used so far.
    pub rng_words: u64,
    pub memory: SessionMemory,
}

impl Session {
    /// The user's `counter`-th session, before its first request.
    pub fn new(counter: u64) -> Session {
        Session {
            counter,
            ..Session::default()
        }
    }
}

/// The open session of a user: its `session` id in the log, and the session.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSession {
    pub id: u64,
    pub session: Session,
}

/// What the store holds of a user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserState {
    /// Sessions the user opened.
    pub opened: u64,
    pub open: Option<OpenSession>,
}

/// What a request does to its user's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// It opened a session (one more counted; a new id).
    pub opens: bool,
    /// The open session after it: `None` once `/last` ended it.
    pub open: Option<Session>,
}

#[derive(Debug, thiserror::Error)]
#[error("the session store {store} does not answer: {message}")]
pub struct StoreError {
    /// The store's address, its password as `***`.
    pub store: String,
    pub message: String,
}

/// A session store.
pub trait SessionStore: Send + Sync + 'static {
    /// Runs `step` on the user's state and keeps the [`Change`] it returns, as one atomic
    /// unit; returns what `step` returned and the id of the session the request belongs
    /// to (a new one if `step` opened it). `step` may run more than once (Redis: again on
    /// the state another replica wrote meanwhile), so it must be a function of the state:
    /// only the run whose change was kept counts.
    fn update<T: Send>(
        &self,
        user: u32,
        step: impl FnMut(&UserState) -> (Change, T) + Send,
    ) -> impl Future<Output = Result<(T, u64), StoreError>> + Send;

    /// Drops what expired (a store whose keys expire by themselves does nothing).
    fn expire(&self) {}
}

/// The first session id of a process started `ms` milliseconds after 1970: `ms` x 1024,
/// so a restart never reuses an id of an earlier run appended to the same log (unless
/// that run opened over 1,024 sessions per millisecond), and ids stay below 2^53 (exact in
/// JSON readers that use doubles) until the year 2248.
pub fn first_session_id_at(ms: u64) -> u64 {
    ms.saturating_mul(1024)
}

/// [`first_session_id_at`] now.
pub fn first_session_id() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    first_session_id_at(ms)
}

/// Sessions in this process's memory, in shards so that requests rarely wait for a lock.
/// A request holds its user's shard for its whole step (the recommender's answer is
/// computed in microseconds, without I/O), which makes the step atomic.
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<u32, UserEntry>>>,
    ttl: Duration,
    next_id: AtomicU64,
}

struct UserEntry {
    state: UserState,
    expires: Instant,
}

const MEMORY_SHARDS: usize = 64;

impl MemoryStore {
    pub fn new(ttl: Duration) -> MemoryStore {
        MemoryStore {
            shards: (0..MEMORY_SHARDS).map(|_| Mutex::default()).collect(),
            ttl,
            next_id: AtomicU64::new(first_session_id()),
        }
    }

    fn shard(&self, user: u32) -> std::sync::MutexGuard<'_, HashMap<u32, UserEntry>> {
        lock(&self.shards[user as usize % MEMORY_SHARDS])
    }

    /// Users remembered now (open sessions or session counts not yet expired).
    pub fn users(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// [`SessionStore::update`] at the moment `now`.
    pub fn update_at<T>(
        &self,
        user: u32,
        now: Instant,
        step: impl FnOnce(&UserState) -> (Change, T),
    ) -> (T, u64) {
        let mut shard = self.shard(user);
        let entry = shard.entry(user).or_insert_with(|| UserEntry {
            state: UserState::default(),
            expires: now,
        });
        if entry.expires < now {
            entry.state = UserState::default();
        }
        let (change, out) = step(&entry.state);
        let id = match (&entry.state.open, change.opens) {
            (Some(open), false) => open.id,
            _ => self.next_id.fetch_add(1, Ordering::Relaxed),
        };
        entry.state.opened += u64::from(change.opens);
        entry.state.open = change.open.map(|session| OpenSession { id, session });
        entry.expires = now + self.ttl;
        (out, id)
    }

    /// [`SessionStore::expire`] at the moment `now`.
    pub fn expire_at(&self, now: Instant) {
        for shard in &self.shards {
            let mut shard = lock(shard);
            shard.retain(|_, e| e.expires >= now);
            // A flood of users gone: give the table's memory back too.
            if shard.capacity() > 64 && shard.len() * 4 < shard.capacity() {
                shard.shrink_to_fit();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SessionStore for MemoryStore {
    async fn update<T: Send>(
        &self,
        user: u32,
        step: impl FnMut(&UserState) -> (Change, T) + Send,
    ) -> Result<(T, u64), StoreError> {
        Ok(self.update_at(user, Instant::now(), step))
    }

    fn expire(&self) {
        self.expire_at(Instant::now());
    }
}

/// A Redis address as `--state` takes it: any url of the `redis` crate (`redis://`,
/// `rediss://` in a build with the feature `tls`, `redis+unix://`, `unix://`).
#[derive(Debug, Clone)]
pub struct RedisAddress {
    url: url::Url,
    /// The url, its password (if any) as `***`: safe in messages.
    pub shown: String,
}

impl RedisAddress {
    /// Parses `text`; the error names the url (its password as `***`) and the fault.
    pub fn parse(text: &str) -> Result<RedisAddress, String> {
        let shown = hide_password(text);
        let fail = |reason: String| {
            format!(
                "{shown:?} is not a Redis url redis://[user:password@]host[:port][/db]: {reason}"
            )
        };
        let url = url::Url::parse(text).map_err(|e| fail(e.to_string()))?;
        if redis::parse_redis_url(text).is_none() {
            return Err(fail(format!(
                "the scheme {:?} is not one of redis, rediss, redis+unix, unix",
                url.scheme()
            )));
        }
        redis::IntoConnectionInfo::into_connection_info(url.clone()).map_err(|e| {
            // Not the error kind's name: the message says it all.
            let reason = e.to_string().replace(" - InvalidClientConfig", "");
            if reason.contains("TLS") {
                fail(format!(
                    "{reason} (this sim was built without the feature `tls`: cargo install --features tls)"
                ))
            } else {
                fail(reason)
            }
        })?;
        Ok(RedisAddress { url, shown })
    }
}

/// `text` with the password of a url in it replaced by `***`: the `password` of
/// `scheme://user:password@host...`, and the `pass=` or `password=` of a query (the
/// `unix://` form). Works on text that does not parse as a url too, for error messages.
pub fn hide_password(text: &str) -> String {
    let mut shown = text.to_string();
    if let Some(scheme_end) = shown.find("://") {
        let start = scheme_end + 3;
        let authority_end = shown[start..]
            .find(['/', '?', '#'])
            .map_or(shown.len(), |i| start + i);
        if let Some(at) = shown[start..authority_end].rfind('@')
            && let Some(colon) = shown[start..start + at].find(':')
        {
            shown.replace_range(start + colon + 1..start + at, "***");
        }
    }
    if let Some(query_start) = shown.find('?') {
        let end = shown[query_start..]
            .find('#')
            .map_or(shown.len(), |i| query_start + i);
        let query: Vec<String> = shown[query_start + 1..end]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key == "pass" || key == "password" => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        shown.replace_range(query_start + 1..end, &query.join("&"));
    }
    shown
}

/// Sessions in Redis, on the `redis` crate's [`redis::aio::ConnectionManager`]: one
/// multiplexed connection, made again by the next request after it is lost (so the store
/// recovers by itself once Redis is back), connecting and each command within 2 s. The
/// crate parses replies with a depth limit (100 nested aggregates): a hostile reply of
/// 10,000 nested arrays is an error of its request, a 503, not a stack overflow
/// (`tests/unit/serve_store.rs`, `tests/http_serve_faults.rs`).
///
/// Per user one hash, `botify:user:<id>`, expiring `ttl` after the user's last request:
/// `v` (its version), `opened` (sessions counted), and while a session is open `id` and
/// `s` (the [`Session`] as JSON). `botify:session_ids` hands out session ids,
/// `botify:versions` versions.
///
/// A request is optimistic: it reads the hash (`HMGET`, one round trip), computes its
/// answer, and commits with [`COMMIT`], a Lua script that writes only if the version is
/// still the one read (`EVALSHA`, one round trip; the script is loaded again when Redis
/// lacks it, after a restart). If another replica wrote meanwhile, the script answers
/// with the state now instead, and the request computes again on it, without another
/// read. A script, not `WATCH`/`MULTI`/`EXEC`: those hold a connection per transaction
/// (the connection manager multiplexes one for all requests) and cost a round trip more;
/// not a lock either: a lock costs two more round trips on every request and a crashed
/// holder stalls its user until the lock expires.
pub struct RedisStore {
    manager: redis::aio::ConnectionManager,
    commit: redis::Script,
    shown: String,
    ttl_ms: u64,
}

/// How long connecting and each command may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// Commits a request's change if the user's hash is at the version it read.
/// KEYS: the user's hash, the session id counter, the version counter. ARGV: the version
/// read (empty for no hash), the sessions opened after the request, `1` if it opened one,
/// the open session as JSON (empty: none), the TTL in ms, the least session id (ids keep
/// growing across Redis restarts, which lose the counter). Returns the request's session
/// id, or, when the version moved, the state now: `[v, opened, id, s]` as `HMGET` gives it.
const COMMIT: &str = r#"
local read = redis.call('HGET', KEYS[1], 'v') or ''
if read ~= ARGV[1] then
  return redis.call('HMGET', KEYS[1], 'v', 'opened', 'id', 's')
end
local id = redis.call('HGET', KEYS[1], 'id')
if ARGV[3] == '1' then
  id = redis.call('INCR', KEYS[2])
  if id < tonumber(ARGV[6]) then
    id = tonumber(ARGV[6])
    redis.call('SET', KEYS[2], ARGV[6])
  end
end
local version = redis.call('INCR', KEYS[3])
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[1], 'id', 's')
  redis.call('HSET', KEYS[1], 'v', version, 'opened', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'v', version, 'opened', ARGV[2], 'id', id, 's', ARGV[4])
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return tonumber(id) or -1
"#;

const SESSION_IDS: &str = "botify:session_ids";
const VERSIONS: &str = "botify:versions";

/// Commits tried before a request gives up: each failed one means another request of the
/// user was kept meanwhile. With `k` requests of one user in flight a request wins each
/// round with a chance of about 1/k: two client sessions of a user (the course's `multi`
/// mode) never come near this, and 16 requests of one user at once give up with a chance
/// of (15/16)^1000, below 1e-28. The bound only stops a request from going on for ever.
const COMMIT_ATTEMPTS: usize = 1000;

fn user_key(user: u32) -> String {
    format!("botify:user:{user}")
}

/// A user's hash as read: its version (empty: none) and the state.
struct Versioned {
    version: String,
    state: UserState,
}

impl RedisStore {
    /// Connects to `address`; fails naming it (its password hidden) when Redis does not
    /// answer.
    pub async fn connect(address: &RedisAddress, ttl: Duration) -> Result<RedisStore, StoreError> {
        let fail = |e: redis::RedisError| StoreError {
            store: address.shown.clone(),
            message: e.to_string(),
        };
        let client = redis::Client::open(address.url.clone()).map_err(fail)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            // One attempt per request that finds the connection lost: the request gets
            // its 503 at once and the next one tries again.
            .set_number_of_retries(0);
        let manager = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(fail)?;
        Ok(RedisStore {
            manager,
            commit: redis::Script::new(COMMIT),
            shown: address.shown.clone(),
            ttl_ms: (ttl.as_millis() as u64).max(1),
        })
    }

    fn fail(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            store: self.shown.clone(),
            message: e.to_string(),
        }
    }

    /// The user's hash now. A connection Redis closed while idle (a restart) is found out
    /// by the first command sent on it, before Redis saw it: that read is sent once more,
    /// on the connection the manager makes again, so no request sees the stale one.
    async fn read(&self, key: &str) -> Result<Versioned, StoreError> {
        let mut connection = self.manager.clone();
        let mut read = redis::cmd("HMGET");
        read.arg(key).arg(&["v", "opened", "id", "s"]);
        let fields = match read.query_async(&mut connection).await {
            Err(e) if e.is_connection_dropped() => read.query_async(&mut connection).await,
            result => result,
        };
        let fields: Vec<Option<String>> = fields.map_err(|e| self.fail(e))?;
        self.parse(key, fields)
    }

    /// The state of `[v, opened, id, s]`.
    fn parse(&self, key: &str, fields: Vec<Option<String>>) -> Result<Versioned, StoreError> {
        let bad = |what: &str, value: &str| {
            self.fail(format!(
                "{key} holds no session state: {what} {:.100}",
                format!("{value:?}")
            ))
        };
        let [version, opened, id, session] = <[Option<String>; 4]>::try_from(fields)
            .map_err(|fields| bad("fields", &format!("{fields:?}")))?;
        let opened = match opened {
            None => 0,
            Some(text) => text.parse().map_err(|_| bad("opened", &text))?,
        };
        let open = match (id, session) {
            (Some(id), Some(json)) => Some(OpenSession {
                id: id.parse().map_err(|_| bad("id", &id))?,
                session: serde_json::from_str(&json)
                    .map_err(|e| bad(&format!("s ({e})"), &json))?,
            }),
            _ => None,
        };
        Ok(Versioned {
            version: version.unwrap_or_default(),
            state: UserState { opened, open },
        })
    }
}

impl SessionStore for RedisStore {
    async fn update<T: Send>(
        &self,
        user: u32,
        mut step: impl FnMut(&UserState) -> (Change, T) + Send,
    ) -> Result<(T, u64), StoreError> {
        let key = user_key(user);
        let mut read = self.read(&key).await?;
        let mut connection = self.manager.clone();
        for _ in 0..COMMIT_ATTEMPTS {
            let (change, out) = step(&read.state);
            let session = match &change.open {
                Some(session) => serde_json::to_string(session).map_err(|e| self.fail(e))?,
                None => String::new(),
            };
            let reply: redis::Value = self
                .commit
                .key(&key)
                .key(SESSION_IDS)
                .key(VERSIONS)
                .arg(&read.version)
                .arg(read.state.opened + u64::from(change.opens))
                .arg(if change.opens { "1" } else { "0" })
                .arg(session)
                .arg(self.ttl_ms)
                .arg(first_session_id())
                .invoke_async(&mut connection)
                .await
                .map_err(|e| self.fail(e))?;
            match reply {
                redis::Value::Int(id) if id >= 0 => return Ok((out, id as u64)),
                redis::Value::Array(_) => {
                    let fields: Vec<Option<String>> =
                        redis::FromRedisValue::from_redis_value(reply).map_err(|e| self.fail(e))?;
                    read = self.parse(&key, fields)?;
                }
                other => {
                    return Err(self.fail(format!(
                        "the commit of {key} answered {:.100}",
                        format!("{other:?}")
                    )));
                }
            }
        }
        Err(self.fail(format!(
            "{key} changed under each of {COMMIT_ATTEMPTS} commits of one request"
        )))
    }
}
