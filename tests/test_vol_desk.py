"Desk scores (price error over the half spread, share inside the bid-ask) and structured hiding, on constructed and real chains."
import numpy as np
import pandas as pd
import pytest
from conftest import SHARED
from quantnotes.vol.grid import Grid
from quantnotes.vol.families import black76, implied_vol
from quantnotes.vol.quotes import MIN_QUOTES
from quantnotes.vol.desk import HIDING, hiding_masks, quote_cells, surface_at, desk_scores
from quantnotes.vol.cboe import read_cboe, write_cboe_csv
from quantnotes.vol.real import synthetic_chain, chain_quotes, real_grid, quotes_to_grid

CBOE = sorted((SHARED/'options').glob('SPX_cboe_quotedata_*.csv.gz'))
needs_data = pytest.mark.skipif(not CBOE, reason=f"real CBOE SPX chains not found in {SHARED/'options'} (shared data folder absent)")

@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    "A constructed single-stock chain (16 monthly expiries) read back through the loader: quotes, grid, surface, real mask."
    monthlies = [d.strftime('%Y-%m-%d') for d in pd.date_range('2023-02-01', periods=16, freq='WOM-3FRI')]
    syn, _ = synthetic_chain(spot=150.0, expiries=monthlies, quote_time='2023-02-07 16:00', seed=1, root='AAPL', step=2.5)
    ch = read_cboe(write_cboe_csv(syn, tmp_path_factory.mktemp('c')/'aapl_quotedata_2023-02-07.csv', spot=150.0))
    q, _ = chain_quotes(ch)
    g = real_grid(q); w = quotes_to_grid(q, g)
    return q, g, w, np.isfinite(w)

def test_scores_match_a_per_quote_hand_computation(chain):
    q, g, w, real = chain
    qc = quote_cells(q, g, real)
    assert len(qc) > 100 and set(qc.cp) == {'C', 'P'}
    rng = np.random.default_rng(0)
    rep = np.where(real, w, np.nanmean(w, axis=1, keepdims=True)) * rng.uniform(0.9, 1.1, size=(3, *g.shape))
    hidden = rng.random((3, *g.shape)) < 0.5
    s = desk_scores(rep, g, qc, hidden & real)
    for i in range(3):  # one repetition at a time, quote by quote, with np.interp along the row
        err, inside, sq = [], [], []
        for r in qc.itertuples():
            if not hidden[i, r.row, r.col]: continue
            wq = np.interp(r.k, g.k, rep[i, r.row])
            px = float(black76(r.F, r.strike, r.T, np.sqrt(wq / r.T), r.cp, r.D))
            err.append(abs(px - r.mid) / ((r.ask - r.bid) / 2)); inside.append(r.bid <= px <= r.ask)
            sq.append((np.sqrt(wq / r.T) - r.iv) ** 2)
        assert s['spread_err'][i] == pytest.approx(np.mean(err), rel=1e-9)
        assert s['inside'][i] == pytest.approx(np.mean(inside)) and s['n_hidden'][i] == len(err)
        assert s['quote_vol_rmse'][i] == pytest.approx(np.sqrt(np.mean(sq)), rel=1e-9)

def test_mid_repair_is_exact_on_nodes():
    g = Grid(np.array([0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0]), np.linspace(-0.35, 0.35, 8))
    iv = 0.25 - 0.1 * g.KK + 0.2 * g.KK ** 2
    F, D = 180.0, 0.97
    cp = np.where(g.KK > 0, 'C', 'P'); K = F * np.exp(g.KK)
    mid = black76(F, K, g.TT, iv, cp, D)
    q = pd.DataFrame(dict(T=g.TT.ravel(), k=g.KK.ravel(), F=F, D=D, strike=K.ravel(), cp=cp.ravel(), bid=(mid * 0.99).ravel(),
                          ask=(mid * 1.01).ravel(), mid=mid.ravel(), iv=iv.ravel(), reason='used'))
    qc = quote_cells(q, g)
    s = desk_scores((iv ** 2 * g.TT)[None], g, qc, np.ones((1, *g.shape), bool))
    assert s['spread_err'][0] < 1e-8 and s['inside'][0] == 1.0 and s['quote_vol_rmse'][0] < 1e-12
    assert np.allclose(implied_vol(mid, F, K, g.TT, cp, D), iv, atol=1e-6)

def test_structured_masks_compose_with_a_real_mask(chain):
    _, g, _, real = chain
    for kind in HIDING:
        m = hiding_masks(kind, 12, g, seed=3, real=real)
        assert m.shape == (12, *g.shape) and m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0}
        keep = (m > 0.5) & real
        assert (keep.sum((1, 2)) >= min(MIN_QUOTES, real.sum())).all(), kind
        assert np.array_equal(m, hiding_masks(kind, 12, g, seed=3, real=real))
        assert not np.array_equal(m, hiding_masks(kind, 12, g, seed=4, real=real)), kind
    e = hiding_masks('expiry', 40, g, seed=5, real=real) < 0.5
    withdrawn = e.all(2)
    assert (withdrawn.sum(1) == 1).all() and real[withdrawn.argmax(1)].any(1).all()  # a whole quoted expiry, each time
    wg = hiding_masks('wings', 40, g, seed=6) < 0.5
    assert (wg[:, :, np.abs(g.k) > 0.25 + 1e-9].all()) and not wg[:, :, np.abs(g.k) < 0.1 - 1e-9].any()

@needs_data
def test_real_chain_floor_and_scores():
    ch = read_cboe(CBOE[-1])
    q, _ = chain_quotes(ch)
    g = real_grid(q); w = quotes_to_grid(q, g); real = np.isfinite(w)
    qc = quote_cells(q, g, real)
    assert len(qc) > 1000 and qc.groupby(['row', 'col']).size().index.size == real.sum()
    floor = desk_scores(w, g, qc, real[None])                      # the real grid read back at every quote
    assert floor['quote_vol_rmse'][0] < 0.01 and floor['inside'][0] > 0.3
    off = desk_scores(np.where(real, w, 0) * 1.1 + 1e-4, g, qc, real[None])
    assert off['spread_err'][0] > floor['spread_err'][0] and off['inside'][0] < floor['inside'][0]
