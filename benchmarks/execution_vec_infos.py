"""PPO training on the sanity ladder's model environment with sb3's `DummyVecEnv` as it is (it deep-copies the eight info
dicts at every step) against `make_vec_env`'s (each dict copied once), alternated in one process with the same seed.
Prints both wall times, their ratio, and whether the trained weights are identical (they must be).

    .venv/bin/python benchmarks/execution_vec_infos.py [--steps 20000] [--repeats 3]
"""
import argparse, statistics, time
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv
from quantnotes.execution.ppo import PPOConfig, make_vec_env
from quantnotes.execution.model_env import AlmgrenChrissEnv
from quantnotes.execution.evaluate import LADDER_ENV

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=20_000)
    ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    c, fn = PPOConfig(), lambda: AlmgrenChrissEnv(**LADDER_ENV)
    venvs = {'deep copy (sb3)': lambda: DummyVecEnv([lambda: Monitor(fn()) for _ in range(c.n_envs)]),
             'dict copies': lambda: make_vec_env(fn, c.n_envs)}
    times, weights = {k: [] for k in venvs}, {}
    PPO('MlpPolicy', venvs['dict copies'](), n_steps=64, device='cpu').learn(64)  # imports and first-call costs, untimed
    for _ in range(a.repeats):
        for name, mk in venvs.items():
            m = PPO('MlpPolicy', mk(), learning_rate=c.learning_rate, n_steps=c.n_steps // c.n_envs, batch_size=c.batch_size,
                    n_epochs=c.n_epochs, gamma=c.gamma, gae_lambda=c.gae_lambda, clip_range=c.clip_range, ent_coef=c.ent_coef,
                    policy_kwargs=dict(net_arch=list(c.net_arch), log_std_init=c.log_std_init), seed=0, device='cpu')
            t = time.perf_counter(); m.learn(a.steps); times[name].append(time.perf_counter() - t)
            weights[name] = m.policy.state_dict()
    old, new = (statistics.median(times[k]) for k in venvs)
    w0, w1 = weights.values()
    same = all(torch.equal(w0[k], w1[k]) for k in w0)
    print(f'PPO, {a.steps:,} steps on {c.n_envs} model environments: info dicts deep-copied {old:.2f} s, copied per dict '
          f'{new:.2f} s, ratio {new / old:.2f} (median of {a.repeats}); weights identical: {same}')
    return 0 if same else 1

if __name__ == '__main__': raise SystemExit(main())
