"""The Critic: CLI contract, quote verification, bad input, the Anthropic path over a local transport, hand-written
notebooks it has never seen, and the catch rate on a small seeded suite."""
import json, subprocess, sys
from pathlib import Path
import nbformat, pytest
from conftest import quantnotes, BIN
from quantnotes.alpha.critic import review, verify_quotes, analyse, load_hypothesis, CRITIC_SYSTEM
from quantnotes.alpha.critic_suite import make_suite, write_notebook, score, DEFECT_COUNTS
from quantnotes.alpha.log import Finding, DEFECT_CLASSES

def critic(*args, **kw):
    "`quantnotes critic ...` once the lead registers it; until then the same module through `python -m`."
    from quantnotes import cli
    if 'critic' in getattr(cli, '_TOOLS', {}): return quantnotes('critic', *args, **kw)
    return subprocess.run([sys.executable, '-m', 'quantnotes.alpha.critic_cli', *map(str, args)], capture_output=True,
                          text=True, timeout=kw.get('timeout', 600))

HYP = dict(economic_claim='Short-term trends in commodity currencies persist for weeks.', dependent_variable='daily FX return',
           predictor='60-day z-score of spot against its rolling mean, clipped at 1, equal-weighted', null='zero IR',
           sample=dict(universe=['AUD', 'NZD', 'NOK', 'CAD'], start='2006-01-02', end='2019-12-31', oos_start='2015-01-01'))

def handwritten(lagged: bool):
    "A notebook in its own style (not from the generator): numpy random data, a z-score helper, `.apply`, `.mul`."
    cells = [nbformat.v4.new_markdown_cell('# Commodity-FX trend check\nMy quick test before the meeting.'),
             nbformat.v4.new_code_cell('import numpy as np\nimport pandas as pd'),
             nbformat.v4.new_code_cell('np.random.seed(3)\nidx = pd.bdate_range("2006-01-02", "2019-12-31")\n'
                                       'spot = pd.DataFrame(np.exp(np.random.randn(len(idx), 4).cumsum(0) * 0.006), idx, ["AUD", "NZD", "NOK", "CAD"])'),
             nbformat.v4.new_code_cell('def zscore(s, n=60):\n    m = s.rolling(n).mean()\n    return (s - m) / s.rolling(n).std()\n\n'
                                       'daily = spot.pct_change().fillna(0)\ntrend = spot.apply(zscore)'),
             nbformat.v4.new_code_cell('alloc = trend.clip(-1, 1) / 4\n'
                                       f'held = alloc{".shift()" if lagged else ""}\n'
                                       'strat_daily = held.mul(daily).sum(1) - 0.0001 * alloc.diff().abs().sum(1)'),
             nbformat.v4.new_code_cell('split = "2015-01-01"\nann = lambda x: x.mean() / x.std() * 252 ** 0.5\n'
                                       'print("IS", round(ann(strat_daily[:split]), 2), "OOS", round(ann(strat_daily[split:]), 2))\n'
                                       'print(strat_daily.index.min().date(), strat_daily.index.max().date())')]
    return nbformat.v4.new_notebook(cells=cells)

def test_handwritten_lookahead_caught_and_clean_passes():
    bad = review(handwritten(False).copy(), HYP)
    assert [(f.defect_class, f.cell, f.severity) for f in bad.findings] == [('look_ahead', 4, 1)]
    assert 'held.mul(daily)' in bad.findings[0].quote
    good = review(handwritten(True), HYP)
    assert good.serious() == [], good.findings

def test_handwritten_other_defects():
    nb = handwritten(True)
    nb.cells[5].source += '\nsub = strat_daily[~strat_daily.index.year.isin([2008])]\nstrat_daily = sub'
    nb.cells[5].source = nb.cells[5].source.replace('sub = strat_daily', 'strat_daily = strat_daily', 1).replace('\nstrat_daily = sub', '')
    fs = review(nb, HYP).findings
    assert any(f.defect_class == 'regime_cherry_picking' and f.cell == 5 and f.severity == 1 for f in fs), fs
    nb = handwritten(True)
    nb.cells[4].source = nb.cells[4].source.replace(' - 0.0001 * alloc.diff().abs().sum(1)', '')
    fs = review(nb, HYP).findings
    assert [(f.defect_class, f.cell) for f in fs] == [('cost_omission', 4)], fs

