"""The sandbox, the point-in-time boundary and the research log, tried as an adversary would: one test per door.

Each test's docstring has four fields (door, attack, stops, scope); `quantnotes.alpha.threat_model` reads them to
build the *Threat model* docs page, so the page lists exactly the doors that are tested here.
Network probes only ever target a listener this module opens on the host's 127.0.0.1.
"""
import json, os, socket, sqlite3, subprocess, sys, threading
from pathlib import Path
import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import quantnotes
from quantnotes.alpha.sandbox import (run_notebook, make_notebook, synthetic_contract, bwrap_status, SANDBOX_UID,
                                      resolve_isolation, SandboxUnavailable)
from quantnotes.alpha.log import ResearchLog, GateDecision, LogTampered

OS_OK, WHY = bwrap_status()
needs_os = pytest.mark.skipif(not OS_OK, reason=f'OS isolation unavailable here ({WHY}): install bubblewrap on Linux '
                                                 'with user namespaces to run the adversarial sandbox tests')
H = dict(kind='hypothesis', data_commit='none', economic_claim='Carry pays in calm regimes.', dependent_variable='fx 1m',
         predictor='3m rate differential rank', null='zero mean',
         sample={'universe': ['EUR', 'JPY'], 'start': '2000-01-01', 'end': '2020-12-31', 'oos_start': '2012-01-01'})

def _printed(nb_path, tag='PROBES '):
    "The JSON a probe notebook printed after `tag`."
    nb = nbformat.read(nb_path, as_version=4)
    for c in nb.cells:
        for o in c.get('outputs', []):
            for line in (o.get('text') or '').splitlines():
                if line.startswith(tag): return json.loads(line[len(tag):])
    raise AssertionError(f'{nb_path} printed no {tag.strip()} line')

class Listener:
    "A TCP listener on the host's loopback that counts the connections it accepts."
    def __init__(self):
        self.sock = socket.socket(); self.sock.bind(('127.0.0.1', 0)); self.sock.listen(8); self.sock.settimeout(0.2)
        self.port, self.accepted, self.stop = self.sock.getsockname()[1], 0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
    def _run(self):
        while not self.stop.is_set():
            try: c, _ = self.sock.accept(); self.accepted += 1; c.close()
            except OSError: pass
    def close(self): self.stop.set(); self.sock.close()

