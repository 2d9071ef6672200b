"""Shared fixtures: small synthetic worlds (tests run in seconds), a private world and
artifact cache, and the `sim` binary the results are compared with."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One world and artifact cache for the whole session, never the user's own."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["BOTIFY_CACHE_DIR"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def small_config(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """A small world; sessions capped at 12 recommendations, so that some are truncated."""
    path = tmp_path_factory.mktemp("config") / "env.yml"
    path.write_text(
        "world:\n  synthetic: {tracks: 3000, artists: 700, users: 400, seed: 7}\n"
        "user_defaults: {consume_bias: 3.0}\n"
        "simulation: {max_session_steps: 12}\n"
    )
    return path


@pytest.fixture(scope="session")
def sim_binary() -> Path:
    """The `sim` binary of this checkout (./test.sh builds it first)."""
    path = Path(os.environ.get("BOTIFY_SIM", REPO / "target" / "release" / "sim"))
    if not path.exists():
        pytest.fail(f"no sim binary at {path}: run ./test.sh (or cargo build --release) first")
    return path


def sim(binary: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Runs `sim` quietly; fails the test with its stderr when it fails."""
    done = subprocess.run(
        [str(binary), "--quiet", *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def without_latency(path: Path) -> list[dict]:
    """A log's events with the measured `latency` left out (the only field that differs
    between two runs of the same arguments)."""
    out = []
    for event in events(path):
        event.pop("latency")
        out.append(event)
    return out
