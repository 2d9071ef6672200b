//! Ctrl-C and SIGTERM: a stop flag that long work checks between blocks of episodes and
//! between training batches, the error saying work stopped because of it (exit code 130),
//! and the means for work that waits (a prompt, a child process) to hear of it at once.
//!
//! Every signal does the same as the first: a second Ctrl-C, pressed because the first
//! seemed to do nothing, must not throw away what the first one is saving. So no signal
//! ends the process; each sets the flag and tells the listeners.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

/// The shell's 128 + SIGINT.
pub const EXIT_CODE: u8 = 130;

#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted by Ctrl-C")]
pub struct Interrupted;

/// Whether `error` or one of its causes is an [`Interrupted`].
pub fn is_interrupted(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<Interrupted>())
}

/// `Err(Interrupted)` once Ctrl-C was pressed.
pub fn check(stop: &AtomicBool) -> Result<(), Interrupted> {
    if stop.load(Ordering::Relaxed) {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// Told of each signal (its number); dropped when it returns `false`.
type Listener = Box<dyn FnMut(i32) -> bool + Send>;

struct Signals {
    stop: Arc<AtomicBool>,
    /// The last signal received (0: none yet).
    last: AtomicI32,
    listeners: Mutex<Vec<Listener>>,
}

static SIGNALS: OnceLock<Signals> = OnceLock::new();

fn signals() -> &'static Signals {
    SIGNALS.get_or_init(|| Signals {
        stop: Arc::new(AtomicBool::new(false)),
        last: AtomicI32::new(0),
        listeners: Mutex::new(Vec::new()),
    })
}

/// SIGINT, SIGTERM and SIGHUP set the returned flag, every time, and tell the listeners
/// ([`on_signal`]); none ends the process. Installed once; later calls return the same
/// flag.
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    let state = signals();
    INSTALLED.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        // Fails only when the process may not catch these: then they end it, as before.
        let Ok(mut incoming) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in incoming.forever() {
                    state.last.store(signal, Ordering::SeqCst);
                    state.stop.store(true, Ordering::SeqCst);
                    let mut listeners = state
                        .listeners
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    listeners.retain_mut(|listener| listener(signal));
                }
            });
        drop(spawned);
    });
    Arc::clone(&state.stop)
}

/// Whether a signal arrived.
pub fn requested() -> bool {
    signals().stop.load(Ordering::SeqCst)
}

/// The last signal received, if any.
pub fn last_signal() -> Option<i32> {
    Some(signals().last.load(Ordering::SeqCst)).filter(|&s| s != 0)
}

/// Calls `listener` with each signal from now on, on the signal thread, until it returns
/// `false`. If one arrived already, it is called at once with it.
pub fn on_signal(mut listener: impl FnMut(i32) -> bool + Send + 'static) {
    let state = signals();
    let mut listeners = state
        .listeners
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(signal) = last_signal()
        && !listener(signal)
    {
        return;
    }
    listeners.push(Box::new(listener));
}

/// One read of a [`Lines`].
#[derive(Debug)]
pub enum Input {
    /// A line, its end of line included, as bytes (it may not be UTF-8).
    Line(Vec<u8>),
    /// The end of the input.
    End,
    /// Reading failed.
    Failed(std::io::Error),
    /// Ctrl-C or SIGTERM: the reader stops waiting at once.
    Interrupted,
}

/// Lines of an input, read on a thread of their own, so that a signal ends the wait for
/// the next one at once: a read of standard input blocked in the kernel is not ended by
/// a signal whose handler asks to restart it.
pub struct Lines {
    inbox: Mutex<Receiver<Input>>,
}

impl Lines {
    /// Starts reading `input`. Its thread ends at the end of the input or when `Lines`
    /// is dropped and the next line arrives.
    pub fn new(mut input: impl BufRead + Send + 'static) -> Lines {
        let (tx, inbox) = std::sync::mpsc::channel();
        let to_reader: Sender<Input> = tx.clone();
        on_signal(move |_| to_reader.send(Input::Interrupted).is_ok());
        let reader = std::thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                loop {
                    let mut line = Vec::new();
                    let read = match input.read_until(b'\n', &mut line) {
                        Ok(0) => Input::End,
                        Ok(_) => Input::Line(line),
                        Err(e) => Input::Failed(e),
                    };
                    let last = !matches!(read, Input::Line(_));
                    if tx.send(read).is_err() || last {
                        return;
                    }
                }
            });
        if let Err(e) = reader {
            // No thread: the first read says why.
            let (tx, inbox) = std::sync::mpsc::channel();
            let _ = tx.send(Input::Failed(e));
            return Lines {
                inbox: Mutex::new(inbox),
            };
        }
        Lines {
            inbox: Mutex::new(inbox),
        }
    }

    /// Standard input's lines: one reader for the whole process, so that two prompts
    /// never race for a line.
    pub fn stdin() -> Arc<Lines> {
        static STDIN: OnceLock<Arc<Lines>> = OnceLock::new();
        Arc::clone(
            STDIN.get_or_init(|| Arc::new(Lines::new(std::io::BufReader::new(std::io::stdin())))),
        )
    }

    /// The next line, or why there is none. After a signal, always [`Input::Interrupted`].
    pub fn next(&self) -> Input {
        if requested() {
            return Input::Interrupted;
        }
        let inbox = self
            .inbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match inbox.recv() {
            Ok(_) if requested() => Input::Interrupted,
            Ok(input) => input,
            Err(_) => Input::End,
        }
    }
}
