//! Ctrl-C: a stop flag that long work checks between blocks of episodes and between
//! training batches, and the error saying work stopped because of it (exit code 130).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Ctrl-C sets the returned flag; a second Ctrl-C exits at once.
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Fails only if a handler is already installed, and then that one stays in charge.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_CODE));
        }
    });
    stop
}
