"The execution study end to end (smoke profile through the real CLI) and the `quantnotes execution` commands."
import json
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from conftest import quantnotes, smoke_report, SHARED

LOBSTER = SHARED/'lobster'
TABLES = ['headline', 'imbalance_quintiles', 'size_sweep', 'vol_regimes', 'held_out', 'impact_rules',
          'paired_differences', 'sanity_ladder', 'lambda_sweep', 'book_stats', 'calibration',
          'queue_validation', 'agents_ladder', 'passive_table', 'passive_tests', 'agent_behaviour', 'passive_tuning']
POLICIES = {'twap', 'ac', 'ppo'}

@pytest.fixture(scope='module')
def report(smoke_project):
    return smoke_report(smoke_project, 'execution')  # the session's smoke regeneration (conftest)

def table(rep, name): return pd.read_csv(rep/'tables'/f'{name}.csv')

def test_every_output_exists(report):
    man = json.loads((report/'manifest.json').read_text())
    assert man['status'] == 'ok' and man['profile'] == 'smoke'
    for t in TABLES:
        assert (report/'tables'/f'{t}.md').exists() and (report/'tables'/f'{t}.csv').exists(), t
    assert list((report/'figures').glob('*.png'))
    for t in ('commentary', 'writeup_claims', 'provenance', 'passive_commentary'): assert (report/'text'/f'{t}.md').read_text().strip(), t
    s = json.loads((report/'results'/'summary.json').read_text())
    assert s['profile'] == 'smoke' and len(s['sizes']) == 4 and len(s['claims']) >= 6

def test_headline_and_paired_differences_are_consistent(report):
    h = table(report, 'headline')
    assert set(h.policy) == POLICIES
    assert h.fill_rate.between(0, 1).all()
    assert (h.objective_bps >= h.mean_bps - 1e-9).all()           # objective = IS + a non-negative penalty
    assert np.allclose(h.objective_bps, h.mean_bps + h.penalty_bps, atol=1e-6)
    assert 'in-sample' in h.protocol.iloc[0]
    p = table(report, 'paired_differences')
    assert set(p.measure) == {'IS', 'objective'} and {'ac', 'ppo'} <= set(p.policy)
    assert ((p.ci_low <= p.mean_diff + 1e-12) & (p.mean_diff <= p.ci_high + 1e-12)).all()
    # the paired mean difference equals the difference of the headline means (same episodes)
    hm = h.set_index('policy')
    d = p.query("policy == 'ppo' and baseline == 'twap' and measure == 'IS'").mean_diff.iloc[0]
    assert abs(d - (hm.loc['ppo', 'mean_bps'] - hm.loc['twap', 'mean_bps'])) < 1e-9

def test_the_other_tables(report):
    lad = table(report, 'sanity_ladder')
    assert lad.config.nunique() == 2 and lad.passed.dtype == bool
    by = {k: g.passed.tolist() for k, g in lad.groupby('config')}
    assert len(by['narrow noise (log_std_init=-2)']) == 3
    wu = by['write-up (log_std_init=0)']  # at smoke and quick: stops at its first failing check, which ends its rows
    assert all(wu[:-1]) and (len(wu) == 3 or not wu[-1])
    sz = table(report, 'size_sweep')
    assert list(sz.writeup_size) == [5_000, 20_000, 50_000, 200_000] and sz.parent_size.is_monotonic_increasing
    assert sz.filter(like='_fill').stack().between(0, 1).all()
    vr = table(report, 'vol_regimes')
    assert list(vr.regime) == ['low', 'mid', 'high'] and (vr.rv_from.diff().dropna() > 0).all()
    ho = table(report, 'held_out')
    assert POLICIES <= set(ho.policy) and ho.protocol.str.contains('train').all() and ho.fill_rate.between(0, 1).all()
    imp = table(report, 'impact_rules')
    assert set(imp.impact) == {'none', 'transient', 'persistent'} and len(imp) == 9
    tw = imp[imp.policy == 'twap'].set_index('impact')
    assert tw.loc['none', 'objective_bps'] <= tw.loc['persistent', 'objective_bps'] + 1e-9   # depletion never helps TWAP
    lam = table(report, 'lambda_sweep')
    assert lam['lambda'].is_monotonic_increasing and lam.kappa_T.is_monotonic_increasing and lam.kappa_T.iloc[0] == 0
    q = table(report, 'imbalance_quintiles')
    assert list(q.quintile) == [f'Q{i}' for i in range(1, 6)]
    assert np.allclose(q[[f'{p}_volume_pct' for p in POLICIES]].sum(), 100)
    bs = table(report, 'book_stats')
    assert any(c.startswith('synthetic') for c in bs.columns)
    if LOBSTER.is_dir(): assert any(c.startswith('real GOOG') for c in bs.columns)
    cal = table(report, 'calibration').set_index('parameter')
    assert cal.loc['sigma', 'value'] > 0 and cal.loc['eta', 'value'] > 0

