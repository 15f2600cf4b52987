"LOBSTER data layer and execution environment: real samples (when present), malformed files, synthetic round trip, env contract."
import gzip
from pathlib import Path
import numpy as np
import pytest
import gymnasium
from gymnasium.utils.env_checker import check_env

from quantnotes.execution.lobster import LobsterBook, LobsterError, load_lobster, find_lobster_pair, book_stats
from quantnotes.execution.synthetic import simulate_lobster, write_lobster
import quantnotes.execution.env  # registers quantnotes/LobsterExecution-v0
from quantnotes.execution.env import LobsterExecutionEnv, ExecConfig

ROOT = Path(__file__).resolve().parent.parent
LOBSTER = ROOT.parent/'shared'/'data'/'lobster'
needs_data = pytest.mark.skipif(not LOBSTER.exists(),
    reason=f'real LOBSTER samples not found at {LOBSTER} (optional: the package never needs them)')

# ---------------------------------------------------------------- real samples
GOOG_ROWS = {1: 49_482, 5: 112_673, 10: 147_916}

@needs_data
@pytest.mark.parametrize('levels', [1, 5, 10])
def test_real_goog_levels(levels):
    mp, op = find_lobster_pair(LOBSTER, 'GOOG', levels)
    b = load_lobster(mp, op)  # its speed is benchmarks/execution_env.py's business, not a test's
    assert len(b) == GOOG_ROWS[levels] and b.levels == levels and b.ticker == 'GOOG'
    assert b.ask_px.shape == (GOOG_ROWS[levels], levels) and b.ask_px.dtype == np.int64
    assert b.report['crossed'] == 0 and b.report['empty_levels'] == 0
    assert set(b.report['by_type']) <= {1, 2, 3, 4, 5}
    assert 34_200 <= b.time[0] < 34_201 and 57_599 < b.time[-1] < 57_600
    assert b.tick == pytest.approx(0.01)
    assert 560 < np.nanmean(b.mid) < 585 and (b.spread > 0).all()
    if levels == 10:
        assert b.etype[0] == 4 and b.order_id[0] == 15818974 and b.price[0] == 5794000 and b.direction[0] == 1
        assert (b.ask_px[0, 0], b.bid_px[0, 0], b.bid_sz[0, 0]) == (5802300, 5794000, 496)
        assert (b.ask_px[:, 1:] > b.ask_px[:, :-1]).all() and (b.bid_px[:, 1:] < b.bid_px[:, :-1]).all()
        s = book_stats(b)
        assert 15 < s['spread_mean_ticks'] < 40 and 50 < s['depth_l1'] < 300

@needs_data
def test_real_aapl_samples():
    b = load_lobster(*find_lobster_pair(LOBSTER, 'AAPL', 1))
    assert len(b) == 118_497 and b.levels == 1 and b.report['crossed'] == 0
    b = load_lobster(*find_lobster_pair(LOBSTER/'aapl_level10_truncated', 'AAPL', 10))
    assert len(b) == 998 and b.levels == 10 and b.report['crossed'] == 0
    assert b.time[-1] < 34_250
    assert load_lobster(*find_lobster_pair(LOBSTER/'aapl_level10_truncated'), levels=3).ask_px.shape == (998, 3)

@needs_data
def test_env_on_real_goog():
    b = load_lobster(*find_lobster_pair(LOBSTER, 'GOOG', 10))
    env = gymnasium.make('quantnotes/LobsterExecution-v0', book=b)
    check_env(env.unwrapped, skip_render_check=True)
    ret, info = _run(env.unwrapped, _twap, 40_000.0)
    assert ret == pytest.approx(-info['is_bps'] - info['penalty'], rel=1e-12, abs=1e-9)
    assert info['total_filled'] + info['unfilled'] == 20_000 and info['is_bps'] > 0

# ---------------------------------------------------------------- malformed files
MSG = ['34200.1,1,11,100,5800100,-1', '34200.2,1,12,50,5799900,1', '34200.3,3,11,100,5800100,-1']
OB = ['5800100,100,5799800,40', '5800100,100,5799900,50', '5800300,10,5799900,50']

