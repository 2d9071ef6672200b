"""Gymnasium environments of listening sessions, stepped by the Rust user model.

A session is the course simulator's episode: a user and a first track, then one
recommendation per step until the user's patience runs out. The observation is the user
and the previous track (nothing hidden), the action the next track, the reward its
listen time. Episode ``i`` of seed ``s`` is ``sim run --seed s``'s episode ``i``.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

import numpy as np
from gymnasium import Env, spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _native

PathLike = Union[str, "os.PathLike[str]"]

#: Seeds are unsigned 64-bit integers, as ``sim run --seed``.
_SEED_LIMIT = 2**64


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"a seed is an integer in 0..2**64-1, got {seed!r}")
    if not 0 <= int(seed) < _SEED_LIMIT:
        raise ValueError(f"a seed is an integer in 0..2**64-1, got {seed!r}")
    return int(seed)


def _path(path: Optional[PathLike]) -> Optional[str]:
    return None if path is None else os.fspath(path)


class SessionEnv(Env):
    """One listening session at a time: the course's ``gym.Env``, in Rust.

    - observation: ``{"user": Discrete(users), "track": Discrete(tracks)}``, the user and
      the previous track (at reset: the session's first track);
    - action: ``Discrete(tracks)``, the recommended track (an ``int`` or a NumPy
      integer; anything else, or an id outside the catalogue, is a ``ValueError``);
    - reward: the listen time of the track (0 to 1);
    - ``terminated``: the user's budget ran out (the course model's end);
      ``truncated``: the config's ``simulation.max_session_steps`` cap was reached.

    ``reset(seed=s)`` starts episode 0 of seed ``s`` and each later ``reset()`` the next
    episode: episode ``i`` of seed ``s`` is ``sim run --seed s``'s episode ``i`` (the
    same user and first track, and for the same actions the same listen times, bit for
    bit). ``info`` at reset holds ``episode``, that index. A first ``reset()`` without a
    seed draws one from Gymnasium's ``np_random``.

    Args:
        config: a config file as ``sim --config`` reads (the course-format world works);
            ``None``: ``config/env.yml`` in the working folder if present, else the
            built-in default world.
        cache_dir: the world cache (``sim --cache-dir``); default ``BOTIFY_CACHE_DIR``
            or the user's cache folder.
        render_mode: ``"human"`` prints the session at every step, as the course's
            ``render()``; ``"ansi"`` makes ``render()`` return that line. With ``None``,
            an explicit ``render()`` prints it.
    """

    metadata = {"render_modes": ["human", "ansi"], "render_fps": 4}

    def __init__(
        self,
        config: Optional[PathLike] = None,
        *,
        cache_dir: Optional[PathLike] = None,
        render_mode: Optional[str] = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self._sessions = _native.Sessions(1, _path(config), _path(cache_dir), plays=True)
        self.observation_space = spaces.Dict(
            {
                "user": spaces.Discrete(self._sessions.n_users),
                "track": spaces.Discrete(self._sessions.n_tracks),
            }
        )
        self.action_space = spaces.Discrete(self._sessions.n_tracks)
        self.render_mode = render_mode
        self._seeded = False

    def reset(
        self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None
    ) -> tuple[dict[str, int], dict[str, Any]]:
        """Starts the next session (episode 0 of ``seed`` if given)."""
        if seed is not None:
            seed = _check_seed(seed)
        super().reset(seed=seed)
        if seed is None and not self._seeded:
            seed = int(self.np_random.integers(0, 2**63))
        user, track, episode = self._sessions.reset(0, seed)
        self._seeded = True
        if self.render_mode == "human":
            self.render()
        return {"user": user, "track": track}, {"episode": episode}

    def step(
        self, action: int
    ) -> tuple[dict[str, int], float, bool, bool, dict[str, Any]]:
        """Recommends ``action``; stepping an ended session without ``reset()`` is an error."""
        user, track, time, terminated, truncated = self._sessions.step(0, action)
        if self.render_mode == "human":
            self.render()
        return {"user": user, "track": track}, time, terminated, truncated, {}

    def render(self) -> Optional[str]:
        """The session as the course prints it:
        ``Current session: user:[Playback(track=.., time=.., artist='..'), ...]:budget``,
        with a final ``.`` once it has ended (the course's line, which it printed only
        then)."""
        line = f"Current session: {self._sessions.render(0)}"
        if self.render_mode == "ansi":
            return line
        print(line)
        return None

    def artist(self, track: int) -> str:
        """The artist of ``track``."""
        return self._sessions.artist(track)


class SessionVectorEnv(VectorEnv):
    """``num_envs`` sessions stepped together in Rust, in parallel, with the GIL released.

    Observations are ``{"user": array, "track": array}`` of shape ``(num_envs,)``;
    ``step`` takes an integer NumPy array of ``num_envs`` track ids and returns NumPy
    arrays. Autoreset is Gymnasium's next-step mode (``metadata["autoreset_mode"]``):
    a sub-environment whose session ended at one step begins its next episode at the
    following step, ignoring that step's action, with reward 0 and both flags false.

    Sub-environment ``j`` goes through the episodes of its own seed: ``reset(seed=s)``
    gives it seed ``s + j`` (as ``gymnasium.vector.SyncVectorEnv`` seeds its copies),
    ``reset(seed=[s0, s1, ...])`` seed ``s_j``. So sub-environment ``j`` is
    ``SessionEnv`` reset with its seed, whatever the number of threads (set
    ``RAYON_NUM_THREADS`` to choose it).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        config: Optional[PathLike] = None,
        *,
        cache_dir: Optional[PathLike] = None,
        render_mode: Optional[str] = None,
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"SessionVectorEnv does not render, got render_mode={render_mode!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self._sessions = _native.Sessions(int(num_envs), _path(config), _path(cache_dir), plays=False)
        self.num_envs = int(num_envs)
        self.single_observation_space = spaces.Dict(
            {
                "user": spaces.Discrete(self._sessions.n_users),
                "track": spaces.Discrete(self._sessions.n_tracks),
            }
        )
        self.single_action_space = spaces.Discrete(self._sessions.n_tracks)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._seeded = False

    def reset(
        self,
        *,
        seed: Optional[Union[int, Sequence[int]]] = None,
        options: Optional[dict[str, Any]] = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Starts the next session of every sub-environment (see the class for seeds)."""
        seeds: Optional[list[int]]
        if seed is None:
            super().reset()
            seeds = None
            if not self._seeded:
                first = int(self.np_random.integers(0, 2**63))
                seeds = [first + j for j in range(self.num_envs)]
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            first = _check_seed(seed)
            super().reset(seed=first)
            seeds = [(first + j) % _SEED_LIMIT for j in range(self.num_envs)]
        else:
            seeds = [_check_seed(s) for s in seed]
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} sub-environments")
            super().reset(seed=seeds[0])
        users, tracks = self._sessions.reset_all(seeds)
        self._seeded = True
        return {"user": users, "track": tracks}, {}

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Recommends ``actions[j]`` in sub-environment ``j``."""
        actions = np.asarray(actions)
        if actions.dtype != np.int64:
            if actions.dtype.kind not in "iu":
                raise ValueError(
                    f"actions must be integer track ids, got an array of dtype {actions.dtype}"
                )
            actions = actions.astype(np.int64)
        if actions.shape != (self.num_envs,):
            raise ValueError(
                f"actions must have shape ({self.num_envs},), got {actions.shape}"
            )
        users, tracks, rewards, terminated, truncated = self._sessions.step_all(
            np.ascontiguousarray(actions)
        )
        return {"user": users, "track": tracks}, rewards, terminated, truncated, {}