def test_part_two_must_complete_fee_aware_table(report):
    t = table(report, 'passive_table')
    base = {'taker_twap', 'passive_twap', 'taker_ac', 'passive_ac'}
    assert base | {'ppo'} <= set(t.policy) and t.setting.str.startswith('held-out').any() and t.setting.str.startswith('cross-ticker').any()
    assert np.allclose(t.sold, 1.0)                                   # must-complete: everyone sells the whole order
    assert (t.policy_fill_rate <= 1 + 1e-12).all() and np.allclose(t.cost_bps, t.is_bps + t.fee_bps, atol=1e-9)
    tw = t.set_index(['setting', 'policy'])
    assert tw.loc[('held-out', 'taker_twap'), 'maker_share'] == 0 and tw.loc[('held-out', 'passive_twap'), 'maker_share'] > 0
    assert tw.loc[('held-out, fees off', 'taker_twap'), 'fee_bps'] == 0 < tw.loc[('held-out', 'taker_twap'), 'fee_bps']
    p = table(report, 'passive_tests')
    assert (p.p_bh >= p.p_wilcoxon - 1e-12).all() and ((p.ci_low <= p.mean_diff + 1e-12) & (p.mean_diff <= p.ci_high + 1e-12)).all()
    assert p.significant.dtype == bool and (p.significant == (p.p_bh <= 0.05)).all()
    assert {'passive_twap', 'taker_twap', 'passive_twap_best', 'agent_start'} == set(p.baseline)
    # the paired mean difference is the difference of the table's means (same episodes)
    d = p.query("setting == 'held-out' and policy == 'passive_twap' and baseline == 'taker_twap'").mean_diff.iloc[0]
    assert abs(d - (tw.loc[('held-out', 'passive_twap'), 'cost_bps'] - tw.loc[('held-out', 'taker_twap'), 'cost_bps'])) < 1e-9
    v = table(report, 'queue_validation')
    assert (v.negative_ahead == 0).all() and len(v) == 2
    txt = (report/'text'/'passive_commentary.md').read_text()
    assert 'The goal' in txt and ('**met**' in txt or '**not met**' in txt)

def test_the_best_passive_baseline_is_chosen_on_the_training_part(report):
    from quantnotes.execution.passive import PASSIVE_MODES
    tu = table(report, 'passive_tuning').set_index('setting')
    t = table(report, 'passive_table').set_index(['setting', 'policy'])
    assert set(tu.index) == set(t.index.get_level_values(0)) and set(tu.chosen_mode) <= set(PASSIVE_MODES)
    for setting, r in tu.iterrows():
        costs = {m: r[f'{m}_train_cost_bps'] for m in PASSIVE_MODES}
        assert r.chosen_mode == min(costs, key=costs.get)            # the cheapest on the training episodes
        if r.chosen_mode == 'passive':                               # then it is passive TWAP itself, episode for episode
            assert abs(t.loc[(setting, 'passive_twap_best'), 'cost_bps'] - t.loc[(setting, 'passive_twap'), 'cost_bps']) < 1e-9

