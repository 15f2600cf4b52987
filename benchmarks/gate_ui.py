"""Benchmark of the human-gate page logic on a large research log.

Builds a log with about `--artifacts` artifacts (two real gate-1 items, two real gate-2 items and filler hypothesis
chains with decisions, implementations, results, critiques, robustness panels and LLM-call records), then times what
one rerun of each page does: the two pending queries, the queue rows, the item view model, the rendered notebook
(first and cached), the criteria and U terms, the lineage view, and one full Streamlit rerun of each page in AppTest.
Figures are medians over `--repeat` runs, in milliseconds.

    .venv/bin/python benchmarks/gate_ui.py [--artifacts 3000] [--repeat 20]
"""
import argparse, os, statistics, tempfile, time
from pathlib import Path

from quantnotes.alpha import gate_app as ga, gate_core as gc
from quantnotes.alpha.gate_demo import demo_log
from quantnotes.alpha.log import KINDS

def timeit(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); ts.append(1e3*(time.perf_counter() - t))
    return statistics.median(ts)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--artifacts', type=int, default=3000)
    ap.add_argument('--repeat', type=int, default=20)
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp())
    t = time.perf_counter()
    log, items = demo_log(d/'log.db', n_filler=a.artifacts)
    n = {k: len(log.list(k)) for k in KINDS}
    print(f'built log with {sum(n.values()):,} artifacts in {time.perf_counter() - t:.1f} s: ' + ', '.join(f'{k} {v}' for k, v in n.items()))
    pend = {g: log.pending(g) for g in gc.GATES}
    print(f"pending: gate 1 {len(pend['proposal'])}, gate 2 {len(pend['promotion'])}")
    im, hyp = items['good']['implementation'].id, items['p1'].id
    v = gc.item_view(log, im)
    path, _ = gc.notebook_file(v.item, log)
    marks = gc.finding_marks(v)
    rows = [
        ('log.pending, both gates', lambda: [log.pending(g) for g in gc.GATES]),
        ('queue rows gate 1 (page of 25)', lambda: gc.queue_rows(log, 'proposal', pend['proposal'], limit=25)),
        ('queue rows gate 2 (page of 25)', lambda: gc.queue_rows(log, 'promotion', pend['promotion'], limit=25)),
        ('queue rows gate 1 filtered', lambda: gc.queue_rows(log, 'proposal', pend['proposal'], query='carry variant', limit=25)),
        ('item view gate 1', lambda: gc.item_view(log, hyp)),
        ('item view gate 2', lambda: gc.item_view(log, im)),
        ('notebook HTML, cached', lambda: ga.render_notebook(path, marks)),
        ('criteria + U terms', lambda: (gc.criteria(v), gc.u_terms(v.result))),
        ('lineage view of a hypothesis', lambda: gc.lineage_nodes(log, items['good']['hypothesis'].id)),
        ('recent decisions', lambda: gc.recent_decisions(log, 'promotion')),
    ]
    ga._render.cache_clear()
    t = time.perf_counter(); ga.render_notebook(path, marks); first = 1e3*(time.perf_counter() - t)
    print(f'{"notebook HTML, first render":<34} {first:8.2f} ms')
    for name, fn in rows: print(f'{name:<34} {timeit(fn, a.repeat):8.2f} ms')
    from streamlit.testing.v1 import AppTest
    os.environ['QUANTNOTES_GATE_LOG'], os.environ['QUANTNOTES_GATE_REVIEWER'] = str(d/'log.db'), 'bench'
    for name, qp in [('full rerun: gate 1 queue', {}), ('full rerun: gate 2 queue', {'view': 'promotion'}),
                     ('full rerun: gate 1 item', {'item': str(hyp)}), ('full rerun: gate 2 item', {'item': str(im)}),
                     ('full rerun: lineage', {'view': 'lineage', 'id': str(items['good']['hypothesis'].id)})]:
        at = AppTest.from_string('from quantnotes.alpha.gate_app import app\napp()', default_timeout=60)
        at.query_params.update(qp); at.run()
        assert not at.exception, at.exception
        print(f'{name:<34} {timeit(lambda: at.run(), max(3, a.repeat//4)):8.2f} ms  (AppTest, script run without the browser)')
    log.engine.dispose()

if __name__ == '__main__': main()
