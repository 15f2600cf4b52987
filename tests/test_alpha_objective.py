"The composite objective, the multiple-testing statistics, the promotion gate and the objective study (smoke profile)."
import json, math
import numpy as np
import pandas as pd
import pytest
from conftest import quantnotes, smoke_report
from quantnotes.alpha.overfitting import psr, dsr, expected_max_sr, pbo_cscv, multiple_testing, dsr_from_returns
from quantnotes.alpha.objective import (LAMBDAS_V1, LambdaConfig, ObjectiveTerms, utility, c_frag, calibrate_lambdas,
                                        record_weights, replay, cost_sensitivity)
from quantnotes.alpha.promotion import SealedStore, SealedPeriodError, open_holdout, Mask, promotion_criteria
from quantnotes.alpha.pit import synthetic_store, G10
from quantnotes.alpha.backtest import backtest, momentum_signal
from quantnotes.alpha.log import ResearchLog, Hypothesis, Sample

def test_dsr_worked_example_and_properties():
    v = 0.5/250  # Bailey & Lopez de Prado (2014) example: N=100, V[SR]=1/2 annualised, SR 2.5, T=1250, skew -3, kurt 10
    assert abs(expected_max_sr(100, v) - 0.1132) < 5e-4
    assert abs(dsr(2.5/math.sqrt(250), 1250, -3, 10, 100, v) - 0.9004) < 2e-3
    assert dsr(0.08, 800, -0.5, 5, 1, 0.01) == psr(0.08, 800, -0.5, 5)
    d = [dsr(0.08, 800, n_trials=n, var_sr=0.002) for n in (1, 5, 50, 500)]
    assert all(a > b for a, b in zip(d, d[1:]))

def test_pbo_noise_and_dominance():
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 0.01, (1200, 30))
    assert 0.25 < pbo_cscv(noise, 12)['pbo'] < 0.75
    dom = noise.copy(); dom[:, 4] += 0.005
    assert pbo_cscv(dom, 12)['pbo'] == 0.

def test_arch_wrappers_find_the_planted_edge():
    r = pd.DataFrame(np.random.default_rng(2).normal(0, 0.01, (1200, 6)), columns=list('abcdef'))
    r['c'] += 0.003
    mt = multiple_testing(r, reps=200)
    assert mt['stepm_superior'] == ['c'] and mt['spa_p_consistent'] < 0.05

def test_utility_and_calibration():
    t = ObjectiveTerms(1.0, 0.5, 3, 0.1, 10, 0.4)
    assert abs(utility(t) - (0.5 - 0.5*0.5 - 0.02*3 - 0.1 - 0.05*math.log(11) - 0.25*0.4)) < 1e-12
    assert c_frag(1.0, {'x': 0.25})[0] == 0.75
    rng = np.random.default_rng(1)
    T = pd.DataFrame(dict(ir_is=rng.normal(.5, .5, 30), ir_oos=rng.normal(.2, .3, 30), k_eff=3, s_tc=rng.uniform(0, .1, 30),
                          n_trials=30, c_frag=rng.uniform(0, 1, 30)))
    cfg, grid = calibrate_lambdas(T, T.ir_oos - 2*T.c_frag)
    assert cfg.lam5 > 0 and cfg.version == 'v2-calibrated' and grid.spearman.iloc[0] >= grid.spearman.iloc[-1]

@pytest.fixture(scope='module')
def syn(): return synthetic_store('2010-01-01', '2014-12-31', carry_beta=3., seed=2)

SMP = dict(universe=G10[1:], start='2010-01-01', oos_start='2012-01-01', end='2013-12-31')

def test_replay_and_cost_slope(syn):
    W = record_weights(syn, lambda v, u: {'m': momentum_signal(v, u)}, SMP)['m']
    direct = backtest(syn, momentum_signal, SMP, cost_bps=2., carry=False)
    assert np.array_equal(replay(syn, W, SMP, 2.).daily.to_numpy(), direct.daily.to_numpy())
    cs = cost_sensitivity(lambda c: replay(syn, W, SMP, c), (0, 2, 4))
    assert cs['s_tc'] > 0

def test_sealed_holdout_opens_once(syn, tmp_path):
    s = SealedStore(syn, '2014-01-01')
    with pytest.raises(SealedPeriodError): s.asof('2014-02-01')
    with pytest.raises(SealedPeriodError): backtest(s, momentum_signal, {**SMP, 'end': '2014-03-31'}, carry=False)
    log = ResearchLog(tmp_path/'log.db')
    h = log.append(Hypothesis(data_commit='x', economic_claim='c', dependent_variable='d', predictor='p', null='n', sample=Sample(**SMP)))
    assert open_holdout(s, log, h.id, 'me', 'gate').data_commit == syn.data_commit
    with pytest.raises(SealedPeriodError, match='already opened'): open_holdout(s, log, h.id, 'me', 'again')

def test_mask_is_reversible_and_result_invariant(syn):
    m = Mask.random(G10, seed=11)
    a = backtest(syn, momentum_signal, SMP, carry=False)
    b = backtest(syn, m.wrap_signal(momentum_signal), SMP, carry=False)
    assert np.array_equal(a.daily.to_numpy(), b.daily.to_numpy())
    s = Sample(**SMP)
    assert m.sample(m.sample(s), inverse=True) == s

def test_criteria_fail_without_role_artifacts():
    pc = promotion_criteria(0.4, None)
    assert list(pc.n) == [1, 2, 3, 4, 5, 6] and pc.passed.tolist() == [True] + [False]*5 and pc.evidence.str.len().gt(0).all()

def test_study_smoke(smoke_project):
    rep = smoke_report(smoke_project, 'objective')  # the session's smoke regeneration (conftest)
    for t in ('trials_curve', 'spa', 'lambda_calibration', 'promotion_criteria'):
        assert (rep/'tables'/f'{t}.md').exists() and (rep/'tables'/f'{t}.csv').exists(), t
    assert (rep/'figures'/'trials_curve.png').exists() and (rep/'text'/'commentary.md').read_text().strip()
    s = json.loads((rep/'results'/'summary.json').read_text())
    assert s['profile'] == 'smoke' and s['second_opening_refused'] is True
    c = pd.read_csv(rep/'tables'/'trials_curve.csv')
    assert list(c.N) == list(range(1, len(c) + 1)) and c.dsr.between(0, 1).all() and (c.dsr <= c.psr + 1e-12).all()
    assert len(pd.read_csv(rep/'tables'/'promotion_criteria.csv')) == 6
