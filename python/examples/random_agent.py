"""A random agent in the environment: the course's `sim.run` with its dummy agent,
one session at a time (SessionEnv) and a thousand at once (SessionVectorEnv).

    python python/examples/random_agent.py [--config env.yml] [--episodes 1000]
"""

import argparse

import gymnasium
import numpy as np

import botify_sim  # registers botify_sim/Session-v0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a sim config (default: the built-in world)")
    parser.add_argument("--episodes", type=int, default=1000)
    args = parser.parse_args()

    env = gymnasium.make("botify_sim/Session-v0", config=args.config)
    env.action_space.seed(0)
    rewards = []
    for episode in range(args.episodes):
        obs, info = env.reset(seed=42 if episode == 0 else None)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            total += reward
            done = terminated or truncated
        rewards.append(total)
    print(f"SessionEnv: {len(rewards)} sessions, reward {np.mean(rewards):.3f} per session")

    # The same agent on 1024 sessions at a time, stepped in Rust in parallel: each
    # sub-environment runs the same number of whole sessions (stopping at the first
    # sessions to end would keep the short ones).
    envs = gymnasium.make_vec("botify_sim/Session-v0", num_envs=1024, config=args.config)
    per_env = -(-args.episodes // envs.num_envs)
    obs, info = envs.reset(seed=42)
    rng = np.random.default_rng(0)
    ended = np.zeros(envs.num_envs, dtype=bool)
    done = np.zeros(envs.num_envs, dtype=np.int64)
    session = np.zeros(envs.num_envs)
    finished, reward_sum = 0, 0.0
    while (done < per_env).any():
        actions = rng.integers(0, envs.single_action_space.n, size=envs.num_envs)
        obs, rewards_now, terminated, truncated, info = envs.step(actions)
        session += np.where(ended, 0.0, rewards_now)  # next-step autoreset: a reset step
        ended = terminated | truncated
        counted = ended & (done < per_env)
        finished += int(counted.sum())
        reward_sum += float(session[counted].sum())
        done += ended
        session[ended] = 0.0
    print(f"SessionVectorEnv: {finished} sessions, reward {reward_sum / finished:.3f} per session")


if __name__ == "__main__":
    main()