OS_PROBE = r'''import ctypes, ctypes.util, json, multiprocessing as mp, os, resource, socket, sqlite3, subprocess, sys, time
out = {}
def probe(name, fn):
    try: out[name] = ['allowed', fn()]
    except BaseException as e: out[name] = ['refused', f'{type(e).__name__}: {e}']
def connect(): socket.create_connection(('127.0.0.1', PORT), timeout=3).close(); return 'connected'
libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
def raw_connect():
    class SA(ctypes.Structure): _fields_ = [('fam', ctypes.c_ushort), ('port', ctypes.c_ushort), ('addr', ctypes.c_uint32), ('z', ctypes.c_char * 8)]
    fd = libc.socket(2, 1, 0)
    sa = SA(2, socket.htons(PORT), int.from_bytes(socket.inet_aton('127.0.0.1'), 'little'))
    if libc.connect(fd, ctypes.byref(sa), ctypes.sizeof(sa)) != 0: raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return 'connected'
probe('connect', connect)
probe('ctypes_connect', raw_connect)
out['interfaces'] = [n for _, n in socket.if_nameindex()]
probe('libc_system', lambda: libc.system(b'id -u > system.txt') or open('system.txt').read().strip())
probe('subprocess', lambda: subprocess.run(['id', '-u'], capture_output=True, text=True).stdout.strip())
def fork_exec():
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, '-c', f'import socket, os, json; PORT={PORT}\n' + CHILD])
    os.waitpid(pid, 0); return json.load(open('fork.json'))
CHILD = "try:\n socket.create_connection(('127.0.0.1', PORT), timeout=3).close(); net='connected'\nexcept OSError as e: net=type(e).__name__\nopen('fork.json','w').write(json.dumps([os.getuid(), [n for _, n in socket.if_nameindex()], net, os.environ.get('ANTHROPIC_API_KEY')]))"
probe('fork_execv', fork_exec)
def spawn():  # a spawned worker (a fresh interpreter started by multiprocessing) runs the child's code
    p = mp.get_context('spawn').Process(target=exec, args=(f'import socket, os, json; PORT={PORT}\n' + CHILD.replace('fork.json', 'spawn.json'),))
    p.start(); p.join(60)
    return json.load(open('spawn.json'))
probe('multiprocessing', spawn)
probe('log_open', lambda: open(LOG, 'rb').read(16).hex())
probe('log_sqlite_uri', lambda: sqlite3.connect(f'file:{LOG}?mode=ro', uri=True).execute('select count(*) from hypotheses').fetchall())
def log_dirfd():
    fd = os.open(os.path.dirname(LOG), os.O_RDONLY)
    return os.read(os.open(os.path.basename(LOG), os.O_RDONLY, dir_fd=fd), 16).hex()
probe('log_dirfd', log_dirfd)
probe('log_link', lambda: os.link(LOG, 'stolen.db') or open('stolen.db', 'rb').read(16).hex())
def data_dirfd_write():
    fd = os.open(DATA, os.O_RDONLY)
    w = os.open('x.csv', os.O_WRONLY | os.O_APPEND, dir_fd=fd); os.write(w, b'2\n'); return 'written'
probe('data_dirfd_write', data_dirfd_write)
probe('data_chmod', lambda: os.chmod(os.path.join(DATA, 'x.csv'), 0o666) or 'chmod')
probe('data_new', lambda: open(os.path.join(DATA, 'new.csv'), 'w').write('1'))
out['env_key'] = os.environ.get('ANTHROPIC_API_KEY')
def proc_environ():
    seen = []
    for p in os.listdir('/proc'):
        if p.isdigit():
            try: seen.append(open(f'/proc/{p}/environ', 'rb').read())
            except OSError: pass
    return any(b'ANTHROPIC_API_KEY' in e for e in seen)
out['env_key_in_proc'] = proc_environ()
out['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
probe('home', lambda: sorted(os.listdir(HOME)))
probe('shadow', lambda: open('/etc/shadow').read(10))
out['uid'] = os.getuid()
out['rlimits'] = {k: resource.getrlimit(getattr(resource, k))[0] for k in ('RLIMIT_AS', 'RLIMIT_NPROC', 'RLIMIT_CPU')}
print('PROBES ' + json.dumps(out))'''

@pytest.fixture(scope='module')
def os_probe(tmp_path_factory):
    "Run the OS probe notebook once in the sandbox; its findings, the listener and the folders."
    if not OS_OK: pytest.skip(f'OS isolation unavailable here ({WHY})')
    tmp = tmp_path_factory.mktemp('adv'); os.chmod(tmp, 0o755)
    data = tmp/'data'; data.mkdir(); (data/'x.csv').write_text('a\n1\n'); os.chmod(data/'x.csv', 0o444)
    log = ResearchLog(tmp/'log.db'); log.append(H); log.engine.dispose()
    lis = Listener()
    old = os.environ.get('ANTHROPIC_API_KEY'); os.environ['ANTHROPIC_API_KEY'] = 'sk-ant-test-not-a-real-key'
    try:
        make_notebook(['#parameters\nLOG = ""\nDATA = ""\nPORT = 0\nHOME = ""', OS_PROBE], tmp/'probe.ipynb')
        r = run_notebook(tmp/'probe.ipynb', tmp/'probe.out.ipynb', dict(LOG=str(tmp/'log.db'), DATA=str(data), PORT=lis.port,
                         HOME=str(Path.home())), read_only=[data], deny=[tmp/'log.db'], timeout=240, memory_mb=4096, isolation='bwrap')
    finally:
        if old is None: os.environ.pop('ANTHROPIC_API_KEY', None)
        else: os.environ['ANTHROPIC_API_KEY'] = old
    assert r.ok, r.error
    yield _printed(r.output), lis, tmp, data
    lis.close()

