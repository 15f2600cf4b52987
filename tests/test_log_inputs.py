"Bad research-log input on the command line: one `error:` line naming the log and what was expected, exit 2, nothing written."
import sqlite3
import pytest
from conftest import quantnotes

def _one_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and 'Traceback' not in r.stderr, r.stderr
    for n in needles: assert n in lines[0], (n, lines[0])

def test_missing_sqlite_url_creates_nothing(tmp_path):
    p = tmp_path/'absent.db'
    _one_error(quantnotes('log', 'list', '--log', f'sqlite:///{p}', timeout=120), 'no research log at', 'quantnotes log init')
    assert not p.exists() and list(tmp_path.iterdir()) == []

def test_corrupt_log_file(tmp_path):
    p = tmp_path/'log.db'; p.write_bytes(b'\x00garbage, not SQLite' * 200)
    before = p.read_bytes()
    for cmd in ('list', 'verify'): _one_error(quantnotes('log', cmd, '--log', p, timeout=120), str(p), 'is not a research log')
    _one_error(quantnotes('log', 'init', '--log', p, timeout=120), 'is not a research log')
    assert p.read_bytes() == before

def test_sqlite_file_that_is_not_a_log(tmp_path):
    p = tmp_path/'other.db'; sqlite3.connect(p).execute('create table t(x)').connection.close()
    _one_error(quantnotes('log', 'list', '--log', p, timeout=120), 'is not a research log', 'hypotheses')

@pytest.mark.parametrize('url', ['mysql://u@h/db', 'ftp://host/log.db', 'http://example.invalid/log'])
def test_unknown_url_scheme(url):
    _one_error(quantnotes('log', 'list', '--log', url, timeout=120), 'unknown scheme', 'sqlite:///path')
