"Execution policies, the Almgren–Chriss model environment, paired evaluation and the PPO agent's persistence."
import warnings
import numpy as np, pandas as pd, pytest, torch
import gymnasium as gym
from gymnasium.utils.env_checker import check_env

from quantnotes.execution.baselines import TWAPPolicy, ACPolicy, ac_schedule, ac_fractions, twap_fractions
from quantnotes.execution.model_env import AlmgrenChrissEnv, expected_cost_closed_form
from quantnotes.execution.evaluate import (evaluate_paired, paired_start_times, paired_differences, summarise,
                                           LADDER_ENV)

torch.set_num_threads(1)

def _env(**kw): return AlmgrenChrissEnv(**{**LADDER_ENV, **kw})

@pytest.mark.parametrize('lam', [0.0, 4e-5])
def test_closed_form_matches_simulation(lam):
    env = _env(lam=lam)
    cf = expected_cost_closed_form(env)
    pols = {'twap': TWAPPolicy(env.n_steps), 'ac': ACPolicy(cf.loc['ac', 'fractions'])}
    df = evaluate_paired(lambda: _env(lam=lam, path_seed=3), pols, paired_start_times(env.start_range, 3000, seed=1))
    s = summarise(df)
    for p in pols:
        se = cf.loc[p, 'std_bps'] / np.sqrt(3000)
        assert abs(s.loc[p, 'mean_bps'] - cf.loc[p, 'mean_bps']) < 4 * se, (p, s.loc[p, 'mean_bps'], cf.loc[p, 'mean_bps'])
        assert abs(s.loc[p, 'std_bps'] / cf.loc[p, 'std_bps'] - 1) < 0.08
        assert abs(s.loc[p, 'objective_bps'] - cf.loc[p, 'objective_bps']) < 4 * se
    if lam > 0:  # AC beats TWAP on the objective it optimises, TWAP has the lower mean
        assert cf.loc['ac', 'objective_bps'] < cf.loc['twap', 'objective_bps']
        assert cf.loc['twap', 'mean_bps'] < cf.loc['ac', 'mean_bps']

def test_ac_reduces_to_twap_and_front_loads():
    np.testing.assert_allclose(ac_fractions(1e4, 12, 600, 0.02, 6e-4, 0.0), twap_fractions(12))
    x = ac_schedule(1e4, 12, 600, 0.02, 6e-4, 4e-5)
    assert x[0] == 1e4 and x[-1] == 0 and np.all(np.diff(x) < 0) and 1 - x[1] / x[0] > 1 / 12

def test_same_start_time_same_path():
    a, b = _env(), _env(lam=4e-5)
    a.reset(options={'start_time': 1234.5}); b.reset(seed=7, options={'start_time': 1234.5})
    np.testing.assert_array_equal(a.xi, b.xi)
    b.reset(options={'start_time': 1234.501}); assert not np.array_equal(a.xi, b.xi)
    # no impact: prices along the path are identical whatever the actions
    e1, e2 = _env(eta=1e-12, gamma=0.0), _env(eta=1e-12, gamma=0.0)
    e1.reset(options={'start_time': 9.0}); e2.reset(options={'start_time': 9.0})
    for a1, a2 in zip(np.linspace(0, 1, 10), np.linspace(1, 0, 10)):
        assert abs(e1.step([a1])[-1]['price'] - e2.step([a2])[-1]['price']) < 1e-6

def test_paired_evaluation_is_paired_and_batched_matches_sequential():
    env = _env(lam=4e-5)
    pols = {'twap': TWAPPolicy(env.n_steps), 'ac': ACPolicy.from_params(env.X, env.n_steps, env.T, env.sigma, env.eta, env.lam, env.gamma)}
    st = paired_start_times(env.start_range, 100, seed=5)
    df = evaluate_paired(lambda: _env(lam=4e-5), pols, st, n_envs=16)
    df2 = evaluate_paired(lambda: _env(lam=4e-5), pols, st, batch=False)
    np.testing.assert_allclose(df.is_bps, df2.is_bps, rtol=0, atol=1e-9)
    piv = df.pivot(index='episode', columns='policy', values='start_time')
    np.testing.assert_array_equal(piv['twap'], piv['ac']); np.testing.assert_array_equal(piv['ac'], st)
    # paired differences use matched episodes only, and equal the per-episode mean difference
    pdiff = paired_differences(df, 'twap')
    isp = df.pivot(index='episode', columns='policy', values='is_bps')
    assert pdiff.loc['ac', 'n'] == 100
    assert abs(pdiff.loc['ac', 'mean_diff'] - (isp.ac - isp.twap).mean()) < 1e-12
    drop = df[~((df.policy == 'twap') & (df.episode % 4 == 0))]
    pd2 = paired_differences(drop, 'twap')
    assert pd2.loc['ac', 'n'] == 75
    m = isp[isp.index % 4 != 0]
    assert abs(pd2.loc['ac', 'mean_diff'] - (m.ac - m.twap).mean()) < 1e-12