def _refused(out, k): assert out[k][0] == 'refused', (k, out[k])
ME = SANDBOX_UID if os.geteuid() == 0 else os.getuid()

@needs_os
def test_network_connect(os_probe):
    """door: network, Python sockets
    attack: socket.create_connection to a listener on the host's 127.0.0.1
    stops: a new network namespace: the sandbox's loopback is its own, the host's listener is not on it
    scope: a listener inside the sandbox itself is reachable (it is the kernel's own)"""
    out, lis, *_ = os_probe
    _refused(out, 'connect'); assert 'ConnectionRefused' in out['connect'][1]
    assert lis.accepted == 0

@needs_os
def test_network_ctypes_connect(os_probe):
    """door: network, raw connect() through ctypes
    attack: libc socket() + connect() called through ctypes, around every Python-level hook
    stops: the network namespace is enforced by the kernel, whatever the caller
    scope: kernel exploits that escape a namespace"""
    out, lis, *_ = os_probe
    _refused(out, 'ctypes_connect'); assert lis.accepted == 0

@needs_os
def test_network_interfaces_and_dns(os_probe):
    """door: network, any non-loopback address and name lookups (a DNS channel)
    attack: reach an outside address or a name server to carry data out
    stops: the namespace has no interface but its own loopback, so there is no route to any address or resolver
    scope: covert channels through timing or CPU load"""
    assert os_probe[0]['interfaces'] == ['lo']

@needs_os
def test_processes_libc_system(os_probe):
    """door: processes, ctypes libc.system
    attack: start a shell through libc.system, hoping it runs as root without the sandbox's limits
    stops: every process inherits the namespaces, the unprivileged uid and the rlimits
    scope: none"""
    out = os_probe[0]
    assert out['libc_system'] == ['allowed', str(ME)]

@needs_os
def test_processes_posixsubprocess(os_probe):
    """door: processes, subprocess / _posixsubprocess.fork_exec
    attack: start a program with subprocess (fork_exec underneath)
    stops: the child is in the same sandbox, as the same unprivileged uid
    scope: none"""
    assert os_probe[0]['subprocess'] == ['allowed', str(ME)]

@needs_os
def test_processes_fork_execv(os_probe):
    """door: processes, os.fork + os.execv
    attack: fork and exec a fresh interpreter that has no audit hook and tries the network and the environment
    stops: the new process is still inside the namespaces, unprivileged, without network and without the key
    scope: none"""
    out, lis, *_ = os_probe
    uid, ifaces, net, key = out['fork_execv'][1]
    assert (uid, ifaces, key) == (ME, ['lo'], None) and net == 'ConnectionRefusedError' and lis.accepted == 0

@needs_os
def test_processes_multiprocessing(os_probe):
    """door: processes, multiprocessing spawn
    attack: a multiprocessing worker started with the spawn method, outside the kernel
    stops: the worker inherits the sandbox like any other process
    scope: none"""
    out, lis, *_ = os_probe
    uid, ifaces, net, key = out['multiprocessing'][1]
    assert (uid, ifaces, key) == (ME, ['lo'], None) and net == 'ConnectionRefusedError'

@needs_os
def test_processes_pid_namespace(os_probe):
    """door: processes, other processes on the host
    attack: list /proc to find, signal or read other processes (the pipeline, a database server)
    stops: a new PID namespace: only the run's own processes exist, and they die with the pipeline (--die-with-parent)
    scope: none"""
    pids = os_probe[0]['pids']
    assert 1 in pids and len(pids) < 30, pids  # the host has hundreds; the sandbox only its own few