def _pair(d:Path, msg=MSG, ob=OB, gz=False, name='TST_2012-06-21_34200000_57600000_{}_1.csv'):
    paths = []
    for kind, rows in (('message', msg), ('orderbook', ob)):
        p = d/(name.format(kind) + ('.gz' if gz else ''))
        data = ('\n'.join(rows) + '\n' if rows else '').encode()
        p.write_bytes(gzip.compress(data) if gz else data)
        paths.append(p)
    return paths

def test_well_formed_pair(tmp_path):
    b = load_lobster(*_pair(tmp_path))
    assert len(b) == 3 and b.levels == 1 and b.report['crossed'] == 0
    b = load_lobster(*_pair(tmp_path, gz=True))
    assert len(b) == 3 and b.ticker == 'TST'

@pytest.mark.parametrize('gz', [False, True])
@pytest.mark.parametrize('case,which,expect', [
    ('text',      'message',   ["line 2, column 4: 'abc' is not a number"]),
    ('extra',     'message',   ['line 3: expected 6 fields, found 7']),
    ('short',     'message',   ['line 2: expected 6 fields, found 5']),
    ('backwards', 'message',   ['line 3: time goes backwards']),
    ('etype',     'message',   ['line 2: event type 8 is not in 1..7']),
    ('direction', 'message',   ['line 1: direction 2 is not -1 or +1']),
    ('rows',      'orderbook', ['has 2 rows but', 'has 3', 'not a matching pair']),
    ('cols',      'orderbook', ['6 columns is not a multiple of 4']),
    ('negsize',   'orderbook', ['line 3: negative ask size at level 1']),
    ('empty',     'orderbook', ['the file is empty']),
    ('obtext',    'orderbook', ["line 2, column 2: '1x0' is not a number"]),
])
def test_malformed_files(tmp_path, gz, case, which, expect):
    msg, ob = list(MSG), list(OB)
    if case == 'text': msg[1] = '34200.2,1,12,abc,5799900,1'
    if case == 'extra': msg[2] += ',7'
    if case == 'short': msg[1] = '34200.2,1,12,50,5799900'
    if case == 'backwards': msg[2] = '34200.15,3,11,100,5800100,-1'
    if case == 'etype': msg[1] = '34200.2,8,12,50,5799900,1'
    if case == 'direction': msg[0] = '34200.1,1,11,100,5800100,2'
    if case == 'rows': ob = ob[:2]
    if case == 'cols': ob = [r + ',1,2' for r in ob]
    if case == 'negsize': ob[2] = '5800300,-10,5799900,50'
    if case == 'empty': ob = []
    if case == 'obtext': ob[1] = '5800100,1x0,5799900,50'
    mp, op = _pair(tmp_path, msg, ob, gz=gz)
    with pytest.raises(LobsterError) as e: load_lobster(mp, op)
    text = str(e.value)
    assert (mp if which == 'message' else op).name in text, text
    for x in expect: assert x in text, text

def test_missing_file_and_levels(tmp_path):
    with pytest.raises(LobsterError, match='file not found'): load_lobster(tmp_path/'a.csv', tmp_path/'b.csv')
    with pytest.raises(LobsterError, match='asked for 2 levels but the file has 1'): load_lobster(*_pair(tmp_path), levels=2)
    with pytest.raises(LobsterError, match='no LOBSTER'): find_lobster_pair(tmp_path, ticker='GOOG')

# ---------------------------------------------------------------- synthetic data
@pytest.fixture(scope='module')
def syn():
    return simulate_lobster(1800, seed=3)

@pytest.mark.parametrize('compress', [False, True])
def test_synthetic_round_trip(syn, tmp_path, compress):
    mp, op = write_lobster(syn, tmp_path, ticker='SYN', date='2012-06-21', compress=compress)
    assert mp.name == 'SYN_2012-06-21_34200000_36000000_message_10.csv' + ('.gz' if compress else '')
    assert find_lobster_pair(tmp_path) == (mp, op)
    back = load_lobster(mp, op)
    for k in ('time', 'etype', 'order_id', 'size', 'price', 'direction', 'ask_px', 'ask_sz', 'bid_px', 'bid_sz'):
        np.testing.assert_array_equal(getattr(back, k), getattr(syn, k), err_msg=k)
    assert back.report['crossed'] == 0 and set(back.report['by_type']) <= {1, 2, 3, 4, 5}
    s_syn, s_back = book_stats(syn), book_stats(back)
    assert s_syn == pytest.approx(s_back, nan_ok=True)
    # GOOG-like: mid near $580, tick 1 cent, spread of tens of ticks, 100-300 shares per level
    assert 540 < s_syn['mid_mean'] < 620 and s_syn['tick'] == pytest.approx(0.01)
    assert 3 < s_syn['spread_mean_ticks'] < 60 and 50 < s_syn['depth_l1'] < 400 and 50 < s_syn['depth_l10'] < 400

