"""Event logs and A/B tables as pandas DataFrames (pandas is optional: these functions
say so when it is missing)."""

from __future__ import annotations

import io
import json
import os
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

import numpy as np

from . import _native

if TYPE_CHECKING:
    import pandas

PathLike = Union[str, "os.PathLike[str]"]


def _pandas(what: str) -> Any:
    try:
        import pandas
    except ImportError as e:
        raise ImportError(
            f"botify_sim.{what} returns a pandas DataFrame: install pandas (pip install pandas)"
        ) from e
    return pandas


def _paths(paths: Union[PathLike, Iterable[PathLike]]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def read_log(
    paths: Union[PathLike, Iterable[PathLike]],
    *,
    experiment: Optional[str] = None,
    skip_bad_lines: bool = False,
) -> "pandas.DataFrame":
    """The events of logs as a DataFrame, with the course notebook's columns.

    ``paths``: our ``events.jsonl``, the botify service's ``data.json`` (rotated
    ``data.json.N`` too), or folders of them; several files are merged by timestamp.
    Read by the simulator's own parallel reader (the one ``sim report`` uses).

    Columns: ``message`` (``"next"``/``"last"``), ``timestamp`` (ms, int), ``user``,
    ``track``, ``time``, ``latency`` (s), ``recommendation`` (null for ``"last"``),
    ``experiments`` (a dict per row: rows with the same object share one dict),
    ``session`` (our logs' session id, null in the service's); with ``experiment``, also
    ``treatment``, the row's arm in that experiment (as the notebook's
    ``data["experiments"].map(...)``).
    """
    pandas = _pandas("read_log")
    columns = _native.read_log(_paths(paths), skip_bad_lines)
    sets = np.empty(len(columns["sets"]), dtype=object)
    sets[:] = columns["sets"]

    def nullable(values: np.ndarray) -> Any:
        return pandas.arrays.IntegerArray(values, values < 0)

    frame = pandas.DataFrame(
        {
            "message": pandas.Categorical.from_codes(
                columns["last"].astype(np.int8), categories=["next", "last"]
            ),
            "timestamp": columns["timestamp"],
            "user": columns["user"],
            "track": nullable(columns["track"]),
            "time": columns["time"],
            "latency": columns["latency"],
            "recommendation": nullable(columns["recommendation"]),
            "experiments": sets[columns["set"]],
            "session": nullable(columns["session"]),
        }
    )
    if experiment is not None:
        names = sorted({t for s in columns["sets"] if (t := s.get(experiment)) is not None})
        code = {name: i for i, name in enumerate(names)}
        codes = np.array([code.get(s.get(experiment), -1) for s in columns["sets"]], dtype=np.int64)
        frame["treatment"] = pandas.Categorical.from_codes(
            codes[columns["set"]] if len(codes) else np.empty(0, np.int64), categories=names
        )
    frame.attrs["bad_lines"] = columns["bad_lines"]
    return frame


def report(
    paths: Union[PathLike, Iterable[PathLike]],
    *,
    experiment: Optional[str] = None,
    control: Optional[str] = None,
    alpha: float = 0.05,
    power: float = 0.8,
    skip_bad_lines: bool = False,
    without_first_track: bool = False,
) -> "pandas.DataFrame":
    """The A/B table of logs as ``sim report`` computes it: one row per (treatment,
    metric), the columns and numbers of its ``ab.csv`` (NaN where ``ab.csv`` is empty).
    The options are ``sim report``'s; ``frame.attrs["analysis"]`` holds its ``ab.json``
    (log counters, arms, the sample-ratio check)."""
    pandas = _pandas("report")
    csv, analysis = _native.report_csv(
        _paths(paths),
        experiment=experiment,
        control=control,
        alpha=alpha,
        power=power,
        skip_bad_lines=skip_bad_lines,
        without_first_track=without_first_track,
    )
    frame = pandas.read_csv(
        io.BytesIO(csv),
        keep_default_na=False,
        na_values=[""],
        dtype={"treatment": str, "metric": str},
    )
    frame.attrs["analysis"] = json.loads(analysis)
    return frame
