"""``run``: an A/B experiment as ``sim run`` runs it, where any arm may be a Python object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

from . import _native

if TYPE_CHECKING:
    import pandas

PathLike = Union[str, "os.PathLike[str]"]


class RunError(RuntimeError):
    """A run that failed (a recommender raised or answered badly, the disk filled up):
    the message names the arm, the user and, for a Python arm, its traceback (the
    exception is also the ``__cause__``). Every finished episode is logged:
    ``result`` is the run as recorded."""

    def __init__(self, message: str, result: "RunResult") -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class ArmResult:
    """One arm's episodes, as ``sim run`` sums them up (reward: per episode, without the
    first track's 1.0; mean and standard error)."""

    arm: str
    episodes: int
    users: int
    reward_mean: float
    reward_sem: float
    steps_mean: float
    steps_sem: float


@dataclass(frozen=True)
class RunResult:
    """What a run wrote: ``record`` is its ``run.json`` (with ``files``)."""

    record: dict[str, Any]
    #: The run's folder.
    out: Path
    #: Its event logs (``events.jsonl``).
    logs: tuple[Path, ...]
    #: ``report.md``, written with ``ab.csv`` and the rest when the run has two arms or more.
    report_path: Optional[Path]
    arms: tuple[ArmResult, ...]

    @property
    def log(self) -> Path:
        """The event log (the first, for a run of several days)."""
        return self.logs[0]

    @property
    def experiment(self) -> str:
        return self.record["experiment"]["name"]

    @property
    def control(self) -> str:
        return self.record["experiment"]["control"]

    def report(self, **options: Any) -> "pandas.DataFrame":
        """The A/B table of the run's logs against its control (see :func:`report`)."""
        from .frames import report

        options.setdefault("experiment", self.experiment)
        options.setdefault("control", self.control)
        return report(self.logs, **options)

    def read_log(self, **options: Any) -> "pandas.DataFrame":
        """The run's events (see :func:`read_log`)."""
        from .frames import read_log

        options.setdefault("experiment", self.experiment)
        return read_log(self.logs, **options)

    def summary(self) -> "pandas.DataFrame":
        """The per-arm summary as a DataFrame, one row per arm."""
        from .frames import _pandas

        pandas = _pandas("RunResult.summary")
        return pandas.DataFrame([vars(arm) for arm in self.arms]).set_index("arm")

    @classmethod
    def _from_record(cls, record: dict[str, Any]) -> "RunResult":
        files = record.get("files") or {}
        arms = tuple(
            ArmResult(
                arm=a["arm"],
                episodes=a["episodes"],
                users=a["users"],
                reward_mean=a["reward"]["mean"],
                reward_sem=a["reward"]["sem"],
                steps_mean=a["steps"]["mean"],
                steps_sem=a["steps"]["sem"],
            )
            for a in record.get("arms", [])
        )
        report_path = files.get("report")
        return cls(
            record=record,
            out=Path(files["run"]).parent,
            logs=tuple(Path(p) for p in files.get("logs", [])),
            report_path=None if report_path is None else Path(report_path),
            arms=arms,
        )


def run(
    experiment: PathLike = "hw2",
    *,
    episodes: int = 500,
    seed: int = 42,
    arms: Optional[Mapping[str, Any]] = None,
    out: Optional[PathLike] = None,
    config: Optional[PathLike] = None,
    workers: Optional[int] = None,
    cache_dir: Optional[PathLike] = None,
    rebuild: bool = False,
    quiet: bool = False,
) -> RunResult:
    """Runs ``episodes`` sessions of an experiment, as ``sim run`` with the same arguments.

    Args:
        experiment: a built-in experiment's name (``sim experiments`` lists them) or a
            file, as ``--experiment``.
        arms: Python objects replacing the experiment's arms of the same names
            (``{"T1": obj}``; the experiment's split and user assignment stay). An object
            has either ``recommend(user, track, time) -> int``, asked once per request, or
            ``recommend_batch(users, tracks, times) -> array``, asked once per round for
            every live session of its arm (NumPy arrays in, an integer array of as many
            track ids out; preferred when both exist), and optionally ``start(user)`` and
            ``end(user)``, called when each of its sessions begins and ends (a user's
            sessions never overlap). The previous track's time is 1.0 for a session's first
            request, as the botify service sees it.
        out: the run's folder (``events.jsonl``, ``run.json``, the report); default
            ``runs/<experiment name>``.
        config, workers, cache_dir, rebuild: as ``sim run``'s options.
        quiet: no progress messages on stderr.

    With only the experiment's own arms the log is ``sim run``'s, byte for byte but the
    measured ``latency``. A recommender's exception or bad answer (not an integer, not a
    track id) stops the run with a :class:`RunError` naming the arm and the user, after
    every finished episode is logged. Ctrl-C (a notebook's interrupt) stops the run the
    same way and raises ``KeyboardInterrupt``.
    """
    record, failure, cause, interrupted = _native.run(
        os.fspath(experiment),
        int(episodes),
        int(seed),
        dict(arms or {}),
        out=None if out is None else os.fspath(out),
        config=None if config is None else os.fspath(config),
        workers=workers,
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
        rebuild=rebuild,
        quiet=quiet,
    )
    result = RunResult._from_record(record)
    if interrupted:
        raise KeyboardInterrupt(
            f"run interrupted: {record.get('completed_episodes')} finished episodes are logged in {result.out}"
        )
    if failure is not None:
        raise RunError(failure, result) from cause
    return result
