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

@pytest.fixture
def project_copy(tmp_path):
    "A copy of the project's docs sources (notebooks, settings, Quarto config) in a temporary folder."
    dst = tmp_path/'proj'
    dst.mkdir()
    for name in ['settings.ini', '_quarto.yml', 'setup.py']: shutil.copy(ROOT/name, dst/name)
    shutil.copytree(ROOT/'nbs', dst/'nbs', symlinks=True, ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    return dst
