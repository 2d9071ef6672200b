//! Unit tests of `core/src/serve/store.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::recommend::SessionMemory;
use botify_sim::serve::resp::{Client, Command, Options, RedisUrl};
use botify_sim::serve::store::*;
use botify_sim_support::deploy::{refusing_port, start_redis};
use std::time::Duration;

thread_local! {
    /// One runtime per test (each runs on its own thread): a Redis connection lives on the
    /// runtime that made it.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
}

pub(crate) fn block<F: Future>(f: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(f))
}

fn record(id: u64) -> SessionRecord {
    SessionRecord {
        id,
        counter: 0,
        rng_words: 7,
        memory: SessionMemory {
            tracks: vec![1, 2],
            ..SessionMemory::default()
        },
    }
}

#[test]
fn memory_store_counts_sessions_keeps_the_open_one_and_forgets_after_the_ttl() {
    let store = MemoryStore::new(Duration::from_millis(150));
    block(async {
        assert_eq!(store.load(5).await.unwrap(), None);
        let (counter, first_id) = store.open(5).await.unwrap();
        assert_eq!(counter, 0);
        store.save(5, &record(first_id)).await.unwrap();
        assert_eq!(store.load(5).await.unwrap(), Some(record(first_id)));
        store.close(5).await.unwrap();
        assert_eq!(store.load(5).await.unwrap(), None);
        let (counter, second_id) = store.open(5).await.unwrap();
        assert_eq!(counter, 1, "the user's second session");
        assert!(second_id > first_id);
        store.save(5, &record(second_id)).await.unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(store.load(5).await.unwrap(), None, "expired");
        assert_eq!(store.users(), 1);
        store.expire();
        assert_eq!(store.users(), 0, "expired entries are dropped");
        assert_eq!(store.open(5).await.unwrap().0, 0, "the count expired too");
    });
}

#[test]
fn session_ids_of_a_later_start_are_above_an_earlier_one() {
    let earlier = first_session_id();
    std::thread::sleep(Duration::from_millis(2));
    assert!(first_session_id() >= earlier + 1024);
    assert!(earlier < 1 << 53);
}

fn redis_store(address: &str, ttl: Duration) -> RedisStore {
    let url = RedisUrl::parse(&format!("redis://{address}/0")).unwrap();
    block(RedisStore::connect(url, ttl)).unwrap()
}

#[test]
fn redis_store_counts_sessions_keeps_the_open_one_and_forgets_after_the_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let store = redis_store(&redis.address(), Duration::from_millis(150));
    let other = redis_store(&redis.address(), Duration::from_millis(150));
    block(async {
        assert_eq!(store.load(5).await.unwrap(), None);
        let (counter, first_id) = store.open(5).await.unwrap();
        assert_eq!(counter, 0);
        assert!(first_id >= first_session_id() - 10 * 1024, "{first_id}");
        store.save(5, &record(first_id)).await.unwrap();
        assert_eq!(
            other.load(5).await.unwrap(),
            Some(record(first_id)),
            "a replica sharing the store sees it"
        );
        other.close(5).await.unwrap();
        assert_eq!(store.load(5).await.unwrap(), None);
        let (counter, second_id) = other.open(5).await.unwrap();
        assert_eq!(counter, 1, "the user's second session");
        assert!(second_id > first_id, "ids grow across replicas");
        store.save(5, &record(second_id)).await.unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(store.load(5).await.unwrap(), None, "expired");
        assert_eq!(store.open(5).await.unwrap().0, 0, "the count expired too");
    });
}

#[test]
fn redis_store_errors_name_the_store_and_the_key_and_it_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let port = redis.port;
    let address = redis.address();
    let store = redis_store(&address, Duration::from_secs(60));
    let raw = Client::new(
        RedisUrl::parse(&format!("redis://{address}")).unwrap(),
        Options::default(),
    );
    block(async {
        raw.query(&[Command::new("SET")
            .arg("botify:user:7:session")
            .arg("not json")])
            .await
            .unwrap();
        let e = store.load(7).await.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "the session store redis://{address}/0 does not answer: "
            )) && e.contains("botify:user:7:session holds no session record")
                && e.ends_with(": not json"),
            "{e}"
        );
    });
    drop(redis);
    let e = block(store.load(1)).unwrap_err().to_string();
    assert!(e.contains(&format!("redis://{address}/0")), "{e}");
    let _redis = botify_sim_support::deploy::start_redis_on(dir.path(), port).unwrap();
    assert_eq!(block(store.load(1)).unwrap(), None, "back by itself");
    // Nothing listening at start: refused at once, naming the url.
    let (_refusing, port) = refusing_port().unwrap();
    let url = RedisUrl::parse(&format!("redis://:secret@127.0.0.1:{port}/0")).unwrap();
    let e = block(RedisStore::connect(url, Duration::from_secs(1)))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("redis://:***@127.0.0.1:") && !e.contains("secret"),
        "{e}"
    );
}
