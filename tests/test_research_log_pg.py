"The research log on a real PostgreSQL server: the same code path as SQLite, through a `postgresql+psycopg://` URL."
import threading, uuid
import pytest
from conftest import quantnotes
from quantnotes.alpha.log import (ResearchLog, LogError, Hypothesis, Result, Critique, Finding, GateDecision,
                                  parse_artifact, TABLES)

H = dict(kind='hypothesis', data_commit='c1', economic_claim='Carry pays in calm regimes.', dependent_variable='fx 1m',
         predictor='3m rate differential rank', null='zero mean HML carry return',
         sample={'universe': ['EUR', 'JPY'], 'start': '2000-01-01', 'end': '2020-12-31', 'oos_start': '2012-01-01'})

@pytest.fixture
def pg_log(pg_url):
    "A fresh database on the session's server, with the log schema."
    import psycopg
    name = f't_{uuid.uuid4().hex[:12]}'
    dsn = pg_url.replace('postgresql+psycopg://', 'postgresql://')
    with psycopg.connect(dsn, autocommit=True) as c: c.execute(f'CREATE DATABASE {name}')
    url = pg_url.rsplit('/', 1)[0] + f'/{name}'
    log = ResearchLog(url)
    yield log
    log.engine.dispose()

def test_walk_through_matches_sqlite_semantics(pg_log):
    log = pg_log
    assert log.engine.dialect.name == 'postgresql'
    h = log.append(H)
    im = log.append(dict(kind='implementation', parent_id=str(h.id), data_commit='c1', notebook='n.ipynb',
                         notebook_sha256='0'*64, k_eff=2))
    assert im.dependent_variable == 'fx 1m'
    r = log.append(Result(parent_id=im.id, data_commit='c1', ir_is=.5, ir_oos=.3, turnover=2, cost_bps=2))
    cr = log.append(Critique(parent_id=im.id, data_commit='c1', findings=[Finding(
        defect_class='cost_omission', severity=2, cell=3, quote='cost_bps = 0', message='no cost')]))
    assert log.get(r.id) == r and log.get(cr.id) == cr
    assert [a.kind for a in log.list()] == ['critique', 'result', 'implementation', 'hypothesis']
    assert log.trial_count() == {'fx 1m': 1}
    assert [k for _, k in log.lineage(cr.id)['ancestors']] == ['implementation', 'hypothesis']
    assert [a.kind for a in log.children(im.id)] == ['result', 'critique']
    with pytest.raises(LogError, match="field 'parent_id'"):
        log.append(Result(parent_id=uuid.uuid4(), data_commit='c1', ir_is=0, ir_oos=0, turnover=0, cost_bps=0))
    with pytest.raises(LogError, match="field 'sample"): log.append({**H, 'sample': {**H['sample'], 'end': '1999-01-01'}})
    assert len(log.list()) == 4

def test_database_refuses_update_and_delete(pg_log):
    import sqlalchemy as sa
    h = pg_log.append(H)
    for sql in ["UPDATE hypotheses SET payload = '{}'", 'DELETE FROM hypotheses']:
        with pytest.raises(sa.exc.DBAPIError, match='append-only'):
            with pg_log.engine.begin() as c: c.exec_driver_sql(sql)
    assert pg_log.get(h.id) == h
    with pg_log.engine.connect() as c:
        n = c.exec_driver_sql("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%%_no_%%'").scalar()
    assert n == 3*(len(TABLES) + 1)  # update, delete, truncate on every artifact table and on the chain

def test_concurrent_writers_lose_nothing(pg_log):
    errors = []
    def work(i):
        try:
            for j in range(15): pg_log.append({**H, 'predictor': f'variant {i}-{j}'})
        except Exception as e: errors.append(e)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert not errors and len(pg_log.list('hypothesis')) == 60

