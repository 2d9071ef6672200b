#!/usr/bin/env python3
"""Fixtures for tests/report_fixture.rs: random logs and the course's A/B table computed
independently with pandas/scipy, exactly as /work/shared/spec/AB_REPORT.md sections 1-4.

Re-run (from the repository root; needs pandas, scipy, numpy):

    pip install pandas scipy numpy
    python3 tests/data/report/make_fixtures.py

It rewrites, in tests/data/report/:
  events.jsonl              our log: session ids, experiment "default", arms C T1 T2 T3,
                            overlapping sessions of one user, unfinished sessions
  replica_a.json, replica_b.json
                            botify data.json of two service replicas (no session ids),
                            experiment "ALL", arms C T1 T2 T3 T4, each file in time order,
                            a user's events spread over both, unfinished tails
  shuffled.json             the same events as the replicas, lines shuffled (not in time order)
  expected_events.json      expected analysis of events.jsonl (control C)
  expected_replicas.json    expected analysis of the replicas (control T4: another arm)
The numbers are written with repr() (shortest round-trip), so nothing is lost.
"""
import json
import os
import random

import numpy as np
import pandas as pd
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
ALPHA = 0.05
POWER = 0.8
METRICS = ["time", "sessions", "mean_request_latency", "mean_tracks_per_session",
           "mean_time_per_session"]


def make_sessions(rng, users, arms, n_sessions, arm_effect):
    """Sessions as lists of events (without session ids yet), per user in time order.
    Users are assigned to arms at random (so the SRM check sees unequal counts)."""
    sessions = []
    clock = {}
    arm_of = {u: rng.choice(arms) for u in users}
    for _ in range(n_sessions):
        user = rng.choice(users)
        arm = arm_of[user]
        length = rng.randint(1, 12)
        start = clock.get(user, 1_700_000_000_000 + rng.randint(0, 100_000))
        ts = start
        events = []
        for i in range(length):
            ts += rng.randint(1, 3000)
            last = i == length - 1
            if i == 0:
                time = 1.0
            else:
                time = min(1.0, rng.random() * arm_effect[arm]) if rng.random() < 0.7 else 0.0
            events.append({
                "message": "last" if last else "next",
                "timestamp": ts,
                "user": user,
                "track": rng.randint(0, 5000),
                "time": time,
                "latency": rng.uniform(0.0001, 0.004),
                "recommendation": None if last else rng.randint(0, 5000),
                "arm": arm,
            })
        clock[user] = ts + rng.randint(1, 10_000)
        sessions.append(events)
    return sessions


def dump(path, events, experiment, with_ids):
    with open(path, "w") as f:
        for e in events:
            row = {k: e[k] for k in ["message", "timestamp", "user", "track", "time",
                                     "latency", "recommendation"]}
            row["experiments"] = {experiment: e["arm"]}
            if with_ids:
                row["session"] = e["session"]
                row["episode"] = e["session"]
            f.write(json.dumps(row, separators=(",", ":")) + "\n")


# ---------------------------------------------------------------- the analysis (pandas)

def read_log(paths, experiment):
    frames = [pd.read_json(p, lines=True, dtype=False, precise_float=True) for p in paths]
    data = pd.concat(frames, ignore_index=True)
    data["treatment"] = data["experiments"].map(lambda x: x.get(experiment))
    return data[data["treatment"].notna()]


def sessionize_by_timestamp(data):
    """The course: per (user, treatment), events in timestamp order cut after each 'last'."""
    rows, unfinished, unfinished_events = [], 0, 0
    for (user, treatment), group in data.groupby(["user", "treatment"]):
        session = None
        for _, e in group.sort_values("timestamp", kind="mergesort").iterrows():
            if session is None:
                session = {"user": user, "treatment": treatment, "timestamp": e["timestamp"],
                           "tracks": 0, "time": 0.0, "latency": 0.0}
            session["tracks"] += 1
            session["time"] += e["time"]
            session["latency"] += e["latency"] * 1000
            if e["message"] == "last":
                rows.append(session)
                session = None
        if session is not None:
            unfinished += 1
            unfinished_events += session["tracks"]
    return pd.DataFrame(rows), unfinished, unfinished_events