def test_synthetic_is_reproducible_and_validated():
    a, b = simulate_lobster(120, seed=5), simulate_lobster(120, seed=5)
    np.testing.assert_array_equal(a.ask_px, b.ask_px)
    assert not np.array_equal(simulate_lobster(120, seed=6).time[:50], a.time[:50])
    with pytest.raises(TypeError, match='unknown model parameter'): simulate_lobster(10, foo=1)

# ---------------------------------------------------------------- environment
def _twap(k, n, obs): return 1.0 / (n - k)

def _run(env, policy, start_time=None, seed=None):
    obs, info = env.reset(seed=seed, options=None if start_time is None else {'start_time': start_time})
    ret, obs_list, infos = 0.0, [obs], []
    n = env.n_steps
    for k in range(n):
        obs, r, term, trunc, info = env.step(np.array([policy(k, n, obs)], np.float32))
        ret += r; obs_list.append(obs); infos.append(info)
        assert not trunc and term == (k == n - 1)
    info['_obs'], info['_infos'] = np.array(obs_list), infos
    return ret, info

@pytest.mark.parametrize('kw', [dict(), dict(side='buy'), dict(leak_signal=True), dict(impact='transient'),
                                dict(impact='persistent', side='buy')])
def test_check_env(syn, kw):
    env = LobsterExecutionEnv(syn, parent_size=3_000, horizon_s=300, n_steps=10, **kw)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == ((7,) if kw.get('leak_signal') else (6,))
    assert env.action_space.shape == (1,) and env.observation_space.dtype == np.float32

def test_registered_make(syn):
    assert 'quantnotes/LobsterExecution-v0' in gymnasium.registry
    env = gymnasium.make('quantnotes/LobsterExecution-v0', book=syn, config=ExecConfig(horizon_s=300), n_steps=5)
    assert env.unwrapped.config.n_steps == 5 and env.unwrapped.config.horizon_s == 300
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    import importlib; importlib.reload(quantnotes.execution.env)  # re-import must not register twice / fail

@pytest.mark.parametrize('impact', ['none', 'transient', 'persistent'])
@pytest.mark.parametrize('side', ['sell', 'buy'])
def test_return_equals_minus_is(syn, impact, side):
    rng = np.random.default_rng(0)
    for ps in (500, 4_000, 40_000):  # the last one exhausts the book: penalty > 0
        env = LobsterExecutionEnv(syn, parent_size=ps, horizon_s=300, n_steps=10, impact=impact, side=side)
        for ep in range(5):
            ret, info = _run(env, lambda k, n, o: rng.random(), seed=ep)
            assert ret == pytest.approx(-info['is_bps'] - info['penalty'], rel=1e-12, abs=1e-9)
            assert info['is_bps'] == pytest.approx(sum(i['slippage_bps'] * i['step_filled'] for i in info['_infos']) / ps)
            assert info['is_bps'] == pytest.approx(1e4 * info['shortfall_dollars'] / (ps * info['arrival_mid']), abs=1e-9)
            assert info['total_filled'] + info['unfilled'] == ps
            assert info['filled'] == info['step_filled'] == info['_infos'][-1]['filled']  # per-step meaning kept
            assert info['penalty'] == pytest.approx(50.0 * (info['unfilled'] / ps) ** 2)
            o = info['_obs']
            np.testing.assert_array_equal(o[:, 0], np.float32((10 - np.arange(11)) / 10))
            q = ps - np.cumsum([0] + [i['step_filled'] for i in info['_infos']])
            np.testing.assert_array_equal(o[:, 1], np.float32(q / ps))
            assert (np.abs(o) <= 10).all()
        if ps == 40_000: assert info['unfilled'] > 0 and info['penalty'] > 0