@needs_os
def test_log_open(os_probe):
    """door: research log, open()
    attack: read the research log file to see earlier results
    stops: the log is not in the sandbox's filesystem view at all
    scope: none"""
    _refused(os_probe[0], 'log_open'); assert 'FileNotFoundError' in os_probe[0]['log_open'][1]

@needs_os
def test_log_sqlite_uri(os_probe):
    """door: research log, sqlite file: URI
    attack: open the log read-only through sqlite3 with a file: URI (no Python open event)
    stops: the file does not exist in the sandbox
    scope: none"""
    _refused(os_probe[0], 'log_sqlite_uri')

@needs_os
def test_log_dir_fd(os_probe):
    """door: research log, os.open with dir_fd
    attack: open the log relative to a directory descriptor, which path-based checks miss
    stops: neither the folder nor the file is mounted
    scope: none"""
    _refused(os_probe[0], 'log_dirfd')

@needs_os
def test_log_hard_link(os_probe):
    """door: research log, os.link
    attack: hard-link the log into the writable work folder and read the link
    stops: there is nothing to link to
    scope: none"""
    _refused(os_probe[0], 'log_link')

@needs_os
def test_data_write_through_dir_fd(os_probe):
    """door: read-only data, write through dir_fd as root
    attack: append to a 0444 data file through a directory descriptor (root ignores file modes)
    stops: the data folder is a read-only mount and the code runs as an unprivileged uid
    scope: none"""
    out, _, _, data = os_probe
    for k in ('data_dirfd_write', 'data_chmod', 'data_new'): _refused(out, k)
    assert (data/'x.csv').read_text() == 'a\n1\n' and not (data/'new.csv').exists()

@needs_os
def test_environment_has_no_keys(os_probe):
    """door: environment, API keys
    attack: read ANTHROPIC_API_KEY from the kernel's environment or from /proc/<pid>/environ
    stops: the sandbox starts from an empty environment plus an allow-list
    scope: keys written into files the notebook is given (none are)"""
    out = os_probe[0]
    assert out['env_key'] is None and out['env_key_in_proc'] is False

@needs_os
def test_home_is_absent(os_probe):
    """door: filesystem, the home folder
    attack: list the user's home for keys, caches and other projects
    stops: only the interpreter, the packages and the code are mounted; everything else under home is absent
    scope: files inside the mounted interpreter or package folders (they are code, read-only)"""
    out = os_probe[0]
    home = Path.home()
    visible = set(out['home'][1]) if out['home'][0] == 'allowed' else set()
    needed = {p.relative_to(home).parts[0] for p in map(Path, (sys.base_prefix, sys.prefix)) if home in p.parents}
    assert visible <= needed, visible - needed

@needs_os
def test_unprivileged_uid(os_probe):
    """door: privileges, root inside the sandbox
    attack: use root's powers (read /etc/shadow, ignore file modes)
    stops: the run drops to uid 65534 with no capabilities (or, for a non-root caller, keeps its own uid in a user namespace)
    scope: none"""
    out = os_probe[0]
    assert out['uid'] == ME
    if os.geteuid() == 0: _refused(out, 'shadow')

@needs_os
def test_rlimits(os_probe):
    """door: resources, memory, processes and CPU time
    attack: exhaust the machine (a fork bomb, an endless loop, a huge allocation)
    stops: rlimits on address space (kernel), number of processes and CPU seconds, inherited by every child
    scope: disk space in the work folder (a temporary folder, removed after the run)"""
    lim = os_probe[0]['rlimits']
    assert lim['RLIMIT_AS'] == 4096 * 2**20 and 0 < lim['RLIMIT_NPROC'] <= 512 and 0 < lim['RLIMIT_CPU'] <= 240 + 60

