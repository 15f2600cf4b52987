"The four agent roles, their backends and the workstream runner (sandbox limits: tests/test_sandbox.py)."
import json, os, signal, sqlite3, subprocess, sys, time, uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
import pytest
from conftest import ROOT
from quantnotes.alpha.log import (ResearchLog, Hypothesis, Sample, Implementation, Result, GateDecision, Finding,
                                  RobustnessRow)
from quantnotes.alpha.sandbox import synthetic_contract, DataContract
from quantnotes.alpha.proposer import (propose, candidates, check_hypothesis, ProposerExhausted, load_corpus,
                                       PROPOSER_SYSTEM)
from quantnotes.alpha.objective import STRESS_PERIODS
from quantnotes.alpha.implementer import (RestrictedLog, AccessDenied, implementer_context, ImplementerContext,
                                          run_implementation, anthropic_cells, ImplementationError, validate_notebook,
                                          offline_cells)
from quantnotes.alpha.replicator import robustness_panel, independent_replica
from quantnotes.alpha.workstream import Workstream, summarise

PY = sys.executable
ENV = {**os.environ, 'PYTHONUNBUFFERED': '1'}
ENV.pop('ANTHROPIC_API_KEY', None)

@pytest.fixture(scope='module')
def contract(): return synthetic_contract()

@pytest.fixture
def log(tmp_path):
    lg = ResearchLog(tmp_path/'log.db')
    yield lg
    lg.engine.dispose()

def _critic_available():
    try: import quantnotes.alpha.critic  # noqa
    except ImportError: return False
    return True

def research(*args, **kw):
    "Run `quantnotes research ...` (registered CLI if it is, else the module's own entry point)."
    from quantnotes.cli import _TOOLS
    cmd = ([str(Path(PY).parent/'quantnotes')] if 'research' in _TOOLS else
           [PY, '-c', 'import sys; from quantnotes.alpha.research_cli import main; sys.exit(main())'])
    return cmd + ['research', *map(str, args)]

def hyp(predictor='rank of the 3-month rate differential known at the decision date', dv='fx excess return', **kw):
    claim = ('High-rate currencies earn a premium because investors bear crash risk in global risk-off episodes '
             'and demand compensation for it.')
    return Hypothesis(**{**dict(data_commit='none', economic_claim=claim, dependent_variable=dv, predictor=predictor,
                         null='zero mean', sample=Sample(universe=['EUR', 'JPY'], start='2000-01-01', end='2019-12-31',
                                                         oos_start='2012-01-01')), **kw})

# ---------------------------------------------------------------- Proposer
def test_proposer_offline_is_deterministic_and_varies(tmp_path, contract):
    seqs = []
    for k in range(2):
        lg = ResearchLog(tmp_path/f'l{k}.db')
        hs = [lg.append(propose(lg, contract.info(), 'w').hypothesis) for _ in range(4)]
        seqs.append([h.predictor for h in hs]); lg.engine.dispose()
    assert seqs[0] == seqs[1] and len(set(seqs[0])) == 4
    assert [p.split()[0] for p in seqs[0]] == ['cross-sectional', 'trailing', 'log', 'trailing']  # four families
    h = hs[0]
    assert h.made_by == 'offline' and h.data_commit == 'none' and h.workstream == 'w'
    assert check_hypothesis(h) == []

def test_proposer_sees_no_prices_and_no_carry_without_rates(contract):
    info = {**contract.info(), 'has_rates': False}
    assert all('rate differential' not in c.predictor for c in candidates(info))
    assert set(contract.info()) == {'source', 'start', 'end', 'universe', 'has_rates', 'rates_note'}

@pytest.mark.parametrize('kw,msg', [
    (dict(economic_claim='Carry has predicted FX returns.'), 'no economic story'),
    (dict(economic_claim='The 3-month rate differential has historically predicted G10 currency returns in every decade.'), 'no economic story'),
    (dict(predictor="next month's rate differential rank"), 'not available at decision time'),
    (dict(predictor='rank of the future 3-month rate'), "'future'"),
    (dict(predictor='contemporaneous realised volatility rank'), 'contemporaneous'),
    (dict(sample=Sample(universe=['EUR'], start='2012-01-01', end='2019-12-31', oos_start='2016-01-01')), 'misses every stress regime'),
])
def test_self_rejection_rules(kw, msg):
    why = check_hypothesis(hyp(**kw))
    assert len(why) == 1 and msg in why[0], why