def test_paired_start_times_are_deterministic(syn):
    starts = [34_300.0, 34_900.5, 35_400.0]
    a = LobsterExecutionEnv(syn, horizon_s=300, n_steps=10, parent_size=3_000)
    b = LobsterExecutionEnv(syn, horizon_s=300, n_steps=10, parent_size=3_000)
    a.reset(seed=1); b.reset(seed=999)
    for t0 in starts:
        ra, ia = _run(a, _twap, t0); rb, ib = _run(b, _twap, t0)
        assert ra == rb and ia['is_bps'] == ib['is_bps'] and ia['start_time'] == t0
        np.testing.assert_array_equal(ia['_obs'], ib['_obs'])
        # a different policy on the same start sees the same arrival mid and the same market features at reset
        _, ic = _run(b, lambda k, n, o: 1.0, t0)
        assert ic['arrival_mid'] == ia['arrival_mid']
        np.testing.assert_array_equal(ic['_obs'][0], ia['_obs'][0])
    # drawn starts are reproducible from the seed and lie in start_range
    s1 = [a.reset(seed=7)[1]['start_time'] for _ in range(2)]
    assert s1[0] == s1[1]
    c = LobsterExecutionEnv(syn, horizon_s=300, start_range=(34_500.0, 34_600.0))
    c.reset(seed=0)
    assert all(34_500 <= c.reset()[1]['start_time'] <= 34_600 for _ in range(50))

def test_impact_rules_differ_as_expected(syn):
    kw = dict(parent_size=8_000, horizon_s=300, n_steps=10)
    for t0 in (34_300.0, 34_800.0, 35_300.0):
        res = {imp: _run(LobsterExecutionEnv(syn, impact=imp, **kw), _twap, t0)[1]['is_bps']
               for imp in ('none', 'transient', 'persistent')}
        assert res['none'] <= res['transient'] + 1e-12 and res['transient'] <= res['persistent'] + 1e-12, res
    assert res['none'] < res['persistent'], res
    tiny = LobsterExecutionEnv(syn, impact='transient', impact_half_life_s=1e-6, **kw)
    assert _run(tiny, _twap, t0)[1]['is_bps'] == pytest.approx(res['none'], abs=1e-12)
    # a single marketable order can never take more than the visible book
    env = LobsterExecutionEnv(syn, impact='persistent', parent_size=100_000, horizon_s=300, n_steps=10)
    env.reset(options={'start_time': 34_300.0})
    _, _, _, _, i0 = env.step(np.array([1.0], np.float32))
    assert 0 < i0['filled'] < 100_000

def test_leak_feature_is_next_mid_change(syn):
    env = LobsterExecutionEnv(syn, horizon_s=300, n_steps=10, leak_signal=True, parent_size=100)
    _, info = _run(env, _twap, 34_500.0)
    o = info['_obs']
    np.testing.assert_allclose(o[1:, 2] - o[:-1, 2], o[:-1, 6], atol=1e-5)
    assert o[-1, 6] == 0

def test_env_errors(syn):
    with pytest.raises(ValueError, match="side must be 'sell' or 'buy'"): ExecConfig(side='long')
    with pytest.raises(ValueError, match='terminal_penalty'): ExecConfig(terminal_penalty=-1)
    with pytest.raises(TypeError, match='unknown ExecConfig field'): LobsterExecutionEnv(syn, horizn_s=3)
    with pytest.raises(ValueError, match='start_range'): LobsterExecutionEnv(syn, start_range=(0.0, 1.0))
    with pytest.raises(ValueError, match='shorter than the horizon'): LobsterExecutionEnv(syn, horizon_s=1e5)
    env = LobsterExecutionEnv(syn, horizon_s=300, n_steps=2)
    with pytest.raises(RuntimeError, match='reset'): env.step(np.array([0.5], np.float32))
    env.reset(seed=0)
    with pytest.raises(ValueError, match='outside'): env.reset(options={'start_time': 10.0})
    env.reset(seed=0)
    with pytest.raises(ValueError, match='NaN'): env.step(np.array([np.nan], np.float32))
    env.step(np.array([2.0], np.float32)); env.step(0.0)  # out-of-range actions are clipped; scalars accepted
    with pytest.raises(RuntimeError, match='reset'): env.step(np.array([0.5], np.float32))