def loop_window(upper: str, comprehension: bool):
    "Momentum from a trailing window indexed by a time loop (numpy), as a researcher might write it by hand."
    body = (f"mom = np.array([R[max(0, t - 63):{upper}].sum(0) for t in range(len(R))])" if comprehension else
            f"mom = np.zeros_like(R)\nfor t in range(len(R)):\n    mom[t] = R[max(0, t - 63):{upper}].sum(0)")
    cells = [nbformat.v4.new_markdown_cell('# 3m momentum, numpy version'),
             nbformat.v4.new_code_cell('import numpy as np\nimport pandas as pd\nrng = np.random.default_rng(1)\n'
                                       'idx = pd.bdate_range("2006-01-02", "2019-12-31")\n'
                                       'px = pd.DataFrame(np.exp(rng.normal(0, 0.006, (len(idx), 4)).cumsum(0)), idx)\n'
                                       'R = px.pct_change().dropna().values'),
             nbformat.v4.new_code_cell(body + '\nW = np.sign(mom) / 4\npnl = (W * R).sum(1) - 0.0001 * np.abs(np.diff(W, axis=0, prepend=0)).sum(1)'),
             nbformat.v4.new_code_cell('print("IR", pnl.mean() / pnl.std() * 252 ** 0.5)')]
    return nbformat.v4.new_notebook(cells=cells)

@pytest.mark.parametrize('comprehension', [True, False])
def test_time_loop_windows_are_not_whole_sample(comprehension):
    "A window ending at t (exclusive) is trailing and clean; one ending at t + 1 puts today's return in today's position."
    assert review(loop_window('t', comprehension), HYP).serious() == []
    fs = review(loop_window('t + 1', comprehension), HYP).findings
    assert [(f.defect_class, f.cell, f.severity) for f in fs] == [('look_ahead', 2, 1)], fs
    fs = review(loop_window('t + 2', comprehension), HYP).findings
    assert any(f.defect_class == 'look_ahead' and f.cell == 2 and 'row(s) past the trade date' in f.message for f in fs), fs

@pytest.fixture(scope='module')
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp('pair')
    out = {}
    for name, (cls, var, seed) in {'bad': ('look_ahead', 'whole_sample_z', 21), 'clean': (None, None, 22)}.items():
        nb, hyp, cell, _ = write_notebook(cls, var, seed)
        nbformat.write(nb, d/f'{name}.ipynb')
        (d/f'{name}.json').write_text(json.dumps(hyp))
        out[name] = (d/f'{name}.ipynb', d/f'{name}.json', cell)
    from quantnotes.alpha.critic_suite import execute_all
    execute_all([out['bad'][0], out['clean'][0]], progress=False)
    # a decoy answer key beside the notebooks, as in a suite folder: the Critic must never read it
    (d/'answers.json').write_text(json.dumps({'bad.ipynb': {'defect_class': 'look_ahead', 'cell': cls and 0, 'marker': DECOY}}))
    return out

DECOY = 'DECOY-ANSWER-KEY-7f3a'

def test_cli_review_json_contract(pair):
    nb, hyp, cell = pair['bad']
    r = critic('review', nb, '--hypothesis', hyp, '--json')
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {'notebook', 'backend', 'findings'} and out['backend'] == 'offline'
    for f in out['findings']:
        assert set(f) == {'defect_class', 'severity', 'cell', 'quote', 'message'}
        assert f['defect_class'] in DEFECT_CLASSES and f['severity'] in (1, 2, 3)
        cell_src = nbformat.read(nb, as_version=4).cells[f['cell']].source
        assert f['quote'] in cell_src
    assert any(f['defect_class'] == 'look_ahead' and f['cell'] == cell and f['severity'] == 1 for f in out['findings'])
    nb, hyp, _ = pair['clean']
    r = critic('review', nb, '--hypothesis', hyp, '--json')
    assert r.returncode == 0 and not [f for f in json.loads(r.stdout)['findings'] if f['severity'] <= 2]
    r = critic('review', nb, '--hypothesis', hyp)
    assert r.returncode == 0 and '0 finding(s)' in r.stdout

