"Human-gate UI: the page logic in Streamlit's AppTest, the `gate decide` command, and an end-to-end run in headless Chromium."
import os, re, socket, sqlite3, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from conftest import ROOT, BIN
from streamlit.testing.v1 import AppTest
from quantnotes.alpha import gate_core as gc
from quantnotes.alpha.gate_demo import demo_log
from quantnotes.alpha.log import ResearchLog

APP = 'from quantnotes.alpha.gate_app import app\napp()'
PARA = ('Carry compensates investors for crash risk: high-yield currencies fall when global risk appetite collapses, so the '
        'premium should be earned in calm periods and given back in stress, which is what the regime split shows.')
SHOTS = ROOT/'reports'/'gate_ui'
CHROMIUM = Path('/usr/bin/chromium')

# ---------------------------------------------------------------- a log with executed notebooks, built once
@pytest.fixture(scope='module')
def template(tmp_path_factory):
    "A demo log whose two implementation notebooks were executed by a Jupyter kernel (nbclient)."
    d = tmp_path_factory.mktemp('gate')
    log, items = demo_log(d/'log.db', execute=True)
    ids = {k: str(v['implementation'].id if isinstance(v, dict) else v.id) for k, v in items.items()}
    ids |= {f'{k}_{a}': str(v[a].id) for k, v in items.items() if isinstance(v, dict) for a in v}
    log.engine.dispose()
    return d/'log.db', ids

@pytest.fixture
def gl(template, tmp_path):
    "A fresh copy of the template log: (path, ids, ResearchLog)."
    src, ids = template
    dst = tmp_path/'log.db'
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b: a.backup(b)
    log = ResearchLog(dst, create=False)
    yield dst, ids, log
    log.engine.dispose()

def test_notebooks_were_executed_by_a_kernel(gl):
    db, ids, log = gl
    nb = Path(log.get(ids['good']).notebook)
    import nbformat
    cells = nbformat.read(nb, as_version=4).cells
    assert [c.execution_count for c in cells if c.cell_type == 'code'] == [1, 2, 3, 4]
    assert 'out-of-sample 0.62' in cells[3].outputs[0]['text']

# ---------------------------------------------------------------- AppTest helpers
def page(db, monkeypatch, reviewer='ann', **qp):
    monkeypatch.setenv('QUANTNOTES_GATE_LOG', str(db)); monkeypatch.setenv('QUANTNOTES_GATE_REVIEWER', reviewer)
    at = AppTest.from_string(APP, default_timeout=60)
    at.query_params.update(qp)
    at.run()
    assert not at.exception, at.exception
    return at

def btn(at, prefix):
    "The button (or form submit button) whose key starts with `prefix`."
    hits = [b for b in at.button if (b.key or '').startswith(prefix)]
    assert len(hits) == 1, (prefix, [b.key for b in at.button])
    return hits[0]

def text(at) -> str:
    return '\n'.join([str(e.value) for e in [*at.markdown, *at.caption, *at.title, *at.header]] +
                     [e.proto.body for e in at.html])

def messages(at, kind) -> list[str]: return [e.value for e in getattr(at, kind)]

def comment_box(at): return next(t for t in at.text_area if (t.key or '').startswith('comment-'))

