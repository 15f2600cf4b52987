"The volatility-surface tool and study end to end: the real CLI, papermill and the docs preview."
import json, shutil
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import conftest
from conftest import quantnotes, ROOT

from quantnotes.vol.grid import Grid, w_to_vol
from quantnotes.vol.surfaces import ssvi_surfaces
from quantnotes.vol.quotes import make_masks

@pytest.fixture(scope='module')
def quotes(tmp_path_factory):
    d = tmp_path_factory.mktemp('quotes')
    g = Grid.default()
    w = ssvi_surfaces(6, g, shifted=True, seed=5).astype(np.float64)
    m = make_masks('regular', 6, g, seed=6) > 0.5
    np.savez(d/'quotes.npz', w=np.where(m, w, np.nan), T=g.T, k=g.k)
    return d, g, w, m

def _missing_rmse_vol(pred, true, m, g):
    return float(np.sqrt(np.mean((w_to_vol(pred, g) - w_to_vol(true, g))[~m] ** 2)))

@pytest.mark.parametrize('method', ['interp', 'svi'])
def test_repair_cli_classical(quotes, method):
    d, g, w, m = quotes
    r = quantnotes('vol', 'repair', d/'quotes.npz', '--out', d/f'{method}.npz', '--method', method)
    assert r.returncode == 0, r.stderr
    z = np.load(d/f'{method}.npz')
    assert z['w'].shape == w.shape and np.isfinite(z['w']).all()
    np.testing.assert_allclose(z['T'], g.T); np.testing.assert_allclose(z['k'], g.k)
    assert (np.diff(z['w'], axis=1) >= 0).all(), 'output is not calendar-projected'
    assert 'sd_vol' not in z.files
    # the repair is a real one: hidden cells are recovered to within a few vol points
    assert _missing_rmse_vol(z['w'], w, m, g) < 0.05

def test_repair_cli_rejects_bad_input_and_writes_nothing(quotes, tmp_path):
    d, g, w, m = quotes
    cases = {'shape': dict(w=w[:, :4], T=g.T, k=g.k), 'neg': dict(w=-np.abs(w), T=g.T, k=g.k),
             'nan': dict(w=np.full_like(w, np.nan), T=g.T, k=g.k), 'nok': dict(w=w, T=g.T)}
    expect = {'shape': 'expected (n, 13, 17)', 'neg': 'negative total variance', 'nan': 'NaN-only',
              'nok': 'missing field(s) k'}
    for name, fields in cases.items():
        np.savez(tmp_path/f'{name}.npz', **fields)
        r = quantnotes('vol', 'repair', tmp_path/f'{name}.npz', '--out', tmp_path/f'{name}-out.npz', '--method', 'interp')
        assert r.returncode == 2, (name, r.stderr)
        assert expect[name] in r.stderr and f'{name}.npz' in r.stderr
        assert not (tmp_path/f'{name}-out.npz').exists()

def _corrupt(data:bytes, start:int, n:int=40) -> bytes:
    "The same bytes with `n` of them flipped from `start`: inside a compressed member, a broken deflate stream."
    b = bytearray(data); b[start:start + n] = bytes(x ^ 0xff for x in b[start:start + n]); return bytes(b)

