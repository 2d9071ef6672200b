"""Throughput of the Python package, against baselines measured in the same run.

    python python/benchmarks/bench.py [--course DIR --course-python PY] [--quick]

Prints steps per second of:
- SessionVectorEnv stepped with random NumPy actions at num_envs 1, 64, 1024, 4096;
- SessionEnv stepped one action at a time from Python (a random agent);
- botify_sim.run with a Python arm: `recommend_batch` drawing with NumPy, and a
  pure-Python per-request `recommend`;
and, as baselines: the course's gym environment stepped by its random agent (with
`--course`: the folder holding the course's `sim` package and a config whose data is
`sim world export`'s; `--course-python`: an interpreter with the course's requirements),
and the same recommender served over HTTP by Python's standard library
(python/examples/http_service.py) and driven by `sim run --remote`. Every figure comes
with the machine's load (`uptime`) before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import botify_sim

REPO = Path(__file__).resolve().parents[2]


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__() if Path("/proc/loadavg").exists() else "?"


def timed_steps(step, seconds: float) -> float:
    """Steps per second of `step()` (which returns how many steps it made) over about
    `seconds`, after a short warm-up."""
    for _ in range(3):
        step()
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        steps += step()
    return steps / elapsed


def vector_env(num_envs: int, config, seconds: float) -> float:
    env = botify_sim.SessionVectorEnv(num_envs, config)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    n = env.single_action_space.n

    def step() -> int:
        env.step(rng.integers(0, n, size=num_envs))
        return num_envs

    return timed_steps(step, seconds)


def single_env(config, seconds: float, sample: bool) -> float:
    env = botify_sim.SessionEnv(config)
    env.reset(seed=1)
    env.action_space.seed(0)
    n = env.action_space.n
    rng = random.Random(0)
    done = [False]

    def step() -> int:
        for _ in range(1000):
            if done[0]:
                env.reset()
            action = env.action_space.sample() if sample else rng.randrange(n)
            _, _, terminated, truncated, _ = env.step(action)
            done[0] = terminated or truncated
        return 1000

    return timed_steps(step, seconds)


COURSE_DRIVER = r"""
import sys, time, os
os.chdir(sys.argv[1])
sys.path.insert(0, sys.argv[1])
import yaml
from sim.envs import RecEnv
from sim.envs.config import RecEnvConfigSchema
from sim.agents import DummyRecommender
config = RecEnvConfigSchema().load(yaml.full_load(open("config/env.yml")))
env = RecEnv(config)
env.seed(1)
agent = DummyRecommender(env.action_space)
seconds = float(sys.argv[2])
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    observation, reward, done = env.reset(), 1.0, False
    while not done:
        observation, reward, done, _ = env.step(agent.recommend(observation, reward, done))
        steps += 1
print(steps / (time.perf_counter() - start))
"""


def course_env(course: Path, python: str, seconds: float) -> float:
    done = subprocess.run(
        [python, "-c", COURSE_DRIVER, str(course), str(seconds)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"the course environment failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


class NumpyDraw:
    def __init__(self, n_tracks: int) -> None:
        self.rng = np.random.default_rng(0)
        self.n = n_tracks

    def recommend_batch(self, users, tracks, times):
        return self.rng.integers(0, self.n, size=len(users))


class PythonDraw:
    def __init__(self, n_tracks: int) -> None:
        self.rng = random.Random(0)
        self.n = n_tracks

    def recommend(self, user: int, track: int, time: float) -> int:
        return self.rng.randrange(self.n)


def steps_per_second(record: dict) -> float:
    steps = sum(a["steps"]["mean"] * a["episodes"] for a in record["arms"])
    return steps / record["wall_seconds"]


def one_arm_experiment(folder: Path) -> Path:
    path = folder / "one_arm.yml"
    path.write_text("name: one_arm\narms:\n  C: {kind: random}\n")
    return path


def in_process(arm, episodes: int, config, folder: Path) -> float:
    result = botify_sim.run(
        one_arm_experiment(folder), episodes=episodes, seed=1, arms={"C": arm},
        config=config, out=folder / "in_process", quiet=True,
    )
    return steps_per_second(result.record)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def over_http(n_tracks: int, episodes: int, config, folder: Path) -> float:
    """`sim run --remote` against python/examples/http_service.py (the same random draw)."""
    port = free_port()
    service = subprocess.Popen(
        [sys.executable, str(REPO / "python" / "examples" / "http_service.py"),
         "--port", str(port), "--tracks", str(n_tracks)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([service.stdout], [], [], 30)
        if not ready:
            raise RuntimeError("the HTTP service did not start")
        service.stdout.readline()
        sim = os.environ.get("BOTIFY_SIM", str(REPO / "target" / "release" / "sim"))
        args = [sim, "--quiet", "run", "--remote", f"http://127.0.0.1:{port}", "--no-catalogue-check",
                "--episodes", str(episodes), "--out", str(folder / "http"), "--json"]
        if config is not None:
            args += ["--config", str(config)]
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        return steps_per_second(json.loads(done.stdout))
    finally:
        service.kill()
        service.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a sim config (default: the built-in world)")
    parser.add_argument("--course", type=Path, help="the course's sim/ folder (its package and config)")
    parser.add_argument("--course-python", default=sys.executable, help="Python with the course's requirements")
    parser.add_argument("--seconds", type=float, default=3.0, help="per environment figure")
    parser.add_argument("--episodes", type=int, default=200_000, help="per in-process run")
    parser.add_argument("--http-episodes", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="a tenth of the work (a smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.episodes, args.http_episodes = 0.3, 20_000, 300
    n_tracks = botify_sim.SessionEnv(args.config).action_space.n

    print(f"load average before: {load()}")
    rows: list[tuple[str, float]] = []
    course = None
    if args.course is not None:
        course = course_env(args.course, args.course_python, args.seconds)
        rows.append(("course gym env, random agent (baseline)", course))
    single = single_env(args.config, args.seconds, sample=True)
    rows.append(("SessionEnv, random agent (action_space.sample())", single))
    rows.append(("SessionEnv, random ints", single_env(args.config, args.seconds, sample=False)))
    vector = {}
    for num_envs in (1, 64, 1024, 4096):
        vector[num_envs] = vector_env(num_envs, args.config, args.seconds)
        rows.append((f"SessionVectorEnv, num_envs={num_envs}", vector[num_envs]))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        http = over_http(n_tracks, args.http_episodes, args.config, folder)
        rows.append(("sim run --remote, stdlib HTTP service (baseline)", http))
        batch = in_process(NumpyDraw(n_tracks), args.episodes, args.config, folder)
        rows.append(("run(), recommend_batch with a NumPy draw", batch))
        each = in_process(PythonDraw(n_tracks), args.episodes // 4, args.config, folder)
        rows.append(("run(), per-request recommend in pure Python", each))

    for name, value in rows:
        print(f"{name:<52} {value:>14,.0f} steps/s")
    if course:
        print(f"SessionEnv / course env: {single / course:.1f}x; "
              f"SessionVectorEnv(1024) / course env: {vector[1024] / course:.0f}x")
    print(f"run() batch / HTTP: {batch / http:.0f}x; run() per request / HTTP: {each / http:.0f}x")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
