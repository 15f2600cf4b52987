"""Our queue replay against hftbacktest's on the same real GOOG book and the same posts (see `22a_execution_queue`).

hftbacktest 2.4.4 pins numpy<2.3 and this project runs numpy 2.4, so the two halves run in two environments:

    .venv/bin/python benchmarks/execution_hftbacktest.py ours /tmp/hbt_slice.npz        # our fills + the book slice
    python3.11 -m venv /tmp/hbt && /tmp/hbt/bin/pip install hftbacktest==2.4.4
    /tmp/hbt/bin/python benchmarks/execution_hftbacktest.py hbt /tmp/hbt_slice.npz     # hftbacktest's fills, compared

`ours`: 96 posts of 100 shares at the touch (alternating sides, one every 75 s from 10:00 to 12:00, each resting
60 s), filled by `LimitOrderExecutionEnv._rest` under each queue model; saves the posts, the fills and the book slice.
`hbt`: converts the slice to hftbacktest's market-by-price events (a depth event per changed price level, a trade
event per visible or hidden execution), replays the same posts with its no-partial-fill exchange and its risk-averse
and power-law (n=3) queue models, and prints the agreement and the time per post. Needs the shared LOBSTER sample.
"""
import sys, time
import numpy as np

def ours(path):
    "Our fills under each queue model, and the book slice for the other half."
    from pathlib import Path
    from quantnotes.execution.lobster import load_lobster, find_lobster_pair
    from quantnotes.execution.queue import LimitOrderExecutionEnv
    t_load = time.perf_counter()
    book = load_lobster(*find_lobster_pair(Path(__file__).resolve().parents[2]/'shared'/'data'/'lobster', 'GOOG', 10), 10)
    print(f'load {time.perf_counter() - t_load:.1f} s, {len(book.time)} events')
    T0, T1, GAP, WIN, QTY = 36_000.0, 43_200.0, 75.0, 60.0, 100
    posts = np.arange(T0 + 5, T1 - WIN - 5, GAP)
    sides = np.where(np.arange(len(posts)) % 2 == 0, 'sell', 'buy')
    out = {}
    for model in ('exact', 'pessimistic', 'proportional'):
        envs = {s: LimitOrderExecutionEnv(book, queue_model=model, side=s, trade_through='full') for s in ('sell', 'buy')}  # hftbacktest's rule
        fills, prices = [], []
        t0 = time.perf_counter()
        for t, s in zip(posts, sides):
            e = envs[s]; e._t_dec = None
            a = int(np.searchsorted(book.time, t, 'right')) - 1
            p = int(e._pas_touch[a])
            b_ = int(np.searchsorted(book.time, t + WIN, 'right')) - 1
            f, took = e._rest(p, QTY, float(t), b_)
            fills.append(f); prices.append(p)
        out[model] = np.array(fills); out['price'] = np.array(prices)
        print(model, f'{1e3 * (time.perf_counter() - t0) / len(posts):.3f} ms per post; mean fill {np.mean(fills):.1f} of {QTY}')
    i0 = int(np.searchsorted(book.time, T0, 'right')) - 1; i1 = int(np.searchsorted(book.time, T1, 'right'))
    np.savez(path, time=book.time[i0:i1], etype=book.etype[i0:i1], order_id=book.order_id[i0:i1],
             size=book.size[i0:i1], price=book.price[i0:i1], direction=book.direction[i0:i1], ask_px=book.ask_px[i0:i1],
             ask_sz=book.ask_sz[i0:i1], bid_px=book.bid_px[i0:i1], bid_sz=book.bid_sz[i0:i1], posts=posts, sides=sides,
             win=WIN, qty=QTY, **{f'ours_{k}': v for k, v in out.items()})
    print('rows in slice', i1 - i0)

