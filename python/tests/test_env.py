"""SessionEnv and SessionVectorEnv: Gymnasium's contract, sim run's episodes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import botify_sim
from conftest import events, sim


def test_check_env_passes(small_config: Path) -> None:
    check_env(botify_sim.SessionEnv(small_config))
    check_env(gymnasium.make("botify_sim/Session-v0", config=small_config).unwrapped)


def test_make_and_make_vec(small_config: Path) -> None:
    env = gymnasium.make("botify_sim/Session-v0", config=small_config)
    assert isinstance(env.unwrapped, botify_sim.SessionEnv)
    vec = gymnasium.make_vec("botify_sim/Session-v0", num_envs=3, config=small_config)
    assert isinstance(vec, botify_sim.SessionVectorEnv)
    assert vec.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    obs, _ = vec.reset(seed=1)
    assert obs["user"].shape == (3,) and obs["track"].dtype == np.int64
    assert vec.observation_space.contains(obs)


def test_spaces_are_the_worlds(small_config: Path) -> None:
    env = botify_sim.SessionEnv(small_config)
    assert env.action_space == gymnasium.spaces.Discrete(3000)
    assert env.observation_space["user"] == gymnasium.spaces.Discrete(400)


def sim_run_sessions(sim_binary: Path, config: Path, tmp: Path, seed: int, episodes: int):
    """`sim run`'s sessions of the ceiling experiment, by episode: its events in order."""
    sim(
        sim_binary, "run", "--experiment", "ceiling", "--config", str(config),
        "--episodes", str(episodes), "--seed", str(seed), "--out", str(tmp / "run"),
        cwd=tmp,
    )
    by_episode = defaultdict(list)
    for event in events(tmp / "run" / "events.jsonl"):
        by_episode[event["episode"]].append(event)
    assert sorted(by_episode) == list(range(episodes))
    return [by_episode[i] for i in range(episodes)]


def test_episodes_replay_sim_run_bit_for_bit(sim_binary: Path, small_config: Path, tmp_path: Path) -> None:
    """Every recommendation of a `sim run` log, replayed through the env in episode
    order, gives the same user, first track, listen times and session ends."""
    sessions = sim_run_sessions(sim_binary, small_config, tmp_path, seed=11, episodes=300)
    env = botify_sim.SessionEnv(small_config)
    truncated_seen = 0
    for i, session in enumerate(sessions):
        obs, info = env.reset(seed=11) if i == 0 else env.reset()
        assert info["episode"] == i
        first = session[0]
        assert (obs["user"], obs["track"]) == (first["user"], first["track"])
        assert first["time"] == 1.0
        for step, (event, following) in enumerate(zip(session, session[1:])):
            assert event["message"] == "next"
            obs, reward, terminated, truncated, _ = env.step(event["recommendation"])
            # The next event reports the answer and its listen time, bit for bit.
            assert obs["track"] == following["track"] == event["recommendation"]
            assert reward == following["time"], (i, step)
            ended = following["message"] == "last"
            assert (terminated or truncated) == ended, (i, step)
        truncated_seen += truncated
        assert session[-1]["message"] == "last"
        with pytest.raises(RuntimeError, match="reset"):
            env.step(0)
    # The config's 12-step cap ends some sessions as truncations.
    assert truncated_seen > 0


def test_reset_seed_starts_episode_zero_and_reset_goes_on(small_config: Path) -> None:
    env = botify_sim.SessionEnv(small_config)
    first, info = env.reset(seed=5)
    second, info2 = env.reset()
    again, info3 = env.reset(seed=5)
    assert (info["episode"], info2["episode"], info3["episode"]) == (0, 1, 0)
    assert first == again
    unseeded = botify_sim.SessionEnv(small_config)
    _, info = unseeded.reset()
    assert info["episode"] == 0


@pytest.mark.parametrize("action", [1.5, "7", None, True, np.float64(3.0), [1]])
def test_wrong_action_types_are_value_errors_naming_the_value(small_config: Path, action) -> None:
    env = botify_sim.SessionEnv(small_config)
    env.reset(seed=1)
    with pytest.raises(ValueError, match="track id") as raised:
        env.step(action)
    assert repr(action) in str(raised.value) or str(action) in str(raised.value)


@pytest.mark.parametrize("action", [-1, 3000, 2**70])
def test_out_of_range_actions_are_value_errors_naming_the_value(small_config: Path, action) -> None:
    env = botify_sim.SessionEnv(small_config)
    env.reset(seed=1)
    with pytest.raises((ValueError, OverflowError)) as raised:
        env.step(action)
    assert str(action) in str(raised.value)


