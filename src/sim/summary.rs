//! The end-of-run per-arm summary: episodes, users, mean ± standard error of reward and steps.

use super::episode::EpisodeSummary;
use std::collections::HashSet;

/// Mean and standard error of the mean (sample sd / sqrt(n); 0 for n < 2).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MeanSem {
    pub mean: f64,
    pub sem: f64,
}

impl MeanSem {
    pub fn of(values: &[f64]) -> MeanSem {
        let n = values.len() as f64;
        if values.is_empty() {
            return MeanSem {
                mean: 0.0,
                sem: 0.0,
            };
        }
        let mean = values.iter().sum::<f64>() / n;
        let sem = if values.len() < 2 {
            0.0
        } else {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (var / n).sqrt()
        };
        MeanSem { mean, sem }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ArmSummary {
    pub arm: String,
    pub episodes: usize,
    pub users: usize,
    /// Per episode, without the first track's 1.0 (as the course reports it).
    pub reward: MeanSem,
    pub steps: MeanSem,
}

/// One summary per arm, in arm order.
pub fn summarize(arm_names: &[String], episodes: &[EpisodeSummary]) -> Vec<ArmSummary> {
    arm_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mine: Vec<&EpisodeSummary> =
                episodes.iter().filter(|e| e.arm as usize == i).collect();
            let users: HashSet<u32> = mine.iter().map(|e| e.user).collect();
            let rewards: Vec<f64> = mine.iter().map(|e| e.reward).collect();
            let steps: Vec<f64> = mine.iter().map(|e| e.steps as f64).collect();
            ArmSummary {
                arm: name.clone(),
                episodes: mine.len(),
                users: users.len(),
                reward: MeanSem::of(&rewards),
                steps: MeanSem::of(&steps),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_standard_error() {
        let m = MeanSem::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m.mean, 2.5);
        // sample variance 5/3, sem = sqrt(5/3 / 4)
        assert!((m.sem - (5.0f64 / 12.0).sqrt()).abs() < 1e-15);
        assert_eq!(MeanSem::of(&[7.0]).sem, 0.0);
    }

    #[test]
    fn summarizes_per_arm() {
        let e = |arm, user, reward, steps| EpisodeSummary {
            index: 0,
            user,
            arm,
            reward,
            steps,
        };
        let s = summarize(
            &["C".into(), "T1".into()],
            &[e(0, 1, 1.0, 2), e(0, 1, 3.0, 4), e(1, 2, 5.0, 6)],
        );
        assert_eq!((s[0].episodes, s[0].users, s[0].reward.mean), (2, 1, 2.0));
        assert_eq!((s[1].episodes, s[1].steps.mean), (1, 6.0));
    }
}
