"""The robust classical fits (per-slice SVI, `34a_vol_svi_robust`; global eSSVI, `34b_vol_essvi`) with scipy's
finite differences one point at a time against all points in one vectorised call (`fd_rows`), alternated in one
process on the same surfaces. Prints both wall times, their ratio, and whether the repaired surfaces are identical
(they must be: only the evaluation order changes).

    .venv/bin/python benchmarks/vol_svi_fd.py [--surfaces 24] [--repeats 3]
"""
import argparse, statistics, time
import numpy as np
import quantnotes.vol.svi as S, quantnotes.vol.essvi as V
from quantnotes.vol.grid import Grid
from quantnotes.vol.surfaces import ssvi_surfaces
from quantnotes.vol.quotes import make_masks

def one_by_one(resid_rows, args): return map        # scipy's own default: one residual call per point

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--surfaces', type=int, default=24)
    ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args(argv)
    g, n = Grid.default(), a.surfaces
    w = ssvi_surfaces(n, g, seed=1)
    m = np.concatenate([make_masks('regular', n - n // 2, g, seed=2), make_masks('adversarial', n // 2, g, seed=3)])
    obs = np.where(m > 0.5, w, 0.0)
    ok = True
    for label, mod, fit in (('robust SVI', S, S.svi_robust_repair), ('eSSVI', V, V.essvi_repair)):
        batched, times, outs = mod.fd_rows, {'one by one': [], 'one call': []}, {}
        for _ in range(a.repeats):
            for name, fd in (('one by one', one_by_one), ('one call', batched)):
                mod.fd_rows = fd
                t = time.perf_counter(); outs[name] = fit(obs, m, g); times[name].append(time.perf_counter() - t)
        mod.fd_rows = batched
        old, new = (statistics.median(times[k]) for k in ('one by one', 'one call'))
        same = np.array_equal(outs['one by one'], outs['one call']); ok &= same
        print(f'{label} on {n} surfaces: finite differences one by one {old:.2f} s, in one call {new:.2f} s, '
              f'ratio {new / old:.2f} (median of {a.repeats}); surfaces identical: {same}')
    return 0 if ok else 1

if __name__ == '__main__': raise SystemExit(main())