def test_numpy_integers_are_actions(small_config: Path) -> None:
    env = botify_sim.SessionEnv(small_config)
    env.reset(seed=1)
    env.step(np.int32(5))
    env.step(np.uint16(6))


def test_step_before_reset_is_an_error(small_config: Path) -> None:
    with pytest.raises(RuntimeError, match="reset"):
        botify_sim.SessionEnv(small_config).step(0)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "1"])
def test_bad_seeds_are_value_errors(small_config: Path, seed) -> None:
    with pytest.raises(ValueError, match="seed"):
        botify_sim.SessionEnv(small_config).reset(seed=seed)


def test_render_prints_the_session_as_the_course(small_config: Path, capsys) -> None:
    env = botify_sim.SessionEnv(small_config)
    obs, _ = env.reset(seed=3)
    env.render()
    line = capsys.readouterr().out
    artist = env.artist(obs["track"])
    assert line == f"Current session: {obs['user']}:[Playback(track={obs['track']}, time=1.0, artist={artist!r})]:5\n"
    terminated = truncated = False
    while not (terminated or truncated):
        _, time, terminated, truncated, _ = env.step(obs["track"])  # a repeat: time 0
        assert time == 0.0
    ansi = botify_sim.SessionEnv(small_config, render_mode="ansi")
    ansi.reset(seed=3)
    assert ansi.render().startswith(f"Current session: {obs['user']}:[")
    env.render()
    assert capsys.readouterr().out.rstrip().endswith(":0.")


def random_actions(n_tracks: int, num_envs: int, steps: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, n_tracks, size=(steps, num_envs))


def test_vector_env_is_single_envs_with_next_step_autoreset(small_config: Path) -> None:
    """Sub-environment j of reset(seed=s) is SessionEnv reset with seed s + j."""
    n, steps = 4, 200
    vec = botify_sim.SessionVectorEnv(n, small_config)
    singles = [botify_sim.SessionEnv(small_config) for _ in range(n)]
    obs, _ = vec.reset(seed=40)
    expected = [s.reset(seed=40 + j)[0] for j, s in enumerate(singles)]
    assert list(obs["user"]) == [e["user"] for e in expected]
    ended = [False] * n
    for actions in random_actions(3000, n, steps):
        obs, rewards, terminated, truncated, _ = vec.step(actions)
        for j, single in enumerate(singles):
            if ended[j]:
                want, reward, term, trunc = single.reset()[0], 0.0, False, False
            else:
                want, reward, term, trunc, _ = single.step(int(actions[j]))
            assert (obs["user"][j], obs["track"][j]) == (want["user"], want["track"])
            assert (rewards[j], terminated[j], truncated[j]) == (reward, term, trunc)
            ended[j] = term or trunc


VECTOR_RUN = """
import hashlib, sys
import numpy as np
import botify_sim
vec = botify_sim.SessionVectorEnv(600, sys.argv[1])
obs, _ = vec.reset(seed=9)
digest = hashlib.sha256()
for actions in np.random.default_rng(1).integers(0, 3000, size=(50, 600)):
    obs, rewards, terminated, truncated, _ = vec.step(actions)
    for array in (obs["user"], obs["track"], rewards, terminated, truncated):
        digest.update(array.tobytes())
print(digest.hexdigest())
"""


def test_vector_env_is_the_same_for_any_thread_count(small_config: Path) -> None:
    def digest(threads: int) -> str:
        done = subprocess.run(
            [sys.executable, "-c", VECTOR_RUN, str(small_config)],
            capture_output=True, text=True, env={**__import__("os").environ, "RAYON_NUM_THREADS": str(threads)},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert digest(1) == digest(2) == digest(3)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.array([0.5, 1.0, 2.0]), "dtype float64"),
        (np.array([1, 2]), r"shape \(3,\)"),
        (np.array([1, 2, 3000]), r"actions\[2\] = 3000"),
        (np.array([-4, 2, 3]), r"actions\[0\] = -4"),
        (["a", "b", "c"], "dtype"),
    ],
)
def test_vector_bad_actions_are_value_errors(small_config: Path, actions, message) -> None:
    vec = botify_sim.SessionVectorEnv(3, small_config)
    vec.reset(seed=1)
    with pytest.raises(ValueError, match=message):
        vec.step(actions)


def test_vector_reset_with_a_list_of_seeds(small_config: Path) -> None:
    vec = botify_sim.SessionVectorEnv(2, small_config)
    obs, _ = vec.reset(seed=[7, 3])
    single = botify_sim.SessionEnv(small_config)
    assert obs["user"][1] == single.reset(seed=3)[0]["user"]
    with pytest.raises(ValueError, match="3 seeds for 2"):
        vec.reset(seed=[1, 2, 3])
