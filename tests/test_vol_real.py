"Real CBOE SPX chains: the loader, parity forwards, our implied vols against CBOE's, and the real-data study at smoke."
import gzip, json
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from conftest import quantnotes, smoke_report, SHARED
from quantnotes.vol.cboe import read_cboe, write_cboe_csv, CboeFormatError
from quantnotes.vol.real import chain_quotes, filter_counts, iv_comparison, real_grid, quotes_to_grid, cboe_to_quotes, synthetic_chain

OPT = SHARED/'options'
CBOE = sorted(OPT.glob('SPX_cboe_quotedata_*.csv.gz'))
KATIE = OPT/'spx_2022-04-01_katieD11'/'spx_quotedata20220401_all.csv.gz'
needs_data = pytest.mark.skipif(not CBOE, reason=f'real CBOE SPX chains not found in {OPT} (shared data folder absent)')

@pytest.fixture(scope='module')
def chains():
    return {p.name: read_cboe(p) for p in CBOE}

@needs_data
def test_loader_reads_all_three_chains(chains):
    spots = {'2022-02-04': 4500.5298, '2022-02-18': 4348.8701, '2022-07-12': 3856.28}
    for name, ch in chains.items():
        day = name.split('_')[3]
        assert ch.spot == pytest.approx(spots[day])
        assert f'{ch.quote_time:%Y-%m-%d}' == day            # after-close downloads roll back to the close
        q = ch.quotes
        assert {'C', 'P'} == set(q.cp) and {'SPX', 'SPXW'} == set(q.root)
        assert len(q) == 2 * {'2022-02-04': 10257, '2022-02-18': 9428, '2022-07-12': 9689}[day]
        assert (q.ask[q.ask > 0] >= q.bid[q.ask > 0]).all()
    assert chains[CBOE[0].name].quote_time.hour == 16

@needs_data
def test_headerless_katie_file_is_read_with_inferred_time_and_spot_or_overrides():
    if not KATIE.exists(): pytest.skip(f'{KATIE} not found')
    ch = read_cboe(KATIE)                                    # no spot/date lines: the name has the day, parity the spot
    assert f'{ch.quote_time:%Y-%m-%d %H:%M}' == '2022-04-01 16:00' and sorted(ch.inferred) == ['quote_time', 'spot']
    assert 'file name' in ch.inferred['quote_time'] and 'parity' in ch.inferred['spot']
    assert ch.spot == pytest.approx(4545.86, rel=0.005)      # the official close that day
    assert len(ch.quotes) == 2 * 5543 and ch.quotes.expiry.nunique() == 41 and ch.style == 'european'
    ch2 = read_cboe(KATIE, spot=4545.86, quote_time='2022-04-01 16:00')
    assert ch2.inferred == {} and ch2.spot == 4545.86

def test_2023_header_and_a_resaved_table_through_the_command(tmp_path):
    """The issue's report: a 2023 download's date line stopped `vol repair --cboe`; a re-saved table had no lines."""
    monthlies = [d.strftime('%Y-%m-%d') for d in pd.date_range('2023-02-01', periods=16, freq='WOM-3FRI')]
    syn, _ = synthetic_chain(expiries=monthlies, quote_time='2023-02-07 16:00', seed=5)
    f23 = write_cboe_csv(syn, tmp_path/'spx_quotedata.csv', spot=4164.0, download_time='February 7, 2023 at 5:34 PM EST')
    assert read_cboe(f23).quote_time == pd.Timestamp('2023-02-07 16:00', tz='America/New_York')
    r = quantnotes('vol', 'repair', '--cboe', f23, '--out', tmp_path/'a.npz', timeout=300)
    assert r.returncode == 0 and r.stderr == '' and 'note:' not in r.stdout, r.stdout + r.stderr
    bare = write_cboe_csv(syn, tmp_path/'resaved.csv', spot=None)
    r = quantnotes('vol', 'repair', '--cboe', bare, '--out', tmp_path/'b.npz', timeout=300)
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and r.stderr.startswith('error: '), r.stderr
    assert 'resaved.csv: no quote time' in r.stderr and '--quote-time' in r.stderr and 'file name' in r.stderr
    assert not (tmp_path/'b.npz').exists()
    r = quantnotes('vol', 'repair', '--cboe', bare, '--quote-time', '2023-02-07 16:00', '--out', tmp_path/'b.npz', timeout=300)
    assert r.returncode == 0, r.stderr
    notes = [l for l in r.stdout.splitlines() if l.startswith('note:')]
    assert len(notes) == 1 and 'spot inferred by put-call parity' in notes[0]
    a, b = np.load(tmp_path/'a.npz'), np.load(tmp_path/'b.npz')
    assert np.allclose(a['w'], b['w'])                       # same chain, same repair, whatever the header said
    r = quantnotes('vol', 'repair', '--cboe', bare, '--quote-time', '2023-02-07 16:00', '--style', 'american', '--out', tmp_path/'c.npz', timeout=300)
    assert r.returncode == 0 and r.stdout.count('note:') == 1, r.stdout

