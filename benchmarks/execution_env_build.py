"""Building the replay environments of a paired evaluation: every copy deriving its book's arrays and scales itself
(as before `_book_state`) against all copies sharing them, alternated in one process on the same synthetic day.
Prints both wall times (100 copies, 300 TWAP episodes), their ratio, and whether the episodes are identical.

    .venv/bin/python benchmarks/execution_env_build.py [--episodes 300] [--repeats 3] [--limit]
"""
import argparse, statistics, time
import numpy as np
import quantnotes.execution.env as E
from quantnotes.execution.queue import LimitOrderExecutionEnv, LimitConfig
from quantnotes.execution.synthetic import simulate_lobster
from quantnotes.execution.baselines import TWAPPolicy
from quantnotes.execution.evaluate import evaluate_paired, paired_start_times

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--episodes', type=int, default=300)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--limit', action='store_true', help='the limit-order environment instead of the taker replay')
    a = ap.parse_args(argv)
    book = simulate_lobster(23_400.0, levels=10, seed=1)
    if a.limit: make = lambda: LimitOrderExecutionEnv(book, LimitConfig(parent_size=3_700, horizon_s=600.0, n_steps=20))
    else: make = lambda: E.LobsterExecutionEnv(book, E.ExecConfig(parent_size=3_700, horizon_s=600.0, n_steps=20))
    def own():                                           # every copy derives its state again, as before
        E._STATE.pop(book, None); return make()
    st = paired_start_times(make().start_range, a.episodes, 5)
    class Post:  # the limit-order environment: post the TWAP share at the touch, cross the rest at the end
        def act(self, O): return np.column_stack([1 / np.maximum(20 * O[:, 0], 1), np.full(len(O), 0.5), np.ones(len(O))])
    pol = Post() if a.limit else TWAPPolicy(20)
    times, dfs = {'each copy': [], 'shared': []}, {}
    for _ in range(a.repeats):
        for name, fn in (('each copy', own), ('shared', make)):
            E._STATE.pop(book, None)
            t = time.perf_counter(); dfs[name] = evaluate_paired(fn, {'twap': pol}, st); times[name].append(time.perf_counter() - t)
    old, new = (statistics.median(times[k]) for k in ('each copy', 'shared'))
    same = dfs['each copy'].drop(columns='seconds').equals(dfs['shared'].drop(columns='seconds'))
    print(f"{'limit-order' if a.limit else 'taker'} replay, {a.episodes} paired episodes on 100 copies: each copy deriving its "
          f"state {old:.2f} s, shared {new:.2f} s, ratio {new / old:.3f} (median of {a.repeats}); episodes identical: {same}")
    return 0 if same else 1

if __name__ == '__main__': raise SystemExit(main())
