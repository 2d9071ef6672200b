//! Unit tests of `core/src/serve/store.rs` (moved out of the library: see `tests/unit/mod.rs`).

use crate::http_support::{fake_redis, nested_arrays_reply};
use botify_sim::serve::store::*;
use botify_sim_support::deploy::{refusing_port, start_redis, start_redis_on};
use std::time::{Duration, Instant};

thread_local! {
    /// One runtime per test (each runs on its own thread): the Redis connection's task
    /// lives on the runtime that made it.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
}

pub(crate) fn block<F: Future>(f: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(f))
}

/// A request's step as `sim serve` takes it: the open session (or a new one) with `track`
/// appended to its memory, kept open unless `last`. Returns (the session's counter, the
/// memory's tracks after the step).
fn step(last: bool, track: u32) -> impl FnMut(&UserState) -> (Change, (u64, Vec<u32>)) + Send {
    move |state: &UserState| {
        let (opens, mut session) = match &state.open {
            Some(open) => (false, open.session.clone()),
            None => (true, Session::new(state.opened)),
        };
        session.memory.tracks.push(track);
        session.rng_words += 1;
        let seen = (session.counter, session.memory.tracks.clone());
        let open = (!last).then_some(session);
        (Change { opens, open }, seen)
    }
}

#[test]
fn memory_store_counts_sessions_keeps_the_open_one_and_forgets_after_the_ttl() {
    let ttl = Duration::from_secs(60);
    let store = MemoryStore::new(ttl);
    let t0 = Instant::now();
    let ((counter, tracks), first) = store.update_at(5, t0, step(false, 1));
    assert_eq!((counter, tracks), (0, vec![1]));
    let ((_, tracks), id) = store.update_at(5, t0 + ttl, step(false, 2));
    assert_eq!(
        (tracks, id),
        (vec![1, 2], first),
        "kept: the TTL is not over"
    );
    let ((_, tracks), id) = store.update_at(5, t0 + ttl, step(true, 3));
    assert_eq!(
        (tracks, id),
        (vec![1, 2, 3], first),
        "the last request of the session"
    );
    let ((counter, tracks), second) = store.update_at(5, t0 + ttl, step(false, 4));
    assert_eq!((counter, tracks), (1, vec![4]), "the user's second session");
    assert!(second > first);
    // A TTL after the user's last request: forgotten, the count with it.
    let late = t0 + ttl * 2 + Duration::from_millis(1);
    store.expire_at(t0 + ttl * 2);
    assert_eq!(store.users(), 1, "not yet expired");
    store.expire_at(late);
    assert_eq!(store.users(), 0, "expired entries are dropped");
    let ((counter, tracks), third) = store.update_at(5, late, step(false, 5));
    assert_eq!((counter, tracks), (0, vec![5]), "the count expired too");
    assert!(third > second);
    // Expired but not yet swept: as good as gone.
    let ((counter, _), _) = store.update_at(5, late + ttl * 2, step(false, 6));
    assert_eq!(counter, 0);
}

#[test]
fn session_ids_of_a_later_start_are_above_an_earlier_one() {
    assert_eq!(first_session_id_at(1) - first_session_id_at(0), 1024);
    // 2248-01-01 in ms: still below 2^53.
    assert!(first_session_id_at(8_772_192_000_000) < 1 << 53);
    assert!(first_session_id() >= first_session_id_at(1_700_000_000_000));
}

fn address(text: &str) -> RedisAddress {
    RedisAddress::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn redis_store(address_text: &str, ttl: Duration) -> RedisStore {
    block(RedisStore::connect(&address(address_text), ttl)).unwrap()
}

fn raw(address: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{address}/0")).unwrap();
    block(client.get_multiplexed_async_connection()).unwrap()
}

fn query<T: redis::FromRedisValue>(
    connection: &mut redis::aio::MultiplexedConnection,
    command: &mut redis::Cmd,
) -> T {
    block(command.query_async(connection)).unwrap()
}

#[test]
fn redis_store_counts_sessions_shares_them_between_replicas_and_deletes_at_last() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let url = format!("redis://{}/0", redis.address());
    let ttl = Duration::from_secs(60);
    let (store, other) = (redis_store(&url, ttl), redis_store(&url, ttl));
    let mut keys = raw(&redis.address());
    let first = block(async {
        let ((counter, tracks), first) = store.update(5, step(false, 1)).await.unwrap();
        assert_eq!((counter, tracks), (0, vec![1]));
        assert!(first >= first_session_id() - 10_000 * 1024, "{first}");
        let ((_, tracks), id) = other.update(5, step(false, 2)).await.unwrap();
        assert_eq!(
            (tracks, id),
            (vec![1, 2], first),
            "a replica sharing the store sees it"
        );
        let ((_, tracks), _) = other.update(5, step(true, 3)).await.unwrap();
        assert_eq!(tracks, vec![1, 2, 3]);
        first
    });
    let fields: Vec<String> = query(&mut keys, redis::cmd("HKEYS").arg("botify:user:5"));
    assert_eq!(
        fields.len(),
        2,
        "after /last only the version and the count: {fields:?}"
    );
    let ((counter, tracks), second) = block(store.update(5, step(false, 4))).unwrap();
    assert_eq!((counter, tracks), (1, vec![4]), "the user's second session");
    assert!(second > first, "ids grow across replicas");
    let left: i64 = query(&mut keys, redis::cmd("PTTL").arg("botify:user:5"));
    assert!(
        0 < left && left <= 60_000,
        "expires a TTL after the last request: {left}"
    );
}