def sessionize_by_id(data):
    """Our logs: group by the explicit session id; sessions without 'last' are unfinished."""
    data = data.copy()
    data["latency_ms"] = data["latency"] * 1000
    data["is_last"] = data["message"] == "last"
    g = data.groupby(["session", "user", "treatment"])
    s = g.agg(timestamp=("timestamp", "min"), tracks=("message", "size"),
              time=("time", "sum"), latency=("latency_ms", "sum"),
              finished=("is_last", "any")).reset_index()
    unfinished = int((~s["finished"]).sum())
    unfinished_events = int(s.loc[~s["finished"], "tracks"].sum())
    return s[s["finished"]].drop(columns=["finished", "session"]), unfinished, unfinished_events


def user_level(sessions):
    u = sessions.groupby(["user", "treatment"]).agg(
        time=("time", "sum"), sessions=("time", "size"),
        latency=("latency", "sum"), tracks=("tracks", "sum")).reset_index()
    u["sessions"] = u["sessions"].astype(float)
    u["mean_request_latency"] = u["latency"] / u["tracks"]
    u["mean_tracks_per_session"] = u["tracks"] / u["sessions"]
    u["mean_time_per_session"] = u["time"] / u["sessions"]
    return u


def holm(p):
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="mergesort")
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def analyse(data, sessions, unfinished, unfinished_events, control):
    users = user_level(sessions)
    treatment_level = users.groupby("treatment")[METRICS].agg(["count", "mean", "var"])
    arms = sorted(treatment_level.index)
    rows = []
    for metric in METRICS:
        c = treatment_level.loc[control, metric]
        cv = users.loc[users["treatment"] == control, metric].to_numpy()
        for t_name in arms:
            if t_name == control:
                continue
            t = treatment_level.loc[t_name, metric]
            tv = users.loc[users["treatment"] == t_name, metric].to_numpy()
            n_c, m_c, v_c = c["count"], c["mean"], c["var"]
            n_t, m_t, v_t = t["count"], t["mean"], t["var"]
            effect_abs = m_t - m_c
            dof = (v_c / n_c + v_t / n_t) ** 2 / (
                v_c ** 2 / (n_c ** 2 * (n_c - 1)) + v_t ** 2 / (n_t ** 2 * (n_t - 1)))
            se = np.sqrt(v_c / n_c + v_t / n_t)
            t_crit = stats.t.ppf(1 - ALPHA / 2, dof)
            half = t_crit * se
            welch = stats.ttest_ind(tv, cv, equal_var=False)
            ratio = m_t / m_c - 1
            se_ratio = np.sqrt(v_t / n_t / m_c ** 2 + m_t ** 2 * v_c / n_c / m_c ** 4)
            z = stats.norm.ppf(1 - ALPHA / 2)
            rows.append({
                "treatment": t_name,
                "metric": metric,
                "effect": effect_abs / m_c * 100,
                "upper": (effect_abs + half) / m_c * 100,
                "lower": (effect_abs - half) / m_c * 100,
                "control_mean": m_c,
                "treatment_mean": m_t,
                "significant": bool((effect_abs + half) * (effect_abs - half) > 0),
                "control_n": int(n_c),
                "treatment_n": int(n_t),
                "dof": dof,
                "p_value": float(welch.pvalue),
                "delta_lower": (ratio - z * se_ratio) * 100,
                "delta_upper": (ratio + z * se_ratio) * 100,
                "mde": (t_crit + stats.t.ppf(POWER, dof)) * se / abs(m_c) * 100,
            })
    rows.sort(key=lambda r: (r["metric"], r["treatment"]), reverse=True)
    # Two Holm families: the primary metrics, and the guardrail (latency) on its own.
    for guardrail in (False, True):
        family = [r for r in rows if (r["metric"] == "mean_request_latency") == guardrail]
        adjusted = holm([r["p_value"] for r in family])
        for r, a in zip(family, adjusted):
            r["p_holm"] = float(a)
            r["significant_holm"] = bool(a < ALPHA)
    # SRM: users with any event per arm against an equal split.
    observed = data.groupby("treatment")["user"].nunique().reindex(arms)
    chi = stats.chisquare(observed.to_numpy())
    arm_rows = {}
    for arm in arms:
        arm_rows[arm] = {m: {"n": int(treatment_level.loc[arm, (m, "count")]),
                             "mean": float(treatment_level.loc[arm, (m, "mean")]),
                             "var": float(treatment_level.loc[arm, (m, "var")])}
                         for m in METRICS}
        arm_rows[arm]["users"] = int(observed[arm])
        arm_rows[arm]["n_sessions"] = int((sessions["treatment"] == arm).sum())
    return {
        "control": control,
        "events": int(len(data)),
        "sessions": int(len(sessions)),
        "unfinished_sessions": unfinished,
        "unfinished_events": unfinished_events,
        "srm_chi2": float(chi.statistic),
        "srm_p_value": float(chi.pvalue),
        "comparisons": len([r for r in rows if r["metric"] != "mean_request_latency"]),
        "arms": arm_rows,
        "rows": [{k: (float(v) if isinstance(v, (np.floating, float)) else v)
                  for k, v in r.items()} for r in rows],
    }


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def main():
    rng = random.Random(20240601)

    # Our log, with session ids; two sessions of a user may overlap (parallel episodes).
    arms = ["C", "T1", "T2", "T3"]
    effect = {"C": 1.0, "T1": 1.0, "T2": 1.3, "T3": 0.8}
    sessions = make_sessions(rng, list(range(1, 201)), arms, 700, effect)
    events = []
    for sid, s in enumerate(sessions, start=1):
        shift = rng.randint(-20_000, 20_000) if rng.random() < 0.1 else 0  # some overlap
        for e in s:
            e["session"] = sid
            e["timestamp"] += shift
        if rng.random() < 0.03:  # unfinished: drop the "last" event
            s.pop()
        events.extend(s)
    events.sort(key=lambda e: (e["timestamp"], e["session"]))
    dump(os.path.join(HERE, "events.jsonl"), events, "default", with_ids=True)
    data = read_log([os.path.join(HERE, "events.jsonl")], "default")
    s, unf, unf_ev = sessionize_by_id(data)
    write_json(os.path.join(HERE, "expected_events.json"), analyse(data, s, unf, unf_ev, "C"))

    # The botify service, two replicas, no session ids; sessions of a user do not overlap.
    arms = ["C", "T1", "T2", "T3", "T4"]
    effect = {"C": 1.0, "T1": 1.1, "T2": 0.9, "T3": 1.5, "T4": 1.2}
    sessions = make_sessions(rng, list(range(1000, 1300)), arms, 900, effect)
    events = [e for s in sessions for e in s]
    arm_of_user = {e["user"]: e["arm"] for e in events}
    # Unfinished tails: a few users get events after their last "last".
    last_ts = {}
    for e in events:
        last_ts[e["user"]] = max(last_ts.get(e["user"], 0), e["timestamp"])
    for user in rng.sample(sorted(last_ts), 15):
        for k in range(rng.randint(1, 3)):
            events.append({"message": "next", "timestamp": last_ts[user] + 1000 * (k + 1),
                           "user": user, "track": 1, "time": rng.random(),
                           "latency": 0.001, "recommendation": 2,
                           "arm": arm_of_user[user]})
    events.sort(key=lambda e: e["timestamp"])
    a = [e for e in events if rng.random() < 0.5]
    ids_a = {id(e) for e in a}
    b = [e for e in events if id(e) not in ids_a]
    dump(os.path.join(HERE, "replica_a.json"), a, "ALL", with_ids=False)
    dump(os.path.join(HERE, "replica_b.json"), b, "ALL", with_ids=False)
    shuffled = events[:]
    rng.shuffle(shuffled)
    dump(os.path.join(HERE, "shuffled.json"), shuffled, "ALL", with_ids=False)
    data = read_log([os.path.join(HERE, "replica_a.json"), os.path.join(HERE, "replica_b.json")],
                    "ALL")
    s, unf, unf_ev = sessionize_by_timestamp(data)
    write_json(os.path.join(HERE, "expected_replicas.json"),
               analyse(data, s, unf, unf_ev, "T4"))


if __name__ == "__main__":
    main()
