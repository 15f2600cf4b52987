"""Replaying recorded weights: the evaluator's rates in one pass per series against a point-in-time view per date.

The objective's fragility ablations and the Replicator's robustness panel re-run `backtest` on a hypothesis's recorded
weights about two dozen times. With carry, the evaluator needs every currency's short rate as known at each rebalance
date. It used to build a `PITView` per date to read them; `PITStore.known_at` reads them in one pass per series.
Both paths run here, in the same process, on the same weights, and must give the same numbers:

    .venv/bin/python benchmarks/backtest_replay.py [--repeats 5]

Data: the G10 store with the OECD rates of `../shared/data` when present, else the synthetic G10 panel (said so).
"""
import argparse, statistics, time
from pathlib import Path
import numpy as np, pandas as pd
from quantnotes.alpha.backtest import backtest, carry_signal
from quantnotes.alpha.objective import ReplayStore
from quantnotes.alpha.pit import G10, synthetic_store

RATES = Path(__file__).resolve().parents[2]/'shared'/'data'/'rates'/'oecd_ir3tib_monthly'

class AsofOnly:
    "The same store, offering only `asof` and attributes: the date-by-date path."
    def __init__(self, st): self.st = st
    def __getattr__(self, a): return getattr(self.st, a)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeats', type=int, default=5)
    a = ap.parse_args()
    if RATES.is_dir():
        from quantnotes.alpha.sandbox import real_contract
        store, what = real_contract(RATES).open(), f'ECB spot and OECD rates ({RATES})'
        smp = dict(universe=G10[1:], start='2003-01-01', end='2024-12-31', oos_start='2016-01-01')
    else:
        store, what = synthetic_store('2005-01-01', '2024-12-31', seed=1), 'the synthetic G10 panel (no ../shared/data)'
        smp = dict(universe=G10[1:], start='2006-01-01', end='2024-12-31', oos_start='2016-01-01')
    W = backtest(store, carry_signal, smp).weights
    sig = lambda v, u: W.loc[v.today] if v.today in W.index else pd.Series(0., index=u)
    rs = ReplayStore(store)
    times, out = {'one pass per series': [], 'a view per date': []}, {}
    for _ in range(a.repeats):  # alternate, so that load on the machine falls on both
        for name, st in (('one pass per series', rs), ('a view per date', AsofOnly(rs))):
            t = time.perf_counter(); out[name] = backtest(st, sig, smp); times[name].append(time.perf_counter() - t)
    same = all(np.array_equal(out['one pass per series'].daily.to_numpy(), o.daily.to_numpy()) for o in out.values())
    print(f'data: {what}; {len(W)} rebalances, {a.repeats} replays per path, same daily returns: {same}')
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items(): print(f'  {k:22s} median {v * 1e3:8.1f} ms per replay (range {min(times[k]) * 1e3:.1f}-{max(times[k]) * 1e3:.1f})')
    print(f'ratio (one pass / a view per date): {med["one pass per series"] / med["a view per date"]:.3f}x')
    if not same: raise SystemExit('error: the two paths disagree')

if __name__ == '__main__': main()
