"Execution part 2: bad LOBSTER input at the CLI, the limit-order replay's queue model, desk baselines and the paired tests."
import gzip
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch

from conftest import quantnotes, SHARED
from quantnotes.execution.lobster import load_lobster, find_lobster_pair
from quantnotes.execution.synthetic import simulate_lobster, write_lobster
from quantnotes.execution.env import LobsterExecutionEnv, ExecConfig
from quantnotes.execution.queue import LimitOrderExecutionEnv, LimitConfig, queue_fill, validate_queue, QUEUE_MODELS
from quantnotes.execution.passive import desk_baselines
from quantnotes.execution.evaluate import evaluate_paired, paired_start_times, paired_tests, bh_adjust

torch.set_num_threads(1)
LOBSTER = SHARED/'lobster'
NAME = 'TST_2012-06-21_34200000_57600000_{}_1.csv'
MSG = ['34200.1,1,11,100,5800100,-1', '34200.2,1,12,50,5799900,1', '34200.3,3,11,100,5800100,-1']
OB = ['5800100,100,5799800,40', '5800100,100,5799900,50', '5800300,300,5799900,50']

def _pair(d, msg=MSG, ob=OB, gz=False):
    out = []
    for kind, rows in (('message', msg), ('orderbook', ob)):
        p = Path(d)/(NAME.format(kind) + ('.gz' if gz else ''))
        data = ('\n'.join(rows) + '\n').encode()
        p.write_bytes(gzip.compress(data) if gz else data); out.append(p)
    return out

# ---------------------------------------------------------------- issue 16 item 5: bad LOBSTER books at the CLI
def _corrupt(p: Path):
    raw = bytearray(gzip.compress(p.read_bytes() * 500)); raw[30:60] = bytes(30)
    q = p.with_name(p.name + '.gz'); q.write_bytes(bytes(raw)); return q

@pytest.mark.parametrize('case,expect', [
    ('msg_price', ('message_1.csv', 'line 2: price 0 is not positive')),
    ('ob_price',  ('orderbook_1.csv', 'line 3: ask price -100 at level 1 is not positive')),
    ('crossed',   ('orderbook_1.csv', 'line 2: crossed book')),
    ('deflate',   ('message_1.csv.gz', 'corrupt compressed data')),
])
@pytest.mark.parametrize('command', ['evaluate', 'train'])
def test_bad_books_exit_2_with_one_error_line(tmp_path, case, expect, command):
    msg, ob = list(MSG), list(OB)
    if case == 'msg_price': msg[1] = '34200.2,1,12,50,0,1'
    if case == 'ob_price': ob[2] = '-100,300,5799900,50'
    if case == 'crossed': ob[1] = '5799900,100,5799900,50'
    mp, op = _pair(tmp_path, msg, ob)
    if case == 'deflate': mp = _corrupt(mp)
    out = tmp_path/'agent.zip'
    args = (['evaluate', '--policies', 'twap,ac'] if command == 'evaluate' else
            ['train', '--out', out, '--timesteps', 16, '--no-progress'])
    r = quantnotes('execution', *args, '--message', mp, '--orderbook', op, timeout=300)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and 'Traceback' not in r.stderr, r.stderr
    for x in expect: assert x in lines[0], lines[0]
    assert not out.exists()

# ---------------------------------------------------------------- the queue model
@pytest.fixture(scope='module')
def syn():
    return simulate_lobster(1800, seed=11)

def test_queue_identity_on_synthetic_book(syn):
    v = validate_queue(syn, 200, seed=3)
    assert v['events_checked'] > 200
    assert (v['negative_ahead'], v['depth_mismatches'], v['unseen_arrivals']) == (0, 0, 0), v

@pytest.mark.skipif(not LOBSTER.is_dir(), reason=f'real LOBSTER sample not found at {LOBSTER}; the synthetic check covers the code')
def test_queue_matches_the_real_goog_book():
    v = validate_queue(load_lobster(*find_lobster_pair(LOBSTER, 'GOOG', 10)), 400, seed=5)
    assert v['negative_ahead'] == 0 and v['depth_mismatches'] <= 0.01 * v['events_checked'], v

