"""botify_sim.run: sim run's log with YAML arms, Python arms per request and in batches,
errors that name the arm, and Ctrl-C."""

from __future__ import annotations

import os
import signal
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import botify_sim
from conftest import events, sim, without_latency


def run(small_config: Path, out: Path, **kwargs) -> botify_sim.RunResult:
    kwargs.setdefault("experiment", "ceiling")
    kwargs.setdefault("episodes", 400)
    kwargs.setdefault("seed", 3)
    return botify_sim.run(config=small_config, out=out, quiet=True, **kwargs)


def test_yaml_arms_write_sim_runs_log(sim_binary: Path, small_config: Path, tmp_path: Path) -> None:
    sim(
        sim_binary, "run", "--experiment", "ceiling", "--config", str(small_config),
        "--episodes", "400", "--seed", "3", "--out", str(tmp_path / "cli"), cwd=tmp_path,
    )
    result = run(small_config, tmp_path / "py", workers=1)
    assert result.log == tmp_path / "py" / "events.jsonl"
    assert without_latency(result.log) == without_latency(tmp_path / "cli" / "events.jsonl")
    assert [a.arm for a in result.arms] == ["C", "T1", "T2", "T3"]
    assert sum(a.episodes for a in result.arms) == 400
    assert result.report_path == tmp_path / "py" / "report.md" and result.report_path.exists()


class NextTrack:
    """Deterministic: the track after the previous one."""

    def __init__(self) -> None:
        self.calls = 0

    def recommend(self, user: int, track: int, time: float) -> int:
        self.calls += 1
        return (track + 1 + user) % 3000


class NextTrackBatch:
    def recommend_batch(self, users, tracks, times):
        assert users.dtype == np.int64 and times.dtype == np.float64
        return (tracks + 1 + users) % 3000


def test_per_request_and_batch_arms_log_the_same_sessions(small_config: Path, tmp_path: Path) -> None:
    each = NextTrack()
    one = run(small_config, tmp_path / "each", arms={"T1": each}, workers=1)
    two = run(small_config, tmp_path / "batch", arms={"T1": NextTrackBatch()}, workers=2)
    assert without_latency(one.log) == without_latency(two.log)
    t1 = [e for e in events(one.log) if e["experiments"]["ceiling"] == "T1"]
    assert each.calls == sum(e["message"] == "next" for e in t1) > 0
    assert all(e["recommendation"] == (e["track"] + 1 + e["user"]) % 3000 for e in t1 if e["message"] == "next")
    # The other arms' sessions, and every session's user and first track, are sim run's.
    yaml = run(small_config, tmp_path / "yaml")
    firsts = lambda log: [(e["episode"], e["user"], e["track"]) for e in events(log) if e["time"] == 1.0 and e["message"] == "next" and e["timestamp"] % 1_000_000 == 0]
    assert firsts(one.log) == firsts(yaml.log)
    assert one.record["experiment"]["arms"][1]["spec"] == {"kind": "in_process", "label": "python: NextTrack"}


class Hooks:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.live: set[int] = set()

    def start(self, user: int) -> None:
        assert user not in self.live, "a user's sessions never overlap"
        self.live.add(user)
        self.calls.append(("start", user))

    def recommend(self, user: int, track: int, time: float) -> int:
        assert user in self.live
        return (track + 7) % 3000

    def end(self, user: int) -> None:
        self.live.remove(user)
        self.calls.append(("end", user))


def test_start_and_end_bracket_every_session(small_config: Path, tmp_path: Path) -> None:
    hooks = Hooks()
    result = run(small_config, tmp_path / "hooks", arms={"T2": hooks})
    t2 = next(a for a in result.arms if a.arm == "T2")
    assert sum(kind == "start" for kind, _ in hooks.calls) == t2.episodes
    assert sum(kind == "end" for kind, _ in hooks.calls) == t2.episodes
    assert not hooks.live


