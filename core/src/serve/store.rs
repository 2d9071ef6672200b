//! Where `sim serve` keeps its users' sessions between requests: in memory (one process)
//! or in Redis (replicas sharing one store answer as one service, request by request).
//!
//! Per user the store holds the open session ([`SessionRecord`]: its log id, which of
//! the user's sessions it is, how far its random stream went, the recommender's memory)
//! and how many sessions the user opened (the key of the next one's random stream).
//! Both expire `ttl` after the user's last request; `/last` deletes the open session.

use crate::recommend::SessionMemory;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An open session as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The `session` id of its events in the log.
    pub id: u64,
    /// Which of the user's sessions this is (0 = first): the key of its random stream.
    pub counter: u64,
    /// Words of its random stream used so far.
    pub rng_words: u64,
    pub memory: SessionMemory,
}

#[derive(Debug, thiserror::Error)]
#[error("the session store {store} does not answer: {message}")]
pub struct StoreError {
    pub store: String,
    pub message: String,
}

/// A session store. A user's requests are answered one after the other (the client waits
/// for each answer), so load-then-save needs no transaction.
pub trait SessionStore: Send + Sync + 'static {
    /// The user's open session.
    fn load(
        &self,
        user: u32,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;
    /// Counts a new session of `user`: (which of the user's sessions it is, a session id
    /// unique across the store's replicas and restarts).
    fn open(&self, user: u32) -> impl Future<Output = Result<(u64, u64), StoreError>> + Send;
    fn save(
        &self,
        user: u32,
        record: &SessionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ends the user's open session (`/last`).
    fn close(&self, user: u32) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Drops what expired (a store whose keys expire by themselves does nothing).
    fn expire(&self) {}
}

/// The first session id of a process started now: milliseconds since 1970 x 1024, so a
/// restart never reuses an id of an earlier run appended to the same log (unless that
/// run opened over 1,024 sessions per millisecond), and ids stay below 2^53 (exact in
/// JSON readers that use doubles) until the year 2248.
pub fn first_session_id() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ms * 1024
}

/// Sessions in this process's memory, in shards so that requests rarely wait for a lock.
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<u32, UserEntry>>>,
    ttl: Duration,
    next_id: AtomicU64,
}

struct UserEntry {
    opened: u64,
    open: Option<SessionRecord>,
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
        self.shards[user as usize % MEMORY_SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The user's entry, fresh (and its expiry pushed back) or new.
    fn touch<R>(&self, user: u32, f: impl FnOnce(&mut UserEntry) -> R) -> R {
        let now = Instant::now();
        let mut shard = self.shard(user);
        let entry = shard.entry(user).or_insert(UserEntry {
            opened: 0,
            open: None,
            expires: now,
        });
        if entry.expires < now {
            entry.opened = 0;
            entry.open = None;
        }
        entry.expires = now + self.ttl;
        f(entry)
    }

    /// Users remembered now (open sessions or session counters not yet expired).
    pub fn users(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum()
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, user: u32) -> Result<Option<SessionRecord>, StoreError> {
        let shard = self.shard(user);
        Ok(shard
            .get(&user)
            .filter(|e| e.expires >= Instant::now())
            .and_then(|e| e.open.clone()))
    }

    async fn open(&self, user: u32) -> Result<(u64, u64), StoreError> {
        let counter = self.touch(user, |e| {
            e.opened += 1;
            e.opened - 1
        });
        Ok((counter, self.next_id.fetch_add(1, Ordering::Relaxed)))
    }

    async fn save(&self, user: u32, record: &SessionRecord) -> Result<(), StoreError> {
        self.touch(user, |e| e.open = Some(record.clone()));
        Ok(())
    }

    async fn close(&self, user: u32) -> Result<(), StoreError> {
        self.touch(user, |e| e.open = None);
        Ok(())
    }

    fn expire(&self) {
        let now = Instant::now();
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            shard.retain(|_, e| e.expires >= now);
            // A flood of users gone: give the table's memory back too.
            if shard.capacity() > 64 && shard.len() * 4 < shard.capacity() {
                shard.shrink_to_fit();
            }
        }
    }
}

/// Sessions in Redis: `botify:user:<id>:session` (the record as JSON) and
/// `botify:user:<id>:opened` (sessions counted), both expiring `ttl` after the user's last
/// request; `botify:session_ids` hands out session ids.
pub struct RedisStore {
    url: String,
    connection: redis::aio::ConnectionManager,
    ttl_ms: u64,
}

const SESSION_IDS: &str = "botify:session_ids";

/// The next session id: one above the last, and at least this moment's
/// [`first_session_id`], so ids keep growing across Redis restarts (which lose the count).
const NEXT_SESSION_ID: &str = "local v = redis.call('INCR', KEYS[1]) \
     if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) v = tonumber(ARGV[1]) end \
     return v";

fn session_key(user: u32) -> String {
    format!("botify:user:{user}:session")
}

fn opened_key(user: u32) -> String {
    format!("botify:user:{user}:opened")
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`); fails naming the url when Redis does
    /// not answer. Once running, a lost connection is re-made in the background.
    pub async fn connect(url: &str, ttl: Duration) -> Result<RedisStore, StoreError> {
        let fail = |e: redis::RedisError| StoreError {
            store: url.to_string(),
            message: e.to_string(),
        };
        let client = redis::Client::open(url).map_err(fail)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let mut connection = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(fail)?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map_err(fail)?;
        Ok(RedisStore {
            url: url.to_string(),
            connection,
            ttl_ms: (ttl.as_millis() as u64).max(1),
        })
    }

    fn fail(&self, e: redis::RedisError) -> StoreError {
        StoreError {
            store: self.url.clone(),
            message: e.to_string(),
        }
    }
}

impl SessionStore for RedisStore {
    async fn load(&self, user: u32) -> Result<Option<SessionRecord>, StoreError> {
        let mut connection = self.connection.clone();
        let text: Option<String> = redis::cmd("GET")
            .arg(session_key(user))
            .query_async(&mut connection)
            .await
            .map_err(|e| self.fail(e))?;
        match text {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError {
                    store: self.url.clone(),
                    message: format!(
                        "{} holds no session record ({e}): {text:.100}",
                        session_key(user)
                    ),
                }),
        }
    }

    async fn open(&self, user: u32) -> Result<(u64, u64), StoreError> {
        let mut connection = self.connection.clone();
        let (opened, _, id): (u64, i64, u64) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(opened_key(user))
            .cmd("PEXPIRE")
            .arg(opened_key(user))
            .arg(self.ttl_ms)
            .cmd("EVAL")
            .arg(NEXT_SESSION_ID)
            .arg(1)
            .arg(SESSION_IDS)
            .arg(first_session_id())
            .query_async(&mut connection)
            .await
            .map_err(|e| self.fail(e))?;
        Ok((opened.saturating_sub(1), id))
    }

    async fn save(&self, user: u32, record: &SessionRecord) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let text = serde_json::to_string(record).map_err(|e| StoreError {
            store: self.url.clone(),
            message: e.to_string(),
        })?;
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(session_key(user))
            .arg(text)
            .arg("PX")
            .arg(self.ttl_ms)
            .ignore()
            .cmd("PEXPIRE")
            .arg(opened_key(user))
            .arg(self.ttl_ms)
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.fail(e))
    }

    async fn close(&self, user: u32) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(session_key(user))
            .ignore()
            .cmd("PEXPIRE")
            .arg(opened_key(user))
            .arg(self.ttl_ms)
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.fail(e))
    }
}
