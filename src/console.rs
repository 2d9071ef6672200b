//! Standard output and error that a closed pipe cannot break: `sim run ... | head -1`
//! must still write every output file and exit quietly, so a reader that went away is
//! not an error (and `println!`/`eprintln!` would panic).

use std::io::{ErrorKind, Write};

/// Writes `text` to standard output; a closed pipe (`EPIPE`) is ignored.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes a line to standard error. Messages there are for a person; when nobody can
/// read them any more there is nobody to tell, so failures are ignored.
pub fn note(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// `eprintln!` that cannot panic: see [`note`].
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::console::note(&format!($($arg)*))
    };
}