def test_bad_input_exit_2(pair, tmp_path):
    nb, hyp, _ = pair['clean']
    r = critic('review', tmp_path/'nope.ipynb', '--hypothesis', hyp)
    assert r.returncode == 2 and 'notebook not found' in r.stderr
    (tmp_path/'x.ipynb').write_text('not json')
    r = critic('review', tmp_path/'x.ipynb', '--hypothesis', hyp)
    assert r.returncode == 2 and 'is not a Jupyter notebook' in r.stderr
    h = json.loads(Path(hyp).read_text())
    (tmp_path/'h.json').write_text(json.dumps({**h, 'sample': {**h['sample'], 'universe': ['EUR', 'XXX']}}))
    r = critic('review', nb, '--hypothesis', tmp_path/'h.json')
    assert r.returncode == 2 and "field 'sample.universe'" in r.stderr
    (tmp_path/'h2.json').write_text('{"economic_claim": "x"')
    r = critic('review', nb, '--hypothesis', tmp_path/'h2.json')
    assert r.returncode == 2 and 'not valid JSON' in r.stderr
    r = critic('review', nb, '--hypothesis', tmp_path/'none.json')
    assert r.returncode == 2 and 'hypothesis file not found' in r.stderr

def test_verify_quotes_drops_fabricated(pair):
    nb = nbformat.read(pair['bad'][0], as_version=4)
    fs = analyse(nb, load_hypothesis(pair['bad'][1]))
    assert fs
    fake = Finding(defect_class='look_ahead', severity=1, cell=fs[0].cell, quote='prices.shift(-5)  # peek', message='made up')
    kept, dropped = verify_quotes(nb, [*fs, fake])
    assert kept == fs and dropped == 1
    out_cell = next(i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and any(o.get('text') for o in c.get('outputs', [])))
    text = next(o['text'] for o in nb.cells[out_cell].outputs if o.get('text')).splitlines()[0]
    assert verify_quotes(nb, [Finding(defect_class='other', severity=3, cell=out_cell, quote=text, message='output')])[1] == 0

def test_anthropic_path_local_transport(pair):
    import httpx2
    from quantnotes.alpha.llm import AnthropicBackend, make_test_client, anthropic_message
    nb, hyp, cell = pair['bad']
    src = nbformat.read(nb, as_version=4).cells[cell].source.splitlines()
    seen = []
    reply = {'findings': [dict(defect_class='look_ahead', severity=1, cell=cell, quote=src[-1].strip(), message='whole-sample z'),
                          dict(defect_class='look_ahead', severity=1, cell=cell, quote='px.shift(-3)', message='invented'),
                          dict(defect_class='cost_omission', severity=7, cell=cell, quote=src[0], message='bad severity')]}
    def handler(request):
        seen.append(json.loads(request.content))
        return httpx2.Response(200, json=anthropic_message('Here you go:\n```json\n' + json.dumps(reply) + '\n```'))
    llm = AnthropicBackend(client=make_test_client(handler), sleep=lambda s: None)
    rep = review(nb, hyp, backend='anthropic', llm=llm)
    body = seen[0]
    assert body['system'] == [{'type': 'text', 'text': CRITIC_SYSTEM, 'cache_control': {'type': 'ephemeral'}}]
    assert body['model'] == llm.models['critic']
    user = json.loads(body['messages'][0]['content'])
    assert user['hypothesis']['sample']['oos_start'] == json.loads(Path(hyp).read_text())['sample']['oos_start']
    assert [c['index'] for c in user['cells']] == list(range(len(user['cells'])))
    assert 'answers' not in body['messages'][0]['content'] and DECOY not in json.dumps(body)
    assert [f.quote for f in rep.findings] == [src[-1].strip()] and rep.dropped == 2
    assert rep.to_json()['backend'] == 'anthropic' and rep.calls[0].input_tokens > 0

