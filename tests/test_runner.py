"The regeneration runner end to end: papermill runs of fixture studies through the real CLI."
import json, re, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
from conftest import quantnotes, FIXTURES, BIN, ROOT

STUDIES = FIXTURES/'studies'
MANIFEST_KEYS = {'study', 'profile', 'parameters', 'seed', 'git_commit', 'env_hash', 'start', 'end', 'wall_seconds',
                 'status'}

def test_list_shows_studies_and_profiles():
    r = quantnotes('regenerate', '--list', '--studies-dir', STUDIES)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [l.split()[0] for l in lines] == ['failing', 'tiny']
    assert 'quick, full' in lines[1]

def test_list_default_finds_the_real_studies():
    r = quantnotes('regenerate', '--list')
    assert r.returncode == 0, r.stderr
    assert 'vol_surface_repair' in r.stdout and 'smoke' in r.stdout

def test_profile_parameters_are_injected_and_manifest_is_complete(tmp_path):
    r = quantnotes('regenerate', 'tiny', '--studies-dir', STUDIES, '--out', tmp_path, '--profile', 'full',
                   '--seed', '11', '--no-progress')
    assert r.returncode == 0, r.stderr
    rep = tmp_path/'tiny'
    man = json.loads((rep/'manifest.json').read_text())
    assert MANIFEST_KEYS <= set(man)
    assert man['status'] == 'ok' and man['profile'] == 'full' and man['seed'] == 11
    assert man['parameters'] == {'n': 50, 'profile': 'full', 'seed': 11}
    assert len(man['env_hash']) == 16 and man['wall_seconds'] > 0
    # the notebook really ran with the injected values
    res = json.loads((rep/'results'/'summary.json').read_text())
    assert res == {'n': 50, 'profile': 'full', 'seed': 11, 'sum': sum(i*i for i in range(50))}
    df = pd.read_csv(rep/'tables'/'squares.csv')
    assert len(df) == 50 and (rep/'tables'/'squares.md').exists() and (rep/'figures'/'squares.png').exists()
    assert (rep/'tiny.ipynb').exists()
    assert set(man['outputs']) >= {'tiny.ipynb', 'tables/squares.csv', 'tables/squares.md', 'figures/squares.png'}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')], 'staging folder left behind'

def test_failing_study_is_reported_and_others_still_run(tmp_path):
    good = tmp_path/'failing'
    good.mkdir(); (good/'sentinel.txt').write_text('last good report')
    r = quantnotes('regenerate', '--studies-dir', STUDIES, '--out', tmp_path, '--no-progress')
    assert r.returncode == 1
    assert 'FAILED failing' in r.stderr and 'failing.ipynb' in r.stderr
    assert 'ValueError: deliberate failure in the fixture study' in r.stderr
    assert 'raise ValueError' in r.stderr  # the failing cell's source is shown
    assert '1 of 2 studies failed: failing' in r.stderr
    assert (tmp_path/'tiny'/'manifest.json').exists(), 'the other study did not run'
    man = json.loads((tmp_path/'failing.failed'/'manifest.json').read_text())
    assert man['status'] == 'failed' and man['error']['ename'] == 'ValueError'
    assert man['error']['cell_index'] is not None
    assert (good/'sentinel.txt').read_text() == 'last good report', 'a failed run replaced the last good report'

def test_parallel_jobs(tmp_path):
    r = quantnotes('regenerate', '--studies-dir', STUDIES, '--out', tmp_path, '--jobs', '2', '--no-progress')
    assert r.returncode == 1
    assert (tmp_path/'tiny'/'manifest.json').exists() and (tmp_path/'failing.failed'/'manifest.json').exists()
    # two studies at once share the cores: each kernel was given half of them (at least one)
    threads = json.loads((tmp_path/'tiny'/'results'/'threads.json').read_text())['threads']
    assert threads == max(1, (os.cpu_count() or 1) // 2), threads

def test_one_job_uses_every_core(tmp_path):
    r = quantnotes('regenerate', 'tiny', '--studies-dir', STUDIES, '--out', tmp_path, '--no-progress')
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/'tiny'/'results'/'threads.json').read_text())['threads'] == (os.cpu_count() or 1)