class Fails:
    def __init__(self, after: int) -> None:
        self.after = after

    def recommend(self, user: int, track: int, time: float) -> int:
        self.after -= 1
        if self.after < 0:
            return 1 // 0
        return (track + 1) % 3000


def sessions_are_whole(log: Path) -> int:
    by_session = defaultdict(list)
    for event in events(log):
        by_session[event["session"]].append(event["message"])
    assert all(messages[-1] == "last" and messages.count("last") == 1 for messages in by_session.values())
    return len(by_session)


def test_an_exception_names_arm_user_and_traceback_and_keeps_finished_episodes(small_config: Path, tmp_path: Path) -> None:
    with pytest.raises(botify_sim.RunError) as raised:
        run(small_config, tmp_path / "fails", episodes=3000, arms={"T1": Fails(after=2000)})
    message = str(raised.value)
    assert "arm T1" in message and "user " in message
    assert "ZeroDivisionError" in message and "return 1 // 0" in message
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    result = raised.value.result
    logged = sessions_are_whole(result.log)
    assert 0 < logged == result.record["completed_episodes"] < 3000


class Answers:
    def __init__(self, answer) -> None:
        self.answer = answer

    def recommend(self, user: int, track: int, time: float):
        return self.answer


class BatchAnswers:
    def __init__(self, answer) -> None:
        self.answer = answer

    def recommend_batch(self, users, tracks, times):
        return self.answer(users)


@pytest.mark.parametrize(
    ("arm", "message"),
    [
        (Answers(2.5), "returned 2.5"),
        (Answers("12"), "returned '12'"),
        (Answers(None), "returned None"),
        (Answers(True), "returned True"),
        (Answers(-1), "answered track -1"),
        (Answers(3000), "track 3000"),
        (BatchAnswers(lambda u: u * 0.5), "float64"),
        (BatchAnswers(lambda u: u[:-1]), "shape"),
        (BatchAnswers(lambda u: u - 10**6), "track -"),
        (BatchAnswers(lambda u: None), "returned None"),
    ],
)
def test_bad_answers_fail_naming_the_arm(small_config: Path, tmp_path: Path, arm, message) -> None:
    with pytest.raises(botify_sim.RunError, match="arm T3") as raised:
        run(small_config, tmp_path / "bad", arms={"T3": arm})
    assert message in str(raised.value)
    sessions_are_whole(raised.value.result.log)


def test_an_object_without_recommend_is_a_type_error_naming_the_arm(small_config: Path, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="arm T1.*recommend"):
        run(small_config, tmp_path / "none", arms={"T1": object()})


def test_an_unknown_arm_is_named_with_the_experiments_arms(small_config: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no arm T9.*C, T1, T2, T3"):
        run(small_config, tmp_path / "unknown", arms={"T9": NextTrack()})


def test_bad_arguments_are_value_errors(small_config: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="episodes"):
        run(small_config, tmp_path / "zero", episodes=0)
    with pytest.raises((ValueError, RuntimeError), match="nosuch"):
        run(small_config, tmp_path / "x", experiment="nosuch")


class Interrupts:
    """Sends Ctrl-C to its own process at its 500th request, and goes on answering."""

    def __init__(self) -> None:
        self.calls = 0

    def recommend_batch(self, users, tracks, times):
        self.calls += 1
        if self.calls == 5:
            os.kill(os.getpid(), signal.SIGINT)
        return (tracks + 1) % 3000


def test_ctrl_c_interrupts_the_run_and_keeps_finished_episodes(small_config: Path, tmp_path: Path) -> None:
    arm = Interrupts()
    with pytest.raises(KeyboardInterrupt, match="finished episodes are logged"):
        run(small_config, tmp_path / "interrupted", episodes=2_000_000, arms={"T1": arm})
    record = __import__("json").loads((tmp_path / "interrupted" / "run.json").read_text())
    assert record["interrupted"] is True
    assert record["completed_episodes"] < 2_000_000
    assert sessions_are_whole(tmp_path / "interrupted" / "events.jsonl") == record["completed_episodes"]
