//! `console`: a person is the recommender. Each step shows the user, the previous track
//! (id, title, artist), its listen time and the session's running total, and reads the
//! next track: an id, or part of a title or artist that resolves to a short numbered list
//! to pick from. Bad input asks again with the reason; `q` or the end of the input ends
//! the run cleanly ([`RecommendError::Quit`]).
//!
//! It reads only what a real service sees (ids, titles, artists): the hidden taste is
//! never shown. Runs with a console arm use one worker, so prompts never interleave.

use super::{RecRng, RecSession, RecommendError, Recommender, SessionStart};
use crate::interrupt::{Input, Lines};
use crate::world::Catalogue;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// At most this many search matches are listed to pick from.
const MAX_MATCHES: usize = 10;

/// The person's side of the console: where lines come from and prompts go.
pub struct Terminal {
    /// Read on a thread of its own, so that Ctrl-C ends a prompt at once.
    pub input: Arc<Lines>,
    pub output: Box<dyn Write + Send>,
    /// Write each line read after its prompt: piped input is not echoed by a terminal, and
    /// a scripted lesson's transcript should read like a typed one.
    pub echo: bool,
}

impl Terminal {
    /// Standard input, prompts on standard error (standard output keeps the run summary).
    pub fn stdio() -> Terminal {
        Terminal {
            input: Lines::stdin(),
            output: Box::new(std::io::stderr()),
            echo: !std::io::stdin().is_terminal(),
        }
    }
}

pub struct Console {
    catalogue: Arc<Catalogue>,
    terminal: Mutex<Terminal>,
    /// Set at `q`: sessions still queued in the runner's block end at once, silently.
    quit: AtomicBool,
}

impl Console {
    pub fn new(catalogue: Arc<Catalogue>, terminal: Terminal) -> Console {
        Console {
            catalogue,
            terminal: Mutex::new(terminal),
            quit: AtomicBool::new(false),
        }
    }

    fn describe(&self, track: u32) -> String {
        let cat = &self.catalogue;
        format!(
            "{track} \"{}\" by {}",
            cat.titles[track as usize],
            cat.artist_name(track)
        )
    }

    /// Tracks whose title or artist contains `text`, ignoring case, by id; and how many
    /// there are in all.
    fn search(&self, text: &str) -> (Vec<u32>, usize) {
        let needle = text.to_lowercase();
        let cat = &self.catalogue;
        let mut found = Vec::new();
        let mut count = 0;
        for track in 0..cat.len() as u32 {
            if cat.titles[track as usize].to_lowercase().contains(&needle)
                || cat.artist_name(track).to_lowercase().contains(&needle)
            {
                count += 1;
                if found.len() < MAX_MATCHES {
                    found.push(track);
                }
            }
        }
        (found, count)
    }
}

/// What a line of input asks for.
enum Reply {
    Track(u32),
    Quit,
    /// Ask again, saying why.
    Again(String),
}

impl Recommender for Console {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        Box::new(ConsoleSession {
            console: self,
            user: start.user,
            steps: 0,
            total: 0.0,
        })
    }
}

struct ConsoleSession<'a> {
    console: &'a Console,
    user: u32,
    steps: u32,
    /// Listen time of the recommended tracks so far (the course's reward).
    total: f64,
}

