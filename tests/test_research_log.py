"Research log: append-only storage, validation, concurrent writers, lineage and the `quantnotes log` command."
import json, multiprocessing as mp, sqlite3, time, uuid
import pytest
from conftest import quantnotes
from quantnotes.alpha.log import (ResearchLog, LogError, Hypothesis, Implementation, Result, Critique, Finding,
                                  Robustness, RobustnessRow, GateDecision, Sample, parse_artifact, TABLES)

SAMPLE = dict(universe=['EUR', 'JPY', 'GBP', 'AUD'], start='2000-01-01', end='2024-12-31', oos_start='2015-01-01',
              description='G10 subset')

def hyp(dv='fx excess return', **kw):
    return Hypothesis(data_commit='none', economic_claim='Carry pays in calm regimes.', dependent_variable=dv,
                      predictor='rate differential rank', null='zero mean', sample=Sample(**SAMPLE), **kw)

def counts(db):
    con = sqlite3.connect(db)
    try: return {t: con.execute(f'select count(*) from {t}').fetchone()[0] for t in
                 ['hypotheses', 'implementations', 'results', 'critiques', 'robustness', 'gate_decisions']}
    finally: con.close()

@pytest.fixture
def log(tmp_path):
    lg = ResearchLog(tmp_path/'log.db')
    yield lg
    lg.engine.dispose()

def test_schema_wal_and_triggers(log, tmp_path):
    con = sqlite3.connect(tmp_path/'log.db')
    assert con.execute('pragma journal_mode').fetchone()[0] == 'wal'
    trig = {r[0] for r in con.execute("select name from sqlite_master where type='trigger'")}
    assert {f'{t}_no_{op}' for t in TABLES.values() for op in ('update', 'delete', 'replace')} <= trig
    h = log.append(hyp())
    for sql in ["update hypotheses set payload='{}'", 'delete from hypotheses', "update hypotheses set parent_id='x'"]:
        with pytest.raises(sqlite3.DatabaseError, match='append-only'): con.execute(sql)
    con.close()
    assert log.get(h.id) == h
    assert not any(hasattr(log, m) for m in ['update', 'delete', 'remove'])

def test_invalid_artifact_names_field_and_writes_nothing(log, tmp_path):
    h = log.append(hyp())
    before = counts(tmp_path/'log.db')
    bad = json.loads(h.model_dump_json()) | {'id': str(uuid.uuid4())}
    cases = {"field 'sample.oos_start'": {**bad, 'sample': {**SAMPLE, 'oos_start': '2015-13-01'}},
             'start < oos_start < end': {**bad, 'sample': {**SAMPLE, 'oos_start': '1999-01-01'}},
             "field 'sample.universe'": {**bad, 'sample': {**SAMPLE, 'universe': ['EUR', 'ZZZ']}},
             "field 'economic_claim'": {**bad, 'economic_claim': ''},
             "field 'data_commit'": {k: v for k, v in bad.items() if k != 'data_commit'},
             "field 'kind'": {**bad, 'kind': 'memo'}}
    for msg, data in cases.items():
        with pytest.raises(LogError, match=msg.replace('(', r'\(')): log.append(data)
    # valid artifact, invalid link: refused inside the transaction
    with pytest.raises(LogError, match="field 'parent_id'"):
        log.append(Result(parent_id=uuid.uuid4(), data_commit='c', ir_is=1, ir_oos=1, turnover=1, cost_bps=1))
    with pytest.raises(LogError, match="field 'parent_id'"):  # an implementation needs its hypothesis
        log.append(dict(kind='implementation', data_commit='c', notebook='n', notebook_sha256='a'*64, k_eff=1))
    with pytest.raises(LogError, match="field 'id'"): log.append(h)
    assert counts(tmp_path/'log.db') == before