def test_queue_models_differ_only_in_cancellations():
    et, sz, oid = np.array([4, 4]), np.array([30, 30]), np.array([1, 2])
    for m in QUEUE_MODELS:  # executions only: every model fills the same
        assert queue_fill(et, sz, oid, np.array([70.0, 40.0]), 50, 100, m)[0] == 10
    # 50 ahead; order 1 (ahead) cancels 40; then order 2, which joined unseen, executes 50: exactly, 40 of it was ours
    et, sz, oid = np.array([2, 4]), np.array([40, 50]), np.array([1, 2])
    depth = np.array([60.0, 10.0])
    f = {m: queue_fill(et, sz, oid, depth, 50, 100, m)[0] for m in QUEUE_MODELS}
    assert (f['exact'], f['pessimistic'], f['proportional']) == (40, 0, 20), f

@pytest.mark.parametrize('side', ['sell', 'buy'])
def test_limit_env_accounting(syn, side):
    X, N = 1_500, 6
    e = LimitOrderExecutionEnv(syn, parent_size=X, horizon_s=180, n_steps=N, side=side)
    for act in ([0.5, 1.0, 0.0], [0.3, 0.5, 1.0], [0.4, 0.0, 0.0], [0.0, 0.5, 0.0]):
        o, _ = e.reset(options={'start_time': 34_600.0}); ret = 0.0
        for k in range(N): o, r, term, _, info = e.step(np.array(act, np.float32)); ret += r
        assert term and info['total_filled'] == X and info['penalty'] == 0
        assert abs(ret + info['cost_bps']) < 1e-9 and abs(info['cost_bps'] - info['is_bps'] - info['fee_bps']) < 1e-12
        assert 0 <= info['policy_fill_rate'] <= 1 and info['maker_filled_total'] + info['taker_filled_total'] == X

def test_taker_twap_is_part_one_twap_and_baselines_sell_everything(syn):
    X, N = 1_000, 5
    st = paired_start_times((34_300.0, 35_600.0), 12, seed=2)
    lim = evaluate_paired(lambda: LimitOrderExecutionEnv(syn, parent_size=X, horizon_s=150, n_steps=N, taker_fee=0.0, maker_rebate=0.0),
                          desk_baselines(N, np.linspace(0.3, 1.0, N)), st, info_keys=('total_filled', 'fee_bps'))
    mkt = evaluate_paired(lambda: LobsterExecutionEnv(syn, parent_size=X, horizon_s=150, n_steps=N),
                          {'twap': __import__('quantnotes.execution.baselines', fromlist=['TWAPPolicy']).TWAPPolicy(N)}, st)
    assert np.allclose(lim[lim.policy == 'taker_twap'].is_bps.to_numpy(), mkt.is_bps.to_numpy(), atol=1e-9)
    assert (lim.total_filled == X).all() and (lim.fee_bps == 0).all()

def test_paired_tests_find_a_real_difference_and_not_a_fake_one():
    rng = np.random.default_rng(1); n = 150; base = rng.normal(4, 3, n)
    df = pd.DataFrame({'episode': np.tile(np.arange(n), 3), 'policy': np.repeat(['a', 'better', 'noise'], n),
                       'return': -np.r_[base, base - 0.5 + rng.normal(0, 0.4, n), base + rng.normal(0, 0.4, n)]})
    t = bh_adjust(paired_tests(df, [('better', 'a'), ('noise', 'a')])).set_index('policy')
    assert t.loc['better', 'significant'] and t.loc['better', 'ci_high'] < 0
    assert not t.loc['noise', 'significant'] and t.loc['noise', 'ci_low'] < 0 < t.loc['noise', 'ci_high']
    assert (t.p_bh >= t.p_wilcoxon).all()

def test_benchmark_prints_the_ratio():
    import subprocess, sys
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, str(root/'benchmarks'/'execution_queue.py'), '--episodes', '10', '--rounds', '1',
                        '--synthetic'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert 'ratio (limit / marketable):' in r.stdout