/// The TTL is Redis's own: once the key is gone (waited for, at most 10 s), the user
/// starts again from a first session.
#[test]
fn redis_store_forgets_a_user_a_ttl_after_the_last_request() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let store = redis_store(
        &format!("redis://{}", redis.address()),
        Duration::from_millis(100),
    );
    let mut keys = raw(&redis.address());
    block(store.update(8, step(true, 1))).unwrap();
    block(store.update(8, step(false, 2))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while query::<bool>(&mut keys, redis::cmd("EXISTS").arg("botify:user:8")) {
        assert!(
            Instant::now() < deadline,
            "the key outlived its TTL by 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ((counter, tracks), _) = block(store.update(8, step(false, 3))).unwrap();
    assert_eq!((counter, tracks), (0, vec![3]));
}

/// Two replicas updating one user at once, 8 requests in flight, 200 in all: none is
/// lost, each sees the state the one before it left (the tracks of its session so far,
/// in one order).
#[test]
fn concurrent_updates_of_one_user_on_two_stores_are_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let url = format!("redis://{}/0", redis.address());
    let stores = [
        redis_store(&url, Duration::from_secs(60)),
        redis_store(&url, Duration::from_secs(60)),
    ];
    let seen = block(async {
        let clients = (0..8u32).map(|c| {
            let store = &stores[c as usize % 2];
            async move {
                let mut seen = Vec::new();
                for i in (c..200).step_by(8) {
                    seen.push(store.update(9, step(false, i)).await.unwrap().0.1.len());
                }
                seen
            }
        });
        futures_join_all(clients).await
    });
    let mut lengths: Vec<usize> = seen.into_iter().flatten().collect();
    lengths.sort();
    assert_eq!(
        lengths,
        (1..=200).collect::<Vec<_>>(),
        "every request saw one more track"
    );
    let ((_, all), _) = block(stores[0].update(9, step(true, 999))).unwrap();
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 201, "no update lost: {all:?}");
}

/// Runs the futures at once on this thread's runtime: their results in order.
async fn futures_join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futures: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut pending: Vec<_> = futures.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, future)| match future.as_mut().poll(cx) {
            std::task::Poll::Ready(out) => {
                results[*i] = Some(out);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

#[test]
fn redis_store_errors_name_the_store_and_the_key_and_it_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let port = redis.port;
    let address_text = redis.address();
    let store = redis_store(
        &format!("redis://{address_text}/0"),
        Duration::from_secs(60),
    );
    let mut keys = raw(&address_text);
    let _: () = query(
        &mut keys,
        redis::cmd("HSET")
            .arg("botify:user:7")
            .arg("s")
            .arg("not json")
            .arg("id")
            .arg("1"),
    );
    let e = block(store.update(7, step(false, 1)))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "the session store redis://{address_text}/0 does not answer: "
        )) && e.contains("botify:user:7 holds no session state")
            && e.contains("not json"),
        "{e}"
    );
    // The script is loaded again when Redis lost it (EVALSHA, then SCRIPT LOAD).
    let _: () = query(&mut keys, redis::cmd("SCRIPT").arg("FLUSH"));
    block(store.update(1, step(false, 1))).unwrap();
    // Restarted while the store's connection was idle: the next request still succeeds.
    drop(redis);
    let redis = start_redis_on(dir.path(), port).unwrap();
    let ((counter, tracks), _) = block(store.update(1, step(false, 2))).unwrap();
    assert_eq!(
        (counter, tracks),
        (0, vec![2]),
        "a restarted Redis forgot the session"
    );
    // Gone: an error naming the store, then back by itself.
    drop(redis);
    let e = block(store.update(1, step(false, 3)))
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("redis://{address_text}/0")), "{e}");
    let _redis = start_redis_on(dir.path(), port).unwrap();
    block(store.update(1, step(false, 4))).unwrap();
    // Nothing listening at start: refused at once, naming the url without its password.
    let (_refusing, port) = refusing_port().unwrap();
    let url = address(&format!("redis://:secret@127.0.0.1:{port}/0"));
    let e = block(RedisStore::connect(&url, Duration::from_secs(1)))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains(&format!("redis://:***@127.0.0.1:{port}/0")) && !e.contains("secret"),
        "{e}"
    );
}

