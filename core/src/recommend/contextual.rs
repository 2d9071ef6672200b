//! `contextual`: uniformly one track of the previous track's list; a fallback when it has none.

use super::lists::IdLists;
use super::{RecRng, RecSession, RecommendError, Recommender, SessionMemory, SessionStart, choose};

pub struct Contextual {
    pub lists: IdLists,
    pub fallback: Box<dyn Recommender>,
}

impl Recommender for Contextual {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        self.resume(start, &SessionMemory::default())
    }

    fn resume(&self, start: &SessionStart, memory: &SessionMemory) -> Box<dyn RecSession + '_> {
        Box::new(ContextualSession {
            lists: &self.lists,
            fallback: self.fallback.resume(start, memory.fallback_part()),
        })
    }
}

struct ContextualSession<'a> {
    lists: &'a IdLists,
    fallback: Box<dyn RecSession + 'a>,
}

impl RecSession for ContextualSession<'_> {
    fn next(&mut self, prev: u32, time: f64, rng: &mut RecRng) -> Result<u32, RecommendError> {
        match self.lists.get(prev) {
            Some(list) => Ok(choose(list, rng)),
            None => self.fallback.next(prev, time, rng),
        }
    }

    fn end(&mut self, last: u32, time: f64) -> Result<(), RecommendError> {
        self.fallback.end(last, time)
    }

    fn memory(&self) -> SessionMemory {
        SessionMemory::of_fallback(self.fallback.memory())
    }
}
