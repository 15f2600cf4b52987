"""The dynamic Critic checks (nbs/14a_critic_dynamic.ipynb) on two tiny research notebooks written here: one with a
look-ahead (a z-score the positions use), a feature-name collision, a cost charged on one leg only, a grid-selected parameter and a dropped stretch
of the sample; the other with each of those lines fixed. Every check must fire on its defect and stay quiet on the fix.
Then the CLI: `quantnotes critic review --dynamic` merges the dynamic findings into the JSON contract, `--no-dynamic`
does not run them, and a notebook that cannot run is reviewed statically with a note.

Each review starts one sandboxed kernel (isolation 'none': about 20-60 s on a loaded machine)."""
import json
import numpy as np, pandas as pd
import pytest
from quantnotes.alpha.sandbox import make_notebook
from quantnotes.alpha.critic_dynamic import dynamic_review, CHECKS
from conftest import quantnotes

HYP = dict(economic_claim='Momentum persists across three synthetic assets.', dependent_variable='daily net return',
           predictor='sign of the trailing return, demeaned across assets', null='out-of-sample IR <= 0',
           sample=dict(universe=['A', 'B', 'C'], start='2010-01-04', end='2016-12-30', oos_start='2013-01-02'))

DEFECTS = dict(
    look_ahead=('z = (px - px.mean()) / px.std()', 'z = (px - px.expanding().mean()) / px.expanding().std()'),
    feature_name_collision=('feats["mom"] = -ret.rolling(5).mean()', 'feats["rev"] = -ret.rolling(5).mean()'),
    cost_omission=('cost = w["A"].diff().abs() * COST_BP / 1e4', 'cost = w.diff().abs().sum(axis=1) * COST_BP / 1e4'),
    unstable_parameter=('best = max(irs, key=irs.get)', 'best = 20'),
    regime_cherry_picking=('net = net.drop(net.loc["2012-05-01":"2012-07-31"].index)', 'net = net.copy()'),
)

def notebook(path, fixed:bool):
    "The research notebook, with every defect line (fixed=False) or every fixed line."
    L = {k: v[int(fixed)] for k, v in DEFECTS.items()}
    cells = [('markdown', '# Cross-asset momentum (test notebook)'),
             'import numpy as np\nimport pandas as pd',
             'COST_BP = 2.0\nGRID = [5, 10, 20, 40, 80]',
             'ix = pd.bdate_range("2010-01-01", "2016-12-31")\nrng = np.random.default_rng(14)\n'
             'px = pd.DataFrame(100 + rng.standard_normal((len(ix), 3)).cumsum(0), index=ix, columns=["A", "B", "C"])\n'
             'ret = px.pct_change()',
             L['look_ahead'] + '\nz.tail(2)',
             'feats = {}\nfeats["mom"] = ret.rolling(20).mean()\n' + L['feature_name_collision'],
             'ir = lambda s: s.mean() / s.std() * np.sqrt(252)\n'
             'def weights(L):\n    s = np.sign(px.pct_change(L) + 0.01 * z)\n    return s.sub(s.mean(axis=1), axis=0).div(3).shift(1).fillna(0)\n'
             'def oos(L):\n    w = weights(L)\n    n = ((w * ret).sum(axis=1) - w.diff().abs().sum(axis=1) * COST_BP / 1e4).loc["2013-01-02":"2016-12-30"]\n'
             '    return ir(n)\n'
             'irs = {L: oos(L) for L in GRID}\n' + L['unstable_parameter'],
             'w = weights(best)\ngross = (w * ret).sum(axis=1)\n' + L['cost_omission'] + '\nnet = (gross - cost).loc["2010-01-04":"2016-12-30"]',
             L['regime_cherry_picking'],
             'print("IS", round(ir(net[net.index < "2013-01-02"]), 3), "OOS", round(ir(net[net.index >= "2013-01-02"]), 3))']
    make_notebook(cells, path)
    return path

def cell_of(path, line):
    nb = json.loads(path.read_text())
    return next(i for i, c in enumerate(nb['cells']) if line in ''.join(c['source']))

@pytest.fixture(scope='module')
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp('dyn')
    (d/'h.json').write_text(json.dumps(HYP))
    return notebook(d/'defects.ipynb', False), notebook(d/'fixed.ipynb', True), d/'h.json'

