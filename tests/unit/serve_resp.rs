//! Unit tests of `core/src/serve/resp.rs` (moved out of the library: see `tests/unit/mod.rs`):
//! urls, the parser on every reply type split at every byte, hostile servers (scripted on
//! a loopback socket), and a real `redis-server` (installed by `.ci/run`; without it these
//! fail, they do not skip).

use super::serve_store::block;
use botify_sim::commands::serve::StateChoice;
use botify_sim::serve::resp::*;
use botify_sim_support::deploy::start_redis;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn url(text: &str) -> RedisUrl {
    RedisUrl::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn urls_the_redis_crate_accepted_parse_to_host_port_auth_and_db() {
    let u = url("redis://127.0.0.1/1");
    assert_eq!((u.host.as_str(), u.port, u.db), ("127.0.0.1", 6379, 1));
    assert_eq!((u.username, u.password), (None, None));
    // No IDNA: a non-ASCII host is given to the name lookup as it is.
    assert_eq!(url("redis://bücher.example:6379/0").host, "bücher.example");
    for bare in [
        "redis://localhost",
        "redis://localhost:",
        "redis://localhost/",
    ] {
        let u = url(bare);
        assert_eq!(
            (u.port, u.db, u.address()),
            (6379, 0, "localhost:6379".into())
        );
        assert_eq!(u.shown, bare);
    }
    let u = url("redis://[::1]:7000/3");
    assert_eq!((u.host.as_str(), u.port, u.db), ("::1", 7000, 3));
    assert_eq!(u.address(), "[::1]:7000");
    let u = url("redis://alice:p%40ss%3Aw@host:1/2");
    assert_eq!(u.username.as_deref(), Some("alice"));
    assert_eq!(u.password.as_deref(), Some("p@ss:w"));
    assert_eq!(u.shown, "redis://alice:***@host:1/2");
    let u = url("redis://:secret@host");
    assert_eq!((u.username, u.password.as_deref()), (None, Some("secret")));
    assert_eq!(u.shown, "redis://:***@host");
    let u = url("redis://alice@host");
    assert_eq!((u.username.as_deref(), u.password), (Some("alice"), None));
}

#[test]
fn malformed_urls_are_refused_naming_the_fault() {
    for (bad, fault) in [
        ("redis://", "no host"),
        ("redis:///0", "no host"),
        ("redis://:pw@/0", "no host"),
        ("http://host", "does not start with"),
        ("rediss://host", "does not start with"),
        ("redis://host:port", "\"port\""),
        ("redis://host:0", "\"0\""),
        ("redis://host:65536", "\"65536\""),
        ("redis://host/abc", "\"abc\""),
        ("redis://host/-1", "\"-1\""),
        ("redis://host?protocol=resp3", "query"),
        ("redis://host#insecure", "fragment"),
        ("redis://[::1", "closing ]"),
        ("redis://[nothost]:1", "IPv6"),
        ("redis://[::1]x", ":port"),
        ("redis://u:%ZZ@host", "password"),
        ("redis://u:%FF@host", "password"),
        ("redis://%@host", "user name"),
        ("redis://ho st", "space"),
    ] {
        let e = RedisUrl::parse(bad).expect_err(bad).to_string();
        assert!(
            e.contains("is not a Redis url") && e.contains(fault),
            "{bad}: {e}"
        );
    }
    // `sim serve --state` refuses it before it touches anything.
    let e = StateChoice::parse("redis://host:port/0").err().unwrap();
    assert!(e.to_string().starts_with("--state: "), "{e}");
}

fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(bytes.to_vec())
}

/// Every reply type on the wire, with what it parses to.
fn samples() -> Vec<(&'static [u8], Reply)> {
    use Reply::*;
    vec![
        (b"+OK\r\n", Status("OK".into())),
        (b"+\r\n", Status(String::new())),
        (b"-ERR wrong kind\r\n", Error("ERR wrong kind".into())),
        (b":0\r\n", Integer(0)),
        (b":-42\r\n", Integer(-42)),
        (b":9223372036854775807\r\n", Integer(i64::MAX)),
        (b":-9223372036854775808\r\n", Integer(i64::MIN)),
        (b"$5\r\nhello\r\n", bulk(b"hello")),
        (b"$0\r\n\r\n", bulk(b"")),
        (b"$6\r\na\r\n\xff\nb\r\n", bulk(b"a\r\n\xff\nb")),
        (b"$-1\r\n", Nil),
        (b"*-1\r\n", Nil),
        (b"*0\r\n", Array(vec![])),
        (
            b"*3\r\n:1\r\n$3\r\ntwo\r\n*2\r\n+OK\r\n*1\r\n$-1\r\n",
            Array(vec![
                Integer(1),
                bulk(b"two"),
                Array(vec![Status("OK".into()), Array(vec![Nil])]),
            ]),
        ),
        (
            b"*2\r\n*0\r\n-ERR inside\r\n",
            Array(vec![Array(vec![]), Error("ERR inside".into())]),
        ),
    ]
}

