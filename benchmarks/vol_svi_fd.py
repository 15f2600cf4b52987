"""Robust SVI fits with scipy's finite differences one point at a time against all points in one vectorised call
(`_rows_map`, see `34a_vol_svi_robust`), alternated in one process on the same surfaces. Prints both wall times, their
ratio, and whether the repaired surfaces are identical (they must be: only the evaluation order changes).

    .venv/bin/python benchmarks/vol_svi_fd.py [--surfaces 24] [--repeats 3]
"""
import argparse, statistics, time
import numpy as np
import quantnotes.vol.svi as S
from quantnotes.vol.grid import Grid
from quantnotes.vol.surfaces import ssvi_surfaces
from quantnotes.vol.quotes import make_masks

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--surfaces', type=int, default=24)
    ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args(argv)
    g, n = Grid.default(), a.surfaces
    w = ssvi_surfaces(n, g, seed=1)
    m = np.concatenate([make_masks('regular', n - n // 2, g, seed=2), make_masks('adversarial', n // 2, g, seed=3)])
    obs = np.where(m > 0.5, w, 0.0)
    batched = S._rows_map
    one_by_one = lambda args: map                      # scipy's own default: one residual call per point
    times, outs = {'one by one': [], 'one call': []}, {}
    for _ in range(a.repeats):
        for name, rm in (('one by one', one_by_one), ('one call', batched)):
            S._rows_map = rm
            t = time.perf_counter(); outs[name] = S.svi_robust_repair(obs, m, g); times[name].append(time.perf_counter() - t)
    S._rows_map = batched
    old, new = (statistics.median(times[k]) for k in ('one by one', 'one call'))
    same = np.array_equal(outs['one by one'], outs['one call'])
    print(f'robust SVI on {n} surfaces: finite differences one by one {old:.2f} s, in one call {new:.2f} s, '
          f'ratio {new / old:.2f} (median of {a.repeats}); surfaces identical: {same}')
    return 0 if same else 1

if __name__ == '__main__': raise SystemExit(main())