# ---------------------------------------------------------------- penalty mode (the write-up's rule) on the limit-order replay
def _episode(e, act, t0):
    o, _ = e.reset(options={'start_time': t0}); rewards = []
    for k in range(e.n_steps):
        o, r, term, _, info = e.step(np.array(act(k), np.float32)); rewards.append(r)
    assert term
    return np.array(rewards), info

@pytest.mark.parametrize('side', ['sell', 'buy'])
def test_penalty_mode_leaves_the_rest_unsold_and_charges_c_q2(syn, side):
    X, N, c = 2_000, 8, 50.0
    kw = dict(parent_size=X, horizon_s=240, n_steps=N, side=side, terminal_penalty=c)
    sweep, pen = LimitOrderExecutionEnv(syn, **kw), LimitOrderExecutionEnv(syn, completion='penalty', **kw)
    wait = lambda k: [0.0, 0.0, 0.0]  # nothing until the last decision, then rest everything a tick behind, never cross
    seen = 0
    for t0 in np.arange(34_300.0, 35_500.0, 60.0):
        r_s, i_s = _episode(sweep, wait, t0)
        r_p, i_p = _episode(pen, wait, t0)
        left = i_p['unfilled']
        # the same orders, the same passive fills: the modes differ only in what happens to the rest at the horizon
        assert i_p['maker_filled_total'] == i_s['maker_filled_total'] and left == X - i_p['total_filled']
        assert i_p['swept'] == 0 and i_p['overflow'] == 0 and i_p['taker_filled_total'] == 0
        assert i_s['total_filled'] == X and i_s['penalty'] == 0 and i_s['swept'] == left
        assert np.allclose(r_p[:-1], r_s[:-1], atol=1e-12)
        assert abs(i_p['penalty'] - c * (left / X) ** 2) < 1e-12
        assert abs(r_p.sum() + i_p['cost_bps'] + i_p['penalty']) < 1e-9   # return = -(shortfall + fees) - penalty
        assert abs(i_p['policy_fill_rate'] - i_p['total_filled'] / X) < 1e-12
        seen += left > 0
    assert seen >= 3, 'the check needs episodes in which the last passive order does not fill'

def test_penalty_mode_equals_sweep_when_the_policy_sells_everything(syn):
    kw = dict(parent_size=1_200, horizon_s=150, n_steps=5)
    taker = lambda k: [1 / (5 - k), 1.0, 0.0]
    for t0 in (34_400.0, 35_000.0):
        r_s, i_s = _episode(LimitOrderExecutionEnv(syn, **kw), taker, t0)
        r_p, i_p = _episode(LimitOrderExecutionEnv(syn, completion='penalty', **kw), taker, t0)
        assert i_p['unfilled'] == 0 and i_p['penalty'] == 0 and np.allclose(r_p, r_s, atol=1e-12)
        assert i_p['cost_bps'] == i_s['cost_bps']

# ---------------------------------------------------------------- the agents' symmetric action box
def test_symmetric_box_agent_acts_in_the_env_as_it_trained(syn):
    "An agent trained in [-1, 1] (RescaleAction) and evaluated on the unwrapped env through AgentPolicy meets the same episodes."
    from quantnotes.execution.ppo import PPOConfig
    from quantnotes.execution.agents import train_agent_algo, AgentPolicy, symmetric_box
    N = 5
    fn = lambda: LimitOrderExecutionEnv(syn, parent_size=1_000, horizon_s=150, n_steps=N)
    m = train_agent_algo(fn, 'ppo', PPOConfig(total_timesteps=256, n_steps=64, batch_size=32, n_envs=2, n_epochs=2, n_threads=1), seed=1)
    assert (m.action_space.low == -1).all() and (m.action_space.high == 1).all()
    assert (m.env_action_space.low == 0).all() and (m.env_action_space.high == 1).all()
    st = paired_start_times((34_300.0, 35_600.0), 6, seed=3)
    df = evaluate_paired(fn, {'agent': AgentPolicy(m)}, st, info_keys=('cost_bps', 'maker_share'))
    w = symmetric_box(fn)()
    for s, cost in zip(st, df.cost_bps):
        o, _ = w.reset(options={'start_time': float(s)})
        for _ in range(N):
            a, _ = m.predict(o, deterministic=True)
            o, r, term, _, info = w.step(a)
        assert term and abs(info['cost_bps'] - cost) < 1e-9
    o0 = np.stack([fn().reset(options={'start_time': float(s)})[0] for s in st])
    aggr = AgentPolicy(m).act(o0)[:, 1]
    assert ((aggr > 1 / 3) & (aggr < 2 / 3)).all(), aggr   # barely trained, it posts at the touch (the env's box starts behind it)

