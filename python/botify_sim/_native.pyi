"""The extension module of botify_sim (Rust): used through the package's classes and
functions, which document the behaviour."""

from typing import Any, Optional

import numpy as np
import numpy.typing as npt

__version__: str

class Sessions:
    """Live sessions of the user model, one per sub-environment, each going through the
    episodes of its own seed (episode ``i`` of seed ``s`` is ``sim run --seed s``'s)."""

    def __init__(
        self,
        num_envs: int,
        config: Optional[str] = None,
        cache_dir: Optional[str] = None,
        plays: bool = False,
    ) -> None: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def n_users(self) -> int: ...
    @property
    def n_tracks(self) -> int: ...
    def reset(self, env: int, seed: Optional[int] = None) -> tuple[int, int, int]:
        """Begins the next episode of ``env``: (user, first track, episode index)."""
    def step(self, env: int, action: Any) -> tuple[int, int, float, bool, bool]:
        """(user, track, listen time, terminated, truncated)."""
    def reset_all(
        self, seeds: Optional[list[int]] = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Begins the next episode of every sub-environment: (users, first tracks)."""
    def step_all(
        self, actions: npt.NDArray[np.int64]
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.bool_],
    ]:
        """(users, tracks, rewards, terminated, truncated), next-step autoreset."""
    def episode(self, env: int) -> Optional[int]: ...
    def render(self, env: int) -> str: ...
    def artist(self, track: Any) -> str: ...

def run(
    experiment: str,
    episodes: int,
    seed: int,
    arms: dict[str, Any],
    out: Optional[str] = None,
    config: Optional[str] = None,
    workers: Optional[int] = None,
    cache_dir: Optional[str] = None,
    rebuild: bool = False,
    quiet: bool = False,
) -> tuple[dict[str, Any], Optional[str], Optional[BaseException], bool]:
    """(run.json record with ``files``, failure message, a Python arm's exception,
    interrupted)."""

def read_log(paths: list[str], skip_bad_lines: bool = False) -> dict[str, Any]:
    """NumPy columns of the events, ``sets`` (the distinct ``experiments`` dicts) and
    ``bad_lines``."""

def report_csv(
    paths: list[str],
    experiment: Optional[str] = None,
    control: Optional[str] = None,
    alpha: float = 0.05,
    power: float = 0.8,
    skip_bad_lines: bool = False,
    without_first_track: bool = False,
) -> tuple[bytes, bytes]:
    """The bytes of ``sim report``'s ``ab.csv`` and ``ab.json``."""
