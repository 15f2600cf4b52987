"""Time the part-2 goal model's training (`quantnotes vol train --kind unet`), the old way and the new, in one sitting.

Builds the training and validation sets exactly as `quantnotes vol train --kind unet --profile P` does (the family
mixture, half regular and half adversarial masks, noisy quotes and both baselines), then trains the deep ensemble
twice on them: once with the previous configuration (`channels_last=False`) and once with the current one. For each
it prints the training wall time, member 1's best validation RMSE (the figure `vol train` reports) and the
ensemble's validation RMSE on missing cells, so a speed-up that costs accuracy shows in the same output. Nothing is
compared with a number typed in from another run.

    .venv/bin/python benchmarks/vol_train.py [--profile full] [--members 3] [--epochs N] [--n-train N] [--only new|old]

The full profile (3000 training surfaces, 40 epochs, 3 members) takes tens of CPU-minutes per configuration on two
cores; `--members 1 --epochs 8` is a reduced budget that keeps the per-step cost and the data the same.
"""
import argparse, time
from dataclasses import replace

import numpy as np
import torch

from quantnotes.core import seed_everything
from quantnotes.vol.grid import Grid, w_to_vol
from quantnotes.vol.quotes import make_masks
from quantnotes.vol.families import mixture_surfaces, FAMILIES
from quantnotes.vol.unet import UNetConfig, make_dataset, train_ensemble, predict_model
from quantnotes.vol.vol_cli import MIX_PROFILES

def goal_data(profile:str, seed:int, n_train:int|None=None):
    "The training and validation sets of `vol train --kind unet --profile profile --seed seed`."
    p = MIX_PROFILES[profile]
    seed_everything(seed); g = Grid.default()
    def data(n, off):
        w = mixture_surfaces(list(FAMILIES), n, g, seed=seed + off)[0]
        m = np.concatenate([make_masks('regular', n // 2, g, seed=seed + off + 1),
                            make_masks('adversarial', n - n // 2, g, seed=seed + off + 2)])
        return make_dataset(w, m[np.random.default_rng(seed + off).permutation(n)], g, seed=seed + off + 3)
    return g, data(n_train or p['n_train'], 100), data(p['n_val'], 200)

def ensemble_rmse(model, val, g) -> float:
    "Missing-cell RMSE (vol) of the ensemble's mean repair on the validation set."
    mu, _ = predict_model(model, val.obs, val.mask, g, base=(val.interp, val.svi))
    miss = val.mask < 0.5
    return float(np.sqrt(np.mean((w_to_vol(mu, g) - w_to_vol(val.w, g))[miss] ** 2)))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', default='full', choices=list(MIX_PROFILES))
    ap.add_argument('--members', type=int, default=3)
    ap.add_argument('--epochs', type=int, default=None, help="override the profile's epochs (a reduced budget)")
    ap.add_argument('--n-train', type=int, default=None, help="override the profile's training-set size")
    ap.add_argument('--seed', type=int, default=17)
    ap.add_argument('--kind', default='unet', choices=['unet', 'cvae'])
    ap.add_argument('--only', default=None, choices=['old', 'new'], help='train one configuration only')
    a = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))  # as `vol train` does
    p = MIX_PROFILES[a.profile]
    t0 = time.perf_counter()
    g, tr, va = goal_data(a.profile, a.seed, a.n_train)
    print(f'profile {a.profile}: {len(tr)} training / {len(va)} validation surfaces, width {p["width"]}, '
          f'{a.epochs or p["epochs"]} epochs, {a.members} member(s); data and baselines {time.perf_counter() - t0:.1f} s')
    base = UNetConfig(kind=a.kind, epochs=a.epochs or p['epochs'], width=p['width'], seed=a.seed)
    runs = {'old': replace(base, channels_last=False), 'new': base}
    res = {}
    for name, cfg in runs.items():
        if a.only and name != a.only: continue
        t = time.perf_counter()
        model, hists = train_ensemble(tr, va, g, cfg, members=a.members, progress=False)
        wall = time.perf_counter() - t
        res[name] = wall
        print(f'{name} (channels_last={cfg.channels_last}): train {wall:8.1f} s, member 1 best validation RMSE '
              f'{min(h["val_rmse_vol"] for h in hists[0]):.4f}, ensemble validation RMSE {ensemble_rmse(model, va, g):.4f}')
    if len(res) == 2: print(f'ratio new/old {res["new"] / res["old"]:.2f} x  (< 1: the new configuration is faster)')

if __name__ == '__main__':
    main()
