"""Dask scale-out, measured side by side in one run.

1. Per-task overhead: the same tiny study run N times on the local executor (one process) and on a local Dask
   cluster of one worker; prints both times per task and the difference.
2. Speed-up: an S-seed sweep of STUDY at PROFILE on a local Dask cluster of 1 worker and then of 2 workers; prints both
   wall times and the ratio (the issue's target is an 8-seed sweep of vol_surface_repair at the quick profile).
3. The projection of a 20-seed sweep of every study on 64 workers, from the wall times this run and `reports/` hold.

    .venv/bin/python benchmarks/cluster_sweep.py                      # 8 seeds of vol_surface_repair, quick
    .venv/bin/python benchmarks/cluster_sweep.py --study seedy --seeds 1-4 --studies-dir tests/fixtures/sweep_studies
"""
import argparse, shutil, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from quantnotes.runner import Job, LocalExecutor, run_jobs
from quantnotes.cluster import DaskExecutor
from quantnotes.sweep import parse_seeds, sweep, measured_times, project_sweep

def timed(f):
    t = time.perf_counter(); r = f(); return time.perf_counter() - t, r

def overhead(n:int, tmp:Path) -> tuple[float, float]:
    "Seconds per task of the tiny fixture study: local executor vs a one-worker Dask cluster (cluster start excluded)."
    tiny = ROOT/'tests'/'fixtures'/'studies'/'tiny.ipynb'
    jobs = lambda tag: [Job(str(tiny), 'quick', str(tmp/tag), dest=f'tiny-{i}') for i in range(n)]
    t_local, mans = timed(lambda: run_jobs(jobs('local'), LocalExecutor(1, progress=False), progress=False))
    assert all(m['status'] == 'ok' for m in mans)
    with DaskExecutor(workers=1) as ex:
        run_jobs(jobs('warm'), ex, progress=False)  # the worker imports papermill once; steady state is what a sweep pays
        t_dask, mans = timed(lambda: run_jobs(jobs('dask'), ex, progress=False))
    assert all(m['status'] == 'ok' for m in mans)
    return t_local / n, t_dask / n

def speedup(study, seeds, profile, studies_dir, tmp:Path) -> dict:
    out = {}
    for w in (1, 2):
        with DaskExecutor(workers=w) as ex:
            t, s = timed(lambda: sweep(study, seeds, profile, tmp/f'w{w}', ex, studies_dir=studies_dir, progress=False, force=True))
        assert not s['failed'], f'seeds failed with {w} worker(s): {s["failed"]}'
        out[w] = t
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--study', default='vol_surface_repair'); ap.add_argument('--seeds', default='1-8')
    ap.add_argument('--profile', default='quick'); ap.add_argument('--studies-dir', default=None)
    ap.add_argument('--overhead-runs', type=int, default=6)
    ap.add_argument('--plan-seeds', type=int, default=20); ap.add_argument('--plan-workers', type=int, default=64)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix='quantnotes-bench-'))
    try:
        lo, da = overhead(a.overhead_runs, tmp)
        print(f'per-task time, tiny study ({a.overhead_runs} runs): local {lo:.2f} s, dask {da:.2f} s, overhead {da - lo:+.2f} s per task')
        seeds = parse_seeds(a.seeds)
        t = speedup(a.study, seeds, a.profile, a.studies_dir, tmp)
        print(f'{len(seeds)}-seed sweep of {a.study} ({a.profile}): 1 worker {t[1]:.1f} s, 2 workers {t[2]:.1f} s, '
              f'speed-up {t[1] / t[2]:.2f}x')
        times = measured_times(ROOT/'reports', a.profile)
        times.update(measured_times(tmp/'w1', a.profile))  # this run's own per-seed times
        plan = project_sweep(times, a.plan_seeds, a.plan_workers, max(da - lo, 0.0))
        print(f'\nprojection: {a.plan_seeds} seeds of every study measured at {a.profile!r} on {a.plan_workers} workers')
        print(plan.to_markdown(index=False, floatfmt='.0f'))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
