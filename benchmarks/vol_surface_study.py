"""Time the volatility-surface study at its full profile and report wall time and peak memory.

Runs `quantnotes regenerate vol_surface_repair --profile full` into a temporary folder (so reports/ is untouched),
measures wall-clock time and the peak resident memory of the kernel process that ran the study, and prints them
with the ratio to the write-up script's wall time on this kind of machine (about 110 s on 2 cores, stated in the
project's issue for this port; that script fits SVI on 10 surfaces per cell, the study on all of them).

    .venv/bin/python benchmarks/vol_surface_study.py [--profile full] [--keep DIR]
"""
import argparse, json, resource, subprocess, sys, tempfile, time
from pathlib import Path

REFERENCE_WALL_S = 110.0  # the write-up's script, run on 2 cores here (issue #3); not measured by this script
MEMORY_TARGET_MB = 1024

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', default='full')
    ap.add_argument('--keep', default=None, help='write the report here instead of a temporary folder')
    a = ap.parse_args()
    out = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix='qn-bench-'))
    exe = Path(sys.executable).parent/'quantnotes'
    t0 = time.perf_counter()
    r = subprocess.run([str(exe), 'regenerate', 'vol_surface_repair', '--profile', a.profile, '--out', str(out),
                        '--no-progress'], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # largest child: the study's kernel
    if r.returncode:
        print(r.stderr[-4000:]); sys.exit(r.returncode)
    man = json.loads((out/'vol_surface_repair'/'manifest.json').read_text())
    summ = json.loads((out/'vol_surface_repair'/'results'/'summary.json').read_text())
    print(f'profile                {a.profile}')
    print(f'wall (command)         {wall:8.1f} s')
    print(f'wall (study notebook)  {man["wall_seconds"]:8.1f} s')
    for k in ('train_seconds', 'eval_seconds'):
        if k in summ: print(f'  {k:<20} {summ[k]:8.1f} s')
    print(f'ratio to write-up      {wall / REFERENCE_WALL_S:8.2f} x  (reference {REFERENCE_WALL_S:.0f} s; < 1 is faster)')
    print(f'peak memory (kernel)   {peak_mb:8.0f} MB  (target < {MEMORY_TARGET_MB} MB: '
          f'{"met" if peak_mb < MEMORY_TARGET_MB else "MISSED"})')
    print(f'report                 {out/"vol_surface_repair"}')

if __name__ == '__main__':
    main()
