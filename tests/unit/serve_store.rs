//! Unit tests of `core/src/serve/store.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::recommend::SessionMemory;
use botify_sim::serve::store::*;
use std::time::Duration;

fn block<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
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

/// Cargo.toml pins `idna` to its stub back end (no ICU4X): redis URLs must still
/// parse, whatever their host, because `url` runs IDNA on http(s)-like URLs only.
#[test]
fn redis_urls_with_non_ascii_hosts_parse_without_an_idna_back_end() {
    for url in ["redis://bücher.example:6379/0", "redis://127.0.0.1/1"] {
        assert!(redis::Client::open(url).is_ok(), "{url}");
    }
}
