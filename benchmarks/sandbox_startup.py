"""Start-up overhead of the OS sandbox per notebook: the same runs under `isolation='none'` (today's in-process guards)
and `isolation='bwrap'` (bubblewrap, point-in-time data served from outside), alternated in one process.

Two workloads: a one-cell notebook (pure start-up: papermill, a kernel, the sandbox) and one offline Implementer study
notebook on a synthetic contract (start-up plus the served backtest, one rebalance date at a time). Prints the median
wall seconds of each, the difference and the ratio; the target is under 1 s of extra start-up per notebook.

    .venv/bin/python benchmarks/sandbox_startup.py [--repeats 3] [--no-study]
"""
import argparse, statistics, sys, tempfile, time
from pathlib import Path

from quantnotes.alpha.sandbox import run_notebook, make_notebook, synthetic_contract, bwrap_status

def trivial(d:Path, iso:str, i:int) -> float:
    make_notebook(['#parameters\nk = 1', 'print(k * 2)'], d/'t.ipynb')
    r = run_notebook(d/'t.ipynb', d/f't.{iso}.{i}.ipynb', dict(k=2), timeout=120, isolation=iso)
    assert r.ok, r.error
    return r.wall_s

def study(d:Path, iso:str, i:int) -> float:
    from quantnotes.alpha.proposer import candidates
    from quantnotes.alpha.implementer import offline_cells, validate_notebook
    c = synthetic_contract()
    nb = make_notebook(offline_cells(candidates(c.info())[1], c)); validate_notebook(nb)
    import nbformat; nbformat.write(nb, d/'s.ipynb')
    m = c.materialise(d/f'data.{iso}.{i}')
    r = run_notebook(d/'s.ipynb', d/f's.{iso}.{i}.ipynb', dict(contract=m.to_dict(), results_path=str(d/f'r.{iso}.{i}.json')),
                     cwd=d, timeout=300, isolation=iso)
    assert r.ok, r.error
    return r.wall_s

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--no-study', action='store_true', help='only the one-cell notebook')
    a = ap.parse_args(argv)
    ok, why = bwrap_status()
    if not ok: print(f'error: OS isolation is not available here ({why}); nothing to compare', file=sys.stderr); return 2
    d = Path(tempfile.mkdtemp(prefix='qn-bench-'))
    d.chmod(0o755)
    for name, fn in [('one-cell notebook', trivial)] + ([] if a.no_study else [('offline study notebook', study)]):
        t = {'none': [], 'bwrap': []}
        for i in range(a.repeats):
            for iso in ('none', 'bwrap') if i % 2 == 0 else ('bwrap', 'none'):  # alternate, so drift in load hits both
                t[iso].append(fn(d, iso, i))
        old, new = statistics.median(t['none']), statistics.median(t['bwrap'])
        print(f'{name}: isolation none (old) {old:.2f} s, bwrap (new) {new:.2f} s, difference {new - old:+.2f} s, '
              f'ratio {new / old:.2f}  (median of {a.repeats}; runs none {[round(x, 2) for x in t["none"]]}, '
              f'bwrap {[round(x, 2) for x in t["bwrap"]]})')
    return 0

if __name__ == '__main__': sys.exit(main())
