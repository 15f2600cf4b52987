"""Time 1,000 paired episodes x 3 policies (TWAP, AC, PPO); target: under 10 s on 2 cores.

The PPO agent is trained first (a short, untimed run; or loaded with `--model`), since only the evaluation is timed.
Episodes are stepped in lock-step with one batched policy call per step (`evaluate_paired(batch=True)`); the same
evaluation with one policy call per episode and step (`batch=False`) is timed for comparison. Runs on the
Almgren–Chriss model environment and, if importable, on the LOBSTER replay environment over a synthetic book.

    .venv/bin/python benchmarks/execution_eval.py [--episodes 1000] [--threads 2] [--model agent.zip] [--no-sequential]
"""
import argparse, time
import numpy as np, pandas as pd, torch

from quantnotes.execution.baselines import TWAPPolicy, ACPolicy, calibrate_ac, ac_fractions
from quantnotes.execution.model_env import AlmgrenChrissEnv, expected_cost_closed_form
from quantnotes.execution.ppo import PPOConfig, PPOPolicy, train_ppo
from quantnotes.execution.evaluate import LADDER_ENV, evaluate_paired, paired_start_times, summarise, paired_differences

TARGET_S = 10.0

def timed(env_fn, pols, st, batch):
    t0 = time.perf_counter(); df = evaluate_paired(env_fn, pols, st, batch=batch); return df, time.perf_counter() - t0

def bench(label, env_fn, pols, st, a):
    df, tb = timed(env_fn, pols, st, True)
    print(f"\n== {label}: {len(st):,} paired episodes x {len(pols)} policies")
    print(f"batched: {tb:.2f} s ({tb / TARGET_S:.2f} x the {TARGET_S:.0f} s target); per policy: "
          + ', '.join(f"{p} {s:.2f} s" for p, s in df.groupby('policy', sort=False).seconds.first().items()))
    if not a.no_sequential:
        _, ts = timed(env_fn, pols, st, False)
        print(f"sequential (one act call per episode and step): {ts:.2f} s, {ts / tb:.1f} x slower")
    with pd.option_context('display.width', 200):
        print(summarise(df).round(3).to_string()); print(paired_differences(df, 'twap').round(3).to_string())

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--episodes', type=int, default=1000)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--model', default=None, help='a saved PPO .zip for the model environment (skips training)')
    ap.add_argument('--train-steps', type=int, default=20_000, help='untimed PPO training when no --model is given')
    ap.add_argument('--no-sequential', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = PPOConfig(total_timesteps=a.train_steps, log_std_init=-2.0)

    kw = {**LADDER_ENV, 'lam': 4e-5}
    u = AlmgrenChrissEnv(**kw)
    ppo = PPOPolicy.load(a.model) if a.model else PPOPolicy(train_ppo(lambda: AlmgrenChrissEnv(**kw), cfg, progress=False))
    pols = {'twap': TWAPPolicy(u.n_steps), 'ac': ACPolicy(expected_cost_closed_form(u).loc['ac', 'fractions']), 'ppo': ppo}
    bench(f'model env (N={u.n_steps})', lambda: AlmgrenChrissEnv(**kw, path_seed=10_000), pols,
          paired_start_times(u.start_range, a.episodes, seed=10_000), a)

    try:
        from quantnotes.execution.env import LobsterExecutionEnv, ExecConfig
        from quantnotes.execution.synthetic import simulate_lobster
    except ImportError as e:
        print(f'\nLOBSTER env not importable ({e}); skipped'); return
    book = simulate_lobster(duration_s=7200.0, levels=10, seed=0)
    ec = ExecConfig()
    env_fn = lambda: LobsterExecutionEnv(book, ec)
    e = env_fn()
    cal = calibrate_ac(book, ec.n_steps, ec.horizon_s)
    ppo_l = PPOPolicy(train_ppo(env_fn, cfg, progress=False))
    pols = {'twap': TWAPPolicy(ec.n_steps),
            'ac': ACPolicy(ac_fractions(ec.parent_size, ec.n_steps, ec.horizon_s, cal['sigma'], cal['eta'], 1e-6)),
            'ppo': ppo_l}
    bench(f'LOBSTER replay, synthetic book (X={ec.parent_size}, N={ec.n_steps}; AC lam=1e-6 on calibrated '
          f"sigma={cal['sigma']:.4g}, eta={cal['eta']:.3g})", env_fn, pols, paired_start_times(e.start_range, a.episodes, seed=10_000), a)

if __name__ == '__main__': main()