/// A reply of 10,000 nested arrays (the redis crate's parser refuses nesting deeper than
/// 100), garbage, and no reply at all: each is an error of that request, within the 2-s
/// command timeout, and the store stays usable.
#[test]
fn hostile_replies_are_errors_of_their_request_only() {
    for (reply, fault) in [
        (nested_arrays_reply(), "recursion"),
        (b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), "arse"),
        (Vec::new(), "timed out"),
    ] {
        let fake = fake_redis(move |_| reply.clone());
        let store = redis_store(&format!("redis://{fake}"), Duration::from_secs(60));
        let clock = Instant::now();
        for _ in 0..2 {
            let e = block(store.update(1, step(false, 1)))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!(
                    "the session store redis://{fake} does not answer: "
                )),
                "{e}"
            );
            assert!(e.to_lowercase().contains(fault), "{fault}: {e}");
        }
        assert!(
            clock.elapsed() < Duration::from_secs(20),
            "a hang guard only"
        );
    }
}

#[test]
fn the_url_selects_the_database_and_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let a = redis.address();
    let ttl = Duration::from_secs(60);
    let in_db2 = redis_store(&format!("redis://{a}/2"), ttl);
    block(in_db2.update(3, step(false, 1))).unwrap();
    let mut keys = raw(&a);
    let _: () = query(&mut keys, redis::cmd("SELECT").arg("2"));
    assert!(query::<bool>(
        &mut keys,
        redis::cmd("EXISTS").arg("botify:user:3")
    ));
    let _: () = query(
        &mut keys,
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg("alice")
            .arg("on")
            .arg(">al:ce pw")
            .arg("~*")
            .arg("+@all"),
    );
    let _: () = query(
        &mut keys,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("requirepass")
            .arg("s3cr@t"),
    );
    let e = block(RedisStore::connect(
        &address(&format!("redis://:nope@{a}/2")),
        ttl,
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains(&format!("redis://:***@{a}/2")) && !e.contains("nope"),
        "{e}"
    );
    let default_user = redis_store(&format!("redis://:s3cr%40t@{a}/2"), ttl);
    let ((_, tracks), _) = block(default_user.update(3, step(false, 2))).unwrap();
    assert_eq!(tracks, vec![1, 2]);
    let alice = redis_store(&format!("redis://alice:al%3Ace%20pw@{a}/2"), ttl);
    let ((_, tracks), _) = block(alice.update(3, step(false, 3))).unwrap();
    assert_eq!(tracks, vec![1, 2, 3]);
}

#[test]
fn redis_urls_are_shown_without_their_password_and_bad_ones_refused_naming_the_fault() {
    for (url, shown) in [
        ("redis://127.0.0.1/1", "redis://127.0.0.1/1"),
        (
            "redis://alice:p%40ss%3Aw@host:1/2",
            "redis://alice:***@host:1/2",
        ),
        ("redis://:secret@host", "redis://:***@host"),
        ("redis://alice@host", "redis://alice@host"),
        ("redis://[::1]:7000/3", "redis://[::1]:7000/3"),
        (
            "redis+unix:///run/redis.sock?db=1&pass=secret",
            "redis+unix:///run/redis.sock?db=1&pass=***",
        ),
    ] {
        assert_eq!(address(url).shown, shown);
        assert_eq!(hide_password(url), shown);
    }
    // Text that is no url at all keeps what it can of its shape.
    assert_eq!(
        hide_password("redis://u:pw@ho st:x"),
        "redis://u:***@ho st:x"
    );
    for (bad, fault) in [
        ("redis://", "Missing hostname"),
        ("redis://:pw@/0", "empty host"),
        ("redis://ho st", "invalid domain character"),
        ("redis://[::1", "invalid IPv6 address"),
        ("redis://u:%FF@host", "Password is not valid UTF-8"),
        ("http://host", "scheme \"http\""),
        ("redis://host:port", "invalid port"),
        ("redis://host:65536", "invalid port"),
        ("redis://host/abc", "Invalid database number"),
        ("redis://:secret@host/abc", "Invalid database number"),
        ("redis://host/?protocol=resp9", "Invalid protocol version"),
        ("redis://0.0.0.0", "wildcard"),
    ] {
        let e = RedisAddress::parse(bad).expect_err(bad);
        assert!(
            e.contains("is not a Redis url")
                && e.contains(fault)
                && !e.contains("secret")
                && !e.contains("InvalidClientConfig"),
            "{bad}: {e}"
        );
    }
    #[cfg(not(feature = "tls"))]
    {
        let e = RedisAddress::parse("rediss://:secret@host").unwrap_err();
        assert!(
            e.contains("--features tls") && e.contains("rediss://:***@host"),
            "{e}"
        );
    }
    // `sim serve --state` refuses it before it touches anything.
    use botify_sim::commands::serve::StateChoice;
    let e = StateChoice::parse("redis://:secret@host:port/0")
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("--state: ") && !e.contains("secret"), "{e}");
    let e = StateChoice::parse("radish:secret@host")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("expected `memory` or a Redis url"), "{e}");
}
