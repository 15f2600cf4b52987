"""A real Dask cluster on the loopback address: a `dask scheduler` and two `dask worker` processes started here, a seed
sweep sent to them, one worker killed mid-run. Every seed's report must exist once, be complete, and equal the local
executor's tables for the same seed. And research workstreams: two clients whose sandboxed notebooks run on the
workers, writing one PostgreSQL log at once."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd, pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SEEDY = ROOT/'tests'/'fixtures'/'sweep_studies'/'seedy.ipynb'
pytest.importorskip('distributed', reason='dask distributed is not installed (pip install -r requirements.txt)')

def _start(cmd, log):
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT,
                            env={**os.environ, 'DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES': '1'})

def _stop(p):
    if p.poll() is None:
        try: os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError: pass
    p.wait(timeout=30)

@pytest.fixture
def cluster(tmp_path):
    "A scheduler and two one-thread workers on 127.0.0.1; yields (address, [worker processes])."
    sf, log = tmp_path/'scheduler.json', open(tmp_path/'cluster.log', 'w')
    procs = [_start([str(BIN/'dask'), 'scheduler', '--host', '127.0.0.1', '--port', '0', '--no-dashboard',
                     '--scheduler-file', str(sf)], log)]
    try:
        for _ in range(600):
            if sf.is_file() and sf.read_text().strip(): break
            time.sleep(0.1)
        addr = json.loads(sf.read_text())['address']
        workers = [_start([str(BIN/'dask'), 'worker', addr, '--nthreads', '1', '--nworkers', '1', '--no-dashboard',
                           '--host', '127.0.0.1', '--name', f'w{i}'], log) for i in range(2)]
        procs += workers
        from distributed import Client
        with Client(addr, timeout='60s') as c: c.wait_for_workers(2, timeout=120)
        yield addr, workers
    finally:
        for p in procs: _stop(p)
        log.close()

def _tables(root, seed):
    return pd.read_csv(root/f'seed-{seed}'/'tables'/'moments.csv')

def test_sweep_survives_a_killed_worker_and_matches_local(cluster, tmp_path):
    addr, workers = cluster
    seeds = [1, 2, 3, 4]
    cmd = [str(BIN/'quantnotes'), 'sweep', str(SEEDY), '--seeds', '1-4', '--profile', 'slow', '--executor', 'dask',
           '--scheduler', addr, '--out', str(tmp_path/'dask'), '--no-progress']
    run = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    from distributed import Client
    with Client(addr, timeout='60s') as c:  # wait until both workers are busy, then kill one of them
        for _ in range(600):
            busy = [w for w, ks in c.processing().items() if ks]
            if len(busy) == 2: break
            time.sleep(0.1)
        assert busy, 'no task ever started on the cluster'
        names = {w: info['name'] for w, info in c.scheduler_info()['workers'].items()}
    victim = workers[int(str(names[busy[0]])[1:])]
    os.killpg(victim.pid, signal.SIGKILL)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    root = tmp_path/'dask'/'seedy'/'sweep'
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith('.')) == ['seed-1', 'seed-2', 'seed-3', 'seed-4', 'summary']
    assert not list(root.glob('.*')), 'a staging folder was left behind'
    for s in seeds:
        man = json.loads((root/f'seed-{s}'/'manifest.json').read_text())
        assert (man['status'], man['executor'], man['seed']) == ('ok', 'dask', s)
        assert set(man['outputs']) >= {'tables/moments.csv', 'results/claims.json', 'seedy.ipynb'}
    # the same seeds on the local executor give the same tables
    r = subprocess.run([str(BIN/'quantnotes'), 'sweep', str(SEEDY), '--seeds', '1-4', '--out', str(tmp_path/'local'),
                        '--no-progress'], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    for s in seeds: pd.testing.assert_frame_equal(_tables(root, s), _tables(tmp_path/'local'/'seedy'/'sweep', s))
    summary = json.loads((root/'summary'/'summary.json').read_text())
    assert summary['ok'] == seeds and summary['failed'] == []

def test_regenerate_on_the_cluster_reports_failures_like_local(cluster, tmp_path):
    addr, _ = cluster
    r = subprocess.run([str(BIN/'quantnotes'), 'regenerate', '--studies-dir', str(ROOT/'tests'/'fixtures'/'studies'),
                        '--executor', 'dask', '--scheduler', addr, '--out', str(tmp_path), '--no-progress'],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and 'FAILED failing' in r.stderr
    assert (tmp_path/'tiny'/'tables'/'squares.csv').is_file() and (tmp_path/'failing.failed'/'manifest.json').is_file()
    assert json.loads((tmp_path/'tiny'/'manifest.json').read_text())['executor'] == 'dask'

def test_two_workstreams_on_the_cluster_share_one_postgres_log(cluster, pg_url, tmp_path):
    """Two `research run --executor dask` clients at once, their sandboxed notebooks on the cluster's workers, both writing
    one PostgreSQL log: every step is logged exactly once, the hash chain verifies, and every notebook's numbers came
    back intact (its recorded weights, replayed here, give the IR it reported)."""
    import uuid, psycopg
    from quantnotes.alpha.log import ResearchLog
    addr, _ = cluster
    name = f't_{uuid.uuid4().hex[:12]}'
    with psycopg.connect(pg_url.replace('postgresql+psycopg://', 'postgresql://'), autocommit=True) as c:
        c.execute(f'CREATE DATABASE {name}')
    url = pg_url.rsplit('/', 1)[0] + f'/{name}'
    procs = {ws: subprocess.Popen([str(BIN/'quantnotes'), 'research', 'run', '--workstream', ws, '--hypotheses', '2',
                                   '--data', 'synthetic', '--auto-gate1', '--log', url, '--runs-dir', str(tmp_path/ws),
                                   '--executor', 'dask', '--scheduler', addr, '--no-progress', '--json'],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for ws in ('left', 'right')}
    outs = {ws: p.communicate(timeout=900) for ws, p in procs.items()}
    for ws, p in procs.items(): assert p.returncode == 0, outs[ws][1][-3000:]
    log = ResearchLog(url)
    try:
        v = log.verify()
        assert v.ok, v
        for ws, (out, _) in outs.items():
            s = json.loads(out)
            assert (s['hypotheses'], s['implemented_ok'], s['failed']) == (2, 2, 0), s
            assert (s['results'], s['critiques'], s['panels'], s['replicas']) == (2, 2, 2, 2), s
            assert set(s['stages'].values()) == {'awaiting gate 2'}, s
        hs = {h.id: h for h in log.list('hypothesis')}
        assert len(hs) == 4 and sorted(h.workstream for h in hs.values()) == ['left', 'left', 'right', 'right']
        ims = {i.id: i for i in log.list('implementation')}
        assert len(ims) == 4 and len({i.parent_id for i in ims.values()}) == 4  # one implementation each, none duplicated
        rs = log.list('result')
        assert len(rs) == 4
        by_test = {}
        for r in rs:
            assert abs(r.ir_oos - r.metrics['replay_ir_oos']) < 1e-9, r
            by_test.setdefault(hs[ims[r.parent_id].parent_id].predictor, set()).add(round(r.ir_oos, 12))
        # two clients that start together may propose the same test (each Proposer saw an empty log); when they did,
        # the two runs, on different workers, must agree
        assert all(len(v) == 1 for v in by_test.values()), by_test
    finally: log.engine.dispose()
