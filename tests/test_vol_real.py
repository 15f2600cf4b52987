"Real CBOE SPX chains: the loader, parity forwards, our implied vols against CBOE's, and the real-data study at smoke."
import gzip, json
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from conftest import quantnotes, SHARED
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
def test_headerless_katie_file_is_rejected_clearly_or_read_with_overrides():
    if not KATIE.exists(): pytest.skip(f'{KATIE} not found')
    with pytest.raises(CboeFormatError, match='no spot .* pass spot= and quote_time='): read_cboe(KATIE)
    ch = read_cboe(KATIE, spot=4545.86, quote_time='2022-04-01 16:00')
    assert len(ch.quotes) == 2 * 5543 and ch.quotes.expiry.nunique() == 41

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
def test_study_smoke(tmp_path):
    r = quantnotes('regenerate', 'vol_surface_real', '--profile', 'smoke', '--out', tmp_path, '--no-progress', timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = tmp_path/'vol_surface_real'
    for t in ('snapshots', 'iv_vs_cboe', 'forwards', 'rmse_real', 'diagnostics_real'):
        assert (rep/'tables'/f'{t}.md').exists() and (rep/'tables'/f'{t}.csv').exists(), t
    assert (rep/'figures'/'real_surface.png').exists()
    assert 'synthetic ranking' in (rep/'text'/'commentary.md').read_text()
    s = json.loads((rep/'results'/'summary.json').read_text())
    assert len(s['snapshots']) == 3 and set(s['ranking_survives']) == {'interp_best', 'cnn_last', 'svi_beats_interp_regular'}
    rm = pd.read_csv(rep/'tables'/'rmse_real.csv')
    assert len(rm) == 6 and rm.filter(like='_mean').gt(0).all().all()
