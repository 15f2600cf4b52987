"""Speed of the limit-order replay (queue tracking) against the marketable-order replay, measured in one run.

Both environments replay the same book, on the same episode start times, with a TWAP schedule: the marketable
replay (`LobsterExecutionEnv`) sends each child order into the book; the limit-order replay
(`LimitOrderExecutionEnv`) posts it at the touch, tracks its queue position through the LOBSTER messages until the
next decision, and crosses what is left. Timings alternate between the two so that a busy machine slows both alike;
the ratio (limit-order episodes per second / marketable episodes per second) is printed. The target of issue 18 is
a ratio of at least 0.5. Run: `python benchmarks/execution_queue.py [--episodes 1000] [--model exact] [--through volume] [--clock cpu|wall]`; the
CPU clock (the default) counts only this process's time, so other work on a shared machine does not tilt the ratio.
"""
import argparse, time
from pathlib import Path
import numpy as np

from quantnotes.execution.lobster import load_lobster, find_lobster_pair
from quantnotes.execution.synthetic import simulate_lobster
from quantnotes.execution.env import LobsterExecutionEnv, ExecConfig
from quantnotes.execution.queue import LimitOrderExecutionEnv, LimitConfig

SHARED = Path(__file__).resolve().parents[2]/'shared'/'data'/'lobster'

def episodes_per_s(env, actions, starts, clock=time.perf_counter) -> float:
    "Episodes per second of `env` stepped with `actions[k]` from each start time, timed by `clock`."
    t0 = clock()
    for s in starts:
        env.reset(options={'start_time': float(s)})
        for a in actions: env.step(a)
    return len(starts) / (clock() - t0)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--episodes', type=int, default=1000, help='episodes per timing round (a round of a few hundred ms keeps scheduler noise small)')
    ap.add_argument('--rounds', type=int, default=7, help='alternating timing rounds; the median ratio is reported')
    ap.add_argument('--clock', default='cpu', choices=('cpu', 'wall'), help='CPU time of this process (default: steady on a shared machine) or wall-clock time')
    ap.add_argument('--model', default='exact', choices=('exact', 'pessimistic', 'proportional'))
    ap.add_argument('--through', default='volume', choices=('volume', 'full'), help='trade-through rule of the limit-order replay')
    ap.add_argument('--synthetic', action='store_true', help='use a simulated book even if the real GOOG sample is there')
    a = ap.parse_args()
    if SHARED.is_dir() and not a.synthetic: book = load_lobster(*find_lobster_pair(SHARED, 'GOOG', 10))
    else: book = simulate_lobster(7200, seed=0)
    N, X, T = 20, 2_000, 600.0
    mkt = LobsterExecutionEnv(book, ExecConfig(parent_size=X, horizon_s=T, n_steps=N))
    lim = LimitOrderExecutionEnv(book, LimitConfig(parent_size=X, horizon_s=T, n_steps=N, queue_model=a.model,
                                             trade_through=a.through))
    starts = np.random.default_rng(0).uniform(*mkt.start_range, a.episodes)
    tw = [1.0 / (N - k) for k in range(N)]
    act_m = [np.array([f], np.float32) for f in tw]
    act_l = [np.array([f, 0.5, 1.0], np.float32) for f in tw]  # passive TWAP: post at the touch, cross the rest
    episodes_per_s(mkt, act_m, starts[:10]); episodes_per_s(lim, act_l, starts[:10])  # warm-up
    clock = time.process_time if a.clock == 'cpu' else time.perf_counter
    rm, rl = [], []
    for _ in range(a.rounds):
        rm.append(episodes_per_s(mkt, act_m, starts, clock)); rl.append(episodes_per_s(lim, act_l, starts, clock))
    rs = np.array(rl) / np.array(rm)
    ratio = float(np.median(rs))
    print(f'{book!r}; {a.episodes} episodes x {N} decisions, {a.rounds} alternating rounds, queue model {a.model}, '
          f'trade-through {a.through}, {a.clock} clock')
    print(f'marketable replay:  {np.median(rm):8.1f} episodes/s')
    print(f'limit-order replay: {np.median(rl):8.1f} episodes/s')
    print(f'ratio (limit / marketable): {ratio:.2f}, rounds {rs.min():.2f}-{rs.max():.2f}  (target >= 0.5: {"met" if ratio >= 0.5 else "NOT met"})')

if __name__ == '__main__': main()