def test_unknown_study_and_profile(tmp_path):
    r = quantnotes('regenerate', 'nope', '--studies-dir', STUDIES, '--out', tmp_path)
    assert r.returncode == 2 and "unknown study 'nope'" in r.stderr
    r = quantnotes('regenerate', 'tiny', '--studies-dir', STUDIES, '--out', tmp_path, '--profile', 'huge', '--no-progress')
    assert r.returncode == 1 and "no profile 'huge'" in r.stderr
    assert not (tmp_path/'tiny').exists()

def _our_traceback(err:str) -> bool:
    "Whether stderr holds a traceback through the quantnotes package (the kernels' own shutdown noise does not count)."
    return bool(re.search(r'File "[^"]*/quantnotes/[a-z_0-9]+\.py"', err))

def test_interrupted_run_leaves_no_partial_report(tmp_path):
    cmd = [str(BIN/'quantnotes'), 'regenerate', str(FIXTURES/'slow_studies'/'sleepy.ipynb'), '--out', str(tmp_path/'reports'),
           '--no-progress']
    tmp = tmp_path/'tmp'; tmp.mkdir()  # the run's private folder lives under TMPDIR: watch it there
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                         env={**os.environ, 'TMPDIR': str(tmp)},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if our shell ignores SIGINT
    staged = None
    for _ in range(1200):  # wait until the study has written its first table
        staged = list(tmp.glob('quantnotes-sleepy-*/out/tables/early.md'))
        if staged: break
        time.sleep(0.1)
    assert staged, 'the study never started'
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and 'interrupted (' in err.decode() and not _our_traceback(err.decode()), err.decode()[-2000:]
    assert not (tmp_path/'reports'/'sleepy').exists(), 'an interrupted run produced a report'
    assert not list((tmp_path/'reports').glob('.sleepy.staging-*')), 'staging folder left behind'
    assert not list(tmp.glob('quantnotes-sleepy-*')), 'private run folder left behind'

def test_sigterm_to_a_parallel_sweep_stops_every_study_and_leaves_nothing_behind(tmp_path):
    """`kill PID` (or a batch system's time limit) reaches only the parent. Its studies run in worker processes with
    kernels of their own: all of them must stop, and no report, staging or private folder may be left."""
    import psutil
    cmd = [str(BIN/'quantnotes'), 'sweep', str(FIXTURES/'slow_studies'/'sleepy.ipynb'), '--seeds', '1-2', '--jobs', '2',
           '--out', str(tmp_path/'reports'), '--no-progress']
    tmp = tmp_path/'tmp'; tmp.mkdir()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                         env={**os.environ, 'TMPDIR': str(tmp)})
    staged = []
    for _ in range(1200):  # both studies have written their first table and are asleep
        staged = list(tmp.glob('quantnotes-sleepy-*/out/tables/early.md'))
        if len(staged) == 2: break
        time.sleep(0.1)
    assert len(staged) == 2, 'the two studies never ran side by side'
    family = psutil.Process(p.pid).children(recursive=True)
    assert len(family) >= 4  # two workers, each with a kernel
    t0 = time.time()
    p.send_signal(signal.SIGTERM)  # the parent alone, not its process group
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and time.time() - t0 < 50, 'the studies were waited for instead of stopped'
    assert 'interrupted (signal 15)' in err.decode() and not _our_traceback(err.decode()), err.decode()[-2000:]
    gone, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, f'left running: {[q.cmdline()[:3] for q in alive]}'
    root = tmp_path/'reports'/'sleepy'/'sweep'
    assert not list(root.glob('seed-*')) if root.exists() else True, 'an interrupted seed produced a report'
    assert not list(tmp_path.rglob('.seed-*.staging-*')) and not list(tmp_path.rglob('*.staging-*'))
    assert not list(tmp.glob('quantnotes-sleepy-*')), 'private run folder left behind'

def test_a_second_signal_cannot_cut_the_clean_up_short():
    """A pool process is often signalled twice: Ctrl-C and then its parent's SIGTERM, or SIGTERM and then the pool's
    own SIGTERM to every process once the first one has exited. The second must not interrupt the first clean-up."""
    code = """
import os, signal, time
from quantnotes.runner import stop_on_sigterm
stop_on_sigterm(also_sigint=True)
try:
    os.kill(os.getpid(), signal.SIGTERM); time.sleep(10)
except KeyboardInterrupt as e:
    os.kill(os.getpid(), signal.SIGTERM); os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.3)  # the clean-up, which the later signals must leave alone
    print('cleaned up after', e)
"""
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == 'cleaned up after signal 15', (r.stdout, r.stderr[-1000:])

