//! Writing a trained model's results: the recommendation file (`{"user": u, "tracks":
//! [...]}` per line, as read by the `indexed` recommender) and the training summary.

use super::TrainSummary;
use std::io::{self, Write};
use std::path::Path;

/// One `{"user": u, "tracks": [...]}` JSON line per user, in the given order, written
/// whole or not at all.
pub fn write_recommendations(path: &Path, recs: &[(u32, Vec<u32>)]) -> anyhow::Result<()> {
    botify_sim_core::atomic_file::write_with(path, |w| write_recommendations_to(w, recs))
}

/// As [`write_recommendations`], to any writer.
pub fn write_recommendations_to(w: &mut impl Write, recs: &[(u32, Vec<u32>)]) -> io::Result<()> {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        user: u32,
        tracks: &'a [u32],
    }
    for (user, tracks) in recs {
        serde_json::to_writer(
            &mut *w,
            &Line {
                user: *user,
                tracks,
            },
        )?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// The summary as pretty-printed JSON.
pub fn write_summary(path: &Path, summary: &TrainSummary) -> anyhow::Result<()> {
    botify_sim_core::atomic_file::write_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, summary)?;
        w.write_all(b"\n")
    })
}