def test_claims_are_booleans_for_a_seed_sweep(report):
    c = json.loads((report/'results'/'claims.json').read_text())
    assert c and all(isinstance(v, bool) for v in c.values())
    for k in ('passive TWAP beats taker TWAP, held-out', 'ppo beats passive TWAP, held-out', 'ppo passes the sanity ladder',
              'ppo beats its untrained start, held-out', 'goal: a learned policy beats passive TWAP, held-out'):
        assert k in c, k
    assert sum(k.startswith('part 1: ') for k in c) >= 6
    p = table(report, 'passive_tests').set_index(['setting', 'policy', 'baseline'])
    r = p.loc[('held-out', 'passive_twap', 'taker_twap')]
    assert c['passive TWAP beats taker TWAP, held-out'] == bool(r.mean_diff < 0 and r.p_bh < 0.05)
    if c['goal: a learned policy beats passive TWAP, held-out']:   # a claim only for an agent that passed its ladder
        assert any(c[f'{a} passes the sanity ladder'] and c[f'{a} beats passive TWAP, held-out'] for a in ('ppo', 'recurrent_ppo') if f'{a} passes the sanity ladder' in c)

def test_writeup_claims_are_generated(report):
    txt = (report/'text'/'writeup_claims.md').read_text()
    for key in ('PPO beats TWAP', 'grows with parent size', 'high-volatility', 'imbalance'): assert key in txt
    assert txt.count('**agrees**') + txt.count('**disagrees**') + txt.count('**not assessable**') >= 6
    assert '{' not in (report/'text'/'commentary.md').read_text()


# --- the CLI ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def synthetic_pair(tmp_path_factory):
    from quantnotes.execution.synthetic import simulate_lobster, write_lobster
    d = tmp_path_factory.mktemp('lob')
    return write_lobster(simulate_lobster(1800, seed=5), d)

@pytest.fixture(scope='module')
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp('model')/'agent.zip'
    r = quantnotes('execution', 'train', '--out', out, '--synthetic', '--synthetic-duration-s', 1200, '--timesteps', 256,
                   '--parent-size', 800, '--horizon-s', 120, '--n-steps', 5, '--seed', 1, '--no-progress')
    assert r.returncode == 0, r.stderr
    assert out.exists() and 'saved' in r.stdout
    return out

def test_train_on_a_lobster_pair(synthetic_pair, tmp_path):
    m, o = synthetic_pair
    r = quantnotes('execution', 'train', '--out', tmp_path/'b.zip', '--message', m, '--orderbook', o, '--timesteps', 128,
                   '--parent-size', 500, '--horizon-s', 60, '--n-steps', 4, '--no-progress')
    assert r.returncode == 0, r.stderr
    assert (tmp_path/'b.zip').exists()

def test_evaluate_json(synthetic_pair, model):
    m, o = synthetic_pair
    r = quantnotes('execution', 'evaluate', '--message', m, '--orderbook', o, '--model', model, '--episodes', 20, '--json')
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert set(j['policies']) == POLICIES and j['task']['n_steps'] == 5 and j['task']['parent_size'] == 800
    for s in j['policies'].values():
        assert 0 <= s['fill_rate'] <= 1 and s['n'] == 20 and s['objective_bps'] >= s['mean_bps'] - 1e-9
    for d in j['paired_differences']:
        assert d['baseline'] == 'twap' and d['ci_low'] <= d['mean_diff'] <= d['ci_high']
    t = quantnotes('execution', 'evaluate', '--message', m, '--orderbook', o, '--policies', 'twap,ac', '--episodes', 10)
    assert t.returncode == 0 and 'fill_rate' in t.stdout and 'paired differences' in t.stdout