def test_every_check_fires_on_its_defect_and_is_quiet_on_the_fix(pair):
    bad, good, hyp = pair
    fb, info = dynamic_review(bad, hyp, isolation='none', return_info=True)
    got = {(f.defect_class, f.cell) for f in fb}
    for cls, (line, _) in DEFECTS.items():
        assert (cls, cell_of(bad, line)) in got, f'{cls} not found at its cell: {sorted(got)}'
    for f in fb:  # every quote is verbatim from the cell it names
        assert f.quote in ''.join(json.loads(bad.read_text())['cells'][f.cell]['source'])
    assert info['runs'] == 3 + 5 + 2 and info['error'] is None  # base, look-ahead, no-cost, one run per grid value, and the
    # look-ahead's control and look-ahead again (made because there is a look-ahead finding)
    assert dynamic_review(good, hyp, isolation='none') == []

def test_a_change_the_probes_make_without_noise_is_no_look_ahead(tmp_path):
    """A clean notebook whose numbers depend on how pandas stores a frame, not on its values: the look-ahead run's copy
    of the data (one block instead of one per column) moves its positions before the cut. That stands in for an optimiser
    that amplifies last-bit differences (a clean notebook of the fifteenth corpus). The control run, the same copies
    without noise, moves them the same way, so nothing is reported; the run was made, so a finding against the base
    run existed."""
    ix = pd.bdate_range('2010-01-01', '2016-12-31')
    rng = np.random.default_rng(3)
    pd.DataFrame(100 + rng.standard_normal((len(ix), 3)).cumsum(0), index=ix, columns=list('ABC')).to_csv(tmp_path/'px.csv')
    (tmp_path/'h.json').write_text(json.dumps(HYP))
    nb = tmp_path/'layout.ipynb'
    make_notebook(['import numpy as np\nimport pandas as pd',
                        'px = pd.read_csv("px.csv", index_col=0, parse_dates=True)\nret = px.pct_change()',
                        'scale = 1.0 if px._mgr.nblocks > 1 else 0.9  # how the frame is stored, not what it holds\n'
                        'w = np.sign(ret.rolling(20).mean()).shift(1).fillna(0) * scale\n'
                        'net = (w * ret).sum(axis=1) - w.diff().abs().sum(axis=1) * 2e-4',
                        'print(round(net.mean() / net.std() * np.sqrt(252), 3))'], nb)
    fs, info = dynamic_review(nb, tmp_path/'h.json', checks=('look_ahead',), isolation='none', return_info=True)
    assert 'control' in info['seconds'] and info['runs'] == 4  # base, look-ahead; then control and look-ahead again
    assert [f for f in fs if f.defect_class == 'look_ahead'] == []

def test_cli_merges_dynamic_findings(pair):
    bad, _, hyp = pair
    r = quantnotes('critic', 'review', bad, '--hypothesis', hyp, '--json', '--isolation', 'none')
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {'notebook', 'backend', 'findings'}
    pairs = [(f['defect_class'], f['cell']) for f in out['findings']]
    assert len(pairs) == len(set(pairs))  # duplicates on (class, cell) collapsed
    assert ('feature_name_collision', cell_of(bad, DEFECTS['feature_name_collision'][0])) in pairs
    assert ('regime_cherry_picking', cell_of(bad, DEFECTS['regime_cherry_picking'][0])) in pairs
    r2 = quantnotes('critic', 'review', bad, '--hypothesis', hyp, '--json', '--no-dynamic')
    assert r2.returncode == 0 and len(json.loads(r2.stdout)['findings']) < len(out['findings'])

def test_a_notebook_that_cannot_run_is_reviewed_statically(tmp_path):
    nb = make_notebook(['import numpy as np', 'x = 1 / 0'], tmp_path/'broken.ipynb')
    (tmp_path/'h.json').write_text(json.dumps(HYP))
    r = quantnotes('critic', 'review', tmp_path/'broken.ipynb', '--hypothesis', tmp_path/'h.json', '--json', '--isolation', 'none')
    assert r.returncode == 0 and 'note: dynamic checks skipped' in r.stderr and 'ZeroDivisionError' in r.stderr
    with pytest.raises(ValueError, match='unknown dynamic check'): dynamic_review(tmp_path/'broken.ipynb', HYP, checks=('vibes',))
    assert set(CHECKS) == {'look_ahead', 'sample', 'costs', 'parameters', 'feature_names'}

