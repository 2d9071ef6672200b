//! Multi-day runs (`sim run --days`): the episodes, random streams and virtual clock of
//! each day. Day 1 of a one-day run is exactly today's single run.

use crate::config::SimulationConfig;
use crate::log::DAY_MS;
use chacha20::ChaCha8Rng;
use rand::{Rng, SeedableRng};

/// How many days to run: a number, or ask after each day (the course's prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    Count(u32),
    Ask,
}

impl std::str::FromStr for Days {
    type Err = String;

    fn from_str(text: &str) -> Result<Days, String> {
        if text == "ask" {
            return Ok(Days::Ask);
        }
        match text.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Days::Count(n)),
            _ => Err(format!(
                "expected a number of days (1 or more) or `ask`, got {text:?}"
            )),
        }
    }
}

impl std::fmt::Display for Days {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Days::Count(n) => write!(f, "{n}"),
            Days::Ask => f.write_str("ask"),
        }
    }
}

impl Days {
    /// Whether day `day` (1-based) is the last one to run when known in advance.
    pub fn is_last(self, day: u32) -> bool {
        matches!(self, Days::Count(n) if day >= n)
    }
}

/// What differs between the days of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPlan {
    pub day: u32,
    /// Episodes of day `d` are `(d - 1) * episodes ..`: their indices (session ids) never
    /// repeat within a run.
    pub first_episode: u64,
    /// Seed of the day's episode streams: the run's seed on day 1, so a one-day run (and
    /// the first day of any run) draws what a run without days draws.
    pub seed: u64,
    /// The virtual clock of the day (see [`day_plan`]).
    pub simulation: SimulationConfig,
    /// Timestamps of the day's first session and the end of the day (exclusive).
    pub start_timestamp_ms: u64,
    pub end_timestamp_ms: u64,
}

/// Seed of day `day`'s streams: `seed` for day 1, else a draw from a ChaCha8 stream of
/// `seed` that no episode uses (episodes use streams `2i`, `2i + 1`).
pub fn day_seed(seed: u64, day: u32) -> u64 {
    if day <= 1 {
        return seed;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX - u64::from(day));
    rng.next_u64()
}

/// The plan of day `day` of a run of `episodes` episodes per day.
///
/// A single-day run keeps the configured clock. In a multi-day run day `d` starts exactly
/// `d - 1` days after day 1 and its episodes are spread over that day: the episode stride
/// shrinks to `DAY_MS / episodes` when the configured one would overflow the day.
pub fn day_plan(
    day: u32,
    episodes: u64,
    seed: u64,
    base: &SimulationConfig,
    multi_day: bool,
) -> Result<DayPlan, String> {
    let first_episode = u64::from(day - 1) * episodes;
    if !multi_day {
        return Ok(DayPlan {
            day,
            first_episode,
            seed,
            simulation: *base,
            start_timestamp_ms: base.start_timestamp_ms,
            end_timestamp_ms: base.start_timestamp_ms + episodes * base.episode_stride_ms,
        });
    }
    if episodes > DAY_MS {
        return Err(format!(
            "--days: {episodes} episodes per day do not fit a virtual day ({DAY_MS} ms at 1 ms per episode)"
        ));
    }
    let stride = base.episode_stride_ms.min(DAY_MS / episodes);
    let day_start = base.start_timestamp_ms + u64::from(day - 1) * DAY_MS;
    Ok(DayPlan {
        day,
        first_episode,
        seed: day_seed(seed, day),
        simulation: SimulationConfig {
            // Episode i is stamped start + i * stride: day d's first episode at day_start.
            start_timestamp_ms: day_start - first_episode * stride,
            episode_stride_ms: stride,
            ..*base
        },
        start_timestamp_ms: day_start,
        end_timestamp_ms: day_start + DAY_MS,
    })
}

/// The pre-period of a run (`sim run --pre-days D`): `days` days of `episodes` episodes
/// each, under the control arm for every user, ending where day 1 starts. One simulation:
/// episodes `0..days * episodes` with their own streams (the seed of a stream no day and
/// no episode uses), the clock `days` days before day 1 and the stride shrunk, as for
/// days, so that they fit.
pub fn pre_period_plan(
    days: u32,
    episodes: u64,
    seed: u64,
    base: &SimulationConfig,
) -> Result<DayPlan, String> {
    let total = episodes
        .checked_mul(u64::from(days))
        .filter(|&t| t <= DAY_MS * u64::from(days))
        .ok_or_else(|| {
            format!(
                "--pre-days: {episodes} episodes per day do not fit a virtual day ({DAY_MS} ms at 1 ms per episode)"
            )
        })?;
    let span = u64::from(days) * DAY_MS;
    let start = base.start_timestamp_ms.checked_sub(span).ok_or_else(|| {
        format!(
            "--pre-days {days}: the pre-period would start before the clock's zero (simulation.start_timestamp_ms is {})",
            base.start_timestamp_ms
        )
    })?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(PRE_PERIOD_STREAM);
    Ok(DayPlan {
        day: 0,
        first_episode: 0,
        seed: rng.next_u64(),
        simulation: SimulationConfig {
            start_timestamp_ms: start,
            episode_stride_ms: base.episode_stride_ms.min(span / total.max(1)),
            ..*base
        },
        start_timestamp_ms: start,
        end_timestamp_ms: base.start_timestamp_ms,
    })
}

/// The stream of `seed`'s ChaCha key the pre-period's seed is drawn from: below those of
/// the days (`u64::MAX - day`), above every episode's (`2i`, `2i + 1` for the episodes a
/// run can have).
const PRE_PERIOD_STREAM: u64 = u64::MAX - (1 << 32);