PIT_PROBE = r'''import ctypes, gc, inspect, json, pickle, sys
import numpy as np, pandas as pd
from quantnotes.alpha.sandbox import DataContract, backtest, write_results
from quantnotes.alpha.backtest import carry_signal
from quantnotes.alpha import pit
store = DataContract.from_dict(contract).open()
FUT = np.array(FUTURE_PLUS_ONE)  # future values + 1.0: the probe never holds the values it looks for
found = {k: [] for k in ('store_obs', 'asof_later', 'pitview_later', 'gc', 'frames', 'modules', 'pickle', 'patched', 'memory')}
def late(frame, t):
    "Rows in a long frame available after t, or dates in a wide one after t's date."
    if isinstance(frame, pd.DataFrame) and 'available' in frame.columns and len(frame):
        return int((pd.DatetimeIndex(frame['available']) > t).sum())
    return 0
def scan(objs, t):
    n = 0
    for o in objs:
        try:
            if isinstance(o, pd.DataFrame): n += late(o, t)
            elif isinstance(o, (pit.PITStore, pit.PITView)): n += late(getattr(o, 'obs', getattr(o, '_obs', None)), t)
        except Exception: pass
    return n
def memscan():
    hits = 0
    with open('/proc/self/maps') as m: maps = m.read().splitlines()
    with open('/proc/self/mem', 'rb', 0) as mem:
        for line in maps:
            addr, perm = line.split()[:2]
            if not perm.startswith('r'): continue
            a, b = (int(x, 16) for x in addr.split('-'))
            if b - a > 2**28: continue
            try: mem.seek(a); buf = mem.read(b - a)
            except (OSError, ValueError, OverflowError): continue
            arr = np.frombuffer(buf[:len(buf) // 8 * 8], dtype=np.float64)
            hits += int(np.isin(arr + 1.0, FUT).sum())
    return hits
calls = [0]
def peek(view, universe):
    t = view.as_of
    try: found['store_obs'].append(late(store.obs, t))
    except Exception as e: found['store_obs'].append(type(e).__name__)
    try: found['asof_later'].append(len(store.asof(t + pd.Timedelta(days=60)).series('spot.EUR', start=view.today)) - 1)
    except Exception as e: found['asof_later'].append(type(e).__name__)
    local = next((o for o in gc.get_objects() if isinstance(o, pit.PITStore)), None)
    try: found['pitview_later'].append(late(pit.PITView(local, t + pd.Timedelta(days=400))._obs, t) if local is not None else 'none')
    except Exception as e: found['pitview_later'].append(type(e).__name__)
    found['gc'].append(scan(gc.get_objects(), t))
    fr, objs = inspect.currentframe(), []
    while fr is not None: objs += list(fr.f_locals.values()) + list(fr.f_globals.values()); fr = fr.f_back
    found['frames'].append(scan(objs, t))
    found['modules'].append(scan([v for m in list(sys.modules.values()) for v in list(getattr(m, '__dict__', {}).values())], t))
    try: found['pickle'].append(late(pickle.loads(pickle.dumps(store))._local.obs, t))
    except Exception as e: found['pickle'].append(type(e).__name__)
    orig = pit.PITView._check
    pit.PITView._check = lambda self, *a, **k: None  # monkey-patch the view: no end check
    try: found['patched'].append(int((view.series('spot.EUR', end=view.today + pd.Timedelta(days=400)).index > view.today).sum()))
    finally: pit.PITView._check = orig
    if calls[0] == 0: found['memory'].append(memscan())
    calls[0] += 1
    return carry_signal(view, universe)
res = backtest(store, peek, SAMPLE, cost_bps=2.0, carry=True)
try: backtest(store, carry_signal, SAMPLE); found['second_backtest'] = 'allowed'
except Exception as e: found['second_backtest'] = f'{type(e).__name__}: {e}'
write_results(res, store, {'k_eff': 1, 'knobs': ['n']}, results_path)
json.dump({'ir_is': 8.3, 'ir_oos': 8.3}, open(results_path, 'w'))  # a forged results file: the notebook's own copy
print('PROBES ' + json.dumps(found))'''