# A plain numpy notebook: arrays, masks and a dict of features, no pandas object reported. Each defect is one line,
# fixed in the twin: a monthly average used from its own month (a one-day shift after aligning to days), a feature
# name given twice in a list of (name, function) pairs, a cost computed from the long leg only, and an evaluation mask
# that drops a volatile stretch.
NP_DEFECTS = dict(
    look_ahead=('md = m.reindex(ix, method="ffill").shift(1)', 'md = m.shift(1).reindex(ix, method="ffill")'),
    feature_name_collision=('    ("mom", lambda t: -R[t - 5:t].sum(0)),', '    ("rev", lambda t: -R[t - 5:t].sum(0)),'),
    cost_omission=('turn = np.abs(np.diff(Wl, axis=0, prepend=0)).sum(1)', 'turn = np.abs(np.diff(W, axis=0, prepend=0)).sum(1)'),
    regime_cherry_picking=('keep = valid & (mvol < 0.12)', 'keep = valid'),
)

def numpy_notebook(path, fixed:bool):
    "The numpy research notebook, with every defect line (fixed=False) or every fixed line; monthly rates beside it."
    import numpy as np, pandas as pd
    L = {k: v[int(fixed)] for k, v in NP_DEFECTS.items()}
    ms = pd.date_range('2009-01-01', '2016-12-01', freq='MS')
    pd.DataFrame(np.random.default_rng(3).uniform(0.5, 3, (len(ms), 6)), index=ms, columns=list('ABCDEF')).to_csv(path.parent/'rates.csv')
    cells = [('markdown', '# Carry and momentum, numpy (test notebook)'),
             'import numpy as np\nimport pandas as pd',
             'COST = 5e-4\nix = pd.bdate_range("2010-01-01", "2016-12-31")\nT, N = len(ix), 6\nrng = np.random.default_rng(7)\n'
             'vol = np.where((ix >= "2011-05-01") & (ix < "2011-10-01"), 0.03, 0.01)\nR = rng.standard_normal((T, N)) * vol[:, None]\n'
             'm = pd.read_csv("rates.csv", index_col=0, parse_dates=True) / 100',
             L['look_ahead'] + '\ncarry = md.to_numpy()',
             'FEATURES = [\n    ("carry", lambda t: carry[t]),\n    ("mom", lambda t: R[t - 20:t].sum(0)),\n' + L['feature_name_collision'] + '\n]\n\n'
             'def feats(t):\n    return {k: f(t) for k, f in FEATURES}',
             'Wl, Ws = np.zeros((T, N)), np.zeros((T, N))\nfor t in range(21, T):\n    f = feats(t)\n    o = np.argsort(f["carry"] + f["mom"])\n'
             '    Wl[t, o[-2:]], Ws[t, o[:2]] = 0.5, 0.5\nW = Wl - Ws\n' + L['cost_omission'] + '\ngross = np.r_[0.0, (W[:-1] * R[1:]).sum(1)]\nnet = gross - COST * turn',
             'mvol = pd.Series(R.mean(1), index=ix).rolling(63, min_periods=10).std().to_numpy() * np.sqrt(252)\nvalid = np.arange(T) > 21\n'
             + L['regime_cherry_picking'] + '\nd = ix.to_numpy()\n'
             'for name, msk in [("IS", keep & (d < np.datetime64("2013-01-02"))), ("OOS", keep & (d >= np.datetime64("2013-01-02")))]:\n'
             '    print(name, round(net[msk].mean() / net[msk].std() * np.sqrt(252), 3))']
    make_notebook(cells, path)
    return path

def test_numpy_notebook_defects_fire_and_fixes_are_quiet(tmp_path):
    (tmp_path/'h.json').write_text(json.dumps(dict(HYP, sample=dict(HYP['sample'], universe=list('ABCDEF'))) ))
    bad, good = numpy_notebook(tmp_path/'np_defects.ipynb', False), numpy_notebook(tmp_path/'np_fixed.ipynb', True)
    got = {(f.defect_class, f.cell) for f in dynamic_review(bad, tmp_path/'h.json', isolation='none') if f.severity <= 2}
    for cls, (line, _) in NP_DEFECTS.items():
        assert (cls, cell_of(bad, line.strip())) in got or cls == 'regime_cherry_picking' and any(c == cls for c, _ in got), \
            f'{cls} not found: {sorted(got)}'
    assert [f for f in dynamic_review(good, tmp_path/'h.json', isolation='none') if f.severity <= 2] == []