def test_sixty_day_refusal(log):
    old = log.append(hyp(created_at=datetime.now(timezone.utc) - timedelta(days=61)))
    assert check_hypothesis(hyp(), log) == []  # the same test 61 days ago is allowed again
    log.append(hyp())
    why = check_hypothesis(hyp(predictor='Rank of the 3-month rate differential, known at the decision date.'), log)
    assert len(why) == 1 and 'tested in the last 60 days' in why[0]
    assert check_hypothesis(hyp(dv='fx spot return'), log) == []  # other dependent variable: a different test

def test_offline_proposer_exhausts_cleanly(log, contract):
    for c in candidates(contract.info()): log.append(c)
    with pytest.raises(ProposerExhausted, match='every offline candidate'):
        propose(log, contract.info())

# ---------------------------------------------------------------- Anthropic request building/parsing (real SDK, local transport)
def _client(replies, seen):
    import httpx2
    from quantnotes.alpha.llm import make_test_client, anthropic_message
    def handler(request):
        body = json.loads(request.content)
        seen.append(body)
        return httpx2.Response(200, json=anthropic_message(replies[min(len(seen), len(replies)) - 1], body['model'],
                                                           usage=dict(input_tokens=2000, output_tokens=400, cache_read_input_tokens=1500)))
    return make_test_client(handler)

def test_anthropic_proposer_request_retry_and_parse(log, contract):
    from quantnotes.alpha.llm import AnthropicBackend, DEFAULT_MODELS
    prior = log.append(hyp(workstream='w'))
    good = dict(economic_claim='Currencies that trended recently keep trending because information about policy '
                               'diffuses slowly across FX participants.',
                dependent_variable='monthly return of G10 currencies against USD', null='net OOS IR is zero or negative',
                predictor='trailing 126-business-day spot return against USD ending at the decision date; long the top 3, short the bottom 3',
                sample=dict(universe=['EUR', 'JPY', 'GBP', 'AUD', 'CAD', 'NOK'], start='2005-01-01', oos_start='2010-01-01', end='2012-12-31'))
    bad = {**good, 'predictor': "next month's spot return rank"}
    seen = []
    llm = AnthropicBackend(client=_client([json.dumps(bad), 'Here it is: ' + json.dumps(good)], seen), sleep=lambda s: None)
    p = propose(log, contract.info(), 'w', backend='anthropic', llm=llm)
    assert len(seen) == 2 and len(p.calls) == 2 and 'not available at decision time' in p.refused[0][1][0]
    b = seen[0]
    assert b['model'] == DEFAULT_MODELS['proposer'] and 'opus' in b['model']
    assert b['system'][0]['cache_control'] == {'type': 'ephemeral'} and b['system'][0]['text'] == PROPOSER_SYSTEM
    user = json.loads(b['messages'][0]['content'])
    assert {d['family'] for d in user['literature']} == {'carry', 'momentum', 'value', 'volatility'}
    assert user['recent_hypotheses'][0]['predictor'] == prior.predictor and user['data']['has_rates'] is True
    assert 'spot.' not in b['messages'][0]['content']  # metadata only, never prices
    assert 'previous_reply_refused_because' in json.loads(seen[1]['messages'][0]['content'])
    h = p.hypothesis
    assert h.made_by == f"anthropic:{DEFAULT_MODELS['proposer']}" and h.predictor == good['predictor']
    c = p.calls[-1]
    assert c.role == 'proposer' and c.backend == 'anthropic' and c.cache_read_input_tokens == 1500 and c.cost_usd > 0

