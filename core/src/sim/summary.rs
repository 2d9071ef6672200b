//! The end-of-run per-arm summary: episodes, users, mean ± standard error of reward and
//! steps, aggregated as episodes finish so that memory does not grow with `--episodes`.

use super::episode::EpisodeSummary;
use crate::log::session::SessionTotals;
use rustc_hash::FxBuildHasher;
use std::collections::HashSet;

/// Mean and standard error of the mean (sample sd / sqrt(n); 0 for n < 2).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MeanSem {
    pub mean: f64,
    pub sem: f64,
}

/// Count, mean and sum of squared deviations of a stream of values (Welford's update:
/// stable where the naive sum of squares cancels).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Running {
    pub count: u64,
    mean: f64,
    squares: f64,
}

impl Running {
    pub fn push(&mut self, value: f64) {
        self.count += 1;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.squares += delta * (value - self.mean);
    }

    /// Adds the values of another stream (Chan et al.'s pairwise update).
    pub fn merge(&mut self, other: &Running) {
        if other.count == 0 {
            return;
        }
        // Copied whole: a one-day run's figures stay bit for bit those of its only day.
        if self.count == 0 {
            *self = *other;
            return;
        }
        let (a, b) = (self.count as f64, other.count as f64);
        let delta = other.mean - self.mean;
        self.mean += delta * b / (a + b);
        self.squares += other.squares + delta * delta * a * b / (a + b);
        self.count += other.count;
    }

    pub fn mean_sem(&self) -> MeanSem {
        let n = self.count as f64;
        let sem = if self.count < 2 {
            0.0
        } else {
            (self.squares / (n - 1.0) / n).sqrt()
        };
        MeanSem {
            mean: if self.count == 0 { 0.0 } else { self.mean },
            sem,
        }
    }
}

/// What the finished episodes of one arm add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmTotals {
    /// Fx-hashed: SipHash of every episode's user cost more than the rest of the totals.
    pub users: HashSet<u32, FxBuildHasher>,
    pub reward: Running,
    pub steps: Running,
    pub total_steps: u64,
}

impl ArmTotals {
    pub fn episodes(&self) -> u64 {
        self.reward.count
    }
}

/// Per-arm totals of a run's finished episodes, in arm order, and the sessions they logged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunTotals {
    pub arms: Vec<ArmTotals>,
    pub sessions: LoggedSessions,
}

/// At most this many sessions are kept for the run's report (48 bytes each: 96 MB); a
/// longer run's report reads its log back instead, so memory stays bounded.
pub const MAX_KEPT_SESSIONS: usize = 2_000_000;

/// The logged sessions of a run in log order, as `(arm, user, totals)`, so that its report
/// tabulates them without reading the log back; `None` once there were more than
/// [`MAX_KEPT_SESSIONS`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedSessions(Option<Vec<(u8, u32, SessionTotals)>>);

impl Default for LoggedSessions {
    fn default() -> Self {
        LoggedSessions(Some(Vec::new()))
    }
}

impl LoggedSessions {
    fn push(&mut self, session: (u8, u32, SessionTotals)) {
        if let Some(kept) = &mut self.0 {
            if kept.len() < MAX_KEPT_SESSIONS {
                kept.push(session);
            } else {
                self.0 = None;
            }
        }
    }

    /// Every logged session, or `None` if there were too many to keep.
    pub fn all(&self) -> Option<&[(u8, u32, SessionTotals)]> {
        self.0.as_deref()
    }
}

impl RunTotals {
    pub fn new(arms: usize) -> RunTotals {
        RunTotals {
            arms: vec![ArmTotals::default(); arms],
            sessions: LoggedSessions::default(),
        }
    }

    pub fn add(&mut self, episode: &EpisodeSummary) {
        let arm = &mut self.arms[episode.arm as usize];
        arm.users.insert(episode.user);
        arm.reward.push(episode.reward);
        arm.steps.push(f64::from(episode.steps));
        arm.total_steps += u64::from(episode.steps);
        self.sessions
            .push((episode.arm, episode.user, episode.logged));
    }

    pub fn episodes(&self) -> u64 {
        self.arms.iter().map(ArmTotals::episodes).sum()
    }

    /// Adds another run's totals of the same arms (the days of a multi-day run).
    pub fn merge(&mut self, other: &RunTotals) {
        for (mine, theirs) in self.arms.iter_mut().zip(&other.arms) {
            mine.users.extend(&theirs.users);
            mine.reward.merge(&theirs.reward);
            mine.steps.merge(&theirs.steps);
            mine.total_steps += theirs.total_steps;
        }
        match other.sessions.all() {
            Some(theirs) => theirs.iter().for_each(|s| self.sessions.push(*s)),
            None => self.sessions.0 = None,
        }
    }

    pub fn steps(&self) -> u64 {
        self.arms.iter().map(|a| a.total_steps).sum()
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ArmSummary {
    pub arm: String,
    pub episodes: u64,
    pub users: usize,
    /// Per episode, without the first track's 1.0 (as the course reports it).
    pub reward: MeanSem,
    pub steps: MeanSem,
}

/// One summary per arm, in arm order.
pub fn summarize(arm_names: &[String], totals: &RunTotals) -> Vec<ArmSummary> {
    arm_names
        .iter()
        .zip(&totals.arms)
        .map(|(name, arm)| ArmSummary {
            arm: name.clone(),
            episodes: arm.episodes(),
            users: arm.users.len(),
            reward: arm.reward.mean_sem(),
            steps: arm.steps.mean_sem(),
        })
        .collect()
}
