"""How often each source of finding is right, on the test corpora's one readings; and what the confirmed findings score.

Each test corpus was read once with the Critic frozen (`results/<half>_first_reading.json`): the only measure of the
Critic on notebooks it was not developed against. Per source (static analyser, dynamic checks) and class this prints
the defective notebooks of that class it flagged (right) and the clean notebooks it flagged (wrong), pooled over the
readings named; the sources right at least --precision of the time with at least --min-right catches are the ones
`quantnotes.alpha.critic_cli.TRUSTED_ALONE` should hold (it says whether it does). Then the operating points: all
findings (the union) against the confirmed findings (`confirmed_findings`), on each reading and pooled.

    .venv/bin/python benchmarks/critic_confirmed.py [--halves test15 ... test22] [--precision 0.85] [--min-right 5]

TRUSTED_ALONE was derived with the defaults below before the twenty-third corpus was read; adding later readings to
--halves shows whether the choice still holds, and is not how it was made.
"""
import argparse, json, sys
from collections import Counter
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import critic_corpus_eval as ev
R = ev.CORPUS/'results'
FIXED = [f'test{i}' for i in range(15, 23)]  # the readings TRUSTED_ALONE was derived from

def flagged(fs:list) -> set: return {f['defect_class'] for f in fs if f['severity'] <= 2}

def precision_table(halves:list) -> dict:
    "{(source, class): Counter(right=, wrong=)} pooled over the one readings of `halves`."
    t = {}
    for h in halves:
        d = json.loads((R/f'{h}_first_reading.json').read_text()); keys = ev.half_keys(h)
        for r in d['rows']:
            lab = keys[r['notebook']]['label']
            srcs = {'static': r['static']}
            if 'dynamic' in r and 'dynamic_error' not in r: srcs['dynamic'] = r['dynamic']
            for src, fs in srcs.items():
                for c in flagged(fs):
                    n = t.setdefault((src, c), Counter())
                    if lab == 'clean': n['wrong'] += 1
                    elif lab == c: n['right'] += 1
    return t

def trusted(t:dict, precision:float, min_right:int) -> set:
    return {k for k, n in t.items() if n['right'] >= min_right and n['right'] / (n['right'] + n['wrong']) >= precision}

def operating_points(h:str) -> tuple:
    "(union score, confirmed score) of a half's one reading, the confirmed findings recomputed with today's rule."
    d = json.loads((R/f'{h}_first_reading.json').read_text()); keys = ev.half_keys(h)
    rows = [dict(r, confirmed=ev.confirmed(r)) for r in d['rows']]
    return ev.score(rows, keys, 'union'), ev.score(rows, keys, 'confirmed')

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--halves', nargs='*', default=FIXED)
    p.add_argument('--precision', type=float, default=0.85)
    p.add_argument('--min-right', type=int, default=5)
    a = p.parse_args(argv)
    missing = [h for h in a.halves if not (R/f'{h}_first_reading.json').is_file()]
    if missing: print(f'error: no one reading saved for {missing} (expected {R}/<half>_first_reading.json)', file=sys.stderr); return 2
    from quantnotes.alpha.critic_cli import TRUSTED_ALONE
    t = precision_table(a.halves)
    print(f'one readings of {a.halves[0]}..{a.halves[-1]} ({len(a.halves)}): per source and class, defective notebooks of the class flagged (right), clean notebooks flagged (wrong)\n')
    print('| source | class | right | wrong | precision | trusted alone |\n|---|---|---|---|---|---|')
    for (src, c), n in sorted(t.items()):
        print(f"| {src} | {c} | {n['right']} | {n['wrong']} | {n['right'] / max(1, n['right'] + n['wrong']):.2f} | {'yes' if (src, c) in TRUSTED_ALONE else ''} |")
    want = trusted(t, a.precision, a.min_right)
    print(f"\nsources right >= {a.precision:.0%} with >= {a.min_right} catches: {sorted(want)}")
    print('TRUSTED_ALONE ' + ('matches them' if want == set(TRUSTED_ALONE) else f'differs: it holds {sorted(TRUSTED_ALONE)}'))
    print('\n| reading | union caught | union false positives | confirmed caught | confirmed false positives |\n|---|---|---|---|---|')
    tot = Counter()
    for h in a.halves:
        u, c = operating_points(h)
        print(f"| {h} | {u['caught']}/{u['defective']} | {u['false_positives']}/{u['clean']} | {c['caught']}/{c['defective']} | {c['false_positives']}/{c['clean']} |")
        tot.update(uc=u['caught'], ufp=u['false_positives'], cc=c['caught'], cfp=c['false_positives'], d=u['defective'], n=u['clean'])
    print(f"| pooled | {tot['uc']}/{tot['d']} | {tot['ufp']}/{tot['n']} | {tot['cc']}/{tot['d']} | {tot['cfp']}/{tot['n']} |")
    return 0

if __name__ == '__main__': sys.exit(main())
