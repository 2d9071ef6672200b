//! Terminal conventions shared by every command: results on stdout ([`out!`](crate::out),
//! which survives a closed pipe), progress and messages on stderr (silenced by `--quiet`),
//! colour by `--color` and `NO_COLOR`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// When to colour a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether stdout gets ANSI colours (<https://no-color.org>: `--color always` wins over
    /// `NO_COLOR`, which wins over a terminal).
    pub fn for_stdout(self) -> bool {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        self.decide(no_color, std::io::stdout().is_terminal())
    }

    pub fn decide(self, no_color: bool, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && !no_color,
        }
    }
}

/// `--color`, a flag of every command (`sim bench --color never` is accepted even though
/// only the A/B tables are ever coloured), as a [`ColorChoice`] discriminant.
static COLOR: AtomicU8 = AtomicU8::new(ColorChoice::Auto as u8);

/// `--color`: how [`color_for_stdout`] decides from now on.
pub fn set_color(choice: ColorChoice) {
    COLOR.store(choice as u8, Ordering::Relaxed);
}

/// Whether a table printed on stdout gets colours: `--color`, then `NO_COLOR`, then
/// whether stdout is a terminal.
pub fn color_for_stdout() -> bool {
    let choice = match COLOR.load(Ordering::Relaxed) {
        c if c == ColorChoice::Always as u8 => ColorChoice::Always,
        c if c == ColorChoice::Never as u8 => ColorChoice::Never,
        _ => ColorChoice::Auto,
    };
    choice.for_stdout()
}

/// An error and its causes on one line, each said once. Many errors already name their
/// cause (`{path}: cannot read: {source}`), and `{:#}` would print it twice:
/// `x: cannot read: No such file or directory (os error 2): No such file or directory (os error 2)`.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: from now on, [`note!`](crate::note) prints nothing and progress bars are hidden.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Like `eprintln!`, for progress and informational messages that `--quiet` silences
/// (warnings and errors go through [`problem!`](crate::problem): they are always shown).
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::terminal::is_quiet() {
            $crate::terminal::note(format_args!($($arg)*));
        }
    };
}

/// A warning or an error on stderr, shown even with `--quiet`: a quiet run that fails
/// must still say why.
#[macro_export]
macro_rules! problem {
    ($($arg:tt)*) => {
        $crate::terminal::note(format_args!($($arg)*))
    };
}

/// Writes a line to stderr. Messages there are for a person; when nobody can read them
/// any more there is nobody to tell, so a failed write is ignored (`eprintln!` panics).
pub fn note(line: std::fmt::Arguments) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(line).and_then(|()| err.write_all(b"\n"));
}

/// Writes one line of results to stdout. A reader that went away (`sim run | head`) is
/// not an error: the rest of the output is dropped and the command goes on to write its
/// files, where `println!` would panic.
pub fn print_line(line: std::fmt::Arguments) {
    use std::io::Write;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .is_err()
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Writes `text` (whole lines) to stdout, as [`print_line`] does: a closed pipe is not an error.
pub fn print(text: &str) {
    print_line(format_args!("{}", text.trim_end_matches('\n')));
}

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// `println!` for results: see [`print_line`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::terminal::print_line(format_args!($($arg)*))
    };
}
