"""A run's log and A/B table as pandas DataFrames: the course notebook's analysis, its
columns, and the report's numbers.

    python python/examples/read_the_report.py [--config env.yml] [--episodes 3000]
"""

import argparse

import botify_sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a sim config (default: the built-in world)")
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--out", default="runs/read_the_report")
    args = parser.parse_args()

    result = botify_sim.run("seminar", episodes=args.episodes, config=args.config, out=args.out)

    # The events, with the notebook's columns (and its `treatment`).
    data = botify_sim.read_log(result.log, experiment="seminar")
    print(data.head())

    # The notebook's user-level metric, by pandas: sessions end with a "last" event.
    data["session_end"] = data["message"] == "last"
    per_user = data.groupby(["user", "treatment"], observed=True).agg(
        time=("time", "sum"), sessions=("session_end", "sum")
    )
    per_user["mean_time_per_session"] = per_user["time"] / per_user["sessions"]
    by_arm = per_user.groupby("treatment", observed=True)["mean_time_per_session"].mean()
    print(by_arm)

    # The A/B table: exactly sim report's numbers (its ab.csv).
    table = botify_sim.report(result.log, experiment="seminar", control="C")
    rows = table[table.metric == "mean_time_per_session"]
    print(rows[["treatment", "control_mean", "treatment_mean", "effect", "lower", "upper", "p_holm"]])
    for row in rows.itertuples():
        assert abs(by_arm[row.treatment] - row.treatment_mean) < 1e-9 * row.treatment_mean
        assert abs(by_arm["C"] - row.control_mean) < 1e-9 * row.control_mean


if __name__ == "__main__":
    main()
