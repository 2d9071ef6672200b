//! Recommenders that answer many live sessions per call: an in-process Python arm pays
//! one call across the language boundary per round of requests, not one per request.
//! The runner steps the sessions of such an arm in lockstep (`sim::lockstep`).

/// The live sessions of one arm that wait for their next track, as parallel columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchRequests {
    pub users: Vec<u32>,
    /// The previous track of each session, and its listen time (1.0 for the first).
    pub tracks: Vec<u32>,
    pub times: Vec<f64>,
}

impl BatchRequests {
    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn clear(&mut self) {
        self.users.clear();
        self.tracks.clear();
        self.times.clear();
    }

    pub fn push(&mut self, user: u32, track: u32, time: f64) {
        self.users.push(user);
        self.tracks.push(track);
        self.times.push(time);
    }
}

/// Why a batched arm could not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// The arm failed; `user` names the session it failed on when it was one session's
    /// request (a per-request recommender), `None` when the whole batch failed.
    #[error("{message}")]
    Failed { user: Option<u32>, message: String },
    /// The run was asked to stop (Ctrl-C) while the arm answered.
    #[error("interrupted")]
    Interrupted,
}

/// An arm answering a batch of sessions at once. Sessions of one user never overlap:
/// `start` and `end` bracket each session, so per-user memory needs no session id.
pub trait BatchRecommender: Send + Sync {
    /// Sessions of `users` begin (each is asked for its first track this round).
    fn start(&self, users: &[u32]) -> Result<(), BatchError>;

    /// One answer per request, in request order, into `answers` (cleared first).
    fn recommend(&self, requests: &BatchRequests, answers: &mut Vec<u32>)
    -> Result<(), BatchError>;

    /// Sessions of `users` ended (the botify `last` call).
    fn end(&self, users: &[u32]) -> Result<(), BatchError>;
}

/// A session of a batched arm asked one request at a time (a batch of one), for whatever
/// steps sessions one by one rather than in lockstep.
pub fn one_at_a_time<'a>(
    arm: &'a dyn BatchRecommender,
    user: u32,
) -> Box<dyn super::RecSession + 'a> {
    Box::new(OneAtATime {
        arm,
        user,
        started: false,
        requests: BatchRequests::default(),
        answers: Vec::with_capacity(1),
    })
}

struct OneAtATime<'a> {
    arm: &'a dyn BatchRecommender,
    user: u32,
    started: bool,
    requests: BatchRequests,
    answers: Vec<u32>,
}

fn recommend_error(e: BatchError) -> super::RecommendError {
    super::RecommendError::Failed(e.to_string())
}

impl super::RecSession for OneAtATime<'_> {
    fn next(
        &mut self,
        prev_track: u32,
        prev_time: f64,
        _rng: &mut super::RecRng,
    ) -> Result<u32, super::RecommendError> {
        if !self.started {
            self.arm.start(&[self.user]).map_err(recommend_error)?;
            self.started = true;
        }
        self.requests.clear();
        self.requests.push(self.user, prev_track, prev_time);
        self.arm
            .recommend(&self.requests, &mut self.answers)
            .map_err(recommend_error)?;
        match self.answers[..] {
            [answer] => Ok(answer),
            _ => Err(super::RecommendError::Failed(format!(
                "answered {} tracks to one request",
                self.answers.len()
            ))),
        }
    }

    fn end(&mut self, _last_track: u32, _last_time: f64) -> Result<(), super::RecommendError> {
        self.arm.end(&[self.user]).map_err(recommend_error)
    }
}
