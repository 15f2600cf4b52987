import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIXTURES = ROOT/'tests'/'fixtures'
SHARED = ROOT.parent/'shared'/'data'

def quantnotes(*args, cwd=ROOT, timeout=1200, **kw):
    "Run the installed `quantnotes` command and return the CompletedProcess."
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    return subprocess.run([str(BIN/'quantnotes'), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)

def _copy_project(dst:Path) -> Path:
    dst.mkdir(parents=True)
    for name in ['settings.ini', '_quarto.yml', 'setup.py']: shutil.copy(ROOT/name, dst/name)
    shutil.copytree(ROOT/'nbs', dst/'nbs', symlinks=True, ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    return dst

@pytest.fixture
def project_copy(tmp_path):
    "A copy of the project's docs sources (notebooks, settings, Quarto config) in a temporary folder."
    return _copy_project(tmp_path/'proj')

@pytest.fixture(scope='session')
def smoke_project(tmp_path_factory):
    """The main job's first half once per test session: a project copy with every study regenerated at the smoke
    profile (`--jobs 2`, as `make regenerate` would at that profile). Yields (project folder, the CompletedProcess).
    The docs test checks the whole run; each study's own tests read its report from here instead of running it again."""
    dst = _copy_project(tmp_path_factory.mktemp('smoke')/'proj')
    r = quantnotes('regenerate', '--profile', 'smoke', '--out', dst/'reports', '--jobs', '2', '--no-progress', timeout=2400)
    return dst, r

@pytest.fixture(scope='session')
def smoke_docs(smoke_project):
    """The main job's second half on the session's smoke regeneration, as `make regenerate` runs it: the cluster plan,
    then the offline docs preview of every page. Yields (project folder, plan CompletedProcess, docs CompletedProcess);
    the docs test checks every page, the study tests read their own page from the same build."""
    proj, _ = smoke_project
    plan = quantnotes('sweep', '--plan', '--save', '--seeds', '1-20', '--workers', '64', '--profile', 'smoke',
                      '--out', proj/'reports')
    docs = quantnotes('docs', '--preview', cwd=proj, timeout=900)
    return proj, plan, docs

def smoke_report(smoke_project, study:str) -> Path:
    "One study's report from the session's smoke regeneration; fails with that study's own error if it did not run."
    import json
    proj, r = smoke_project
    rep = proj/'reports'/study
    if not (rep/'manifest.json').exists():
        skipped = proj/'reports'/f'{study}.skipped'/'manifest.json'
        why = json.loads(skipped.read_text()).get('error') if skipped.exists() else r.stdout[-2000:] + r.stderr[-3000:]
        pytest.fail(f'{study}: no smoke report: {why}')
    return rep

def _pg_bin(name):
    found = shutil.which(name)
    if found: return found
    cands = sorted(Path('/usr/lib/postgresql').glob(f'*/bin/{name}'))
    return str(cands[-1]) if cands else None

@pytest.fixture(scope='session')
def pg_url(tmp_path_factory):
    "A throw-away PostgreSQL server on 127.0.0.1 for this test session (skips when PostgreSQL or psycopg is missing)."
    import socket
    try: import psycopg  # noqa: F401
    except ImportError: pytest.skip('psycopg is not installed: PostgreSQL tests skipped (pip install -r requirements.txt)')
    initdb, pg_ctl = _pg_bin('initdb'), _pg_bin('pg_ctl')
    if not (initdb and pg_ctl):
        pytest.skip('PostgreSQL server binaries (initdb, pg_ctl) not found: PostgreSQL tests skipped '
                    '(apt-get install postgresql to run them)')
    import tempfile
    d = Path(tempfile.mkdtemp(prefix='quantnotes-pg-')); data = d/'data'  # not under pytest's root-only folder
    as_user = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres (or nobody) user
        import pwd
        user = next((u for u in ('postgres', 'nobody') if _has_user(u)), None)
        if user is None: pytest.skip('running as root and no postgres/nobody user to run PostgreSQL as')
        pw = pwd.getpwnam(user); os.chown(d, pw.pw_uid, pw.pw_gid); os.chmod(d, 0o700)
        as_user = ['runuser', '-u', user, '--']
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    run = lambda *a: subprocess.run([*as_user, *a], capture_output=True, text=True, timeout=120)
    r = run(initdb, '-D', str(data), '-A', 'trust', '-U', 'quantnotes', '--no-sync')
    if r.returncode: pytest.skip(f'initdb failed: {r.stderr[-500:]}')
    r = run(pg_ctl, '-D', str(data), '-l', str(d/'server.log'), '-w', '-o',
            f"-c listen_addresses=127.0.0.1 -p {port} -k {d} -c fsync=off", 'start')
    if r.returncode: pytest.skip(f'PostgreSQL did not start: {r.stderr[-500:]} {(d/"server.log").read_text()[-500:]}')
    try: yield f'postgresql+psycopg://quantnotes@127.0.0.1:{port}/postgres'
    finally:
        run(pg_ctl, '-D', str(data), '-m', 'immediate', 'stop')
        shutil.rmtree(d, ignore_errors=True)

def _has_user(name):
    import pwd
    try: pwd.getpwnam(name); return True
    except KeyError: return False