def test_racing_gate_decisions_log_exactly_one(pg_log):
    h = pg_log.append(H)
    out, barrier = [], threading.Barrier(4)
    def decide(i):
        barrier.wait()
        try: out.append(pg_log.append(GateDecision(parent_id=h.id, data_commit='none', gate='proposal',
                                                   decision='approve' if i % 2 else 'reject', reviewer=f'r{i}', rationale='x')))
        except LogError as e: out.append(e)
    ts = [threading.Thread(target=decide, args=(i,)) for i in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert sum(not isinstance(o, LogError) for o in out) == 1, out  # the others were stale
    assert all('supersedes' in str(o) for o in out if isinstance(o, LogError))
    assert len(pg_log.decisions(h.id)) == 1
    d = pg_log.decisions(h.id)[0]
    again = GateDecision(parent_id=h.id, data_commit='none', gate='proposal', decision='reject', reviewer='x',
                         rationale='y', supersedes=d.id, request_id='form-7')
    assert pg_log.append(again).id == again.id
    assert pg_log.append(again.model_copy(update={'id': uuid.uuid4()})).id == again.id  # a double click
    assert len(pg_log.decisions(h.id)) == 2

def test_log_cli_on_a_postgresql_url(pg_log):
    url = pg_log.url
    r = quantnotes('log', 'init', '--log', url)
    assert r.returncode == 0, r.stderr
    h = pg_log.append(H)
    r = quantnotes('log', 'list', '--log', url)
    assert r.returncode == 0 and str(h.id) in r.stdout
    r = quantnotes('log', 'show', '--log', url, str(h.id))
    assert parse_artifact(r.stdout) == h

def test_rewrites_refused_and_chain_verified(pg_log):
    "ON CONFLICT DO UPDATE, TRUNCATE and DROP TRIGGER are refused on PostgreSQL; the chain verifies and names an edit."
    import sqlalchemy as sa
    h = pg_log.append(H)
    d = pg_log.append(GateDecision(parent_id=h.id, data_commit='none', gate='proposal', decision='approve', reviewer='a', rationale='ok'))
    for sql in ["INSERT INTO gate_decisions SELECT * FROM gate_decisions ON CONFLICT (id) DO UPDATE SET payload = "
                "replace(gate_decisions.payload, 'approve', 'reject')",
                'TRUNCATE gate_decisions', 'TRUNCATE log_chain', "UPDATE log_chain SET hash = 'x'",
                'DROP TRIGGER gate_decisions_no_update ON gate_decisions']:
        with pytest.raises(sa.exc.DBAPIError, match='append-only'):
            with pg_log.engine.begin() as c: c.exec_driver_sql(sql)
    assert pg_log.get(d.id).decision == 'approve'
    v = pg_log.verify(); assert v.ok and v.rows == 2, v
    r = quantnotes('log', 'verify', '--log', pg_log.url)
    assert r.returncode == 0 and r.stdout.startswith('ok: 2 artifact(s)'), r.stderr
    with pg_log.engine.begin() as c:  # a superuser who disarms the guards first: the chain still names the row
        c.exec_driver_sql("ALTER EVENT TRIGGER quantnotes_no_drop DISABLE")
        c.exec_driver_sql('ALTER TABLE gate_decisions DISABLE TRIGGER gate_decisions_no_update')
        c.exec_driver_sql("UPDATE gate_decisions SET payload = replace(payload, 'approve', 'reject')")
    v = pg_log.verify()
    assert not v.ok and v.bad_id == str(d.id) and 'edited' in v.reason, v
    r = quantnotes('log', 'verify', '--log', pg_log.url)
    assert r.returncode == 1 and str(d.id) in r.stderr

def test_clients_opening_a_fresh_log_at_once(pg_url):
    "Several clients creating the schema of one fresh database at the same moment: none fails, the log works."
    import psycopg
    name = f't_{uuid.uuid4().hex[:12]}'
    with psycopg.connect(pg_url.replace('postgresql+psycopg://', 'postgresql://'), autocommit=True) as c:
        c.execute(f'CREATE DATABASE {name}')
    url = pg_url.rsplit('/', 1)[0] + f'/{name}'
    start, errors, logs = threading.Barrier(4), [], []
    def open_log():
        start.wait()
        try: logs.append(ResearchLog(url))
        except Exception as e: errors.append(e)
    ts = [threading.Thread(target=open_log) for _ in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    try:
        assert not errors, errors
        logs[0].append(H)
        assert logs[0].verify().ok and len(logs[-1].list('hypothesis')) == 1
    finally:
        for l in logs: l.engine.dispose()

def test_verification_while_others_append(pg_log):
    "A verification that runs while other clients append sees one consistent snapshot: never a false alarm."
    stop, errors, bad = threading.Event(), [], []
    def write(i):
        try:
            for j in range(60): pg_log.append({**H, "predictor": f"writer {i}-{j}"})
        except Exception as e: errors.append(e)
    def check():
        while not stop.is_set():
            v = pg_log.verify()
            if not v.ok: bad.append(v)
    ws = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    cs = [threading.Thread(target=check) for _ in range(2)]
    for t in ws + cs: t.start()
    for t in ws: t.join()
    stop.set()
    for t in cs: t.join()
    assert not errors and not bad, (errors, bad[:1])
    assert pg_log.verify().ok and len(pg_log.list("hypothesis")) == 180
