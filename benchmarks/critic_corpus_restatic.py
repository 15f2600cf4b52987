"""Re-run the static Critic on every half of the independent corpus, keep each saved reading's dynamic findings, rescore.

A static rule changes in seconds; the dynamic checks take about 40 minutes over the whole corpus. This script re-runs
only the static Critic (quantnotes.alpha.critic.review) and recomputes the union with the dynamic findings saved in
tests/fixtures/critic_corpus/results/<half>.json, printing every notebook whose static findings changed.

    .venv/bin/python benchmarks/critic_corpus_restatic.py [--halves dev test ...] [--write NOTE]

--write saves the rescored files, adding NOTE to each file's made entry as static_rescored.
"""
import argparse, json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import critic_corpus_eval as ev
from quantnotes.alpha.critic import review
R = ev.CORPUS/'results'

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--write', default=None); ap.add_argument('--halves', nargs='*')
    a = ap.parse_args()
    split = json.loads((ev.CORPUS/'SPLIT.json').read_text())
    halves = a.halves or [h for h in split if isinstance(split[h], list)]
    tot = dict(c=0, d=0, fp=0, n=0, cc=0, cfp=0)
    for h in halves:
        if not (R/f'{h}.json').exists():  # a half not read yet: nothing to rescore, and nothing of it is shown
            print(f'{h}: no saved reading, skipped'); continue
        saved = json.loads((R/f'{h}.json').read_text()); keys = ev.half_keys(h)
        rows = []
        for r in saved['rows']:
            nb = ev.CORPUS/r['notebook']; hyp = nb.with_name(nb.stem + '.hypothesis.json')
            new = [ev._f(f) for f in review(nb, hyp).findings]
            old = [f for f in r['static'] if f['severity'] <= 2]; nw = [f for f in new if f['severity'] <= 2]
            if [(f['defect_class'], f['cell']) for f in old] != [(f['defect_class'], f['cell']) for f in nw]:
                print(f"  {h} {r['notebook']} [{keys[r['notebook']]['label']}]: {[(f['defect_class'], f['cell']) for f in old]} -> {[(f['defect_class'], f['cell']) for f in nw]}")
            r = dict(r, static=new); r['union'] = ev.union(new, r.get('dynamic', [])); r['confirmed'] = ev.confirmed(r); rows.append(r)
        sc = {k: ev.score(rows, keys, k) for k in ('static', 'dynamic', 'union', 'confirmed')}
        u = sc['union']; tot['c'] += u['caught']; tot['d'] += u['defective']; tot['fp'] += u['false_positives']; tot['n'] += u['clean']
        cf = sc['confirmed']; tot['cc'] += cf['caught']; tot['cfp'] += cf['false_positives']
        print(f"{h}: union {u['caught']}/{u['defective']}, FP {u['false_positives']}/{u['clean']} | static {sc['static']['caught']} FP {sc['static']['false_positives']}"
              f" | confirmed {cf['caught']} FP {cf['false_positives']}")
        if a.write:
            made = dict(saved.get('made', {})); made['static_rescored'] = a.write
            (R/f'{h}.json').write_text(json.dumps(dict(half=h, made=made, scores=sc, rows=rows), indent=1))
    print(f"all: union {tot['c']}/{tot['d']}, FP {tot['fp']}/{tot['n']} | confirmed {tot['cc']}/{tot['d']}, FP {tot['cfp']}/{tot['n']}")

if __name__ == '__main__': main()

