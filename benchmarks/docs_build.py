"""Time the offline docs preview rendered one page at a time and in one process per core, in the same run.

`quantnotes docs` (without Quarto) processes the notebooks with nbdev and renders every page with nbconvert. This
script runs nbdev's processing once, then `build_preview` three times on the same processed pages: as every build
rendered before round 11 (one process, a new nbconvert exporter per page), with one process and one exporter, and with
the default (one process per core, one exporter each), each into its own temporary folder, and prints the wall times
and their ratios to the first. It also checks that the two builds wrote the same pages with
the same text (cell ids aside, which nbformat draws at random), so a speed-up that changes the pages shows here.

    .venv/bin/python benchmarks/docs_build.py [--repeats N]
"""
import argparse, re, shutil, statistics, tempfile, time
from pathlib import Path

import quantnotes.docs as docs

from nbdev.config import get_config
from nbdev.serve import proc_nbs
from quantnotes.core import project_root, study_threads
from quantnotes.docs import SKIP_FOLDERS, build_preview, _copy_reports, copy_published

def _same(p:Path) -> str: return re.sub(r'cell-id=[0-9a-f]+', '', p.read_text(encoding='utf-8'))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--repeats', type=int, default=1, help='alternate the two builds this many times')
    a = ap.parse_args()
    root = project_root(Path(__file__).resolve().parent)
    cfg = get_config(path=root)
    shutil.rmtree(root/'_proc', ignore_errors=True)  # as `build_docs` does: nbdev skips notebooks it processed before
    t = time.perf_counter()
    proc = proc_nbs(cfg.nbs_path, n_workers=0, skip_folder_re=SKIP_FOLDERS)
    _copy_reports(root/'reports', proc/'reports'); copy_published(cfg.nbs_path/'_published', proc/'reports')  # as `build_docs`
    print(f'nbdev processing of the notebooks: {time.perf_counter() - t:.1f} s (one process, as build_docs)')
    modes = {'before': 'one process, an exporter per page', 'one': 'one process, one exporter',
             'cores': f'{study_threads()} processes, one exporter each'}
    times = {m: [] for m in modes}
    cached = docs._exporter
    with tempfile.TemporaryDirectory() as d:
        for r in range(a.repeats):
            for m in modes:
                docs._exporter = cached.__wrapped__ if m == 'before' else cached  # the uncached function builds one per call
                t = time.perf_counter()
                pages = build_preview(proc, Path(d)/m, workers=None if m == 'cores' else 1)
                times[m].append(time.perf_counter() - t)
                print(f'round {r + 1}: {len(pages)} pages, {modes[m]}: {times[m][-1]:.1f} s')
        docs._exporter = cached
        runs = {m: sorted((Path(d)/m).rglob('*.html')) for m in modes}
        same = all([p.relative_to(Path(d)/m) for p in runs[m]] == [p.relative_to(Path(d)/'before') for p in runs['before']]
                   and all(_same(x) == _same(y) for x, y in zip(runs[m], runs['before'])) for m in modes)
    med = {m: statistics.median(v) for m, v in times.items()}
    for m in modes: print(f'{modes[m]:<40} {med[m]:6.1f} s  ratio {med[m] / med["before"]:.2f}x')
    print(f'(median of {a.repeats}); pages identical: {same}')
    return 0 if same else 1

if __name__ == '__main__': raise SystemExit(main())