def _pit_run(tmp, isolation):
    c = synthetic_contract(start='2006-01-01', end='2009-12-31', seed=12345)
    store = c.open()
    smp = dict(universe=list(c.universe), start='2006-03-01', oos_start='2008-06-01', end='2009-12-31')
    first = pd.Timestamp('2006-03-31 15:01', tz='UTC')  # the first decision (ECB fix + 1 minute, CEST)
    o = store.obs
    fut = o.loc[o['available'] > first + pd.Timedelta(days=400), 'value'].to_numpy()[::50][:200]
    make_notebook(['#parameters\ncontract = {}\nresults_path = "results.json"\nSAMPLE = {}\nFUTURE_PLUS_ONE = []', PIT_PROBE],
                  tmp/'pit.ipynb')
    r = run_notebook(tmp/'pit.ipynb', tmp/f'pit.{isolation}.ipynb',
                     dict(contract=c.to_dict(), results_path=str(tmp/f'results.{isolation}.json'), SAMPLE=smp,
                          FUTURE_PLUS_ONE=(fut + 1.0).tolist()), cwd=tmp, timeout=400, isolation=isolation)
    assert r.ok, r.error
    return _printed(r.output), json.loads((tmp/f'results.{isolation}.json').read_text()), store, smp

@pytest.fixture(scope='module')
def pit_probe(tmp_path_factory):
    if not OS_OK: pytest.skip(f'OS isolation unavailable here ({WHY})')
    tmp = tmp_path_factory.mktemp('pit'); os.chmod(tmp, 0o755)
    return _pit_run(tmp, 'bwrap')

def _none_found(found, k):
    vals = found[k]
    assert vals and all(v == 0 or isinstance(v, str) for v in vals), (k, vals[:5])

@needs_os
def test_pit_store_obs(pit_probe):
    """door: point in time, store.obs
    attack: read the module-level store's full observation table from inside the signal
    stops: inside the sandbox the store is a RemoteStore with no obs; the rows arrive one decision date at a time
    scope: none"""
    assert set(pit_probe[0]['store_obs']) == {'AttributeError'}

@needs_os
def test_pit_asof_later(pit_probe):
    """door: point in time, store.asof(later)
    attack: ask the store for a view at a later date than the decision
    stops: the RemoteStore refuses any as-of past the last decision date served (LookAheadError)
    scope: none"""
    assert set(pit_probe[0]['asof_later']) == {'LookAheadError'}

@needs_os
def test_pit_view_built_by_hand(pit_probe):
    """door: point in time, PITView(store, later)
    attack: build a view at a later date directly on the store object found in memory
    stops: the only store in the kernel holds rows available up to the decision date, so any view of it is no later
    scope: none"""
    _none_found(pit_probe[0], 'pitview_later')

@needs_os
def test_pit_gc_objects(pit_probe):
    """door: point in time, gc.get_objects()
    attack: walk every object the garbage collector knows, looking for frames of future rows
    stops: no such object exists in the process: the server has not sent those rows yet
    scope: none"""
    _none_found(pit_probe[0], 'gc')

@needs_os
def test_pit_frames_and_closures(pit_probe):
    """door: point in time, frames, closures and module globals
    attack: walk the call stack (the backtest's own locals) and every module's globals
    stops: the backtest loop runs in the server outside the sandbox; the kernel's frames only hold served rows
    scope: none"""
    _none_found(pit_probe[0], 'frames'); _none_found(pit_probe[0], 'modules')

@needs_os
def test_pit_pickle(pit_probe):
    """door: point in time, pickle / unpickle
    attack: pickle the store and unpickle it, hoping for a copy that skips the view's filter
    stops: the store is a client with a socket and cannot be pickled; a copy of its local part has no future either
    scope: none"""
    assert all(isinstance(v, str) or v == 0 for v in pit_probe[0]['pickle'])