/// What a connection does: appends each chunk as it arrives, takes every whole reply.
fn parse_chunks(chunks: &[&[u8]], limits: Limits) -> Result<Vec<Reply>, RespError> {
    let mut parser = ReplyParser::new(limits);
    let mut received = Vec::new();
    let mut replies = Vec::new();
    for chunk in chunks {
        received.extend_from_slice(chunk);
        loop {
            let (taken, reply) = parser.feed(&received)?;
            received.drain(..taken);
            match reply {
                Some(reply) => replies.push(reply),
                None => break,
            }
        }
    }
    assert!(received.is_empty(), "left over: {received:?}");
    Ok(replies)
}

#[test]
fn every_reply_type_parses_whole_and_split_at_every_byte() {
    let samples = samples();
    let expected: Vec<Reply> = samples.iter().map(|(_, r)| r.clone()).collect();
    for (wire, reply) in &samples {
        assert_eq!(
            parse_chunks(&[*wire], Limits::default()).unwrap(),
            std::slice::from_ref(reply)
        );
    }
    let stream: Vec<u8> = samples
        .iter()
        .flat_map(|(w, _)| w.iter().copied())
        .collect();
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(
            parse_chunks(&[a, b], Limits::default()).unwrap(),
            expected,
            "cut at {cut}"
        );
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(parse_chunks(&bytes, Limits::default()).unwrap(), expected);
}

#[test]
fn a_command_is_a_resp_array_of_bulk_strings() {
    let command = Command::new("SET")
        .arg("k")
        .arg(b"a\r\n\xffb")
        .arg(7.to_string());
    let mut wire = Vec::new();
    command.encode(&mut wire);
    assert_eq!(
        wire,
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\n\xffb\r\n$1\r\n7\r\n".to_vec()
    );
    assert_eq!(command.name(), "SET");
}

fn small() -> Limits {
    Limits {
        max_reply_bytes: 1024,
        max_line_bytes: 64,
    }
}