def test_malformed_files_name_file_and_line(tmp_path):
    syn, _ = synthetic_chain(expiries=('2022-03-18',))
    good = gzip.decompress(write_cboe_csv(syn, tmp_path/'g.csv.gz', spot=4500.0).read_bytes()).decode().splitlines()
    def bad(name, lines):
        p = tmp_path/name; p.write_text('\n'.join(lines) + '\n'); return p
    cases = {'short.csv': (good[:6] + [good[6].rsplit(',', 2)[0]], 'line 7: expected 22 fields'),
             'hdr.csv': (good[:3] + [good[3].replace('Strike', 'Strik')], 'line 4: unexpected header row'),
             'sym.csv': (good[:4] + [good[4].replace('SPX', 'XX1', 1)], "line 5: column 'Calls'"),
             'empty.csv': (good[:4], 'no option rows'), 'none.csv': (['a,b,c'], "no header row")}
    for name, (lines, msg) in cases.items():
        with pytest.raises(CboeFormatError, match=msg) as e: read_cboe(bad(name, lines))
        assert name in str(e.value)
    (tmp_path/'broken.csv.gz').write_bytes(b'\x1f\x8b' + b'junk')
    with pytest.raises(CboeFormatError, match='broken.csv.gz: corrupt gzip'): read_cboe(tmp_path/'broken.csv.gz')

@needs_data
def test_parity_forwards_are_sensible(chains):
    for name, ch in chains.items():
        q, fw = chain_quotes(ch)
        short = fw[(fw['T'] > 3 / 365) & (fw['T'] < 0.25)]
        assert len(short) >= 5 and short.F_over_spot.sub(1).abs().max() < 0.03, name
        med = fw[(fw['T'] > 3 / 365) & (fw['T'] <= 2)]
        # D in (0.9, 1]; short expiries' slopes carry ~1e-3 of noise around D = 1 (2022 rates were near zero)
        assert med.D.gt(0.9).all() and med.D.le(1.0015).all(), (name, med.D.describe())
        assert sum(filter_counts(q).values()) == len(q)

@needs_data
def test_our_ivs_match_cboe_on_liquid_otm_options(chains):
    for name, ch in chains.items():
        q, _ = chain_quotes(ch)
        c = iv_comparison(q).set_index('subset').loc['liquid']
        assert c.n > 1000
        # intraday snapshot: CBOE's clock is ours, agreement is tight; after close CBOE's clock/rates differ
        tol = 0.1 if '1155EDT' in name else 2.5
        assert c.median_abs_diff_pts < tol and c.p95_abs_diff_pts < 2 * tol, (name, c)

@needs_data
def test_cboe_to_quotes_grid_and_mask():
    w, g = cboe_to_quotes(CBOE[-1])
    assert w.shape == g.shape == (13, 17)
    real = np.isfinite(w)
    assert 0.4 < real.mean() < 0.95 and real[:, 8].all()        # ATM quoted at every maturity
    vol = np.sqrt(w[real] / g.TT[real])
    assert vol.min() > 0.05 and vol.max() < 1.5
    w2, g2 = cboe_to_quotes(CBOE[-1], grid=g)
    assert g2 == g and np.allclose(np.nan_to_num(w2), np.nan_to_num(w))

@needs_data
def test_study_smoke(smoke_project):
    rep = smoke_report(smoke_project, 'vol_surface_real')  # the session's smoke regeneration (conftest)
    for t in ('snapshots', 'iv_vs_cboe', 'forwards', 'rmse_real', 'spread_real', 'inside_real', 'scores_real',
              'learned_vs_classical', 'arbitrage_failures', 'failures_real', 'diagnostics_real', 'floor', 'guarantee_cost'):
        assert (rep/'tables'/f'{t}.md').exists() and (rep/'tables'/f'{t}.csv').exists(), t
    assert (rep/'figures'/'real_surface.png').exists()
    text = (rep/'text'/'commentary.md').read_text()
    assert 'synthetic ranking' in text and 'out of sample' in text and 'The goal' in text
    s = json.loads((rep/'results'/'summary.json').read_text())
    files = [p for p in OPT.rglob('*') if p.is_file() and not p.name.startswith('.')]
    assert len(s['files']) == len(files)                     # every file used or listed with its reason
    assert all(f['status'] == 'used' or f['status'].startswith('not used: ') for f in s['files'])
    assert len(s['snapshots']) >= 4 and set(s['ranking_survives']) == {'interp_best', 'cnn_last', 'svi_beats_interp_regular'}
    assert s['schemes'] == ['regular', 'adversarial', 'expiry', 'wings', 'random30']
    # the learned repair that is arbitrage-free by construction has none before any projection (issue 21, item 4)
    assert s['arbfree_raw_arbitrage'] == {'butterfly_pct': 0.0, 'calendar_pct': 0.0}
    rm = pd.read_csv(rep/'tables'/'rmse_real.csv')
    assert len(rm) == 5 * len(s['snapshots']) and rm.filter(like='_mean').gt(0).all().all()
    claims = json.loads((rep/'results'/'claims.json').read_text())
    assert len(claims) == 3 * 5 * len(s['snapshots']) and all(isinstance(v, bool) for v in claims.values())

