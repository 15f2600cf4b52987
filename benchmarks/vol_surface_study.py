"""Time the volatility-surface study against the write-up's own script, in the same sitting, and report both.

Runs `quantnotes regenerate vol_surface_repair --profile full` into a temporary folder (so reports/ is untouched),
then the write-up's script `vol_surface_repair.py`, which is cut out of the write-up text in ../shared/seed at run
time (it is never stored in this repository), on the same machine one after the other. Prints each wall-clock time
and peak resident memory, and the ratio of the two times. The script fits SVI on 10 surfaces per cell, the study on
all of them, so the study does more work. Without ../shared there is nothing to compare with: the study's own
figures are printed and the report says that no ratio was possible.

    .venv/bin/python benchmarks/vol_surface_study.py [--profile full] [--keep DIR] [--seed-dir DIR]
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = ROOT.parent/'shared'/'seed'
SCRIPT_TITLE = 'Deep Learning for Volatility Surface Repair'  # the first docstring line of the write-up's script
MEMORY_TARGET_MB = 1024

def writeup_script(seed_dir:Path) -> str|None:
    "The write-up's vol script (its docstring to the end of its `__main__` block), or None if no seed text holds it."
    for f in sorted(Path(seed_dir).glob('*.txt')):
        lines = f.read_text(encoding='utf-8').splitlines()
        for i in range(len(lines) - 1):
            if lines[i].strip() != '"""' or not lines[i + 1].startswith(SCRIPT_TITLE): continue
            main = next((j for j in range(i, len(lines)) if lines[j].startswith('if __name__ == "__main__":')), None)
            if main is None: continue
            end = main + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][0] in ' \t'): end += 1
            src = '\n'.join(lines[i:end]).rstrip() + '\n'
            compile(src, 'vol_surface_repair.py', 'exec')  # a cut that is not a whole script fails here, loudly
            return src
    return None

def timed(cmd:list, **kw) -> tuple[float, float, int, str]:
    "Run `cmd`; (wall seconds, peak RSS in MB of it and the descendants it waited for, return code, output tail)."
    with tempfile.TemporaryFile('w+') as log:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, **kw)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        return wall, usage.ru_maxrss / 1024, p.returncode, log.read()[-4000:]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', default='full')
    ap.add_argument('--keep', default=None, help='write the report here instead of a temporary folder')
    ap.add_argument('--seed-dir', default=str(SEED_DIR), help='where the write-up text is (default ../shared/seed)')
    a = ap.parse_args()
    out = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix='qn-bench-'))
    exe = Path(sys.executable).parent/'quantnotes'
    wall, peak_mb, rc, tail = timed([str(exe), 'regenerate', 'vol_surface_repair', '--profile', a.profile,
                                     '--out', str(out), '--no-progress'])
    if rc: print(tail); sys.exit(rc)
    man = json.loads((out/'vol_surface_repair'/'manifest.json').read_text())
    summ = json.loads((out/'vol_surface_repair'/'results'/'summary.json').read_text())
    print(f'profile                {a.profile}')
    print(f'study wall (command)   {wall:8.1f} s')
    print(f'study wall (notebook)  {man["wall_seconds"]:8.1f} s')
    for k in ('train_seconds', 'eval_seconds'):
        if k in summ: print(f'  {k:<20} {summ[k]:8.1f} s')
    print(f'study peak memory      {peak_mb:8.0f} MB  (target < {MEMORY_TARGET_MB} MB: '
          f'{"met" if peak_mb < MEMORY_TARGET_MB else "MISSED"})')
    print(f'report                 {out/"vol_surface_repair"}')
    src = writeup_script(Path(a.seed_dir)) if Path(a.seed_dir).is_dir() else None
    if src is None:
        print(f'write-up script        not found (no write-up text in {a.seed_dir}): no ratio was possible')
        return
    if a.profile != 'full': print(f'note: the write-up script always runs its full size; the study ran profile {a.profile}')
    with tempfile.TemporaryDirectory(prefix='qn-writeup-') as d:
        (Path(d)/'vol_surface_repair.py').write_text(src)
        ref_wall, ref_mb, rc, tail = timed([sys.executable, 'vol_surface_repair.py'], cwd=d,
                                           env={**os.environ, 'OUT_DIR': str(Path(d)/'out')})
    if rc: print(tail); print(f'write-up script failed (exit {rc}): no ratio was possible'); sys.exit(rc)
    print(f'write-up wall          {ref_wall:8.1f} s  (its script, cut from the write-up, run just now)')
    print(f'write-up peak memory   {ref_mb:8.0f} MB')
    print(f'ratio study/write-up   {wall / ref_wall:8.2f} x  (< 1: the study is faster)')

if __name__ == '__main__':
    main()
