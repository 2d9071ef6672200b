//! The clock that times each request for the log's `latency`: it is read twice per step,
//! so its cost shows. `Instant` (`clock_gettime` through the vDSO, then `Timespec`
//! arithmetic) cost about 130 instructions per step, 6.5 % of `sim run --experiment seminar
//! --episodes 300000 --workers 2` (3.79 G instructions, `valgrind --tool=cachegrind`). On
//! x86-64 with an invariant time-stamp counter (the CPU says so) this reads the counter
//! and scales its ticks by a rate measured once per process against `Instant`; elsewhere
//! it is `Instant`. Measured with it: 3.79 G to 3.57 G instructions (-5.7 %), and a
//! request's `latency` of about 20 ns instead of 150 (most of which was the clock). The
//! `quanta` and `minstant` crates do the same, with `raw-cpuid` and more to build (not
//! measured); what is used of them is the few lines of `tsc` below.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How a latency is measured in this process: copy it and read it per request.
#[derive(Debug, Clone, Copy)]
pub struct LatencyClock {
    /// Seconds per time-stamp-counter tick; `None`: `Instant`.
    seconds_per_tick: Option<f64>,
}

/// A reading of a [`LatencyClock`], to measure the time since.
#[derive(Debug, Clone, Copy)]
pub struct Started(Reading);

#[derive(Debug, Clone, Copy)]
enum Reading {
    Ticks { ticks: u64, seconds_per_tick: f64 },
    Instant(Instant),
}

/// How long the counter's rate is measured. The two readings that bound it are each
/// taken between two counter reads a few tens of nanoseconds apart, so the rate is
/// within about 1e-4 of the truth: latencies are written with three or so digits.
const CALIBRATION: Duration = Duration::from_millis(1);

impl LatencyClock {
    /// The process's clock; the first call measures the counter's rate (1 ms).
    pub fn get() -> LatencyClock {
        static CLOCK: OnceLock<LatencyClock> = OnceLock::new();
        *CLOCK.get_or_init(|| LatencyClock {
            seconds_per_tick: tsc::seconds_per_tick(),
        })
    }

    /// The clock that reads `Instant` (what [`LatencyClock::get`] falls back to).
    pub fn instant() -> LatencyClock {
        LatencyClock {
            seconds_per_tick: None,
        }
    }

    /// Whether it reads the time-stamp counter.
    pub fn reads_tsc(&self) -> bool {
        self.seconds_per_tick.is_some()
    }

    pub fn now(self) -> Started {
        Started(match self.seconds_per_tick {
            Some(seconds_per_tick) => Reading::Ticks {
                ticks: tsc::read(),
                seconds_per_tick,
            },
            None => Reading::Instant(Instant::now()),
        })
    }
}

impl Started {
    /// Seconds since this reading; never negative (a counter read on another core that
    /// lags behind counts as 0).
    pub fn elapsed_seconds(&self) -> f64 {
        match self.0 {
            Reading::Ticks {
                ticks,
                seconds_per_tick,
            } => tsc::read().saturating_sub(ticks) as f64 * seconds_per_tick,
            Reading::Instant(instant) => instant.elapsed().as_secs_f64(),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod tsc {
    use super::CALIBRATION;
    use std::arch::x86_64::{__cpuid, _rdtsc};
    use std::time::Instant;

    pub fn read() -> u64 {
        // SAFETY: `rdtsc` exists on every x86-64 CPU and only reads the counter.
        unsafe { _rdtsc() }
    }

    /// The counter's rate against `Instant`, if the CPU says it ticks at a constant rate
    /// in every power state (CPUID 0x8000_0007, EDX bit 8: "invariant TSC").
    pub fn seconds_per_tick() -> Option<f64> {
        let invariant =
            __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0;
        if !invariant {
            return None;
        }
        let (instant_0, ticks_0) = paired_reading();
        while instant_0.elapsed() < CALIBRATION {
            std::hint::spin_loop();
        }
        let (instant_1, ticks_1) = paired_reading();
        let ticks = ticks_1.checked_sub(ticks_0).filter(|&t| t > 0)?;
        Some(instant_1.duration_since(instant_0).as_secs_f64() / ticks as f64)
    }

    /// An `Instant` and the counter at the same moment: of a few tries, the one whose
    /// `Instant` read lies between the two closest counter reads (a try the thread was
    /// preempted in is far apart).
    fn paired_reading() -> (Instant, u64) {
        let try_once = || {
            let before = read();
            let instant = Instant::now();
            let after = read();
            let gap = after.wrapping_sub(before);
            (gap, instant, before.wrapping_add(gap / 2))
        };
        let mut best = try_once();
        for _ in 1..8 {
            let next = try_once();
            if next.0 < best.0 {
                best = next;
            }
        }
        (best.1, best.2)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod tsc {
    pub fn read() -> u64 {
        0
    }

    pub fn seconds_per_tick() -> Option<f64> {
        None
    }
}