def test_anthropic_implementer_request_has_no_earlier_results_and_is_validated(log, contract):
    from quantnotes.alpha.llm import AnthropicBackend, DEFAULT_MODELS
    h = log.append(candidates(contract.info())[1])
    earlier = log.append(Implementation(parent_id=h.id, data_commit='c', notebook='old.ipynb', notebook_sha256='a' * 64, k_eff=2))
    log.append(Result(parent_id=earlier.id, data_commit='c', ir_is=1.234567, ir_oos=0.987654, turnover=1., cost_bps=2.))
    log.append(GateDecision(parent_id=h.id, gate='proposal', decision='approve', reviewer='t', rationale='ok', data_commit='none'))
    ctx = implementer_context(log, h.id, contract)
    body = [dict(cell_type='code', source="def signal(view, universe):\n    p = view.panel([f'spot.{c}' for c in universe])\n"
                                           "    return (p.iloc[-1] / p.iloc[-lookback] - 1).rename(lambda s: s[5:]).rank() - 5"),
            dict(cell_type='code', source='res = backtest(store, signal, SAMPLE, cost_bps=cost_bps, carry=CARRY)\n'
                                          'out = write_results(res, store, SCHEMA, results_path)')]
    bad = dict(knobs=dict(lookback=63), k_eff=1, cells=[dict(cell_type='code', source='import os')] + body)
    good = dict(knobs=dict(lookback=63), k_eff=1, cells=body)
    seen = []
    llm = AnthropicBackend(client=_client([json.dumps(bad), json.dumps(good)], seen), sleep=lambda s: None)
    cells, calls = anthropic_cells(ctx, llm)
    assert seen[0]['model'] == DEFAULT_MODELS['implementer'] and 'sonnet' in seen[0]['model']
    assert seen[0]['system'][0]['cache_control'] == {'type': 'ephemeral'}
    sent = json.dumps(seen)
    assert '1.234567' not in sent and '0.987654' not in sent and str(earlier.id) not in sent
    assert "imports ['os']" in json.loads(seen[1]['messages'][0]['content'])['previous_reply_refused_because']
    from quantnotes.alpha.sandbox import make_notebook
    assert validate_notebook(make_notebook(cells)) == {'k_eff': 1, 'knobs': ['lookback']}
    assert len(calls) == 2 and calls[0].made_by.startswith('anthropic:')
    seen2 = []
    llm2 = AnthropicBackend(client=_client([json.dumps(bad)], seen2), sleep=lambda s: None)
    with pytest.raises(ImplementationError, match='did not write a valid notebook'): anthropic_cells(ctx, llm2)

# ---------------------------------------------------------------- Implementer: no access to earlier results
def test_implementer_log_view_refuses_results(log, contract):
    h = log.append(candidates(contract.info())[1])
    with pytest.raises(AccessDenied, match='not approved at gate 1'): implementer_context(log, h.id, contract)
    log.append(GateDecision(parent_id=h.id, gate='proposal', decision='approve', reviewer='t', rationale='ok', data_commit='none'))
    im = log.append(Implementation(parent_id=h.id, data_commit='c', notebook='n.ipynb', notebook_sha256='a' * 64, k_eff=1))
    r = log.append(Result(parent_id=im.id, data_commit='c', ir_is=1., ir_oos=.5, turnover=1., cost_bps=2.))
    view = implementer_context(log, h.id, contract).log
    assert view.get(h.id) == h and [x.id for x in view.list()] == [h.id]
    for f, msg in [(lambda: view.get(im.id), 'may not read implementation'), (lambda: view.get(r.id), 'may not read result'),
                   (lambda: view.list('result'), 'hypotheses only'), (lambda: view.children(h.id), "no 'children'"),
                   (lambda: view.trial_count(), "no 'trial_count'"), (lambda: view.engine, "no 'engine'"),
                   (lambda: view.lineage(h.id), "no 'lineage'")]:
        with pytest.raises(AccessDenied, match=msg): f()
    with pytest.raises(AccessDenied): view.x = 1
    assert set(ImplementerContext.__dataclass_fields__) == {'hypothesis', 'contract', 'log'}

def test_implementer_notebook_cannot_read_the_log(tmp_path, log, contract):
    "The sandbox denies the study notebook the log file, whatever code it contains."
    from quantnotes.alpha.sandbox import run_notebook, make_notebook
    cells = offline_cells(candidates(contract.info())[1], contract)
    cells.insert(5, ('code', f"import sqlite3\nsqlite3.connect({str(tmp_path/'log.db')!r}).execute('select * from results')"))
    run = tmp_path/'runs'/'x'; nb = make_notebook(cells, run/'study.ipynb')
    r = run_notebook(run/'study.ipynb', run/'out.ipynb', dict(contract=contract.to_dict()), deny=[tmp_path/'log.db', tmp_path/'runs'],
                     allow=[run], timeout=60)
    # the Python guard says 'is not allowed'; under OS isolation (bwrap) the file is not even there to open
    assert r.status == 'failed' and 'import sqlite3' in r.error, r.error  # it failed in the injected cell
    assert 'is not allowed' in r.error or 'unable to open database file' in r.error, r.error

