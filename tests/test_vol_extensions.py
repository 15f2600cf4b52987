"Part 2 of the volatility-surface work end to end: the new CLI options, the stale-quote command and the study."
import json
import numpy as np
import pandas as pd
import pytest
import conftest
from conftest import quantnotes

from quantnotes.vol.grid import Grid
from quantnotes.vol.surfaces import sabr_event_surfaces
from quantnotes.vol.quotes import make_masks, quote_noise
from quantnotes.vol.diagnostics import calendar_violation_rate, butterfly_violation_rate, inject_stale

@pytest.fixture(scope='module')
def quotes(tmp_path_factory):
    d = tmp_path_factory.mktemp('quotes')
    g = Grid.default()
    w = sabr_event_surfaces(6, g, seed=5).astype(np.float64)
    m = make_masks('adversarial', 6, g, seed=6) > 0.5
    np.savez(d/'quotes.npz', w=np.where(m, w, np.nan), T=g.T, k=g.k)
    return d, g, w, m

@pytest.fixture(scope='module')
def unet(tmp_path_factory):
    p = tmp_path_factory.mktemp('model')/'unet.pt'
    r = quantnotes('vol', 'train', '--kind', 'unet', '--profile', 'smoke', '--out', p, '--no-progress')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '3-model ensemble' in r.stdout
    return p

@pytest.mark.parametrize('method', ['interp', 'svi'])
def test_project_arbitrage_removes_all_violations(quotes, method):
    d, g, w, m = quotes
    plain = quantnotes('vol', 'repair', d/'quotes.npz', '--out', d/f'{method}.npz', '--method', method)
    r = quantnotes('vol', 'repair', d/'quotes.npz', '--out', d/f'{method}-na.npz', '--method', method, '--project-arbitrage')
    assert plain.returncode == 0 and r.returncode == 0, r.stderr
    assert 'arbitrage-projected' in r.stdout
    before, after = np.load(d/f'{method}.npz')['w'], np.load(d/f'{method}-na.npz')['w']
    assert butterfly_violation_rate(before, g) > 0          # there was something to remove
    assert calendar_violation_rate(after) == 0 and butterfly_violation_rate(after, g) == 0

def test_conformal_output_with_the_mixture_model(quotes, unet, tmp_path):
    d, g, w, m = quotes
    r = quantnotes('vol', 'repair', d/'quotes.npz', '--out', tmp_path/'c.npz', '--model', unet,
                   '--project-arbitrage', '--conformal')
    assert r.returncode == 0, r.stderr[-2000:]
    z = np.load(tmp_path/'c.npz')
    for f in ['w', 'sd_vol', 'vol_lo80', 'vol_hi80', 'vol_lo95', 'vol_hi95']:
        assert z[f].shape == w.shape and np.isfinite(z[f]).all(), f
    assert (z['vol_hi95'] >= z['vol_hi80'] - 1e-6).all() and (z['vol_lo95'] <= z['vol_lo80'] + 1e-6).all()
    assert calendar_violation_rate(z['w']) == 0 and butterfly_violation_rate(z['w'], g) == 0
    # --conformal needs a model that carries a calibration
    r = quantnotes('vol', 'repair', d/'quotes.npz', '--out', tmp_path/'x.npz', '--method', 'interp', '--conformal')
    assert r.returncode == 2 and 'learned model' in r.stderr and not (tmp_path/'x.npz').exists()

@pytest.mark.parametrize('use_model', [False, True])
def test_stale_command_scores_every_quote(quotes, unet, tmp_path, use_model):
    d, g, w, m = quotes
    cont, lab = inject_stale(quote_noise(w, m, g, seed=7), m, g, np.random.default_rng(8))
    np.savez(tmp_path/'q.npz', w=np.where(m, cont, np.nan), T=g.T, k=g.k)
    model = ['--model', unet] if use_model else []
    r = quantnotes('vol', 'stale', tmp_path/'q.npz', '--out', tmp_path/'s.npz', *model)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'flagged (p_stale > 0.5)' in r.stdout
    z = np.load(tmp_path/'s.npz')
    assert z['p_stale'].shape == w.shape and (np.isfinite(z['p_stale']) == m).all() and (np.isfinite(z['log_lr']) == m).all()
    p = z['p_stale'][m]
    assert ((p >= 0) & (p <= 1)).all() and z['flagged'].dtype == bool and not z['flagged'][~m].any()
    assert (z['flagged'] == (np.nan_to_num(z['p_stale']) > 0.5)).all()
    assert p[lab[m] == 1].mean() > p[lab[m] == 0].mean()   # stale quotes score higher on average
    r = quantnotes('vol', 'stale', tmp_path/'q.npz', '--out', tmp_path/'z.npz', '--score', 'z', *model)
    assert r.returncode == 0 and 'flagged (z > 3)' in r.stdout, r.stderr[-2000:]
    z = np.load(tmp_path/'z.npz')
    assert z['z'].shape == w.shape and (np.isfinite(z['z']) == m).all() and (z['z'][m] >= 0).all() and 'p_stale' not in z
    # a bad drift range is refused without writing anything
    r = quantnotes('vol', 'stale', tmp_path/'q.npz', '--out', tmp_path/'bad.npz', '--shift-bp', '110', '50')
    assert r.returncode == 2 and 'shift_bp' in r.stderr and not (tmp_path/'bad.npz').exists()

@pytest.fixture(scope='module')
def smoke_report(smoke_project):
    return conftest.smoke_report(smoke_project, 'vol_surface_extensions')  # the session's smoke regeneration

def test_study_smoke_writes_every_table(smoke_report):
    man = json.loads((smoke_report/'manifest.json').read_text())
    assert man['status'] == 'ok' and man['profile'] == 'smoke'
    for t in ['noarb', 'conformal', 'mixture_lofo', 'vae', 'architecture', 'goal']:
        assert (smoke_report/'tables'/f'{t}.md').exists() and (smoke_report/'tables'/f'{t}.csv').exists(), t
    assert (smoke_report/'text'/'commentary.md').exists()
    noarb = pd.read_csv(smoke_report/'tables'/'noarb.csv')
    assert (noarb['g<0 % no-arb'] == 0).all() and (noarb['calendar % no-arb'] == 0).all()
    goal = pd.read_csv(smoke_report/'tables'/'goal.csv')
    assert set(goal['training']) == {'mixture', 'left out'} and len(goal) == 12
    summary = json.loads((smoke_report/'results'/'summary.json').read_text())
    assert summary['profile'] == 'smoke' and summary['peak_rss_mb'] > 0
    lofo = pd.read_csv(smoke_report/'tables'/'mixture_lofo.csv')
    for col in ['left out, raw levels (1 model)', 'left out, current recipe (1 model)', 'left out (ensemble)']:
        assert lofo[col].notna().all() and (lofo[col] > 0).all(), col
    assert summary['members'] == 2 and (lofo['candidate'].str.endswith(' x2')).all()
    assert 'Beat both baselines' in (smoke_report/'text'/'commentary.md').read_text()
