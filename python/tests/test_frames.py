"""read_log and report: the Rust reader's events as the notebook's columns, the A/B table
with exactly ab.csv's cells, and the message without pandas."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

import botify_sim
from conftest import events, sim

COLUMNS = ["message", "timestamp", "user", "track", "time", "latency", "recommendation", "experiments", "session"]


@pytest.fixture(scope="module")
def run_dir(sim_binary: Path, small_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `sim run` of the ceiling experiment: its log and its ab.csv."""
    out = tmp_path_factory.mktemp("frames") / "run"
    sim(
        sim_binary, "run", "--experiment", "ceiling", "--config", str(small_config),
        "--episodes", "600", "--seed", "4", "--out", str(out), cwd=out.parent,
    )
    return out


def test_read_log_has_the_notebooks_columns_and_every_value(run_dir: Path) -> None:
    log = run_dir / "events.jsonl"
    frame = botify_sim.read_log(log, experiment="ceiling")
    assert list(frame.columns) == COLUMNS + ["treatment"]
    lines = events(log)
    assert len(frame) == len(lines)
    for row, line in zip(frame.itertuples(index=False), lines):
        assert row.message == line["message"]
        assert (row.timestamp, row.user, row.track) == (line["timestamp"], line["user"], line["track"])
        assert row.time == line["time"] and row.latency == line["latency"]
        assert (None if pd.isna(row.recommendation) else row.recommendation) == line["recommendation"]
        assert row.experiments == line["experiments"]
        assert row.session == line["session"]
        assert row.treatment == line["experiments"]["ceiling"]


def service_log(lines: list[dict]) -> list[str]:
    """The botify service's data.json form: no session, no episode."""
    out = []
    for line in lines:
        line = {k: v for k, v in line.items() if k not in ("session", "episode")}
        out.append(json.dumps(line))
    return out


def test_read_log_reads_service_logs_and_rotated_files(run_dir: Path, tmp_path: Path) -> None:
    lines = events(run_dir / "events.jsonl")
    text = service_log(lines)
    # Rotated as the service rotates: data.json.2 is the oldest.
    third = len(text) // 3
    (tmp_path / "data.json.2").write_text("\n".join(text[:third]) + "\n")
    (tmp_path / "data.json.1").write_text("\n".join(text[third : 2 * third]) + "\n")
    (tmp_path / "data.json").write_text("\n".join(text[2 * third :]) + "\n")
    frame = botify_sim.read_log(tmp_path)
    assert list(frame.columns) == COLUMNS
    assert frame["session"].isna().all()
    assert list(frame["timestamp"]) == [line["timestamp"] for line in lines]
    assert list(frame["time"]) == [line["time"] for line in lines]


def test_read_log_names_the_bad_line(tmp_path: Path) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_text('{"message": "next", "timestamp": 1}\n')
    with pytest.raises(RuntimeError, match=r"bad.jsonl:1"):
        botify_sim.read_log(log)


def cell(text: str):
    if text == "":
        return math.nan
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text)
    except ValueError:
        return text


def test_report_equals_ab_csv_cell_by_cell(run_dir: Path) -> None:
    frame = botify_sim.report(run_dir / "events.jsonl", experiment="ceiling", control="C")
    with (run_dir / "ab.csv").open() as f:
        rows = list(csv.reader(f))
    assert list(frame.columns) == rows[0]
    assert len(frame) == len(rows) - 1 > 0
    for values, row in zip(frame.itertuples(index=False), rows[1:]):
        for value, text in zip(values, row):
            expected = cell(text)
            if isinstance(expected, float) and math.isnan(expected):
                assert pd.isna(value), (row, text)
            else:
                assert value == expected, (row, text)
    assert frame.attrs["analysis"]["experiment"] == "ceiling"


def test_run_result_report_is_the_runs_ab_csv(small_config: Path, tmp_path: Path) -> None:
    result = botify_sim.run("ceiling", episodes=300, seed=2, config=small_config, out=tmp_path / "r", quiet=True)
    frame = result.report()
    ab = pd.read_csv(result.out / "ab.csv", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(frame, ab, check_dtype=False)
    summary = result.summary()
    assert list(summary.index) == ["C", "T1", "T2", "T3"]


def test_without_pandas_the_error_names_pandas(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        botify_sim.read_log(run_dir / "events.jsonl")
    with pytest.raises(ImportError, match="pip install pandas"):
        botify_sim.report(run_dir / "events.jsonl")