@needs_os
def test_pit_monkey_patched_view(pit_probe):
    """door: point in time, monkey-patching the view class
    attack: replace PITView._check so requests past today are no longer refused
    stops: the view can only hand out rows the kernel holds, and it holds none after the decision date
    scope: none"""
    _none_found(pit_probe[0], 'patched')

@needs_os
def test_pit_memory_scan(pit_probe):
    """door: point in time, reading process memory (ctypes, /proc/self/mem)
    attack: scan the kernel's whole address space for the raw bytes of future values
    stops: the bytes are not in the process: only the server outside the sandbox has them
    scope: none"""
    assert pit_probe[0]['memory'] == [0]

@needs_os
def test_pit_second_backtest_and_forged_results(pit_probe):
    """door: point in time, retrying after seeing the outcome, and forging the results file
    attack: run the backtest, look at its outcome, run it again; write a results file with an in-sample IR of 8.3
    stops: one backtest per run; the results file the pipeline reads is written by the server from the committed weights
    scope: none"""
    found, trusted, store, smp = pit_probe
    assert 'one backtest per sandboxed run' in found['second_backtest']
    from quantnotes.alpha.backtest import backtest, carry_signal
    ref = backtest(store, carry_signal, smp, cost_bps=2.0, carry=True).stats
    assert trusted['ir_is'] == pytest.approx(ref['ir_is']) and trusted['ir_is'] != 8.3

@needs_os
def test_probes_find_the_future_without_the_boundary(tmp_path):
    """door: control, the same probes without OS isolation
    attack: the probe notebook above, run with --isolation none (the store inside the kernel)
    stops: nothing: this run shows the probes can see the future when the boundary is absent, so the tests above can fail
    scope: isolation none is for machines without namespaces and is recorded on every implementation"""
    os.chmod(tmp_path, 0o755)
    found, *_ = _pit_run(tmp_path, 'none')
    assert max(v for v in found['store_obs'] if not isinstance(v, str)) > 0
    assert max(found['gc']) > 0 and found['memory'][0] > 0

def test_isolation_refuses_without_os_support(monkeypatch):
    """door: configuration, a machine without namespaces
    attack: run where bubblewrap or user namespaces are missing and hope the pipeline quietly runs unisolated
    stops: the run refuses with a message naming the fix, unless the caller passes --isolation none (recorded per implementation)
    scope: none"""
    import quantnotes.alpha.sandbox as sb
    monkeypatch.setattr(sb, 'bwrap_status', lambda: (False, 'bubblewrap (bwrap) is not installed'))
    monkeypatch.delenv('QUANTNOTES_ISOLATION', raising=False)
    with pytest.raises(SandboxUnavailable, match='--isolation none'): sb.resolve_isolation()
    with pytest.raises(SandboxUnavailable, match='OS isolation is not available'):
        sb.run_notebook(Path('x.ipynb'), Path('/nonexistent/out.ipynb'))
    assert sb.resolve_isolation('none') == 'none'

# ---- the research log

def _log(tmp_path):
    lg = ResearchLog(tmp_path/'log.db'); h = lg.append(H)
    d = lg.append(GateDecision(parent_id=h.id, data_commit='none', gate='proposal', decision='approve', reviewer='ana', rationale='ok'))
    return lg, h, d

@pytest.mark.parametrize('sql', [
    "INSERT OR REPLACE INTO gate_decisions SELECT id, parent_id, created_at, env_hash, data_commit, gate, request_id, "
    "replace(payload, 'approve', 'reject') FROM gate_decisions",
    "REPLACE INTO gate_decisions SELECT id, parent_id, created_at, env_hash, data_commit, gate, request_id, "
    "replace(payload, 'approve', 'reject') FROM gate_decisions",
    "INSERT INTO gate_decisions SELECT * FROM gate_decisions WHERE true ON CONFLICT(id) DO UPDATE SET payload = 'x'",
    "UPDATE gate_decisions SET payload = replace(payload, 'approve', 'reject')",
    "DELETE FROM gate_decisions", "DELETE FROM log_chain", "UPDATE log_chain SET hash = 'x'",
    "INSERT OR REPLACE INTO log_chain SELECT * FROM log_chain"])