def test_study_without_its_optional_data_is_skipped_not_failed(tmp_path):
    nb = FIXTURES/'optional_studies'/'needs_data.ipynb'
    r = quantnotes('regenerate', nb, '--out', tmp_path, '--no-progress')
    assert r.returncode == 0, r.stderr
    assert 'skip   needs_data' in r.stdout and 'needs the fixture data folder' in r.stdout
    man = json.loads((tmp_path/'needs_data.skipped'/'manifest.json').read_text())
    assert man['status'] == 'skipped' and man['error']['ename'] == 'StudySkipped'
    assert not (tmp_path/'needs_data').exists()

def test_docs_note_a_skipped_study_instead_of_failing(tmp_path):
    from quantnotes.docs import resolve_includes, check_pages
    proc = tmp_path/'_proc'; (proc/'writeups').mkdir(parents=True)
    page = proc/'writeups'/'p.qmd'
    page.write_text('# P\n\n{{< include ../reports/needs_data/tables/t.md >}}\n')
    r = quantnotes('regenerate', FIXTURES/'optional_studies'/'needs_data.ipynb', '--out', proc/'reports', '--no-progress')
    assert r.returncode == 0, r.stderr
    check_pages(proc)  # does not raise: the study was skipped, not forgotten
    assert 'Not generated on this machine' in (proc/'reports'/'needs_data'/'tables'/'t.md').read_text()
    assert 'needs the fixture data folder' in resolve_includes(page.read_text(), page.parent)

def test_param_overrides_a_study_parameter_and_is_recorded(tmp_path):
    r = quantnotes('regenerate', 'tiny', '--studies-dir', STUDIES, '--out', tmp_path, '--profile', 'full',
                   '--param', 'n=9', '--no-progress')
    assert r.returncode == 0, r.stderr
    man = json.loads((tmp_path/'tiny'/'manifest.json').read_text())
    assert man['parameters']['n'] == 9
    assert json.loads((tmp_path/'tiny'/'results'/'summary.json').read_text())['sum'] == sum(i*i for i in range(9))
    r = quantnotes('regenerate', 'tiny', '--studies-dir', STUDIES, '--out', tmp_path, '--param', 'm=1', '--no-progress')
    assert r.returncode == 2 and "no selected study has parameter 'm'" in r.stderr
    r = quantnotes('regenerate', 'tiny', '--studies-dir', STUDIES, '--out', tmp_path, '--param', 'n', '--no-progress')
    assert r.returncode == 2 and 'KEY=VALUE' in r.stderr

def test_a_kernel_slow_to_report_idle_is_not_a_failed_study():
    "On a loaded machine the kernel's 'idle' can come seconds after its reply; papermill's 4 s default failed whole sweep seeds."
    import nbformat
    from quantnotes.runner import execute_study
    nb = nbformat.v4.new_notebook()
    par = nbformat.v4.new_code_cell('seed = 0'); par.metadata['tags'] = ['parameters']
    # the kernel itself is slowed: its next 'idle' on the shell channel is published 6 s late, after the reply went out
    slow = nbformat.v4.new_code_cell(
        "import time\n"
        "k = get_ipython().kernel\n"
        "_orig = k._publish_status_and_flush\n"
        "def _late(status, channel, *a, **kw):\n"
        "    if status == 'idle' and channel == 'shell':\n"
        "        k._publish_status_and_flush = _orig; open(f'{out_dir}/late.txt', 'w').write('late'); time.sleep(6)\n"
        "    return _orig(status, channel, *a, **kw)\n"
        "k._publish_status_and_flush = _late")
    done = nbformat.v4.new_code_cell("import pathlib; pathlib.Path(out_dir, 'done.txt').write_text('yes')")
    nb.cells = [par, slow, done]
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    res = execute_study(nbformat.writes(nb).encode(), 'slowidle', {'seed': 1})
    assert res['error'] is None, res['error']
    assert res['files']['done.txt'] == b'yes'
    assert res['files'].get('late.txt') == b'late', 'the delay never happened: ipykernel no longer publishes idle this way'