def test_repair_cli_refuses_unreadable_or_unrepresentable_input(quotes, tmp_path):
    "Corrupt compressed data, values beyond float32, complex values, a folder as --out: one error line, exit 2, nothing written."
    d, g, w, m = quotes
    q = np.where(m, w, np.nan)
    np.savez_compressed(tmp_path/'corrupt.npz', w=q, T=g.T, k=g.k)
    (tmp_path/'corrupt.npz').write_bytes(_corrupt((tmp_path/'corrupt.npz').read_bytes(), 200))
    np.savez(tmp_path/'huge.npz', w=q * 1e300, T=g.T, k=g.k)   # finite in float64, inf in the models' float32
    np.savez(tmp_path/'cplx.npz', w=q + 0.5j, T=g.T, k=g.k)
    expect = {'corrupt': 'not a readable .npz file', 'huge': 'beyond float32 range', 'cplx': 'dtype complex128'}
    for name, msg in expect.items():
        for cmd in ('repair', 'stale') if name == 'cplx' else ('repair',):  # both commands read quotes the same way
            out = tmp_path/f'{name}-{cmd}-out.npz'
            r = quantnotes('vol', cmd, tmp_path/f'{name}.npz', '--out', out)
            assert r.returncode == 2, (name, cmd, r.stderr)
            assert r.stderr.startswith('error: ') and r.stderr.count('\n') == 1, r.stderr   # one line, no traceback
            assert msg in r.stderr and f'{name}.npz' in r.stderr, r.stderr
            assert not out.exists()
    folder = tmp_path/'outdir'; folder.mkdir()
    for cmd in ('repair', 'stale'):
        r = quantnotes('vol', cmd, d/'quotes.npz', '--out', folder)
        assert r.returncode == 2 and 'is a folder' in r.stderr and r.stderr.count('\n') == 1, r.stderr
    r = quantnotes('vol', 'train', '--profile', 'smoke', '--out', folder, '--no-progress')
    assert r.returncode == 2 and 'is a folder' in r.stderr, r.stderr
    assert list(folder.iterdir()) == []
    # a CBOE download whose gzip stream is corrupt
    from quantnotes.vol.real import synthetic_chain
    from quantnotes.vol.cboe import write_cboe_csv
    monthlies = [x.strftime('%Y-%m-%d') for x in pd.date_range('2022-02-01', periods=16, freq='WOM-3FRI')]
    f = write_cboe_csv(synthetic_chain(expiries=monthlies, seed=3)[0], tmp_path/'chain.csv.gz', spot=4500.0)
    f.write_bytes(_corrupt(f.read_bytes(), 30))
    r = quantnotes('vol', 'repair', '--cboe', f, '--out', tmp_path/'c.npz')
    assert r.returncode == 2 and 'chain.csv.gz' in r.stderr and 'corrupt gzip data' in r.stderr, r.stderr
    assert r.stderr.count('\n') == 1 and not (tmp_path/'c.npz').exists()

def test_train_then_repair_with_cnn(quotes, tmp_path):
    d, g, w, m = quotes
    r = quantnotes('vol', 'train', '--profile', 'smoke', '--out', tmp_path/'m.pt', '--no-progress')
    assert r.returncode == 0, r.stderr
    assert 'best validation RMSE' in r.stdout
    r = quantnotes('vol', 'repair', d/'quotes.npz', '--out', tmp_path/'cnn.npz', '--model', tmp_path/'m.pt')
    assert r.returncode == 0, r.stderr and 'with cnn' in r.stdout
    z = np.load(tmp_path/'cnn.npz')
    assert z['w'].shape == w.shape and z['sd_vol'].shape == w.shape and (z['sd_vol'] > 0).all()
    # a model trained on one grid refuses another
    g2 = Grid(g.T[:-1], g.k)
    np.savez(tmp_path/'other.npz', w=np.where(m, w, np.nan)[:, :-1], T=g2.T, k=g2.k)
    r = quantnotes('vol', 'repair', tmp_path/'other.npz', '--out', tmp_path/'x.npz', '--model', tmp_path/'m.pt')
    assert r.returncode == 2 and 'trained on grid' in r.stderr
    assert not (tmp_path/'x.npz').exists()

@pytest.fixture(scope='module')
def smoke_report(smoke_project):
    return conftest.smoke_report(smoke_project, 'vol_surface_repair').parent  # the session's smoke regeneration

def test_study_smoke_writes_every_table(smoke_report):
    rep = smoke_report/'vol_surface_repair'
    man = json.loads((rep/'manifest.json').read_text())
    assert man['status'] == 'ok' and man['profile'] == 'smoke'
    for t in ['rmse_2x2', 'diagnostics', 'downstream_svi']:
        assert (rep/'tables'/f'{t}.md').exists() and (rep/'tables'/f'{t}.csv').exists(), t
    assert (rep/'figures'/'diagnostic.png').read_bytes()[:4] == b'\x89PNG'
    for t in ['commentary', 'fidelity', 'provenance']: assert (rep/'text'/f'{t}.md').exists(), t
    rmse = pd.read_csv(rep/'tables'/'rmse_2x2.csv')
    assert len(rmse) == 4
    summary = json.loads((rep/'results'/'summary.json').read_text())
    # the table and the summary agree, and the numbers are plausible RMSEs in vol units
    for col in ['cnn', 'interp', 'svi']:
        vals = [c[col] for c in summary['cases']]
        assert all(0 < v < 0.5 for v in vals), (col, vals)