# ---------------------------------------------------------------- page logic
def test_queues_list_pending_items_and_open_them(gl, monkeypatch):
    db, ids, log = gl
    at = page(db, monkeypatch)
    assert at.title[0].value == 'Gate 1 · proposals'
    assert [b.key for b in at.button if b.key.startswith('open-') and b.key != 'open-next'] == [f"open-{ids['p1']}", f"open-{ids['p2']}"]
    btn(at, 'nav-promotion').click().run()
    assert at.query_params['view'] == 'promotion' and at.title[0].value == 'Gate 2 · promotion'
    rows = [b.key for b in at.button if b.key.startswith('open-') and b.key != 'open-next']
    assert rows == [f"open-{ids['good']}", f"open-{ids['bad']}"]
    t = text(at)
    assert 'carry_calm.ipynb' in t and '1 sev-2, 1 sev-3' in t and '1 sev-1, 1 sev-2' in t
    assert not re.search(r'\b0\.62\b|\bIR (is|oos)\b', t), 'gate-2 queue must not show IR or U'
    btn(at, f"open-{ids['bad']}").click().run()
    assert at.query_params['item'] == ids['bad']
    assert at.header[0].value.startswith('Trend-filtered carry')
    h = '\n'.join(e.proto.body for e in at.html)
    assert 'href="#cell-2"' in h and 'id="cell-2"' in h and '<mark class="qn-q">' in h  # quote linked to its cell
    assert [e.value for e in at.dataframe][0].shape == (8, 4)  # the robustness table
    btn(at, 'back').click().run()
    assert at.query_params['view'] == 'promotion'
    # the filter
    at.text_input(key='filter-promotion').input('trend')
    next(b for b in at.button if b.label == 'Filter').click().run()  # the filter form (Enter submits it in a browser)
    assert [b.key for b in at.button if b.key.startswith('open-') and b.key != 'open-next'] == [f"open-{ids['bad']}"]

def test_gate2_rationale_before_u(gl, monkeypatch):
    db, ids, log = gl
    im = ids['good']
    at = page(db, monkeypatch, item=im)
    assert not at.metric and 'U and the criteria appear once the rationale is saved.' in messages(at, 'info')
    assert not any('criterion' in e.value.columns for e in [*at.dataframe, *at.table])
    # approving before writing the rationale is refused, and nothing is logged
    comment_box(at).input('promote')
    btn(at, 'approve-').click().run()
    assert any('criterion 6' in m for m in messages(at, 'error')) and log.decisions(im) == []
    at.text_area(key=f'rationale-{im}').input('carry is good')
    next(b for b in at.button if b.label.startswith('Save rationale')).click().run()
    assert any('3 words' in m for m in messages(at, 'error')) and not at.metric
    at.text_area(key=f'rationale-{im}').input(PARA)
    next(b for b in at.button if b.label.startswith('Save rationale')).click().run()
    assert [m.label for m in at.metric] == ['Composite U (λ v1)']
    U = gc.u_terms(gc.item_view(log, im).result)['u']
    assert at.metric[0].value == f'{U:.3f}'
    crit = next(e.value for e in at.table if 'criterion' in e.value.columns)
    assert list(crit.result) == ['✓ pass', '✗ FAIL', '✓ pass', '✓ pass', '✓ pass', '✓ pass']
    dr = gc.Drafts(log)
    text_, r_at = dr.rationale(im, 'ann'); u_at = dr.u_viewed(im, 'ann')
    assert text_ == PARA and r_at < u_at
    # a reload (a new session) keeps the rationale, shows it locked, and keeps the first viewing time
    at2 = page(db, monkeypatch, item=im)
    assert not any((t.key or '').startswith('rationale-') for t in at2.text_area)
    assert PARA in text(at2) and dr.u_viewed(im, 'ann') == u_at
    # another reviewer starts from scratch
    at3 = page(db, monkeypatch, reviewer='bob', item=im)
    assert not at3.metric and any((t.key or '') == f'rationale-{im}' for t in at3.text_area)

def test_gate2_waiver_needed_then_approval_logged(gl, monkeypatch):
    db, ids, log = gl
    im = ids['good']
    at = page(db, monkeypatch, item=im)
    at.text_area(key=f'rationale-{im}').input(PARA)
    next(b for b in at.button if b.label.startswith('Save rationale')).click().run()
    comment_box(at).input('Promote to candidate.')
    btn(at, 'approve-').click().run()
    errs = messages(at, 'error')
    assert any('write a waiver for the severity-2 unstable_parameter finding' in m for m in errs), errs
    assert log.decisions(im) == []
    waiver = next(t for t in at.text_area if (t.key or '').startswith('waive-'))
    waiver.input('Lookback 10 and 40 are rows of the robustness panel; both keep a positive IR.')
    comment_box(at).input('Promote to candidate.')
    btn(at, 'approve-').click().run()
    assert any(m.startswith('Logged: **approve** by ann') for m in messages(at, 'success')), messages(at, 'success')
    [d] = log.decisions(im)
    dr = gc.Drafts(log)
    assert (d.gate, d.decision, d.reviewer, d.rationale, d.economic_rationale) == ('promotion', 'approve', 'ann', 'Promote to candidate.', PARA)
    assert d.rationale_at == dr.rationale(im, 'ann')[1] and d.u_viewed_at == dr.u_viewed(im, 'ann') and d.rationale_at < d.u_viewed_at
    assert list(d.waivers) == [f"{ids['good_critique']}:0"] and d.request_id and d.made_by == 'human:ann'
    assert im not in [str(i.id) for i in log.pending('promotion')]
    # the decision survives a reload and is shown in the item's history
    at2 = page(db, monkeypatch, item=im)
    assert 'Promote to candidate.' in text(at2)