impl ConsoleSession<'_> {
    /// Reads lines until one names a track (or quits).
    fn ask(&self, terminal: &mut Terminal) -> std::io::Result<Option<u32>> {
        loop {
            write!(
                terminal.output,
                "next track for user {} (an id, or part of a title or artist; q quits)> ",
                self.user
            )?;
            terminal.output.flush()?;
            let Read::Line(line) = read_line(terminal)? else {
                writeln!(terminal.output)?;
                return Ok(None);
            };
            match self.interpret(line.trim(), terminal)? {
                Reply::Track(track) => return Ok(Some(track)),
                Reply::Quit => return Ok(None),
                Reply::Again(reason) => writeln!(terminal.output, "  {reason}")?,
            }
        }
    }

    fn interpret(&self, text: &str, terminal: &mut Terminal) -> std::io::Result<Reply> {
        let n = self.console.catalogue.len();
        if text.is_empty() {
            return Ok(Reply::Again(
                "empty input: type a track id, part of a title or artist, or q".into(),
            ));
        }
        if text.eq_ignore_ascii_case("q") {
            return Ok(Reply::Quit);
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(match text.parse::<u64>() {
                Ok(id) if id < n as u64 => Reply::Track(id as u32),
                _ => Reply::Again(format!(
                    "no track {text}: ids are 0..{}",
                    n.saturating_sub(1)
                )),
            });
        }
        let (found, count) = self.console.search(text);
        match found.as_slice() {
            [] => Ok(Reply::Again(format!(
                "no title or artist contains {text:?}"
            ))),
            [only] => {
                writeln!(terminal.output, "  -> {}", self.console.describe(*only))?;
                Ok(Reply::Track(*only))
            }
            _ => self.pick(&found, count, terminal),
        }
    }

    /// Lists `found` and reads the number of the one to play.
    fn pick(&self, found: &[u32], count: usize, terminal: &mut Terminal) -> std::io::Result<Reply> {
        for (i, track) in found.iter().enumerate() {
            writeln!(
                terminal.output,
                "  {}. {}",
                i + 1,
                self.console.describe(*track)
            )?;
        }
        if count > found.len() {
            writeln!(
                terminal.output,
                "  ({count} matches, the first {} shown: type more of the name to narrow)",
                found.len()
            )?;
        }
        // A bad pick asks for the pick again: the next line is never taken for an id.
        loop {
            write!(
                terminal.output,
                "pick 1-{} (Enter: search again, q quits)> ",
                found.len()
            )?;
            terminal.output.flush()?;
            let Read::Line(line) = read_line(terminal)? else {
                return Ok(Reply::Quit);
            };
            let choice = line.trim();
            if choice.eq_ignore_ascii_case("q") {
                return Ok(Reply::Quit);
            }
            match choice.parse::<usize>() {
                Ok(k) if (1..=found.len()).contains(&k) => return Ok(Reply::Track(found[k - 1])),
                _ if choice.is_empty() => return Ok(Reply::Again("search again".into())),
                _ => writeln!(
                    terminal.output,
                    "  {choice:?} is not a number from 1 to {}",
                    found.len()
                )?,
            }
        }
    }
}

/// What a read of the console's input gave.
enum Read {
    Line(String),
    /// The end of the input, or Ctrl-C: the run ends.
    End,
}

/// One line of input. A line that is not UTF-8 is not a failure: the person is asked
/// again, saying why.
fn read_line(terminal: &mut Terminal) -> std::io::Result<Read> {
    loop {
        let line = match terminal.input.next() {
            Input::Line(line) => line,
            Input::End => return Ok(Read::End),
            Input::Interrupted => {
                writeln!(terminal.output)?;
                return Ok(Read::End);
            }
            Input::Failed(e) => return Err(e),
        };
        match String::from_utf8(line) {
            Ok(line) => {
                if terminal.echo {
                    writeln!(terminal.output, "{}", line.trim_end())?;
                }
                return Ok(Read::Line(line));
            }
            Err(bad) => {
                if terminal.echo {
                    writeln!(
                        terminal.output,
                        "{}",
                        String::from_utf8_lossy(bad.as_bytes()).trim_end()
                    )?;
                }
                write!(
                    terminal.output,
                    "  that line is not valid UTF-8 (byte {} of it): type it again> ",
                    bad.utf8_error().valid_up_to() + 1
                )?;
                terminal.output.flush()?;
            }
        }
    }
}

fn io_failed(e: std::io::Error) -> RecommendError {
    RecommendError::Failed(format!("console: {e}"))
}

impl RecSession for ConsoleSession<'_> {
    fn next(
        &mut self,
        prev_track: u32,
        prev_time: f64,
        _rng: &mut RecRng,
    ) -> Result<u32, RecommendError> {
        if self.console.quit.load(Ordering::Relaxed) {
            return Err(RecommendError::Quit);
        }
        // A poisoned lock only means another session panicked: the terminal is still usable.
        let mut terminal = self
            .console
            .terminal
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if self.steps == 0 {
            writeln!(
                terminal.output,
                "\nuser {}: a new session starts with {} (listen time 1.00)",
                self.user,
                self.console.describe(prev_track)
            )
            .map_err(io_failed)?;
        } else {
            self.total += prev_time;
            writeln!(
                terminal.output,
                "user {}, step {}: {} listened {prev_time:.2}, session total {:.2}",
                self.user,
                self.steps,
                self.console.describe(prev_track),
                self.total
            )
            .map_err(io_failed)?;
        }
        match self.ask(&mut terminal).map_err(io_failed)? {
            Some(track) => {
                self.steps += 1;
                Ok(track)
            }
            None => {
                self.console.quit.store(true, Ordering::Relaxed);
                Err(RecommendError::Quit)
            }
        }
    }

    fn end(&mut self, last_track: u32, last_time: f64) -> Result<(), RecommendError> {
        let mut terminal = self
            .console
            .terminal
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        writeln!(
            terminal.output,
            "user {}, step {}: {} listened {last_time:.2}; the session ends: {} tracks, total {:.2}",
            self.user,
            self.steps,
            self.console.describe(last_track),
            self.steps,
            self.total + last_time
        )
        .map_err(io_failed)
    }
}