# ---------------------------------------------------------------- the trade-through rule: 'full' against 'volume'
# A 1-level LOBSTER day: 100 shares ask at 58.0010 (ahead of us) execute; a buyer takes 30 at 58.0020, through our
# price; a bid for 40 arrives at our price and stays; an unrelated bid joins lower down.
TT_MSG = ['34200.1,1,11,100,5800100,-1', '34200.2,4,11,100,5800100,-1', '34200.3,4,99,30,5800200,-1',
          '34200.4,1,12,40,5800100,1', '34200.5,1,13,10,5799700,1']
TT_OB = ['5800100,100,5799800,40', '5800200,50,5799800,40', '5800200,20,5799800,40',
         '5800200,20,5800100,40', '5800200,20,5800100,40']

@pytest.mark.parametrize('model', QUEUE_MODELS)
def test_a_big_post_traded_through_by_a_small_print_fills_only_that_print_under_volume(tmp_path, model):
    from quantnotes.execution.queue import _side_arrays, _opp_levels, _rest_kernel, _THROUGH_CODE, _MODEL_CODE
    book = load_lobster(*_pair(tmp_path, TT_MSG, TT_OB))
    S, PAS, scount, opp_aw, _ = _side_arrays(book, 'sell')
    OPP = _opp_levels(book, 'sell')
    fill = lambda a, e, qty, rule: tuple(int(v) for v in _rest_kernel(a, e, 5800100, 1, qty, _MODEL_CODE[model], opp_aw, scount, S, PAS,
                                                                      OPP, _THROUGH_CODE[rule]))
    assert fill(0, 2, 5_000, 'full') == (5_000, 0)         # the 30-share print fills everything
    assert fill(0, 2, 5_000, 'volume') == (30, 0)          # ... or only itself
    assert fill(0, 4, 5_000, 'volume') == (70, 0)          # plus the 40-share bid at our price, counted once
    assert fill(0, 4, 60, 'volume') == (60, 0)             # never more than the order
    assert fill(3, 4, 5_000, 'volume') == (40, 40)         # arriving on a bid at our price: 40 marketable, the rest rests
    assert fill(3, 4, 5_000, 'full') == (5_000, 5_000)

def test_volume_rule_fills_less_of_large_posts_and_still_sells_everything(syn):
    X, N = 3_000, 6
    st = paired_start_times((34_300.0, 35_600.0), 30, seed=4)
    post_all = lambda k: [1.0, 0.5, 0.0]  # everything at the touch, carried, swept at the end
    out = {}
    for rule in ('full', 'volume'):
        e = LimitOrderExecutionEnv(syn, parent_size=X, horizon_s=180, n_steps=N, trade_through=rule)
        out[rule] = np.array([[info['maker_filled_total'], info['total_filled'], info['cost_bps']]
                              for info in (_episode(e, post_all, float(t))[1] for t in st)])
    assert (out['volume'][:, 1] == X).all() and (out['full'][:, 1] == X).all()
    assert (out['volume'][:, 0] <= out['full'][:, 0]).all() and (out['volume'][:, 0] < out['full'][:, 0]).any()
    assert out['volume'][:, 2].mean() > out['full'][:, 2].mean()  # filling less passively costs more

def test_trade_through_rule_is_checked():
    with pytest.raises(ValueError, match='trade_through must be one of volume, full'): LimitConfig(trade_through='partial')