/// The parser's error on `input` fed whole (it must not ask for more bytes).
fn refused(input: &[u8], limits: Limits) -> String {
    let mut parser = ReplyParser::new(limits);
    match parser.feed(input) {
        Err(e) => e.to_string(),
        Ok(result) => panic!(
            "{:?}: accepted as {result:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

#[test]
fn malformed_replies_are_errors_not_requests_for_more_bytes() {
    for (input, fault) in [
        (&b"?x\r\n"[..], "byte 0x3f"),
        (b"_\r\n", "byte 0x5f"), // RESP3's null: this client speaks RESP2
        (b"#t\r\n", "byte 0x23"),
        (b"HTTP/1.1 200 OK\r\n", "byte 0x48"),
        (b":abc\r\n", "\"abc\" is not an integer"),
        (b":+5\r\n", "not an integer"),
        (b":\r\n", "not an integer"),
        (b":99999999999999999999\r\n", "not an integer"),
        (b"$x\r\n", "not an integer"),
        (b"$-2\r\n", "length -2"),
        (b"*-5\r\n", "length -5"),
        (b"$3\r\nabcXY", "not followed by \\r\\n"),
        (b"+OK\n", "not ended by \\r\\n"),
        (b"+\n", "not ended by \\r\\n"),
        (b"\n", "byte 0x0a"),
        (b"*2\r\n:1\r\n+OK\n", "not ended by \\r\\n"),
    ] {
        let e = refused(input, Limits::default());
        assert!(
            e.contains(fault),
            "{:?}: {e}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn oversize_replies_are_refused_before_their_bytes_arrive() {
    // Declared sizes over the limit: refused from the header alone.
    for (input, fault) in [
        (&b"$1025\r\n"[..], "bulk string of 1025 bytes"),
        (b"$9223372036854775807\r\n", "bulk string"),
        (b"*1000000000\r\n", "array of 1000000000"),
        (b"*9223372036854775807\r\n", "array"),
    ] {
        let e = refused(input, small());
        assert!(e.contains(fault) && e.contains("1024 bytes"), "{e}");
    }
    // Within the limit one by one, over it together.
    let mut two = b"*2\r\n$600\r\n".to_vec();
    two.extend([b'a'; 600]);
    two.extend(b"\r\n$600\r\n");
    assert!(refused(&two, small()).contains("bulk string of 600"));
    // Arrays in arrays: each level costs, so endless nesting ends.
    assert!(refused(&b"*1\r\n".repeat(1000), small()).contains("over 1024 bytes"));
    // A line with no end in sight: refused once it is longer than allowed.
    let mut endless = b"+".to_vec();
    endless.extend([b'a'; 70]);
    assert!(refused(&endless, small()).contains("line longer than 64"));
    let mut parser = ReplyParser::new(small());
    assert!(matches!(parser.feed(&endless[..60]), Ok((0, None))));
    // The limit is per reply: many replies of the same size each pass.
    let mut many = Vec::new();
    for _ in 0..100 {
        many.extend(b"$600\r\n");
        many.extend([b'a'; 600]);
        many.extend(b"\r\n");
    }
    assert_eq!(parse_chunks(&[&many], small()).unwrap().len(), 100);
}

/// A scripted server on a free loopback port: each connection gets the next answer
/// (written once the client has sent something), then is held open until the client
/// closes it, or closed if `close` says so.
fn scripted_server(answers: Vec<(Vec<u8>, bool)>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        for (answer, close) in answers {
            let (mut socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request);
            let _ = socket.write_all(&answer);
            if !close {
                // Until the client hangs up (bounded by the read timeout).
                while matches!(socket.read(&mut request), Ok(n) if n > 0) {}
            }
        }
    });
    (address, handle)
}

fn client_of(address: &str, reply_timeout: Duration) -> Client {
    Client::new(
        url(&format!("redis://{address}")),
        Options {
            reply_timeout,
            ..Options::default()
        },
    )
}

#[test]
fn a_broken_server_gives_errors_and_the_next_request_connects_again() {
    let mut endless_line = b"+".to_vec();
    endless_line.extend(vec![b'a'; 200 << 10]);
    let mut cut_bulk = b"$100\r\n".to_vec();
    cut_bulk.extend([b'a'; 50]);
    let script = vec![
        (b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), false),
        (b"$4294967296\r\n".to_vec(), false),
        (endless_line, false),
        (cut_bulk, true),
        (b"+PONG\r\n".to_vec(), false),
    ];
    let (address, server) = scripted_server(script);
    let client = client_of(&address, Duration::from_secs(10));
    let ping = [Command::new("PING")];
    block(async {
        for fault in [
            "not a RESP2 reply: byte 0x48",
            "bulk string of 4294967296 bytes",
            "line longer than 65536",
            "the server closed the connection",
        ] {
            let e = client.query(&ping).await.expect_err(fault).to_string();
            assert!(e.contains(fault), "{e}");
        }
        assert_eq!(
            client.query(&ping).await.unwrap(),
            [Reply::Status("PONG".into())]
        );
    });
    drop(client);
    server.join().unwrap();
}

#[test]
fn a_server_that_never_answers_times_out() {
    let (address, server) = scripted_server(vec![(Vec::new(), false)]);
    let client = client_of(&address, Duration::from_millis(300));
    let start = Instant::now();
    let e = block(client.query(&[Command::new("PING")])).unwrap_err();
    assert!(matches!(e, RespError::Timeout(_)), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "a hang guard only"
    );
    drop(client);
    server.join().unwrap();
}

#[test]
fn nothing_listening_is_a_connect_error_naming_the_address() {
    let port = botify_sim_support::deploy::refusing_port().unwrap().1;
    let client = client_of(&format!("127.0.0.1:{port}"), Duration::from_secs(2));
    let e = block(client.query(&[Command::new("PING")])).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
        "{e}"
    );
}

#[test]
fn a_pipeline_of_set_get_and_eval_round_trips_through_redis() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let client = client_of(&redis.address(), Duration::from_secs(5));
    let binary = b"a\r\n\x00\xff".to_vec();
    let large: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    block(async {
        let replies = client
            .query(&[
                Command::new("SET").arg("k").arg(&binary),
                Command::new("SET").arg("large").arg(&large),
                Command::new("GET").arg("k"),
                Command::new("GET").arg("missing"),
                Command::new("GET").arg("large"),
                Command::new("EVAL")
                    .arg("return {1, 'two', {KEYS[1], redis.status_reply('OK')}, ARGV[1] + 1}")
                    .arg("1")
                    .arg("key")
                    .arg("41"),
                Command::new("INCR").arg("counter"),
            ])
            .await
            .unwrap();
        use Reply::*;
        assert_eq!(
            replies,
            [
                Status("OK".into()),
                Status("OK".into()),
                Bulk(binary.clone()),
                Nil,
                Bulk(large.clone()),
                Array(vec![
                    Integer(1),
                    bulk(b"two"),
                    Array(vec![bulk(b"key"), Status("OK".into())]),
                    Integer(42),
                ]),
                Integer(1),
            ]
        );
        // A transaction: every command's own reply, in order.
        let replies = client
            .transaction(&[
                Command::new("INCR").arg("counter"),
                Command::new("PEXPIRE").arg("counter").arg("60000"),
                Command::new("DEL").arg("k"),
            ])
            .await
            .unwrap();
        assert_eq!(replies, [Integer(2), Integer(1), Integer(1)]);
    });
}

