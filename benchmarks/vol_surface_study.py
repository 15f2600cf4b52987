"""Time the volatility-surface study against the write-up's own script, in the same sitting, and report both.

Runs `quantnotes regenerate vol_surface_repair --profile full` into a temporary folder (so reports/ is untouched),
then the write-up's script `vol_surface_repair.py`, which is cut out of the write-up text in ../shared/seed at run
time (it is never stored in this repository), on the same machine one after the other. Prints each wall-clock time
and peak resident memory, and the ratio of the two times. The script fits SVI on 10 surfaces per cell, the study on
all of them, so the study does more work. Without ../shared there is nothing to compare with: the study's own
figures are printed and the report says that no ratio was possible.

    .venv/bin/python benchmarks/vol_surface_study.py [--profile full] [--keep DIR] [--seed-dir DIR] [--repeats N]

On a loaded machine run it with `--repeats 3`: the study and the script then alternate three times and the median
and range of the ratio are printed. The study's own best validation RMSE and fidelity count (full profile) are
printed with each run, so a speed-up that costs accuracy shows in the same output.
"""
import argparse, csv, json, os, statistics, subprocess, sys, tempfile, time
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

def run_study(profile:str, out:Path) -> dict:
    "Regenerate the study into `out` and time it; its figures as a dict (exits with the study's code if it fails)."
    exe = Path(sys.executable).parent/'quantnotes'
    wall, peak_mb, rc, tail = timed([str(exe), 'regenerate', 'vol_surface_repair', '--profile', profile,
                                     '--out', str(out), '--no-progress'])
    if rc: print(tail); sys.exit(rc)
    man = json.loads((out/'vol_surface_repair'/'manifest.json').read_text())
    summ = json.loads((out/'vol_surface_repair'/'results'/'summary.json').read_text())
    fid = out/'vol_surface_repair'/'tables'/'fidelity.csv'
    within = None
    if fid.exists():
        rows = list(csv.DictReader(fid.open()))
        within = (sum(abs(float(r['difference / combined SE'])) <= 2 for r in rows), len(rows))
    return dict(wall=wall, peak_mb=peak_mb, notebook=man['wall_seconds'], train=summ.get('train_seconds'),
                eval=summ.get('eval_seconds'), best_val=summ.get('best_val_rmse_vol'), fidelity=within,
                report=out/'vol_surface_repair')

def run_writeup(src:str) -> dict|None:
    "Run the write-up's script in a scratch folder and time it; None (with its output printed) if it fails."
    with tempfile.TemporaryDirectory(prefix='qn-writeup-') as d:
        (Path(d)/'vol_surface_repair.py').write_text(src)
        wall, peak_mb, rc, tail = timed([sys.executable, 'vol_surface_repair.py'], cwd=d,
                                        env={**os.environ, 'OUT_DIR': str(Path(d)/'out')})
    if rc: print(tail); print(f'write-up script failed (exit {rc}): no ratio was possible'); return None
    return dict(wall=wall, peak_mb=peak_mb)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', default='full')
    ap.add_argument('--keep', default=None, help='write the report here instead of a temporary folder')
    ap.add_argument('--seed-dir', default=str(SEED_DIR), help='where the write-up text is (default ../shared/seed)')
    ap.add_argument('--repeats', type=int, default=1, help='run the pair this many times, alternating (median and spread)')
    a = ap.parse_args()
    src = writeup_script(Path(a.seed_dir)) if Path(a.seed_dir).is_dir() else None
    print(f'profile                {a.profile}')
    if src is not None and a.profile != 'full':
        print(f'note: the write-up script always runs its full size; the study runs profile {a.profile}')
    ratios, mem_ratios = [], []
    for rep in range(max(1, a.repeats)):
        out = Path(a.keep)/f'run{rep}' if a.keep and a.repeats > 1 else Path(a.keep) if a.keep else \
              Path(tempfile.mkdtemp(prefix='qn-bench-'))
        st = run_study(a.profile, out)
        head = f'run {rep + 1}/{a.repeats}: ' if a.repeats > 1 else ''
        print(f'{head}study wall (command)   {st["wall"]:8.1f} s')
        print(f'{head}study wall (notebook)  {st["notebook"]:8.1f} s  (the rest is start-up: interpreter, kernel, papermill)')
        for k in ('train', 'eval'):
            if st[k] is not None: print(f'{head}  {k + "_seconds":<20} {st[k]:8.1f} s')
        print(f'{head}study peak memory      {st["peak_mb"]:8.0f} MB  (target < {MEMORY_TARGET_MB} MB: '
              f'{"met" if st["peak_mb"] < MEMORY_TARGET_MB else "MISSED"})')
        if st['best_val'] is not None: print(f'{head}best validation RMSE   {st["best_val"]:8.4f} (vol)')
        if st['fidelity']: print(f'{head}fidelity               {st["fidelity"][0]} of {st["fidelity"][1]} within 2 combined SE')
        print(f'{head}report                 {st["report"]}')
        if src is None: continue
        ref = run_writeup(src)
        if ref is None: sys.exit(1)
        ratios.append(st['wall'] / ref['wall']); mem_ratios.append(st['peak_mb'] / ref['peak_mb'])
        print(f'{head}write-up wall          {ref["wall"]:8.1f} s  (its script, cut from the write-up, run just now)')
        print(f'{head}write-up peak memory   {ref["peak_mb"]:8.0f} MB')
        print(f'{head}ratio study/write-up   {ratios[-1]:8.2f} x  (< 1: the study is faster; goal <= 0.5)')
        print(f'{head}memory study/write-up  {mem_ratios[-1]:8.2f} x')
    if src is None:
        print(f'write-up script        not found (no write-up text in {a.seed_dir}): no ratio was possible')
    elif len(ratios) > 1:
        print(f'ratio over {len(ratios)} runs      median {statistics.median(ratios):.2f} x, '
              f'range {min(ratios):.2f}-{max(ratios):.2f}; memory median {statistics.median(mem_ratios):.2f} x')

if __name__ == '__main__':
    main()
