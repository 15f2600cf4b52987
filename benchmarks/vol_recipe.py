"""Two training recipes of the vol study's CNN, across seeds: is the shorter schedule as accurate as the write-up's?

The `vol_surface_repair` study's `full` profile trains for fewer epochs at a larger learning rate than the write-up's
recipe (its `writeup` profile). One seed says little here: the out-of-distribution SABR cells move by several
standard errors from one training seed to the next. So this script trains both recipes on each of several study
seeds, with the study's own data seeds, scores every network on the study's four test cells, and prints, per seed and
paired across seeds, the best validation RMSE, each cell's CNN missing-cell RMSE, its gap to the write-up script's
printed number in combined standard errors (the study's fidelity measure), and the training time.

    .venv/bin/python benchmarks/vol_recipe.py [--seeds 17-22] [--jobs 2] [--recipes writeup,full]

Both recipes are read from the study notebook's `PROFILES` cell and the reference numbers from its fidelity cell,
so the script follows the study. Each training runs in its own process with one thread (`--jobs` at once); the
training seconds are per process and comparable between recipes only within one run.
"""
import argparse, ast, json, os, statistics, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT/'nbs'/'studies'/'vol_surface_repair.ipynb'
CELLS = ['Shifted SSVI / regular', 'Shifted SSVI / adversarial', 'SABR-event / regular', 'SABR-event / adversarial']

def study_settings(path:Path=STUDY) -> tuple[dict, list]:
    "The study's PROFILES and its write-up CNN reference rows [(mean, se)] in cell order."
    nb = json.loads(path.read_text())
    profiles = ref = None
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        for node in ast.parse(''.join(c['source'])).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                if node.targets[0].id == 'PROFILES': profiles = ast.literal_eval(node.value)
                if node.targets[0].id == 'REFERENCE': ref = ast.literal_eval(node.value)['CNN']
    if profiles is None or ref is None: sys.exit(f'error: {path}: no PROFILES or REFERENCE assignment found')
    return profiles, ref

def one(args) -> dict:
    "Train one recipe at one study seed (the study's data seeds) and score it on the four test cells."
    recipe, prof, seed, ref = args
    os.environ['OMP_NUM_THREADS'] = '1'
    import numpy as np, torch
    from quantnotes.vol.grid import Grid
    from quantnotes.vol.surfaces import ssvi_surfaces, sabr_event_surfaces
    from quantnotes.vol.quotes import make_masks, quote_noise
    from quantnotes.vol.cnn import LossConfig, CNNConfig, train_repair_cnn, predict_cnn
    from quantnotes.vol.diagnostics import missing_rmse, calendar_project, mean_se
    torch.set_num_threads(1)
    g, sub = Grid.default(), (lambda o: seed * 10_000 + o)  # the study's sub_seed
    n, nv, nt = prof['n_train'], prof['n_val'], prof['n_test']
    tw, tm = ssvi_surfaces(n, g, seed=sub(100)), make_masks('regular', n, g, seed=sub(200))
    vw, vm = ssvi_surfaces(nv, g, seed=sub(300)), make_masks('regular', nv, g, seed=sub(400))
    cfg = CNNConfig(epochs=prof['epochs'], lr=prof['lr'], nll_warmup=prof['nll_warmup'], seed=seed)
    t0 = time.perf_counter()
    model, hist = train_repair_cnn(tw, tm, vw, vm, g, LossConfig(), cfg, progress=False)
    train_s = time.perf_counter() - t0
    gens = [(lambda k, s: ssvi_surfaces(k, g, shifted=True, seed=s), 'regular'),
            (lambda k, s: ssvi_surfaces(k, g, shifted=True, seed=s), 'adversarial'),
            (lambda k, s: sabr_event_surfaces(k, g, seed=s), 'regular'), (lambda k, s: sabr_event_surfaces(k, g, seed=s), 'adversarial')]
    cells = []
    for i, (gen, kind) in enumerate(gens):
        w, m = gen(nt, sub(1001 + i)), make_masks(kind, nt, g, seed=sub(2001 + i))
        obs = quote_noise(w, m, g, seed=sub(3000 + i))
        mu, se = mean_se(missing_rmse(calendar_project(predict_cnn(model, obs, m, g)[0]), w, m, g))
        cells.append(dict(mean=float(mu), se=float(se), z=float((mu - ref[i][0]) / np.hypot(se, ref[i][1]))))
    return dict(recipe=recipe, seed=seed, train_s=train_s, best_val=min(h['val_rmse_vol'] for h in hist), cells=cells)

def seeds_arg(s:str) -> list[int]:
    out = []
    for part in s.split(','):
        a, _, b = part.partition('-')
        out += list(range(int(a), int(b or a) + 1))
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', default='17-22', help='study seeds, e.g. 17-22 or 1,5,9')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--recipes', default='writeup,full', help='two profiles of the study: baseline,candidate')
    a = ap.parse_args()
    profiles, ref = study_settings()
    names = a.recipes.split(',')
    if len(names) != 2 or any(r not in profiles for r in names):
        sys.exit(f'error: --recipes: expected two of {sorted(profiles)}, got {a.recipes!r}')
    seeds = seeds_arg(a.seeds)
    for r in names: print(f'{r:<8} {profiles[r]}')
    work = [(r, profiles[r], s, ref) for s in seeds for r in names]
    res = {}
    with ProcessPoolExecutor(a.jobs) as ex:
        for out in ex.map(one, work):
            res[out['recipe'], out['seed']] = out
            z = ' '.join(f'{c["z"]:+5.2f}' for c in out['cells'])
            m = ' '.join(f'{c["mean"]:.4f}' for c in out['cells'])
            print(f'seed {out["seed"]:>3} {out["recipe"]:<8} train {out["train_s"]:6.1f} s  best val {out["best_val"]:.4f}  '
                  f'CNN by cell {m}  z {z}', flush=True)
    base, cand = names
    def paired(f):
        d = [f(res[cand, s]) - f(res[base, s]) for s in seeds]
        b = statistics.mean(f(res[base, s]) for s in seeds)
        se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float('nan')
        return b, statistics.mean(d), se
    print(f'\npaired over {len(seeds)} seeds ({cand} - {base}); relative to {base}\'s mean; SE of the mean difference')
    rows = [('best validation RMSE', lambda r: r['best_val'])] + \
           [(f'CNN RMSE, {c}', (lambda i: lambda r: r['cells'][i]['mean'])(i)) for i, c in enumerate(CELLS)] + \
           [('training seconds', lambda r: r['train_s'])]
    for name, f in rows:
        b, d, se = paired(f)
        print(f'  {name:<42} {base} {b:9.4f}  diff {d:+.4f} ({100 * d / b:+5.1f}%)  SE {se:.4f}  ({d / se if se else float("nan"):+.1f} SE)')
    for r in names:
        out = [sum(abs(c['z']) > 2 for c in res[r, s]['cells']) for s in seeds]
        print(f'  CNN fidelity rows outside 2 combined SE, {r:<8} per seed {out} (of 4)')

if __name__ == '__main__':
    main()