#[test]
fn error_replies_name_their_command_and_leave_the_connection_usable() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let client = client_of(&redis.address(), Duration::from_secs(5));
    block(async {
        client
            .query(&[Command::new("SET").arg("text").arg("abc")])
            .await
            .unwrap();
        let e = client
            .query(&[
                Command::new("GET").arg("text"),
                Command::new("INCR").arg("text"),
            ])
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("INCR: ERR value is not an integer"),
            "{e}"
        );
        // Failed when run inside a transaction, and refused when queued (wrong arity).
        let e = client
            .transaction(&[
                Command::new("SET").arg("x").arg("1"),
                Command::new("INCR").arg("text"),
            ])
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("INCR: ERR value is not"), "{e}");
        let e = client
            .transaction(&[Command::new("GET")])
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("GET: ERR wrong number"), "{e}");
        let replies = client.query(&[Command::new("GET").arg("x")]).await.unwrap();
        assert_eq!(replies, [bulk(b"1")], "the run-time failure ran the rest");
    });
}

#[test]
fn the_url_selects_the_database_and_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let address = redis.address();
    let client = |text: String| Client::new(url(&text), Options::default());
    let get = |key: &str| [Command::new("GET").arg(key)];
    block(async {
        let db2 = client(format!("redis://{address}/2"));
        db2.query(&[Command::new("SET").arg("where").arg("two")])
            .await
            .unwrap();
        let db0 = client(format!("redis://{address}"));
        assert_eq!(db0.query(&get("where")).await.unwrap(), [Reply::Nil]);
        assert_eq!(db2.query(&get("where")).await.unwrap(), [bulk(b"two")]);

        db0.query(&[
            Command::new("ACL")
                .arg("SETUSER")
                .arg("alice")
                .arg("on")
                .arg(">al:ce pw")
                .arg("~*")
                .arg("+@all"),
            Command::new("CONFIG")
                .arg("SET")
                .arg("requirepass")
                .arg("s3cr@t"),
        ])
        .await
        .unwrap();
        let anonymous = client(format!("redis://{address}"));
        let e = anonymous
            .query(&get("where"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("GET: NOAUTH"), "{e}");
        let wrong = client(format!("redis://:nope@{address}/2"));
        let e = wrong.query(&get("where")).await.unwrap_err().to_string();
        assert!(
            e.starts_with("AUTH: WRONGPASS") && !e.contains("nope"),
            "{e}"
        );
        let default_user = client(format!("redis://:s3cr%40t@{address}/2"));
        assert_eq!(
            default_user.url().shown,
            format!("redis://:***@{address}/2")
        );
        assert_eq!(
            default_user.query(&get("where")).await.unwrap(),
            [bulk(b"two")]
        );
        let alice = client(format!("redis://alice:al%3Ace%20pw@{address}/2"));
        assert_eq!(alice.query(&get("where")).await.unwrap(), [bulk(b"two")]);
    });
}

#[test]
fn the_client_reconnects_after_redis_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_redis(dir.path()).unwrap();
    let port = redis.port;
    let client = client_of(&redis.address(), Duration::from_secs(5));
    let ping = [Command::new("PING")];
    let pong = [Reply::Status("PONG".into())];
    block(async {
        // Four requests at once: four connections, all idle in the pool afterwards.
        let (a, b, c, d) = tokio::join!(
            client.query(&ping),
            client.query(&ping),
            client.query(&ping),
            client.query(&ping)
        );
        for reply in [a, b, c, d] {
            assert_eq!(reply.unwrap(), pong);
        }
    });
    // Restarted while the pool was idle: no request sees the dead connections.
    drop(redis);
    let redis = botify_sim_support::deploy::start_redis_on(dir.path(), port).unwrap();
    block(async {
        for _ in 0..5 {
            assert_eq!(client.query(&ping).await.unwrap(), pong);
        }
    });
    // Gone: an error at once (no retry), until it is back.
    drop(redis);
    let e = block(client.query(&ping)).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot connect to 127.0.0.1:{port}")),
        "{e}"
    );
    let _redis = botify_sim_support::deploy::start_redis_on(dir.path(), port).unwrap();
    assert_eq!(block(client.query(&ping)).unwrap(), pong);
}