def hbt(path):
    "hftbacktest's fills on the converted slice, compared with ours."
    import hftbacktest as H
    from hftbacktest import (BacktestAsset, HashMapMarketDepthBacktest, DEPTH_EVENT, TRADE_EVENT, EXCH_EVENT, LOCAL_EVENT,
                             BUY_EVENT, SELL_EVENT, GTC, LIMIT, event_dtype)
    d = np.load(path)
    t_c = time.perf_counter()
    tm, et, sz, px, dr = d['time'], d['etype'], d['size'], d['price'], d['direction']
    AP, AS, BP, BS = d['ask_px'], d['ask_sz'], d['bid_px'], d['bid_sz']
    ev = []
    ns = lambda t: int(round(t * 1e9))
    F = EXCH_EVENT | LOCAL_EVENT
    t0 = ns(tm[0])
    for l in range(AP.shape[1]):  # the book before the slice as depth events
        ev.append((F | DEPTH_EVENT | SELL_EVENT, t0, t0, AP[0, l] / 1e4, float(AS[0, l]), 0, 0, 0.0))
        ev.append((F | DEPTH_EVENT | BUY_EVENT, t0, t0, BP[0, l] / 1e4, float(BS[0, l]), 0, 0, 0.0))
    for i in range(1, len(tm)):
        t = ns(tm[i])
        if et[i] in (4, 5):  # an execution of a resting order of direction dr: the aggressor is on the other side
            ev.append((F | TRADE_EVENT | (BUY_EVENT if dr[i] == -1 else SELL_EVENT), t, t, px[i] / 1e4, float(sz[i]), 0, 0, 0.0))
        for (P, S, flag) in ((AP, AS, SELL_EVENT), (BP, BS, BUY_EVENT)):
            old = dict(zip(P[i - 1].tolist(), S[i - 1].tolist())); new = dict(zip(P[i].tolist(), S[i].tolist()))
            lo, hi = min(P[i]), max(P[i])
            for p, q in new.items():
                if old.get(p) != q: ev.append((F | DEPTH_EVENT | flag, t, t, p / 1e4, float(q), 0, 0, 0.0))
            for p in old:
                # a price that left the file's view on the far side is not known to be empty; any other is
                if p not in new and (p <= hi if flag == SELL_EVENT else p >= lo): ev.append((F | DEPTH_EVENT | flag, t, t, p / 1e4, 0.0, 0, 0, 0.0))
    arr = np.array(ev, dtype=event_dtype)
    conv_s = time.perf_counter() - t_c
    print(f'converted {len(tm)} LOBSTER rows to {len(arr)} hftbacktest events in {conv_s:.1f} s')
    posts, sides, WIN, QTY = d['posts'], d['sides'], float(d['win']), float(d['qty'])
    res = {}
    QMS, EXCH = ('risk_adverse_queue_model', 'power_prob_queue_model3'), 'no_partial_fill_exchange'
    for qm in QMS:
        asset = (BacktestAsset().data([arr]).linear_asset(1.0).constant_order_latency(1000, 1000).tick_size(0.01).lot_size(1.0)
                 .trading_value_fee_model(0.0, 0.0))
        asset = getattr(asset, EXCH)()
        asset = getattr(asset, qm)(*(() if qm == 'risk_adverse_queue_model' else (3.0,)))
        hbt = HashMapMarketDepthBacktest([asset])
        fills = []
        t_r = time.perf_counter()
        for k, (t, s) in enumerate(zip(posts, sides)):
            hbt.elapse(ns(t) - hbt.current_timestamp)
            dep = hbt.depth(0)
            p = dep.best_ask if s == 'sell' else dep.best_bid
            oid = k + 1
            (hbt.submit_sell_order if s == 'sell' else hbt.submit_buy_order)(0, oid, p, QTY, GTC, LIMIT, False)
            hbt.elapse(ns(t + WIN) - hbt.current_timestamp)
            o = hbt.orders(0).get(oid)
            fills.append(QTY - o.leaves_qty if o is not None else np.nan)
            if o is not None and o.cancellable: hbt.cancel(0, oid, True)
            hbt.clear_inactive_orders(0)
        run_s = time.perf_counter() - t_r
        hbt.close()
        res[qm] = np.array(fills)
        print(f'{qm}: {1e3 * run_s / len(posts):.2f} ms per post (whole slice replayed: {run_s:.2f} s); mean fill {np.nanmean(fills):.1f}')
    ours = {m: d[f'ours_{m}'] for m in ('exact', 'pessimistic', 'proportional')}
    for qm, f in res.items():
        for m, o in ours.items():
            agree = np.mean(f == o); mad = np.mean(np.abs(f - o))
            print(f'  hftbacktest {qm} vs ours {m}: same fill in {int((f == o).sum())} of {len(f)} posts, mean |diff| {mad:.1f} shares, corr {np.corrcoef(f, o)[0, 1]:.3f}')

if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] not in ('ours', 'hbt'):
        print('usage: execution_hftbacktest.py ours|hbt SLICE.npz', file=sys.stderr); sys.exit(2)
    {'ours': ours, 'hbt': hbt}[sys.argv[1]](sys.argv[2])
