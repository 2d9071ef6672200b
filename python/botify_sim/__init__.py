"""botify-sim for Python: the Rust simulator of music-recommender sessions.

- :class:`SessionEnv` / :class:`SessionVectorEnv`: Gymnasium environments of listening
  sessions (registered as ``botify_sim/Session-v0``: ``gymnasium.make`` and
  ``gymnasium.make_vec`` work once ``botify_sim`` is imported);
- :func:`run`: an A/B experiment, as ``sim run``, where any arm may be a Python object;
- :func:`read_log` / :func:`report`: event logs and the A/B table as pandas DataFrames.

Episode ``i`` of seed ``s`` is ``sim run --seed s``'s episode ``i``; a run's log is
``sim run``'s; a report is ``sim report``'s. See ``docs/PYTHON.md``.
"""

from __future__ import annotations

import gymnasium

from ._native import __version__
from .envs import SessionEnv, SessionVectorEnv
from .experiments import ArmResult, RunError, RunResult, run
from .frames import read_log, report

__all__ = [
    "ArmResult",
    "RunError",
    "RunResult",
    "SessionEnv",
    "SessionVectorEnv",
    "__version__",
    "read_log",
    "report",
    "run",
]

#: The Gymnasium id of :class:`SessionEnv` (and of :class:`SessionVectorEnv` for
#: ``gymnasium.make_vec``).
ENV_ID = "botify_sim/Session-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="botify_sim.envs:SessionEnv",
        vector_entry_point="botify_sim.envs:SessionVectorEnv",
    )