@pytest.mark.parametrize('args,msg', [
    (['--policies', 'twap,ppo'], '--model'),
    (['--policies', 'twap,vwap'], 'unknown policy vwap'),
    (['--model', 'MISSING.zip'], 'MISSING.zip: no such model file'),
    (['--policies', 'twap', '--horizon-s', '100000'], 'shorter than the horizon'),
])
def test_evaluate_errors(synthetic_pair, args, msg):
    m, o = synthetic_pair
    r = quantnotes('execution', 'evaluate', '--message', m, '--orderbook', o, *args)
    assert r.returncode == 2 and msg in r.stderr, r.stderr

def test_bad_files_are_named(synthetic_pair, model, tmp_path):
    m, o = synthetic_pair
    r = quantnotes('execution', 'evaluate', '--message', tmp_path/'nope_message_10.csv', '--orderbook', o, '--policies', 'twap')
    assert r.returncode == 2 and 'nope_message_10.csv: no such file' in r.stderr
    bad = tmp_path/'SYN_2012-06-21_0_1_orderbook_10.csv'; bad.write_text('1,2,3\n4,5,6\n')
    r = quantnotes('execution', 'evaluate', '--message', m, '--orderbook', bad, '--policies', 'twap')
    assert r.returncode == 2 and 'bad LOBSTER input' in r.stderr and bad.name in r.stderr
    junk = tmp_path/'junk.zip'; junk.write_bytes(b'no')
    r = quantnotes('execution', 'evaluate', '--message', m, '--orderbook', o, '--model', junk)
    assert r.returncode == 2 and 'junk.zip: not a readable PPO model' in r.stderr
    r = quantnotes('execution', 'evaluate', '--message', m, '--orderbook', o, '--model', model, '--n-steps', 7)
    assert r.returncode == 2 and 'trained with 5 decisions' in r.stderr
    r = quantnotes('execution', 'train', '--out', tmp_path/'x.zip', '--message', m, '--no-progress')
    assert r.returncode == 2 and '--orderbook' in r.stderr

def test_evaluate_on_real_goog_level10():
    if not LOBSTER.is_dir(): pytest.skip(f'real LOBSTER sample not found at {LOBSTER}; the synthetic tests cover the code')
    from quantnotes.execution.lobster import find_lobster_pair
    m, o = find_lobster_pair(LOBSTER, 'GOOG', 10)
    r = quantnotes('execution', 'evaluate', '--message', m, '--orderbook', o, '--policies', 'twap,ac', '--episodes', 50,
                   '--parent-size', 2000, '--json')
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert 'GOOG' in j['task']['book'] and set(j['policies']) == {'twap', 'ac'}
    assert j['policies']['twap']['fill_rate'] == 1.0 and j['policies']['twap']['mean_bps'] > 0

def test_train_reports_held_out_and_evaluate_flags_unsold(synthetic_pair, tmp_path):
    m, o = synthetic_pair
    r = quantnotes('execution', 'train', '--out', tmp_path/'c.zip', '--message', m, '--orderbook', o, '--timesteps', 128,
                   '--parent-size', 500, '--horizon-s', 60, '--n-steps', 4, '--no-progress')
    assert r.returncode == 0, r.stderr
    assert 'completion sweep' in r.stdout and 'held-out check' in r.stdout and 'never trained on' in r.stdout, r.stdout
    args = ('execution', 'evaluate', '--message', m, '--orderbook', o, '--policies', 'twap', '--parent-size', 40_000,
            '--horizon-s', 120, '--n-steps', 5, '--episodes', 5)
    r = quantnotes(*args)   # far more than the visible book holds: TWAP cannot sell it all itself
    assert r.returncode == 0 and 'WARNING: twap left' in r.stdout and 'swept through the book' in r.stdout, r.stdout
    j = json.loads(quantnotes(*args, '--json', '--completion', 'penalty').stdout)
    assert j['task']['completion'] == 'penalty' and j['flags'] and 'never sold' in j['flags'][0]
    assert j['policies']['twap']['objective_bps'] > j['policies']['twap']['mean_bps']   # the penalty counts the rest