def test_small_suite_validation(tmp_path):
    "CI's blind run: one defect per class and six clean controls, through the command."
    r = critic('validate', '--small', '--seed', '3', '--out', tmp_path/'suite', '--no-progress', timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {l.split('|')[1].strip(): [int(x) for x in l.split('|')[2:6]] for l in r.stdout.splitlines() if l.startswith('| ') and 'seeded' not in l}
    assert rows['total'][0] == 6
    assert rows['total'][1] >= 5, r.stdout  # caught
    assert rows['total'][3] <= 1, r.stdout  # false positives on the six clean controls
    answers = json.loads((tmp_path/'suite'/'answers.json').read_text())
    assert len(answers) == 12 and sum(a['defect_class'] is None for a in answers.values()) == 6
    reports = json.loads((tmp_path/'suite'/'reports_offline.json').read_text())
    t = score(tmp_path/'suite', reports)
    assert t.set_index('defect_class').loc['total', 'caught'] == rows['total'][1]
    # rerunning into the same suite folder replaces it; a folder that is not a suite is never deleted
    keep = tmp_path/'mine'; keep.mkdir(); (keep/'notes.txt').write_text('precious')
    r = critic('validate', '--small', '--out', keep, '--no-progress')
    assert r.returncode == 2 and 'not a critic suite' in r.stderr and (keep/'notes.txt').read_text() == 'precious'

def test_suite_is_reproducible_and_varies(tmp_path):
    a = make_suite(tmp_path/'a', seed=5, counts={'look_ahead': 2}, n_clean=1, execute=False)
    b = make_suite(tmp_path/'b', seed=5, counts={'look_ahead': 2}, n_clean=1, execute=False)
    c = make_suite(tmp_path/'c', seed=6, counts={'look_ahead': 2}, n_clean=1, execute=False)
    src = lambda d: [nbformat.read(p, as_version=4).cells for p in sorted(Path(d).glob('nb_*.ipynb'))]
    strip = lambda cs: [[x.source for x in c] for c in cs]
    assert strip(src(a)) == strip(src(b)) and strip(src(a)) != strip(src(c))

def test_hung_kernel_is_replaced(tmp_path):
    "A worker whose kernel never answers (here: stopped with SIGSTOP) fails the notebook with one try, and with the default retry starts a fresh kernel and runs it; a hung kernel is never kept for the next notebook."
    import os, signal
    from quantnotes.alpha import critic_suite as cs
    p = tmp_path/'nb.ipynb'
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print(6 * 7)')]), p)
    def hang():
        km = cs._kernel(str(tmp_path)); os.kill(km.provisioner.process.pid, signal.SIGSTOP)
        return km
    try:
        km = hang()
        _, _, err = cs._execute(str(p), startup_timeout=5, tries=1)
        assert err and "didn't respond" in err, err
        assert cs._KM is None and not km.is_alive()
        km = hang()
        _, _, err = cs._execute(str(p), startup_timeout=5)
        assert err is None, err
        assert cs._KM is not None and cs._KM is not km and not km.is_alive()
        assert nbformat.read(p, as_version=4).cells[0].outputs[0].text.strip() == '42'
    finally: cs._drop_kernel()

def test_unparsable_and_deep_cells_are_findings_not_silence():
    "A cell the Critic cannot parse, or one nested too deeply to follow, is a finding that it could not be analysed."
    nb = handwritten(True)
    nb.cells.insert(4, nbformat.v4.new_code_cell('held = alloc.shift(\n# the closing bracket never comes'))
    nb.cells.insert(5, nbformat.v4.new_code_cell('x = ' + ' + '.join(['daily'] * 30000)))
    nb.cells.insert(6, nbformat.v4.new_code_cell('y = ' + '(' * 300 + '1' + ')' * 300))
    rep = review(nb, HYP)  # no RecursionError escapes
    found = {f.cell: f for f in rep.findings if f.defect_class == 'other' and 'could not analyse' in f.message}
    assert set(found) == {4, 5, 6}, [(f.cell, f.message) for f in rep.findings]
    assert all(f.severity == 2 and f.quote in nb.cells[f.cell].source for f in found.values())
    assert found[4].quote == 'held = alloc.shift('


def test_no_module_level_name_bound_twice():
    "A helper or word list defined twice in one Critic module silently replaces the first (round 29's `_TRADED`, round 30's `_assigned`)."
    import ast, collections
    from pathlib import Path
    import quantnotes.alpha as pkg
    twice = {}
    for path in sorted(Path(pkg.__file__).parent.glob('critic*.py')):
        names = collections.Counter()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)): names[node.name] += 1
            elif isinstance(node, ast.Assign): names.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id != '__all__')
        dup = sorted(n for n, k in names.items() if k > 1)
        if dup: twice[path.name] = dup
    assert not twice, f'names bound twice at module level: {twice}'