def test_bootstrap_ci_covers_true_mean():
    rng = np.random.default_rng(0)
    cover, n = 0, 150
    for rep in range(100):
        base = rng.normal(10, 5, n)                    # large common noise that pairing must cancel
        d = rng.normal(-0.5, 1.0, n)
        df = pd.DataFrame({'episode': np.r_[np.arange(n), np.arange(n)], 'start_time': np.r_[np.arange(n), np.arange(n)] * 1.0,
                           'policy': ['b'] * n + ['p'] * n, 'is_bps': np.r_[base, base + d], 'return': -np.r_[base, base + d]})
        r = paired_differences(df, 'b', n_boot=1000, seed=rep).loc['p']
        cover += r.ci_low <= -0.5 <= r.ci_high
        if rep == 0: assert r.ci_high - r.ci_low < 0.5   # width ~ 4/sqrt(150) of the *difference* noise, not the base's
    assert 88 <= cover <= 99, cover

def test_check_env():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        check_env(_env(), skip_render_check=True)
        check_env(_env(leak_signal=True, lam=4e-5), skip_render_check=True)
        e = gym.make('quantnotes/AlmgrenChriss-v0', n_steps=7)
    obs, _ = e.reset(options={'start_time': 1.0})
    assert obs.shape == (6,) and obs[0] == 1.0 and obs[1] == 1.0
    for k in range(7): obs, r, term, trunc, info = e.step(np.array([0.0], np.float32))
    assert term and info['is_bps'] > 0 and obs[1] == 0.0         # the last step liquidated everything

def test_ppo_save_load_round_trip(tmp_path):
    from quantnotes.execution.ppo import PPOConfig, PPOPolicy, train_ppo
    cfg = PPOConfig(n_steps=64, batch_size=32, n_epochs=1, n_envs=4, total_timesteps=256)
    pol = PPOPolicy(train_ppo(lambda: _env(leak_signal=True), cfg, seed=1, progress=False))
    obs = np.stack([_env(leak_signal=True).reset(options={'start_time': float(i)})[0] for i in range(8)])
    p = pol.save(tmp_path / 'agent.zip')
    again = PPOPolicy.load(p)
    np.testing.assert_array_equal(again.act(obs), pol.act(obs))
    assert again.act(obs).shape == (8,) and again.model.observation_space.shape == (7,)

def test_replay_env_calibration_and_pairing():
    "The baselines and the evaluator on the LOBSTER replay environment over a synthetic book (skipped if absent)."
    envmod = pytest.importorskip('quantnotes.execution.env')
    synth = pytest.importorskip('quantnotes.execution.synthetic')
    from quantnotes.execution.baselines import calibrate_ac
    book = synth.simulate_lobster(duration_s=1800.0, levels=10, seed=0)
    cfg = envmod.ExecConfig(n_steps=10, horizon_s=300.0, parent_size=5_000)
    cal = calibrate_ac(book, cfg.n_steps, cfg.horizon_s)
    assert cal['sigma'] > 0 and cal['eta'] > 0 and np.isfinite(cal['eps'])
    env_fn = lambda: envmod.LobsterExecutionEnv(book, cfg)
    pols = {'twap': TWAPPolicy(cfg.n_steps),
            'ac': ACPolicy.from_params(cfg.parent_size, cfg.n_steps, cfg.horizon_s, cal['sigma'], cal['eta'], 1e-5)}
    st = paired_start_times(env_fn().start_range, 40, seed=0)
    df = evaluate_paired(env_fn, pols, st, n_envs=16)
    again = evaluate_paired(env_fn, {'twap': pols['twap']}, st[::-1])          # same episodes, other order
    np.testing.assert_allclose(np.sort(again.is_bps), np.sort(df[df.policy == 'twap'].is_bps), atol=1e-9)
    assert (df.groupby('episode').start_time.nunique() == 1).all() and paired_differences(df).loc['ac', 'n'] == 40