def test_gate2_reject_needs_only_a_comment(gl, monkeypatch):
    db, ids, log = gl
    at = page(db, monkeypatch, item=ids['bad'])
    btn(at, 'reject-').click().run()
    assert any('write a comment' in m for m in messages(at, 'error')) and log.decisions(ids['bad']) == []
    comment_box(at).input('Centred moving average: a look-ahead.')
    btn(at, 'reject-').click().run()
    assert [(d.decision, d.rationale) for d in log.decisions(ids['bad'])] == [('reject', 'Centred moving average: a look-ahead.')]

def test_double_submit_logs_once(gl, monkeypatch):
    db, ids, log = gl
    at = page(db, monkeypatch, item=ids['p1'])
    shown = dict(at.session_state['shown'])  # the form (supersedes, request id) the page showed
    comment_box(at).input('Clear mechanism.')
    btn(at, 'approve-').click().run()
    assert len(log.decisions(ids['p1'])) == 1
    # the second click of a double click reaches the server with the page state of the first
    at.session_state['shown'] = shown
    at.run()
    comment_box(at).input('Clear mechanism.')
    btn(at, 'approve-').click().run()
    assert any('the repeat was ignored' in m for m in messages(at, 'success')), messages(at, 'success')
    assert len(log.decisions(ids['p1'])) == 1

def test_stale_page_is_refused_then_reloaded(gl, monkeypatch):
    db, ids, log = gl
    a = page(db, monkeypatch, reviewer='ann', item=ids['p2'])
    b = page(db, monkeypatch, reviewer='bob', item=ids['p2'])  # a second tab, opened before ann decides
    comment_box(a).input('Worth a run.')
    btn(a, 'approve-').click().run()
    [first] = log.decisions(ids['p2'])
    comment_box(b).input('The null is vague.')
    btn(b, 'send_back-').click().run()
    errs = messages(b, 'error')
    assert any('page is stale' in m and 'approve by ann' in m for m in errs), errs
    assert len(log.decisions(ids['p2'])) == 1
    btn(b, 'reload').click().run()
    assert comment_box(b).value == 'The null is vague.'  # the comment is kept
    btn(b, 'send_back-').click().run()
    ds = log.decisions(ids['p2'])
    assert [(d.decision, d.reviewer) for d in ds] == [('approve', 'ann'), ('send_back', 'bob')] and ds[1].supersedes == first.id

def test_lineage_and_bad_ids(gl, monkeypatch):
    db, ids, log = gl
    at = page(db, monkeypatch, view='lineage', id=ids['good_result'])
    h = '\n'.join(e.proto.body for e in at.html)
    assert ids['good_hypothesis'] in h and ids['good'] in h and 'qn-focus' in h
    assert h.index(ids['good_hypothesis']) < h.index(ids['good_result'])
    at = page(db, monkeypatch, view='lineage', id='nope')
    assert any('no artifact nope' in m for m in messages(at, 'error'))
    at = page(db, monkeypatch, item=ids['good_result'])
    assert any('not a gate item' in m for m in messages(at, 'error'))
    at = page(db, monkeypatch, item='nope')
    assert any('no artifact nope' in m for m in messages(at, 'error'))