def test_corrections_lineage_and_queries(log):
    h = log.append(hyp()); h2 = log.append(hyp(dv='fx vol'))
    im = log.append(Implementation(parent_id=h.id, data_commit='c1', notebook='a.ipynb', notebook_sha256='a'*64, k_eff=3))
    im2 = log.append(Implementation(parent_id=h.id, data_commit='c1', notebook='b.ipynb', notebook_sha256='b'*64, k_eff=1))
    r = log.append(Result(parent_id=im.id, data_commit='c1', ir_is=0.9, ir_oos=0.4, turnover=2, cost_bps=2))
    cr = log.append(Critique(parent_id=r.id, data_commit='c1', findings=[
        Finding(defect_class='look_ahead', severity=1, cell=4, quote='window=(t-20, t]', message='z-score window includes t')]))
    fix = log.append(Result(parent_id=r.id, data_commit='c1', ir_is=0.7, ir_oos=0.3, turnover=2, cost_bps=2))
    rb = log.append(Robustness(parent_id=fix.id, data_commit='c1', rows=[RobustnessRow(name='cost 4bp', ir_oos=0.2)]))
    g = log.append(GateDecision(parent_id=rb.id, data_commit='c1', gate='promotion', decision='send_back', reviewer='me',
                                rationale='regime concentration'))
    assert log.get(r.id).ir_oos == 0.4 and log.get(fix.id).parent_id == r.id  # correction kept beside the original
    assert log.trial_count() == {'fx excess return': 2} and log.trial_count('fx vol') == 0
    L = log.lineage(g.id)
    assert [k for _, k in L['ancestors']] == ['robustness', 'result', 'result', 'implementation', 'hypothesis']
    assert L['ancestors'][-1][0] == str(h.id)
    D = log.lineage(h.id)['descendants']
    assert {c['id'] for c in D} == {str(im.id), str(im2.id)}
    assert len(log.recent_hypotheses(days=60)) == 2 and len(log.recent_critiques(days=60)) == 1
    assert log.recent_hypotheses(days=0) == []
    assert [a.kind for a in log.list(limit=2)] == ['gate_decision', 'robustness']

def _writer(db, n, wid, q):
    try:
        lg = ResearchLog(db)
        h = lg.append(hyp(dv=f'writer {wid}'))
        for i in range(n - 1):
            lg.append(Implementation(parent_id=h.id, data_commit='c', notebook=f'w{wid}-{i}.ipynb',
                                     notebook_sha256='c'*64, k_eff=i % 5))
        lg.engine.dispose(); q.put((wid, 'ok'))
    except Exception as e: q.put((wid, repr(e)))

def test_concurrent_writers(tmp_path):
    db = str(tmp_path/'log.db')
    ResearchLog(db).engine.dispose()
    ctx = mp.get_context('fork'); q = ctx.Queue()
    t0 = time.time()
    ps = [ctx.Process(target=_writer, args=(db, 50, w, q)) for w in range(4)]
    for p in ps: p.start()
    out = [q.get(timeout=120) for _ in ps]
    for p in ps: p.join(timeout=60)
    print(f'4 writers x 50 inserts: {time.time() - t0:.1f} s')
    assert all(s == 'ok' for _, s in out), out
    c = counts(db)
    assert c['hypotheses'] == 4 and c['implementations'] == 196
    lg = ResearchLog(db)
    assert lg.trial_count() == {f'writer {w}': 49 for w in range(4)}
    lg.engine.dispose()

def test_cli(tmp_path, log):
    db = tmp_path/'cli.db'
    r = quantnotes('log', 'init', '--log', db, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(counts(db)) == 6 and sum(counts(db).values()) == 0
    lg = ResearchLog(db)
    h = lg.append(hyp())
    im = lg.append(Implementation(parent_id=h.id, data_commit='c', notebook='a.ipynb', notebook_sha256='a'*64, k_eff=2))
    res = lg.append(Result(parent_id=im.id, data_commit='c', ir_is=1, ir_oos=0.5, turnover=1, cost_bps=2))
    lg.engine.dispose()
    r = quantnotes('log', 'list', '--log', db, '--kind', 'hypothesis', timeout=120)
    assert r.returncode == 0 and str(h.id) in r.stdout and str(im.id) not in r.stdout, r.stderr
    r = quantnotes('log', 'show', im.id, '--log', db, timeout=120)
    assert r.returncode == 0 and json.loads(r.stdout)['parent_id'] == str(h.id)
    r = quantnotes('log', 'lineage', im.id, '--log', db, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith('hypothesis') and str(im.id) in lines[1] and 'result' in lines[2] and str(res.id) in lines[2]
    r = quantnotes('log', 'show', str(uuid.uuid4()), '--log', db, timeout=120)
    assert r.returncode == 2 and 'no artifact' in r.stderr
    r = quantnotes('log', 'list', '--log', tmp_path/'absent.db', timeout=120)
    assert r.returncode == 2 and 'quantnotes log init' in r.stderr and not (tmp_path/'absent.db').exists()
