"""The replay environment's fast paths give bit-identical episodes to its readable rules.

`LobsterExecutionEnv` walks the book three ways: precomputed whole-side totals and `walk_book` under pure replay, and
the compiled `_step_kernel` (with `_impact_step` inside) under the transient and persistent rules. With `env._fast = False` it runs the readable
functions instead (`walk_book`, `walk_book_depleted`, `depleted_top`). Here both paths run the same random actions
from the same seeds, and every observation (as bytes), reward and info must match exactly. No timing is tested.
"""
import dataclasses, math
from pathlib import Path
import numpy as np
import pytest

from quantnotes.execution.lobster import load_lobster, find_lobster_pair, PRICE_SCALE
from quantnotes.execution.synthetic import simulate_lobster
from quantnotes.execution.env import (LobsterExecutionEnv, walk_book_depleted, depleted_top, _impact_step,
                                      _episode_arrays, _price_slots, _step_kernel)

LOBSTER = Path(__file__).resolve().parent.parent.parent/'shared'/'data'/'lobster'
needs_data = pytest.mark.skipif(not LOBSTER.exists(),
    reason=f'real LOBSTER samples not found at {LOBSTER} (optional: the package never needs them)')

@pytest.fixture(scope='module')
def syn(): return simulate_lobster(3600, seed=3)

@pytest.fixture(scope='module')
def goog(): return load_lobster(*find_lobster_pair(LOBSTER, 'GOOG', 10))

def trajectory(env, n_steps:int, seed:int) -> list:
    "Every observation (bytes), reward and info of `n_steps` random steps, resets included; some actions exactly 0 or 1."
    rng = np.random.default_rng(seed)
    acts = rng.random((n_steps, 1), dtype=np.float32)
    acts[rng.random(n_steps) < 0.1, 0] = 0.0
    acts[rng.random(n_steps) < 0.05, 0] = 1.0
    o, info = env.reset(seed=seed)
    out = [(o.tobytes(), repr(sorted(info.items())))]
    for a in acts:
        o, r, term, trunc, info = env.step(a)
        out.append((o.tobytes(), repr(r), term, trunc, repr(sorted(info.items()))))
        if term:
            o, info = env.reset()
            out.append((o.tobytes(), repr(sorted(info.items()))))
    return out

def fast_and_readable(book, **kw) -> tuple:
    fast, slow = LobsterExecutionEnv(book, **kw), LobsterExecutionEnv(book, **kw)
    assert fast._fast, 'the fast path should be on for a sane book'
    slow._fast = False
    return fast, slow

CONFIGS = [dict(impact=imp, side=side, parent_size=ps, n_steps=n, horizon_s=600.0)
           for imp in ('none', 'transient', 'persistent') for side in ('sell', 'buy') for ps, n in ((50_000, 60), (2_000, 20))]
CONFIGS += [dict(impact='transient', impact_half_life_s=2.0, parent_size=8_000, n_steps=30),
            dict(impact='transient', impact_half_life_s=1e-6, parent_size=8_000, n_steps=10),
            dict(impact='persistent', completion='sweep', parent_size=8_000, n_steps=10, leak_signal=True),
            dict(impact='none', completion='sweep', parent_size=8_000, n_steps=10, side='buy'),
            dict(impact='transient', completion='sweep', parent_size=2_000, n_steps=10, side='buy')]

@pytest.mark.parametrize('kw', CONFIGS, ids=lambda kw: '-'.join(f'{v}' for v in kw.values()))
def test_fast_path_is_bit_identical_synthetic(syn, kw):
    fast, slow = fast_and_readable(syn, **kw)
    assert (fast._step_fn is not None) == (kw['impact'] != 'none'), 'an impact rule should run the whole step compiled'
    assert trajectory(fast, 3_000, 1) == trajectory(slow, 3_000, 1)

@needs_data
@pytest.mark.parametrize('impact', ['none', 'transient', 'persistent'])
@pytest.mark.parametrize('side', ['sell', 'buy'])
def test_fast_path_is_bit_identical_real_goog(goog, impact, side):
    "The write-up's task on the real GOOG day: a 50,000-share order exhausts the ten visible levels at most steps."
    fast, slow = fast_and_readable(goog, impact=impact, side=side, parent_size=50_000, horizon_s=600.0, n_steps=60)
    assert trajectory(fast, 4_000, 2) == trajectory(slow, 4_000, 2)