def test_missing_log_is_a_clear_error(tmp_path, monkeypatch):
    at = page(tmp_path/'missing.db', monkeypatch)
    assert any('no research log' in m for m in messages(at, 'error'))

# ---------------------------------------------------------------- the command
def _gate_base() -> list[str]:
    "`quantnotes gate` once the lead has registered it in `quantnotes/cli.py`, else the module run directly."
    r = subprocess.run([str(BIN/'quantnotes'), 'gate', '--help'], capture_output=True, text=True, timeout=120)
    return [str(BIN/'quantnotes'), 'gate'] if r.returncode == 0 else [sys.executable, '-m', 'quantnotes.alpha.gate_cli']

@pytest.fixture(scope='module')
def gate_base(): return _gate_base()

def gate(base, *args, timeout=120):
    return subprocess.run([*base, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)

def test_gate_decide(gl, gate_base):
    db, ids, log = gl
    r = gate(gate_base, 'decide', ids['p1'], 'approve', '--comment', 'worth a run', '--log', db, '--reviewer', 'carol')
    assert r.returncode == 0, r.stderr
    assert [(d.gate, d.decision, d.reviewer, d.rationale) for d in log.decisions(ids['p1'])] == [('proposal', 'approve', 'carol', 'worth a run')]
    r = gate(gate_base, '--log', db, 'decide', ids['p2'], 'send-back', '--comment', 'sharpen the null')  # --log before decide
    assert r.returncode == 0, r.stderr
    assert log.decisions(ids['p2'])[0].decision == 'send_back'
    r = gate(gate_base, 'decide', ids['p1'], 'reject', '--comment', 'changed my mind', '--log', db)
    assert r.returncode == 2 and '--supersedes' in r.stderr
    first = log.decisions(ids['p1'])[0].id
    r = gate(gate_base, 'decide', ids['p1'], 'reject', '--comment', 'changed my mind', '--log', db, '--supersedes', first)
    assert r.returncode == 0 and [d.decision for d in log.decisions(ids['p1'])] == ['approve', 'reject']
    # gate 2: refused without a rationale and without the waiver, then logged with both
    r = gate(gate_base, 'decide', ids['good'], 'approve', '--comment', 'promote', '--log', db)
    assert r.returncode == 2 and 'criterion 6' in r.stderr and 'write a waiver' in r.stderr, r.stderr
    r = gate(gate_base, 'decide', ids['good'], 'approve', '--comment', 'promote', '--log', db, '--economic-rationale', PARA)
    assert r.returncode == 2 and 'write a waiver' in r.stderr and 'criterion 6' not in r.stderr, r.stderr
    r = gate(gate_base, 'decide', ids['good'], 'approve', '--comment', 'promote', '--log', db, '--economic-rationale', PARA,
             '--waive', 'nope:0=whatever')
    assert r.returncode == 2 and 'name no finding' in r.stderr
    key = f"{ids['good_critique']}:0"
    r = gate(gate_base, 'decide', ids['good'], 'approve', '--comment', 'promote', '--log', db, '--economic-rationale', PARA,
             '--waive', f'{key}=lookback 10 and 40 keep the sign')
    assert r.returncode == 0, r.stderr
    [d] = log.decisions(ids['good'])
    assert (d.gate, d.decision, d.economic_rationale, d.waivers, d.u_viewed_at) == ('promotion', 'approve', PARA, {key: 'lookback 10 and 40 keep the sign'}, None)
    # a non-promotable item cannot be approved even with everything written
    r = gate(gate_base, 'decide', ids['bad'], 'approve', '--comment', 'x', '--log', db, '--economic-rationale', PARA,
             '--waive', f"{ids['bad_critique']}:1=fine")
    assert r.returncode == 2 and 'criterion 4' in r.stderr and 'sev-1 look_ahead' in r.stderr, r.stderr
    for bad, msg in [(['decide', 'nope', 'reject', '--comment', 'x', '--log', db], 'no artifact nope'),
                     (['decide', ids['good_result'], 'reject', '--comment', 'x', '--log', db], 'not a gate item'),
                     (['decide', ids['bad'], 'reject', '--comment', 'x', '--log', db, '--waive', 'oops'], 'KEY=TEXT'),
                     (['--log', db.parent/'missing.db'], 'no research log')]:
        r = gate(gate_base, *bad)
        assert r.returncode == 2 and msg in r.stderr, (bad, r.stderr)
    r = gate(gate_base, 'decide', ids['bad'], 'maybe', '--comment', 'x', '--log', db)
    assert r.returncode == 2 and 'invalid choice' in r.stderr

# ---------------------------------------------------------------- end to end in a real browser
def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def server(gl, gate_base, tmp_path):
    if not CHROMIUM.exists(): pytest.skip('end-to-end test needs Chromium at /usr/bin/chromium (apt-get install chromium)')
    pytest.importorskip('playwright.sync_api', reason='end-to-end test needs Playwright for Python (pip install playwright)')
    db, ids, log = gl
    port = _free_port()
    out = open(tmp_path/'server.log', 'w')
    proc = subprocess.Popen([*gate_base, '--log', str(db), '--port', str(port), '--headless', '--reviewer', 'e2e'], stdout=out,
                            stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f'http://localhost:{port}'
    try:
        t0 = time.time()
        while True:
            try:
                if urllib.request.urlopen(f'{url}/_stcore/health', timeout=2).read() == b'ok': break
            except OSError: pass
            if proc.poll() is not None or time.time() - t0 > 90:
                raise RuntimeError(f'gate server did not start: {(tmp_path/"server.log").read_text()}')
            time.sleep(0.3)
        yield url, db, ids, log
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(5)
        out.close()

def settle(pg, ms=600):
    "Let Streamlit finish drawing (its script run and the browser's layout) before a screenshot."
    pg.wait_for_timeout(ms)

def test_end_to_end_in_chromium(server):
    from playwright.sync_api import sync_playwright, expect
    url, db, ids, log = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=['--no-sandbox', '--disable-gpu', '--disable-background-networking',
                                                                   '--disable-component-update', '--disable-sync', '--no-first-run'])
        try:
            pg = b.new_page(viewport={'width': 1440, 'height': 1000})
            pg.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)  # a Streamlit rerun that draws a notebook takes more than 5 s on a busy machine
            pg.goto(url)
            # the first script run imports the package (pandas, scipy, streamlit): give it more than expect's 5 s
            expect(pg.get_by_role('heading', name='Gate 1 · proposals')).to_be_visible(timeout=90_000)
            expect(pg.get_by_text('2 item(s) waiting')).to_be_visible()
            expect(pg.get_by_role('button', name='Open', exact=True).nth(1)).to_be_visible()
            expect(pg.get_by_role('heading', name='Recently decided')).to_be_visible()
            settle(pg); pg.screenshot(path=str(SHOTS/'gate1_queue.png'))
            # gate 1: open the oldest item, approve it
            pg.get_by_role('button', name='Open', exact=True).first.click()
            expect(pg.get_by_role('heading', name=re.compile('^Carry pays when FX implied volatility'))).to_be_visible()
            assert f"item={ids['p1']}" in pg.url
            expect(pg.get_by_role('button', name=re.compile('^Send back'))).to_be_visible()
            expect(pg.get_by_text('Comment (required; logged with the decision)')).to_be_visible()
            settle(pg); pg.screenshot(path=str(SHOTS/'gate1_item.png'))
            pg.get_by_label('Comment (required; logged with the decision)').fill('Clear mechanism, cheap to test.')
            pg.get_by_role('button', name=re.compile('^Approve')).click()
            expect(pg.get_by_text('Logged: approve by e2e')).to_be_visible()
            assert [(d.decision, d.reviewer, d.rationale) for d in log.decisions(ids['p1'])] == [('approve', 'e2e', 'Clear mechanism, cheap to test.')]
            # a reload shows the decision: it was not lost
            pg.reload()
            expect(pg.get_by_text('Clear mechanism, cheap to test.')).to_be_visible()
            # gate 2 with the keyboard shortcut
            expect(pg.get_by_role('button', name=re.compile('^Gate 2 · promotion'))).to_be_enabled()
            for attempt in range(3):  # the shortcut works once the page has registered it after the reload
                pg.evaluate('document.activeElement && document.activeElement.blur()')
                pg.keyboard.press('Alt+2')
                try: expect(pg.get_by_role('heading', name='Gate 2 · promotion')).to_be_visible(timeout=4000); break
                except AssertionError:
                    if attempt == 2: raise
            expect(pg.get_by_role('button', name='Open', exact=True).nth(1)).to_be_visible()
            settle(pg); pg.screenshot(path=str(SHOTS/'gate2_queue.png'))
            # gate 2: reject the trend-filtered carry with a comment
            pg.get_by_role('button', name='Open', exact=True).nth(1).click()
            expect(pg.get_by_role('heading', name=re.compile('^Trend-filtered carry'))).to_be_visible()
            expect(pg.get_by_text('U and the criteria appear once the rationale is saved.')).to_be_visible()
            assert pg.get_by_text('Composite U (λ v1)').count() == 0
            # a finding's quote links to its notebook cell
            pg.locator('a.qn-quote', has_text='cell 2').click()
            assert pg.url.endswith('#cell-2')
            expect(pg.locator('section#cell-2')).to_be_in_viewport()
            pg.get_by_label('Comment (required; logged with the decision)').fill('Centred moving average in cell 2 is a look-ahead.')
            pg.get_by_role('button', name=re.compile('^Reject')).dblclick()  # a double click logs once
            expect(pg.get_by_text('Logged: reject by e2e')).to_be_visible()
            time.sleep(1.5)
            assert [(d.decision, d.rationale) for d in log.decisions(ids['bad'])] == [('reject', 'Centred moving average in cell 2 is a look-ahead.')]
            # gate 2: write the rationale, see U, waive, approve
            pg.goto(f"{url}/?item={ids['good']}")
            expect(pg.get_by_role('heading', name=re.compile('^Carry pays in calm regimes'))).to_be_visible()
            pg.get_by_role('textbox', name='Economic rationale', exact=True).fill(PARA)
            pg.get_by_role('button', name=re.compile('^Save rationale')).click()
            expect(pg.get_by_text('Composite U (λ v1)')).to_be_visible()
            pg.get_by_role('textbox', name=re.compile('^Waiver for the severity-2')).fill('Lookback 10 and 40 are robustness rows; both keep a positive IR.')
            pg.get_by_label('Comment (required; logged with the decision)').fill('Promote to candidate: mechanism and panel hold.')
            pg.set_viewport_size({'width': 1440, 'height': 2700})  # the page scrolls inside Streamlit's container: show it all
            pg.mouse.move(700, 500); pg.mouse.wheel(0, -10_000)
            settle(pg); pg.screenshot(path=str(SHOTS/'gate2_item.png'))
            pg.set_viewport_size({'width': 1440, 'height': 1000})
            pg.get_by_role('button', name=re.compile('^Approve')).click()
            expect(pg.get_by_text('Logged: approve by e2e')).to_be_visible()
            pg.goto(f"{url}/?view=lineage&id={ids['good_hypothesis']}")
            expect(pg.get_by_role('heading', name='Lineage')).to_be_visible()
            expect(pg.locator('.qn-lin')).to_be_visible()
            expect(pg.get_by_text(re.compile(r'^\d+ artifact\(s\): ancestors first'))).to_be_visible()
            settle(pg); pg.screenshot(path=str(SHOTS/'lineage.png'))
        finally: b.close()
    d = log.decisions(ids['good'])
    assert [(x.decision, x.reviewer) for x in d] == [('approve', 'e2e')] and d[0].rationale_at < d[0].u_viewed_at and d[0].waivers
    assert [i.id for i in log.pending('promotion')] == [] and [str(h.id) for h in log.pending('proposal')] == [ids['p2']]
    for n in ['gate1_queue', 'gate1_item', 'gate2_queue', 'gate2_item', 'lineage']:
        assert (SHOTS/f'{n}.png').stat().st_size > 10_000
    print(f'end-to-end browser session: {time.time() - t0:.1f} s')
