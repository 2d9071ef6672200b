"""Every example under python/examples runs (on a small world), and the HTTP example is
the fast service it says it is: `sim run --remote` drives it without the stall warning,
and names the stall and its fix when Nagle's algorithm is left on."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, sim

EXAMPLES = REPO / "python" / "examples"


def example(name: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_random_agent(small_config: Path, tmp_path: Path) -> None:
    out = example("random_agent.py", "--config", str(small_config), "--episodes", "200", cwd=tmp_path)
    assert "SessionEnv: 200 sessions" in out and "SessionVectorEnv: 1024 sessions" in out


def test_read_the_report(small_config: Path, tmp_path: Path) -> None:
    out = example("read_the_report.py", "--config", str(small_config), "--episodes", "500", cwd=tmp_path)
    assert "mean_time_per_session" in out


def test_beat_the_baseline(small_config: Path, tmp_path: Path) -> None:
    out = example("beat_the_baseline.py", "--config", str(small_config), "--episodes", "600", cwd=tmp_path)
    assert "against the baseline's" in out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def service():
    """Starts http_service.py (arguments given to the returned function) and stops it."""
    started = []

    def start(*args: str) -> str:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "http_service.py"), "--port", str(port), "--tracks", "3000", *args],
            stdout=subprocess.PIPE, text=True,
        )
        started.append(process)
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready and process.stdout.readline().startswith("serving on"), "the service did not start"
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.kill()
        process.wait()


def remote_run(sim_binary: Path, url: str, config: Path, tmp: Path, episodes: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(sim_binary), "run", "--remote", url, "--no-catalogue-check", "--config", str(config),
         "--episodes", str(episodes), "--out", str(tmp / "remote")],
        cwd=tmp, capture_output=True, text=True,
    )


def test_the_http_service_runs_without_a_stall(service, sim_binary: Path, small_config: Path, tmp_path: Path) -> None:
    done = remote_run(sim_binary, service(), small_config, tmp_path, 300)
    assert done.returncode == 0, done.stderr
    assert "Nagle" not in done.stderr


def test_a_stalled_service_is_named_with_the_fix(service, sim_binary: Path, small_config: Path, tmp_path: Path) -> None:
    done = remote_run(sim_binary, service("--nagle"), small_config, tmp_path, 4)
    assert done.returncode == 0, done.stderr
    assert "Nagle's algorithm" in done.stderr and "disable_nagle_algorithm = True" in done.stderr


def test_your_service_experiment_puts_the_service_against_the_baseline(
    service, sim_binary: Path, small_config: Path, tmp_path: Path
) -> None:
    url = service()
    text = (REPO / "experiments" / "your_service.yml").read_text()
    assert 'url: "http://127.0.0.1:5001"' in text
    (tmp_path / "mine.yml").write_text(text.replace("http://127.0.0.1:5001", url))
    # Its recipe's `seminar.yml` resolves next to the copy, as after `sim init`.
    (tmp_path / "seminar.yml").write_text((REPO / "experiments" / "seminar.yml").read_text())
    sim(sim_binary, "run", "--experiment", "mine.yml", "--config", str(small_config),
        "--episodes", "200", "--out", str(tmp_path / "ab"), cwd=tmp_path)
    ab = (tmp_path / "ab" / "ab.csv").read_text()
    assert "\nT1,mean_time_per_session," in ab