def test_study_takes_any_folder_and_any_underlying(tmp_path):
    """A constructed single-stock chain is used (and flagged American); files it cannot use are listed, not dropped."""
    d = tmp_path/'chains'; d.mkdir()
    monthlies = [x.strftime('%Y-%m-%d') for x in pd.date_range('2023-02-01', periods=16, freq='WOM-3FRI')]
    syn, _ = synthetic_chain(spot=150.0, expiries=monthlies, quote_time='2023-02-07 15:34', seed=2, root='AAPL', step=2.5)
    write_cboe_csv(syn, d/'aapl_quotedata_20230207_1534.csv', spot=None)   # no description lines: time from the name
    write_cboe_csv(syn, d/'aapl_quotedata.csv', spot=None)                 # nor any date in the name: listed
    (d/'notes.txt').write_text('not a chain\n')
    r = quantnotes('regenerate', 'vol_surface_real', '--profile', 'smoke', '--param', f'data={d}', '--out', tmp_path/'rep',
                   '--no-progress', timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads((tmp_path/'rep'/'vol_surface_real'/'results'/'summary.json').read_text())
    st = {f['file']: f['status'] for f in s['files']}
    assert st['aapl_quotedata_20230207_1534.csv'] == 'used'
    assert st['aapl_quotedata.csv'].startswith('not used: no quote time') and st['notes.txt'].startswith('not used: no header row')
    (snap,) = s['snapshots'].values()
    assert snap['style'] == 'american' and sorted(snap['inferred']) == ['quote_time', 'spot', 'style']
    assert snap['quote_time'].startswith('2023-02-07 15:34')

DATE_LINES = ['"Date: February 7, 2023 at 5:34 PM EST",Bid: 4164.0,Ask: 4165.2,Size: 1*1,Volume: 0',
              'Date: February 7, 2023 at 5:34 PM EST,Bid: 4164.0,Ask: 4165.2', '"Date: February 7, 2023, 5:34 PM EST",,,,',
              '"Date: Feb 7 2023, 5:34:00 PM ET"', 'Date: February 7, 2023 at 4:34 PM CST', 'Date: 2023-02-07 17:34',
              'Date: 2023-02-07T22:34:00Z', '"Date: Tuesday, February 7, 2023 at 5:34PM EST"']

@pytest.mark.parametrize('line', DATE_LINES)
def test_header_variants_read_to_the_same_time(tmp_path, line):
    syn, _ = synthetic_chain(expiries=('2023-03-17',), quote_time='2023-02-07 16:00')
    ch = read_cboe(write_cboe_csv(syn, tmp_path/'spx_quotedata.csv', spot=4164.5, date_line=line))
    assert ch.download_time == pd.Timestamp('2023-02-07 17:34', tz='America/New_York')
    assert ch.quote_time == pd.Timestamp('2023-02-07 16:00', tz='America/New_York') and ch.spot == 4164.5 and ch.inferred == {}

def test_old_quotedata_dat_layout(tmp_path):
    lines = ['SPX (S&P 500 INDEX),2684.79,+2.17,', 'Dec 28 2017 @ 11:12 ET,',
             'Calls,Last Sale,Net,Bid,Ask,Vol,Open Int,Puts,Last Sale,Net,Bid,Ask,Vol,Open Int,',
             '18 Jan 2650.00 (SPX1819A2650),60.1,0.0,59.5,61.0,10,2673,18 Jan 2650.00 (SPX1819M2650),22.0,0.0,21.6,22.4,5,10911,',
             '18 Jan 2650.00 (SPX1819A2650-E),60.0,0.0,59.0,61.5,0,0,18 Jan 2650.00 (SPX1819M2650-E),22.0,0.0,21.0,22.9,0,0,']
    (tmp_path/'quotedata.dat').write_text('\n'.join(lines) + '\n')
    ch = read_cboe(tmp_path/'quotedata.dat')
    assert ch.spot == 2684.79 and ch.quote_time == pd.Timestamp('2017-12-28 11:12', tz='America/New_York')
    assert len(ch.quotes) == 2 and set(ch.quotes.expiry.dt.strftime('%Y-%m-%d')) == {'2018-01-19'} and set(ch.quotes.settlement) == {'AM'}
    (tmp_path/'bad.dat').write_text('\n'.join(lines[:3] + [lines[3].replace('(SPX1819A2650)', '(SPX18)')]) + '\n')
    with pytest.raises(CboeFormatError, match=r"bad.dat, line 4: column 'Calls'"): read_cboe(tmp_path/'bad.dat')