# ---------------------------------------------------------------- offline roles, failures, panel, replica
def test_failed_implementations_are_logged_and_the_pipeline_goes_on(tmp_path, log, contract):
    bad = log.append(hyp(predictor='analyst sentiment score, published before the decision date', workstream='w'))
    ws = Workstream(log, contract, 'w', auto_gate1=True, timeout=180, echo=lambda m: None)  # 60 s is too tight on a busy machine
    s = ws.run(2, progress=False)
    im_bad = log.children(bad.id, 'implementation')
    assert len(im_bad) == 1 and im_bad[0].status == 'failed' and 'no template for predictor' in im_bad[0].error
    assert s['stages'][str(bad.id)] == 'implementation failed'
    other = [h for h in ws.hypotheses() if h.id != bad.id][0]
    im = log.children(other.id, 'implementation')[0]
    assert im.status == 'ok' and s['implemented_ok'] == 1 and s['failed'] == 1
    # a notebook that crashes inside the sandbox (data changed under its contract) is a failed Implementation too
    broken = DataContract.from_dict({**contract.to_dict(), 'data_commit': '0' * 64})
    run = run_implementation(ImplementerContext(other, broken), tmp_path/'crash')
    assert run.implementation.status == 'failed' and 'the data changed' in run.implementation.error and run.results is None
    assert Path(run.implementation.notebook).is_file() and run.implementation.wall_s > 0

def test_panel_has_eight_rows_and_replica_agrees(tmp_path, contract):
    h = candidates(contract.info())[1]  # momentum
    run = run_implementation(ImplementerContext(h, contract), tmp_path/'impl')
    assert run.implementation.status == 'ok', run.implementation.error
    c = DataContract.from_dict(json.loads((tmp_path/'impl'/'data'/'contract.json').read_text()))
    f = Finding(defect_class='unstable_parameter', severity=2, cell=1, quote='lookback = 63', message='window not justified')
    rows, calls = robustness_panel(tmp_path/'impl'/'study.ipynb', run.results, h, c, [f], read_only=[tmp_path/'impl'/'data'])
    assert len(rows) == 8 and len({r.name for r in rows}) == 8
    names = [r.name for r in rows]
    assert names[:3] == ['sample: first half', 'sample: second half', 'sample: without stress periods']
    assert names[3].startswith('cost: 2x') and names[4] == 'cost: 0 bp' and names[5].startswith('leave-one-out: currency')
    assert names[6] == 'perturbation: n = 2' and names[7] == 'ablation: lookback = 126 (flagged)'
    assert rows[4].ir_oos >= rows[3].ir_oos  # zero cost beats double cost
    assert all('re-run failed' not in r.note for r in rows), [r.note for r in rows][6:]
    assert calls[0].role == 'replicator'
    rep, _ = independent_replica(h, contract, run.results['ir_oos'])
    assert rep[0].name == 'independent replica' and abs(rep[0].ir_oos - run.results['ir_oos']) <= .15 * abs(run.results['ir_oos'])

# ---------------------------------------------------------------- runner and CLI
def _counts(db):
    con = sqlite3.connect(db)
    try: return {t: con.execute(f'select count(*) from {t}').fetchone()[0]
                 for t in ('hypotheses', 'implementations', 'results', 'critiques', 'robustness', 'gate_decisions', 'llm_calls')}
    finally: con.close()

def _implementations_so_far(db):
    "Rows in `implementations` while the run is still creating the log: 0 before the file or its tables exist."
    if not db.exists(): return 0
    con = sqlite3.connect(db)
    try: return con.execute('select count(*) from implementations').fetchone()[0]
    except sqlite3.OperationalError as e:
        if 'no such table' in str(e): return 0
        raise
    finally: con.close()

def _check_contract(lg: ResearchLog, db: Path, full: bool):
    hs = [h for h in lg.list('hypothesis') if h.workstream == 'e2e']
    assert len({(h.dependent_variable, h.predictor) for h in hs}) == len(hs)
    for h in hs:
        imps = lg.children(h.id, 'implementation')
        assert len(imps) == 1, 'one implementation per hypothesis'
        im = imps[0]
        assert im.status == 'ok' and im.made_by == 'offline' and im.k_eff >= 1
        nb = Path(im.notebook)
        assert nb.is_absolute() and nb.is_file() and nb.parent.parent == db.parent/'runs'/str(h.id)
        kids = lg.children(im.id)
        res = [a for a in kids if a.kind == 'result']
        assert len(res) == 1
        m = res[0].metrics
        assert {'u', 'drift', 'k_eff', 's_tc', 'n_trials', 'c_frag'} <= set(m) and any(k.startswith('regime_pnl:') for k in m)
        calls = [a for a in kids if a.kind == 'llm_call']
        assert [c.role for c in calls] == ['implementer'] and calls[0].made_by == 'offline'
        assert [c.role for c in lg.children(h.id, 'llm_call')] == ['proposer']
        assert lg.decisions(h.id, 'proposal')[-1].reviewer == 'auto-gate1'
        assert lg.decisions(im.id, 'promotion') == []  # gate 2 is never automatic
        if full:
            rob = [a for a in kids if a.kind == 'robustness']
            assert sorted((r.independent, len(r.rows)) for r in rob) == [(False, 8), (True, 2)]  # replica + the original it is judged against
            assert len([a for a in kids if a.kind == 'critique']) == 1
            assert im.id in {i.id for i in lg.pending('promotion')}

