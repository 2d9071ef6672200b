//! Unit tests of `core/src/recommend/console.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::interrupt::Lines;
use botify_sim::recommend::console::*;
use botify_sim::recommend::{RecRng, RecommendError, Recommender, SessionStart};
use botify_sim::world::Catalogue;
use rand::SeedableRng;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A shared buffer, to read what the console printed.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn console(input: &str) -> (Console, Shared) {
    console_of_bytes(input.as_bytes())
}

fn console_of_bytes(input: &[u8]) -> (Console, Shared) {
    let titles = ["Blue Moon", "Moonlight", "Sunny", "Rain"];
    let catalogue = Catalogue::new(
        1,
        vec![0.0; 4],
        vec![0, 0, 1, 2],
        vec!["Ella".into(), "Bob".into(), "Nina".into()],
        titles.iter().map(|t| t.to_string()).collect(),
        vec![0, 1, 2, 3],
    );
    let out = Shared::default();
    let terminal = Terminal {
        input: Arc::new(Lines::new(std::io::Cursor::new(input.to_vec()))),
        output: Box::new(out.clone()),
        echo: true,
    };
    (Console::new(Arc::new(catalogue), terminal), out)
}

fn printed(out: &Shared) -> String {
    String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn ids_titles_artists_and_lists_resolve_to_tracks() {
    // id; unique title part; ambiguous part picked from the list; an artist.
    let (console, out) = console("2\nrain\nmoon\n2\nNINA\n");
    let mut rng = RecRng::seed_from_u64(1);
    let start = SessionStart {
        user: 7,
        hidden_taste: 0,
    };
    let mut session = console.start(&start);
    assert_eq!(session.next(0, 1.0, &mut rng).unwrap(), 2);
    assert_eq!(session.next(2, 0.5, &mut rng).unwrap(), 3);
    assert_eq!(session.next(3, 0.25, &mut rng).unwrap(), 1);
    assert_eq!(session.next(1, 0.0, &mut rng).unwrap(), 3);
    let text = printed(&out);
    assert!(text.contains("user 7: a new session starts with 0 \"Blue Moon\" by Ella"));
    assert!(text.contains("2 \"Sunny\" by Bob listened 0.50, session total 0.50"));
    assert!(text.contains("session total 0.75"), "{text}");
    assert!(text.contains("  1. 0 \"Blue Moon\" by Ella\n  2. 1 \"Moonlight\" by Ella"));
    // Piped input is echoed after its prompt.
    assert!(text.contains("q quits)> moon\n"), "{text}");
}

#[test]
fn bad_input_asks_again_with_the_reason() {
    let (console, out) = console("\n99\nzzz\nmoon\n7\nmoon\nx\nmoon\n\n3\n");
    let mut rng = RecRng::seed_from_u64(1);
    let start = SessionStart {
        user: 1,
        hidden_taste: 0,
    };
    assert_eq!(console.start(&start).next(0, 1.0, &mut rng).unwrap(), 3);
    let text = printed(&out);
    for reason in [
        "empty input",
        "no track 99: ids are 0..3",
        "no title or artist contains \"zzz\"",
        "\"7\" is not a number from 1 to 2",
        "\"x\" is not a number from 1 to 2",
        "search again",
    ] {
        assert!(text.contains(reason), "{reason} missing from:\n{text}");
    }
}

/// After a bad pick the next line is a pick again, never a track id: "2" here is the
/// second match (track 1), not track 2.
#[test]
fn a_bad_pick_asks_for_the_pick_again() {
    let (console, out) = console("moon\n7\n2\n");
    let mut rng = RecRng::seed_from_u64(1);
    let start = SessionStart {
        user: 1,
        hidden_taste: 0,
    };
    assert_eq!(console.start(&start).next(0, 1.0, &mut rng).unwrap(), 1);
    let text = printed(&out);
    assert!(text.contains("\"7\" is not a number from 1 to 2"), "{text}");
    assert_eq!(text.matches("pick 1-2").count(), 2, "{text}");
}

/// A line that is not UTF-8 asks again, saying so; the session goes on.
#[test]
fn invalid_utf8_asks_again() {
    let (console, out) = console_of_bytes(b"\xffno\xfe\n2\n");
    let mut rng = RecRng::seed_from_u64(1);
    let start = SessionStart {
        user: 1,
        hidden_taste: 0,
    };
    assert_eq!(console.start(&start).next(0, 1.0, &mut rng).unwrap(), 2);
    let text = printed(&out);
    assert!(text.contains("not valid UTF-8 (byte 1 of it)"), "{text}");
}

#[test]
fn q_or_the_end_of_input_quits() {
    let mut rng = RecRng::seed_from_u64(1);
    let start = SessionStart {
        user: 1,
        hidden_taste: 0,
    };
    for input in ["q\n", "", "moon\nq\n", "Q\n"] {
        let (console, out) = console(input);
        let answer = console.start(&start).next(0, 1.0, &mut rng);
        assert!(matches!(answer, Err(RecommendError::Quit)), "{input:?}");
        // Every later session ends at once, without a word.
        let shown = printed(&out).len();
        let later = console.start(&start).next(0, 1.0, &mut rng);
        assert!(matches!(later, Err(RecommendError::Quit)));
        assert_eq!(printed(&out).len(), shown);
    }
}
