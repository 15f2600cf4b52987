"Notebook sandbox: limits live in the kernel process, failures come back as results, never as exceptions."
import os, sqlite3, time
from pathlib import Path
import pytest
from quantnotes.core import env_hash
from quantnotes.alpha.sandbox import (run_notebook, make_notebook, synthetic_contract, DataContract, DataContractError,
                                      SandboxResult)

PROBE = '''import json, os, socket, sqlite3, subprocess, urllib.request
out = {}
def probe(name, fn):
    try: fn(); out[name] = 'allowed'
    except Exception as e: out[name] = f'{type(e).__name__}: {e}'
probe('connect_ip', lambda: socket.create_connection(('1.1.1.1', 80), timeout=3))
probe('urllib', lambda: urllib.request.urlopen('http://example.com', timeout=3))
probe('dns', lambda: socket.getaddrinfo('example.com', 80))
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
probe('loopback', lambda: socket.create_connection(srv.getsockname(), timeout=3).close())
probe('data_read', lambda: open(DATA + '/x.csv').read())
probe('data_write', lambda: open(DATA + '/x.csv', 'a').write('2'))
probe('data_new', lambda: open(DATA + '/new.csv', 'w').write('2'))
probe('data_delete', lambda: os.remove(DATA + '/x.csv'))
probe('log_open', lambda: open(LOG, 'rb').read(10))
probe('log_sqlite', lambda: sqlite3.connect(LOG).execute('select 1').fetchall())
probe('own_write', lambda: open('mine.txt', 'w').write('ok'))
probe('subprocess', lambda: subprocess.run(['true']))
print(json.dumps(out))
json.dump(out, open('probe.json', 'w'))'''

@pytest.fixture
def box(tmp_path):
    data = tmp_path/'data'; data.mkdir(); (data/'x.csv').write_text('a\n1\n'); os.chmod(data/'x.csv', 0o444)
    log = tmp_path/'log.db'; sqlite3.connect(log).execute('create table t(x)').connection.close()
    run = tmp_path/'runs'/'me'; run.mkdir(parents=True)
    return tmp_path, data, log, run

def _run(box, src, **kw):
    tmp, data, log, run = box
    make_notebook(['#parameters\nDATA = ""\nLOG = ""', src], run/'nb.ipynb')
    return run_notebook(run/'nb.ipynb', run/'out.ipynb', dict(DATA=str(data), LOG=str(log)), cwd=run,
                        read_only=[data], deny=[log, tmp/'runs'], allow=[run], **{'timeout': 60, **kw})

def test_network_data_log_and_processes_are_guarded_in_the_kernel(box):
    import json
    r = _run(box, PROBE, isolation="none")  # the in-process guards; tests/test_adversarial.py covers the OS sandbox
    assert r.ok, r.error
    out = json.loads((box[3]/'probe.json').read_text())
    for k in ('connect_ip', 'urllib', 'dns'): assert 'network access is disabled' in out[k], (k, out[k])
    assert out['loopback'] == 'allowed' and out['data_read'] == 'allowed' and out['own_write'] == 'allowed'
    for k in ('data_write', 'data_new', 'data_delete'): assert 'read-only' in out[k], (k, out[k])
    for k in ('log_open', 'log_sqlite'): assert 'is not allowed' in out[k], (k, out[k])
    assert 'starting processes is disabled' in out['subprocess']
    assert (box[1]/'x.csv').read_text() == 'a\n1\n'
    assert r.env_hash == env_hash() and r.limits['memory_mb'] == 4096

def test_crash_timeout_and_memory_are_failed_results(box):
    r = _run(box, 'x = 1\nraise RuntimeError("boom in the study")')
    assert (r.status, r.reason) == ('failed', 'error') and 'RuntimeError: boom in the study' in r.error and r.output
    t0 = time.perf_counter()
    r = _run(box, 'import time\ntime.sleep(120)', timeout=3)
    assert (r.status, r.reason) == ('failed', 'timeout') and time.perf_counter() - t0 < 40 and r.wall_s >= 3
    r = _run(box, 'import numpy as np\nx = np.ones(2**30)\nx[:] = 2', memory_mb=1024)
    assert (r.status, r.reason) == ('failed', 'memory'), r
    r = _run(box, 'print("fine")')
    assert r.ok and 'fine' in Path(r.output).read_text()

def test_missing_notebook_is_a_failed_result(tmp_path):
    r = run_notebook(tmp_path/'nope.ipynb', tmp_path/'out.ipynb', timeout=30)
    assert isinstance(r, SandboxResult) and r.status == 'failed' and r.error

def test_data_contract_is_frozen(tmp_path):
    c = synthetic_contract(start='2006-01-01', end='2008-12-31')
    m = c.materialise(tmp_path/'data')
    assert (tmp_path/'data'/'contract.json').stat().st_mode & 0o777 == 0o444
    assert DataContract.from_dict(m.to_dict()).open().data_commit == c.data_commit
    bad = DataContract.from_dict({**c.to_dict(), 'synthetic': {**c.synthetic, 'seed': 1}})
    with pytest.raises(DataContractError, match='the data changed'): bad.open()
    assert set(c.info()) == {'source', 'start', 'end', 'universe', 'has_rates', 'rates_note'}