def test_interrupt_then_resume(tmp_path):
    db = tmp_path/'log.db'
    args = research('run', '--workstream', 'e2e', '--hypotheses', 3, '--data', 'synthetic', '--auto-gate1', '--log', db, '--no-progress')
    # a shell that starts the tests in the background (nohup, `&`) leaves SIGINT ignored, and the child would inherit
    # that and never see the Ctrl-C: give it the default handling, as an interactive terminal would
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=tmp_path,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.time()
    while time.time() - t0 < 300:  # interrupt as soon as the first implementation is logged (the second is running)
        time.sleep(0.5)
        if _implementations_so_far(db) >= 1: break
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    assert 'rerun the same command to resume' in err
    mid = _counts(db)
    assert 1 <= mid['implementations'] < 3
    import psutil
    left = [q for q in psutil.process_iter(['cmdline']) if any('qn-sandbox-' in a for a in (q.info['cmdline'] or []))
            and str(tmp_path) in ' '.join(q.info['cmdline'] or [])]
    p2 = subprocess.run(args, capture_output=True, text=True, timeout=600, env=ENV)
    assert p2.returncode == 0, p2.stderr
    assert 'workstream e2e: 3 hypotheses' in p2.stdout and 'API spend $0.0000' in p2.stdout
    end = _counts(db)
    assert end['hypotheses'] == 3 and end['implementations'] == 3 and end['results'] == 3
    lg = ResearchLog(db)
    _check_contract(lg, db, _critic_available())
    lg.engine.dispose()
    # the end-to-end run is this one (interrupted, resumed); once finished, the same command adds nothing
    p3 = subprocess.run(args + ['--json'], capture_output=True, text=True, timeout=600, env=ENV)
    assert p3.returncode == 0 and _counts(db) == end, p3.stderr
    assert json.loads(p3.stdout)['implemented_ok'] == 3
    assert not left or all(not q.is_running() for q in left)

def test_cli_errors(tmp_path):
    p = subprocess.run(research('run', '--workstream', 'w', '--hypotheses', 0, '--data', 'synthetic', '--log', tmp_path/'l.db'),
                       capture_output=True, text=True, timeout=120, env=ENV)
    assert p.returncode == 2 and '--hypotheses must be at least 1' in p.stderr
    p = subprocess.run(research('run', '--workstream', 'w', '--hypotheses', 1, '--backend', 'anthropic', '--data', 'synthetic',
                                '--log', tmp_path/'l.db'), capture_output=True, text=True, timeout=120, env=ENV)
    assert p.returncode == 2 and 'ANTHROPIC_API_KEY' in p.stderr
    p = subprocess.run(research('run', '--workstream', 'w', '--hypotheses', 1, '--data', 'nope'), capture_output=True, text=True, timeout=120, env=ENV)
    assert p.returncode == 2 and "invalid choice: 'nope'" in p.stderr

def test_workstream_waits_at_gate1_without_auto(log, contract):
    ws = Workstream(log, contract, 'manual', echo=lambda m: None)
    s = ws.run(2, progress=False)
    assert s['hypotheses'] == 2 and s['implementations'] == 0 and set(s['stages'].values()) == {'awaiting gate 1'}
    assert {h.id for h in log.pending('proposal')} == {h.id for h in ws.hypotheses()}
    h = ws.hypotheses()[0]
    log.append(GateDecision(parent_id=h.id, gate='proposal', decision='reject', reviewer='human', rationale='no', data_commit='none'))
    assert ws.advance(h) == 'gate 1: reject' and summarise(log, 'manual')['gate1'] == {'reject': 1, 'pending': 1}
