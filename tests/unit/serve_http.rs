//! Unit tests of `core/src/serve/http.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::serve::http::*;

#[test]
fn hypers_bare_error_heads_get_a_json_body_and_answers_of_the_service_do_not() {
    let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Sun, 29 Nov 2026 18:00:00 GMT\r\n\r\n";
    let answer = String::from_utf8(json_parse_error_answer(bare).unwrap()).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert!(head.contains("date: Sun"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["status"], 400);
    assert!(json["error"].as_str().unwrap().contains("not HTTP"));
    let large = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
    let answer = String::from_utf8(json_parse_error_answer(large).unwrap()).unwrap();
    assert!(
        answer.contains("\"status\":431") && answer.contains("8192 bytes"),
        "{answer}"
    );

    // Answers of the service itself (a content-type, a body) pass untouched.
    let own =
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
    assert_eq!(json_parse_error_answer(own), None);
    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    assert_eq!(json_parse_error_answer(ok), None);
    let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}";
    assert_eq!(json_parse_error_answer(with_body), None);
}
