"""A recommender in Python against the course's DSSM baseline (the control of the
built-in experiment hw2), run in-process by botify_sim.run and read as a DataFrame.

The recommender takes the baseline's own per-user lists (the two-tower model's top
tracks of each user) and never recommends a track twice in a session: a repeat is
worth nothing and costs the user's patience.

    python python/examples/beat_the_baseline.py [--config env.yml] [--episodes 5000]
"""

import argparse
import json
import random

import botify_sim


class NoRepeats:
    """The baseline's per-user lists, without a track twice in one session."""

    def __init__(self, lists: dict, n_tracks: int, seed: int = 0) -> None:
        self.lists = lists
        self.n_tracks = n_tracks
        self.rng = random.Random(seed)
        self.played: dict = {}

    def start(self, user: int) -> None:
        self.played[user] = set()

    def recommend(self, user: int, track: int, time: float) -> int:
        played = self.played[user]
        played.add(track)
        fresh = [t for t in self.lists.get(user, ()) if t not in played]
        answer = self.rng.choice(fresh) if fresh else self.rng.randrange(self.n_tracks)
        played.add(answer)
        return answer

    def end(self, user: int) -> None:
        del self.played[user]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a sim config (default: the built-in world)")
    parser.add_argument("--episodes", type=int, default=5000)
    parser.add_argument("--out", default="runs/beat_the_baseline")
    args = parser.parse_args()

    # The baseline alone, briefly: trains its model (cached for every later run) and
    # names its recommendation file in the run's record.
    baseline = botify_sim.run(
        "dssm_baseline", episodes=100, config=args.config, out=f"{args.out}/baseline"
    )
    lists_file = baseline.record["experiment"]["arms"][0]["spec"]["file"]
    with open(lists_file) as f:
        lists = {row["user"]: row["tracks"] for row in map(json.loads, f)}
    n_tracks = botify_sim.SessionEnv(args.config).action_space.n

    # hw2: C is the baseline, T1 (the course's reference solution) is replaced by ours.
    result = botify_sim.run(
        "hw2",
        episodes=args.episodes,
        arms={"T1": NoRepeats(lists, n_tracks)},
        config=args.config,
        out=f"{args.out}/hw2",
    )
    table = result.report()
    print(result.summary()[["episodes", "reward_mean", "reward_sem"]])
    row = table[(table.metric == "mean_time_per_session") & (table.treatment == "T1")].iloc[0]
    print(
        f"mean_time_per_session: {row.treatment_mean:.3f} against the baseline's "
        f"{row.control_mean:.3f}: {row.effect:+.1f} % [{row.lower:+.1f} %, {row.upper:+.1f} %]"
        f"{', significant' if row.significant else ''}"
    )


if __name__ == "__main__":
    main()
