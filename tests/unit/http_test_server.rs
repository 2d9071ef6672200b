//! A scripted HTTP/1.1 server on a free loopback port, for the unit tests of
//! `core/src/http_client.rs` and `core/src/recommend/remote.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the server saw: per accepted connection, its requests (head and body).
pub type Seen = Arc<Mutex<Vec<Vec<String>>>>;

/// What the server does with a request.
pub enum Reply {
    /// Writes these bytes and keeps the connection.
    Send(String),
    /// Writes these bytes and closes the connection (no `Connection: close` said).
    SendAndClose(String),
    /// Answers nothing and keeps the connection until the client gives up.
    Silence,
}

/// Serves `reply(request number overall, from 1)` to each request; at most
/// `max_connections` connections, one after another, then stops.
pub fn start(
    max_connections: usize,
    reply: impl Fn(usize) -> Reply + Send + 'static,
) -> (String, Seen) {
    let (url, seen, _) = start_counting_closes(max_connections, reply);
    (url, seen)
}

/// `start`, and how many connections the server has closed so far: a test waits on it
/// instead of sleeping and hoping the close arrived (a loaded machine can take longer).
pub fn start_counting_closes(
    max_connections: usize,
    reply: impl Fn(usize) -> Reply + Send + 'static,
) -> (String, Seen, Arc<AtomicUsize>) {
    let closed = Arc::new(AtomicUsize::new(0));
    let closes = closed.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        let mut count = 0;
        for stream in listener.incoming().take(max_connections) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            record.lock().unwrap().push(Vec::new());
            while let Some(request) = read_request(&mut reader) {
                record.lock().unwrap().last_mut().unwrap().push(request);
                count += 1;
                match reply(count) {
                    Reply::Send(bytes) => stream.write_all(bytes.as_bytes()).unwrap(),
                    Reply::SendAndClose(bytes) => {
                        stream.write_all(bytes.as_bytes()).unwrap();
                        break;
                    }
                    Reply::Silence => {}
                }
            }
            drop((reader, stream));
            closes.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, seen, closed)
}

/// Waits (at most 10 s) until the server has closed `n` connections.
pub fn wait_for_closes(closed: &AtomicUsize, n: usize) {
    let start = std::time::Instant::now();
    while closed.load(Ordering::SeqCst) < n {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the server closed {} of {n} connections",
            closed.load(Ordering::SeqCst)
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            let l = l.to_ascii_lowercase();
            Some(
                l.strip_prefix("content-length:")?
                    .trim()
                    .parse::<usize>()
                    .unwrap(),
            )
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(head + &String::from_utf8(body).unwrap())
}

/// An answer with `status` and `body`.
pub fn answer(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}
