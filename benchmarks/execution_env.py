"""Benchmark of the LOBSTER data layer and the execution environment.

Prints the load time of the GOOG 2012-06-21 level-10 sample (or the simulation time of a synthetic 6.5-hour day when
the sample is not there), then environment steps per second on one core with a fixed random policy, for each impact
rule, on the raw environment and through `gymnasium.make` (which adds Gymnasium's checker and order wrappers).
Ratios are given to the 100,000 steps/s target and to the ~1,600 steps/s of the write-up's pandas-in-step() style.

    .venv/bin/python benchmarks/execution_env.py [--steps 200000] [--synthetic]
"""
import os
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(_v, '1')
import argparse, platform, time
from pathlib import Path

import numpy as np
import gymnasium

from quantnotes.execution.lobster import load_lobster, find_lobster_pair, LobsterError
from quantnotes.execution.synthetic import simulate_lobster
from quantnotes.execution.env import LobsterExecutionEnv, ExecConfig

TARGET, WRITEUP = 100_000, 1_600
DATA = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'lobster'

def get_book(synthetic:bool):
    if not synthetic and DATA.exists():
        try:
            paths = find_lobster_pair(DATA, 'GOOG', 10)
            t = time.perf_counter(); book = load_lobster(*paths); dt = time.perf_counter() - t
            print(f'load GOOG level-10 day: {len(book):,} events in {dt:.3f} s  (target < 5 s)')
            return book
        except LobsterError as e: print(f'real sample unusable ({e}); falling back to a synthetic day')
    t = time.perf_counter(); book = simulate_lobster(23_400, seed=0); dt = time.perf_counter() - t
    print(f'simulate synthetic 6.5 h day: {len(book):,} events in {dt:.3f} s (no real sample used)')
    return book

def steps_per_s(env, n_steps:int, seed:int=0) -> float:
    "Steps per second over `n_steps` steps (resets included) with uniform random actions drawn beforehand."
    acts = list(np.random.default_rng(seed).random((n_steps, 1), dtype=np.float32))
    env.reset(seed=seed)
    step, reset = env.step, env.reset
    t = time.perf_counter()
    for a in acts:
        if step(a)[2]: reset()
    return n_steps / (time.perf_counter() - t)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=200_000)
    ap.add_argument('--synthetic', action='store_true', help='use a synthetic day even if the real sample exists')
    args = ap.parse_args()
    print(f'python {platform.python_version()} on {platform.machine()}, numpy {np.__version__}, gymnasium {gymnasium.__version__}')
    book = get_book(args.synthetic)
    t = time.perf_counter(); env = LobsterExecutionEnv(book, ExecConfig()); dt = time.perf_counter() - t
    print(f'env construction (per-event feature arrays, scales): {dt:.3f} s')
    print(f'config: parent 20,000 shares, 600 s horizon, 20 steps; {args.steps:,} steps per measurement, best of 3')
    rows = []
    for impact in ('none', 'transient', 'persistent'):
        e = LobsterExecutionEnv(book, ExecConfig(impact=impact))
        rows.append((f'raw env, impact={impact}', max(steps_per_s(e, args.steps, s) for s in range(3))))
    e = gymnasium.make('quantnotes/LobsterExecution-v0', book=book)
    rows.append(('gymnasium.make (wrapped), impact=none', max(steps_per_s(e, args.steps // 2, s) for s in range(3))))
    for name, sps in rows:
        print(f'{name:40s} {sps:>10,.0f} steps/s  = {sps / TARGET:5.2f}x target (100k)  = {sps / WRITEUP:6.1f}x write-up style (~1.6k)')

if __name__ == '__main__': main()