def test_docs_preview_refuses_a_page_whose_tables_are_missing(project_copy):
    for page in (project_copy/'nbs'/'writeups').glob('*.qmd'):  # this test is about the vol page only
        if page.stem != 'vol_surface_repair': page.unlink()
    r = quantnotes('docs', '--preview', cwd=project_copy)
    assert r.returncode == 2 and 'missing included files' in r.stderr and 'make regenerate' in r.stderr

def test_docs_preview_includes_the_study_tables(smoke_report, smoke_docs):
    proj, _, r = smoke_docs  # the session's one docs build, on the session's smoke reports
    assert r.returncode == 0, r.stderr[-3000:]
    docs = proj/'_docs'
    page = (docs/'writeups'/'vol_surface_repair.html').read_text()
    table = (smoke_report/'vol_surface_repair'/'tables'/'rmse_2x2.md').read_text()
    first_value = table.splitlines()[2].split('|')[3].strip()  # the CNN cell of the first row, e.g. "0.0412 ± 0.0021"
    assert first_value and first_value in page
    assert 'Offline preview' in page and '{{<' not in page
    assert (docs/'reports'/'vol_surface_repair'/'figures'/'diagnostic.png').exists()
    assert (docs/'index.html').exists() and (docs/'00_core.html').exists()
    assert (docs/'PREVIEW.txt').exists()

def test_repair_cli_reads_a_cboe_chain(tmp_path):
    from conftest import SHARED
    from quantnotes.vol.real import synthetic_chain
    from quantnotes.vol.cboe import write_cboe_csv
    monthlies = [d.strftime('%Y-%m-%d') for d in pd.date_range('2022-02-01', periods=16, freq='WOM-3FRI')]
    syn, _ = synthetic_chain(expiries=monthlies, seed=3)
    chains = [write_cboe_csv(syn, tmp_path/'syn_quotedata.csv.gz', spot=4500.0)]
    real = sorted((SHARED/'options').glob('SPX_cboe_quotedata_*.csv.gz')) if SHARED.exists() else []
    chains += real[:1]  # one real SPX chain when the shared data is here
    for i, f in enumerate(chains):
        for method in ['interp', 'svi']:
            out = tmp_path/f'{i}-{method}.npz'
            r = quantnotes('vol', 'repair', '--cboe', f, '--out', out, '--method', method)
            assert r.returncode == 0, r.stderr
            z = np.load(out)
            assert z['w'].shape == (1, len(z['T']), len(z['k'])) and np.isfinite(z['w']).all()
            assert (np.diff(z['w'], axis=1) >= 0).all()
            vol = np.sqrt(z['w'][0] / z['T'][:, None])
            assert 0.03 < np.median(vol) < 1.0, f'{f.name}: implausible repaired vols'
    # a learned model trained on the chain's own grid repairs it (and a part-1 CNN cannot be trained that way)
    model = tmp_path/'chain_cvae.pt'
    r = quantnotes('vol', 'train', '--kind', 'cvae', '--cboe', chains[-1], '--profile', 'smoke', '--out', model, '--no-progress')
    assert r.returncode == 0, r.stderr
    r = quantnotes('vol', 'repair', '--cboe', chains[-1], '--model', model, '--out', tmp_path/'cvae.npz', '--conformal')
    assert r.returncode == 0, r.stderr
    z = np.load(tmp_path/'cvae.npz')
    assert np.isfinite(z['w']).all() and (z['vol_hi95'] >= z['vol_hi80']).all()
    vol = np.sqrt(z['w'][0] / z['T'][:, None])
    assert 0.03 < np.median(vol) < 1.0
    r = quantnotes('vol', 'train', '--kind', 'cnn', '--cboe', chains[0], '--out', tmp_path/'cnn.pt')
    assert r.returncode == 2 and '--kind cvae' in r.stderr
    r = quantnotes('vol', 'repair', tmp_path/'x.npz', '--cboe', chains[0], '--out', tmp_path/'y.npz')
    assert r.returncode == 2 and 'exactly one' in r.stderr
    (tmp_path/'bad.csv').write_text('not,a,cboe,file\n1,2,3,4\n')
    r = quantnotes('vol', 'repair', '--cboe', tmp_path/'bad.csv', '--out', tmp_path/'z.npz')
    assert r.returncode == 2 and 'bad.csv' in r.stderr and not (tmp_path/'z.npz').exists()