def test_log_rewrites_refused_sqlite(tmp_path, sql):
    """door: research log, rewriting SQL from any client (SQLite)
    attack: INSERT OR REPLACE / REPLACE INTO / ON CONFLICT DO UPDATE / UPDATE / DELETE a logged gate-2 style decision, from a plain sqlite3 connection
    stops: triggers in the database file: BEFORE UPDATE/DELETE abort, and BEFORE INSERT refuses an existing key
    scope: a client that first drops the triggers (see the hash chain)"""
    lg, h, d = _log(tmp_path)
    con = sqlite3.connect(tmp_path/'log.db')
    with pytest.raises(sqlite3.DatabaseError, match='append-only'): con.execute(sql)
    con.close()
    assert lg.get(d.id).decision == 'approve' and lg.verify().ok

def test_log_drop_trigger_refused_on_our_connections(tmp_path):
    """door: research log, DROP TRIGGER through the log's own connections
    attack: disarm the append-only triggers through the ResearchLog's engine (e.g. from a role's code)
    stops: an authorizer on every SQLite connection the log opens refuses DROP / ALTER / writable_schema
    scope: other clients can drop triggers; the chain and verify's trigger check catch what follows"""
    lg, *_ = _log(tmp_path)
    import sqlalchemy as sa
    with lg.engine.connect() as c:
        for sql in ['DROP TRIGGER gate_decisions_no_update', 'DROP TABLE log_chain', 'PRAGMA writable_schema = ON']:
            with pytest.raises(sa.exc.DatabaseError, match='not authorized'): c.exec_driver_sql(sql)

def test_log_hex_edit_detected(tmp_path):
    """door: research log, editing the file directly (hex editor, or a client that dropped the triggers)
    attack: change a logged decision from approve to reject behind the log's back
    stops: the hash chain: `quantnotes log verify` names the first bad row (exit 1) and gate decisions refuse to act
    scope: rewriting the whole chain from a row on, or truncating its newest rows, is caught only against a head hash kept elsewhere"""
    lg, h, d = _log(tmp_path); lg.engine.dispose()
    raw = (tmp_path/'log.db').read_bytes()
    assert raw.count(b'"decision":"approve"') >= 1
    con = sqlite3.connect(tmp_path/'log.db'); con.execute('PRAGMA wal_checkpoint(TRUNCATE)'); con.close()
    raw = (tmp_path/'log.db').read_bytes()
    (tmp_path/'log.db').write_bytes(raw.replace(b'"decision":"approve"', b'"decision":"reject!"', 1))
    r = quantnotes('log', 'verify', '--log', tmp_path/'log.db', timeout=120)
    assert r.returncode == 1 and str(d.id) in r.stderr and 'edited' in r.stderr, (r.stdout, r.stderr)
    lg = ResearchLog(tmp_path/'log.db')
    with pytest.raises(LogTampered, match='fails verification'):
        lg.append(GateDecision(parent_id=h.id, data_commit='none', gate='proposal', decision='reject', reviewer='bo',
                               rationale='no', supersedes=d.id))
    lg.engine.dispose()

def test_log_chain_under_concurrent_writers(tmp_path):
    """door: research log, concurrent writers and the chain
    attack: four threads appending at once, hoping two rows chain onto the same head (a fork) or a row is lost
    stops: the chain row is written in the artifact's transaction, under the write lock (BEGIN IMMEDIATE / an advisory lock)
    scope: none"""
    lg = ResearchLog(tmp_path/'log.db'); errors = []
    def work(i):
        try:
            for j in range(15): lg.append({**H, 'predictor': f'variant {i}-{j}'})
        except Exception as e: errors.append(e)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert not errors and len(lg.list('hypothesis')) == 60
    v = lg.verify(); assert v.ok and v.rows == 60, v
    lg.engine.dispose()
