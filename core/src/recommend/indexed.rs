//! `indexed`: uniformly one track of the user's own list; users without one go to a fallback.

use super::lists::IdLists;
use super::{RecRng, RecSession, RecommendError, Recommender, SessionMemory, SessionStart, choose};

pub struct Indexed {
    pub lists: IdLists,
    pub fallback: Box<dyn Recommender>,
}

impl Recommender for Indexed {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        self.resume(start, &SessionMemory::default())
    }

    /// Users without a list are the fallback's: their memory is the fallback's own.
    fn resume(&self, start: &SessionStart, memory: &SessionMemory) -> Box<dyn RecSession + '_> {
        match self.lists.get(start.user) {
            Some(list) => Box::new(ListSession { list }),
            None => self.fallback.resume(start, memory),
        }
    }
}

struct ListSession<'a> {
    list: &'a [u32],
}

impl RecSession for ListSession<'_> {
    fn next(&mut self, _prev: u32, _time: f64, rng: &mut RecRng) -> Result<u32, RecommendError> {
        Ok(choose(self.list, rng))
    }
}
