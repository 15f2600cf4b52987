"""Time the offline docs preview rendered one page at a time and in one process per core, in the same run.

`quantnotes docs` (without Quarto) processes the notebooks with nbdev and renders every page with nbconvert. This
script runs nbdev's processing once, then `build_preview` twice on the same processed pages: with `workers=1` (how
every build rendered before round 11) and with the default (one process per core), each into its own temporary
folder, and prints both wall times and their ratio. It also checks that the two builds wrote the same pages with
the same text (cell ids aside, which nbformat draws at random), so a speed-up that changes the pages shows here.

    .venv/bin/python benchmarks/docs_build.py [--repeats N]
"""
import argparse, re, statistics, tempfile, time
from pathlib import Path

from nbdev.config import get_config
from nbdev.serve import proc_nbs
from quantnotes.core import project_root, study_threads
from quantnotes.docs import SKIP_FOLDERS, build_preview

def _same(p:Path) -> str: return re.sub(r'cell-id=[0-9a-f]+', '', p.read_text(encoding='utf-8'))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--repeats', type=int, default=1, help='alternate the two builds this many times')
    a = ap.parse_args()
    root = project_root(Path(__file__).resolve().parent)
    cfg = get_config(path=root)
    t = time.perf_counter()
    proc = proc_nbs(cfg.nbs_path, n_workers=study_threads(), skip_folder_re=SKIP_FOLDERS)
    print(f'nbdev processing of the notebooks: {time.perf_counter() - t:.1f} s ({study_threads()} processes)')
    times = {1: [], 0: []}
    with tempfile.TemporaryDirectory() as d:
        for r in range(a.repeats):
            for w in (1, 0):
                t = time.perf_counter()
                pages = build_preview(proc, Path(d)/f'w{w}', workers=w or None)
                times[w].append(time.perf_counter() - t)
                print(f'round {r + 1}: {len(pages)} pages with {"1 process" if w else f"{study_threads()} processes"}: {times[w][-1]:.1f} s')
        one, many = sorted((Path(d)/'w1').rglob('*.html')), sorted((Path(d)/'w0').rglob('*.html'))
        same = [p.relative_to(Path(d)/'w1') for p in one] == [p.relative_to(Path(d)/'w0') for p in many] \
               and all(_same(x) == _same(y) for x, y in zip(one, many))
    s, p = statistics.median(times[1]), statistics.median(times[0])
    print(f'one page at a time {s:.1f} s, one process per core {p:.1f} s: ratio {p / s:.2f}x '
          f'(median of {a.repeats}); pages identical: {same}')
    return 0 if same else 1

if __name__ == '__main__': raise SystemExit(main())