def test_the_comparison_can_fail(syn):
    "Impact must change the episodes, or the equality above would say nothing about the impact paths."
    kw = dict(parent_size=8_000, horizon_s=300.0, n_steps=10)
    base = trajectory(LobsterExecutionEnv(syn, impact='none', **kw), 300, 4)
    for imp in ('transient', 'persistent'):
        assert trajectory(LobsterExecutionEnv(syn, impact=imp, **kw), 300, 4) != base

def test_unsafe_books_take_the_readable_path(syn):
    "The int64 shortcuts switch off for a negative level size or prices whose notionals could overflow 64 bits."
    kw = dict(impact='transient', parent_size=2_000, horizon_s=300.0, n_steps=10)
    neg = syn.bid_sz.copy(); neg[5, 3] = -1
    huge = syn.bid_sz * 10**9  # a side's notional (~1e6 units a share) no longer provably fits in int64
    for book in (dataclasses.replace(syn, bid_sz=neg), dataclasses.replace(syn, bid_sz=huge)):
        env = LobsterExecutionEnv(book, **kw)
        assert not env._fast
        assert len(trajectory(env, 50, 0)) > 50  # and the readable path runs
    assert LobsterExecutionEnv(syn, **kw)._fast

@pytest.mark.parametrize('decay', [0.0, math.log(2) / 3.0])
def test_plain_python_kernel_matches_the_rules(decay):
    "The kernel as plain Python (what runs without numba) against `walk_book_depleted` and `depleted_top`."
    kern = getattr(_impact_step, 'py_func', _impact_step)
    rng = np.random.default_rng(11)
    for trial in range(100):
        n1, L = 8, 5
        px = 100 * rng.integers(95, 105, (n1, L)); sz = rng.integers(-1, 40, (n1, L))
        ts = np.cumsum(rng.uniform(0.5, 4.0, n1))
        opp_px, opp_sz = px.max(1) + 300, rng.integers(1, 40, n1)
        E, F = np.zeros((5, n1, L), np.int64), np.zeros((4, 16))
        _episode_arrays(px, sz, _price_slots(px), opp_px, opp_sz, np.arange(n1), ts, 1.0, 0.2, 0.01, 1.0, -1.0, 100, E, F)
        used, obs = {}, np.zeros((n1, 6), np.float32)
        for k in range(n1 - 1):
            want, before = int(rng.integers(0, 150)), bool(used)
            ref = walk_book_depleted(px[k].tolist(), sz[k].tolist(), want, used, float(ts[k]), decay)
            f, nt, imb, wrote = kern(E, F, obs, k, want, decay, before)
            assert (int(f), int(nt), bool(wrote)) == (*ref, bool(used))
            if wrote:  # buy side (sign -1): our top is the ask, the opposite top the bid
                p, s = depleted_top(px[k + 1].tolist(), sz[k + 1].tolist(), used, float(ts[k + 1]), decay)
                o = int(opp_sz[k + 1])
                assert float(imb) == (o - s) / (o + s)
                assert obs[k + 1, 3] == np.float32(min(max((p - int(opp_px[k + 1])) / PRICE_SCALE / 0.01, -10.0), 10.0))

def test_plain_python_step_kernel_matches_the_rules(syn):
    "The whole compiled step as plain Python (what runs without numba), episodes against the readable rules."
    for kw in (dict(impact='transient', parent_size=8_000, n_steps=10, side='buy'), dict(impact='persistent', parent_size=3_000, n_steps=20)):
        fast, slow = fast_and_readable(syn, horizon_s=300.0, **kw)
        fast._step_fn = getattr(_step_kernel, 'py_func', _step_kernel)
        assert trajectory(fast, 400, 5) == trajectory(slow, 400, 5)

def test_the_compiled_step_needs_exact_float_totals(syn):
    "Totals kept in float64 are exact below 2**53: a parent order whose notional could pass that takes the general step."
    assert LobsterExecutionEnv(syn, impact='transient', parent_size=2_000)._step_fn is not None
    env = LobsterExecutionEnv(syn, impact='transient', parent_size=2**53 // int(np.abs(syn.bid_px).max()) + 1, n_steps=5)
    assert env._fast and env._step_fn is None
