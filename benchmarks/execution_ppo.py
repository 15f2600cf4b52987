"""PPO training time against the write-up's own set-up, side by side on the same book, in one run.

The write-up's `env_lobster.py` and `train_ppo.py` are cut out of the write-up text in ../shared/seed at run time (never
stored in this repository) and run in a child process in a temporary folder: its env, `DummyVecEnv` of one env, its
PPO hyperparameters, `model.learn(total_timesteps=N)` timed. Its `make_env` reads `lobster/AAPL/AAPL_message.csv` and
`..._orderbook.csv`; the GOOG 2012-06-21 level-10 day is placed under those names (its env reads ten levels; the AAPL
sample here has one). The only changes to its script: `model.learn` gets `--timesteps` and is timed, `model.save` is
dropped, and torch gets `--threads` threads, as ours does. Then ours trains on the same day and the same task (read
from its `make_env`) with `quantnotes.execution.ppo.train_ppo`: the same hyperparameters, with `--n-envs` copies (our
default layout) and with one copy (the write-up's layout). Printed: each training time and the ratios. Without
../shared/seed only our times are printed, and the report says that no ratio was possible.

`--quality` adds the older check that vectorising does not cost learning quality (the Almgren-Chriss model env and a
synthetic LOBSTER book, each trained with `--n-envs` copies and with one, evaluated on 1,000 paired episodes).

    .venv/bin/python benchmarks/execution_ppo.py [--timesteps 50000] [--threads 1] [--n-envs 8] [--quality]
"""
import argparse, ast, gzip, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from execution_env import SEED_DIR, DATA, ENV_MARKER, PPO_MARKER, writeup_script, writeup_task, _need

from quantnotes.execution.lobster import load_lobster, find_lobster_pair, LobsterError
from quantnotes.execution.env import LobsterExecutionEnv, ExecConfig
from quantnotes.execution.ppo import PPOConfig, PPOPolicy, train_ppo

def writeup_driver(ppo_src:str, timesteps:int, threads:int) -> str:
    "The write-up's train_ppo.py with `model.learn` timed at `timesteps` and `model.save` dropped (nothing else changed)."
    tree = ast.parse(ppo_src)
    def is_call(node, attr):
        return isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and getattr(node.value.func, 'attr', '') == attr
    _need(any(is_call(n, 'learn') for n in tree.body), 'train_ppo.py has no top-level model.learn(...) call')
    body = [n for n in tree.body if not (is_call(n, 'learn') or is_call(n, 'save'))]
    src = ast.unparse(ast.Module(body=body, type_ignores=[]))
    return (f'import time, torch\ntorch.set_num_threads({threads})\n' + src +
            f'\n_t = time.perf_counter()\nmodel.learn(total_timesteps={timesteps})\n'
            "print(f'WRITEUP_LEARN_SECONDS {time.perf_counter() - _t:.3f}')\n")

def run_writeup(env_src:str, ppo_src:str, msg:Path, ob:Path, timesteps:int, threads:int) -> tuple[float, float]:
    "(learn seconds, whole-script wall seconds) of the write-up's set-up in a child process."
    with tempfile.TemporaryDirectory(prefix='qn-bench-ppo-') as d:
        d = Path(d); (d/'lobster'/'AAPL').mkdir(parents=True)
        for src, name in ((msg, 'AAPL_message.csv'), (ob, 'AAPL_orderbook.csv')):
            with (gzip.open(src, 'rb') if src.suffix == '.gz' else open(src, 'rb')) as f, open(d/'lobster'/'AAPL'/name, 'wb') as g:
                shutil.copyfileobj(f, g)
        (d/'env_lobster.py').write_text(env_src, encoding='utf-8')
        (d/'train_ppo.py').write_text(writeup_driver(ppo_src, timesteps, threads), encoding='utf-8')
        t = time.perf_counter()
        r = subprocess.run([sys.executable, 'train_ppo.py'], cwd=d, capture_output=True, text=True)
        wall = time.perf_counter() - t
    line = [l for l in r.stdout.splitlines() if l.startswith('WRITEUP_LEARN_SECONDS')]
    if r.returncode or not line:
        print((r.stdout + r.stderr)[-3000:])
        sys.exit(f'error: the write-up set-up failed (exit {r.returncode}): no ratio was possible')
    return float(line[0].split()[1]), wall

def quality(a):
    "The older check: vectorised and single-env PPO learn equally well (model env and a synthetic LOBSTER book)."
    from quantnotes.execution.baselines import TWAPPolicy, ACPolicy
    from quantnotes.execution.model_env import AlmgrenChrissEnv, expected_cost_closed_form
    from quantnotes.execution.evaluate import LADDER_ENV, evaluate_paired, paired_start_times, summarise
    from quantnotes.execution.synthetic import simulate_lobster
    def run(label, env_fn, eval_fn, n_envs, refs, starts):
        cfg = PPOConfig(n_envs=n_envs, total_timesteps=a.timesteps, log_std_init=a.log_std_init, n_threads=a.threads)
        m = train_ppo(env_fn, cfg, seed=a.seed, progress=False)
        s = summarise(evaluate_paired(eval_fn, {**refs, 'ppo': PPOPolicy(m)}, starts))
        return dict(env=label, n_envs=n_envs, train_s=round(m.train_seconds, 2), ppo_cost_bps=round(s.loc['ppo', 'objective_bps'], 3),
                    **{f'{k}_cost_bps': round(s.loc[k, 'objective_bps'], 3) for k in refs})
    rows, kw = [], {**LADDER_ENV, 'lam': 4e-5}
    u = AlmgrenChrissEnv(**kw); cf = expected_cost_closed_form(u)
    st = paired_start_times(u.start_range, a.n_eval, seed=10_000)
    refs = {'twap': TWAPPolicy(u.n_steps), 'ac': ACPolicy(cf.loc['ac', 'fractions'])}
    book = simulate_lobster(duration_s=7200.0, levels=10, seed=0); cfg = ExecConfig()
    st_l = paired_start_times(LobsterExecutionEnv(book, cfg).start_range, a.n_eval, seed=10_000)
    for n in sorted({a.n_envs, 1}, reverse=True):
        rows.append(run('model (lam=4e-5)', lambda: AlmgrenChrissEnv(**kw), lambda: AlmgrenChrissEnv(**kw, path_seed=10_000), n, refs, st))
        rows.append(run(f'lobster synthetic (X={cfg.parent_size}, N={cfg.n_steps})', lambda: LobsterExecutionEnv(book, cfg),
                        lambda: LobsterExecutionEnv(book, cfg), n, {'twap': TWAPPolicy(cfg.n_steps)}, st_l))
    print(f"\nlearning quality (closed form on the model env: AC {cf.loc['ac', 'objective_bps']:.3f} bps, TWAP {cf.loc['twap', 'objective_bps']:.3f} bps)")
    with pd.option_context('display.width', 200, 'display.max_columns', 20): print(pd.DataFrame(rows).to_string(index=False))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--timesteps', type=int, default=50_000)
    ap.add_argument('--threads', type=int, default=1,
                    help='torch threads, for both sides (1: a 64x64 MLP gains nothing from a second thread, and on a shared machine loses a lot)')
    ap.add_argument('--n-envs', type=int, default=8, help='our vectorised layout (the write-up uses one env)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--seed-dir', default=str(SEED_DIR), help='where the write-up text is (default ../shared/seed)')
    ap.add_argument('--quality', action='store_true', help='also run the learning-quality comparison')
    ap.add_argument('--log-std-init', type=float, default=-2.0, help='initial policy log std in --quality')
    ap.add_argument('--n-eval', type=int, default=1000, help='paired evaluation episodes in --quality')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if not DATA.exists(): sys.exit(f'error: {DATA} not found: the PPO comparison needs the real GOOG level-10 day')
    try: msg, ob = find_lobster_pair(DATA, 'GOOG', 10)
    except LobsterError as e: sys.exit(f'error: {e}')
    env_src = ppo_src = None
    if Path(a.seed_dir).is_dir(): env_src, ppo_src = writeup_script(a.seed_dir, ENV_MARKER), writeup_script(a.seed_dir, PPO_MARKER)
    task = writeup_task(ppo_src) if ppo_src else dict(parent_size=50_000, horizon_seconds=600.0, n_steps=60, side='sell', terminal_penalty=50.0)
    cfg = ExecConfig(parent_size=task['parent_size'], horizon_s=task['horizon_seconds'], n_steps=task['n_steps'],
                     side=task['side'], terminal_penalty=task['terminal_penalty'])
    print(f'book: real GOOG 2012-06-21 level 10 ({msg.name}); task: parent {cfg.parent_size:,}, {cfg.horizon_s:g} s, '
          f'{cfg.n_steps} steps, {cfg.side}; {a.timesteps:,} timesteps; {a.threads} torch threads; PPO hyperparameters: the write-up\'s')
    book = load_lobster(msg, ob)
    ours = {}
    for n in (a.n_envs, 1):
        if n in ours: continue
        m = train_ppo(lambda: LobsterExecutionEnv(book, cfg), PPOConfig(n_envs=n, total_timesteps=a.timesteps, n_threads=a.threads),
                      seed=a.seed, progress=False)
        ours[n] = m.train_seconds
        print(f'ours, {n} env(s): learn {m.train_seconds:7.1f} s')
    if env_src is None or ppo_src is None:
        print(f'write-up set-up: not found (no write-up text in {a.seed_dir}): no ratio was possible')
    else:
        learn, wall = run_writeup(env_src, ppo_src, msg, ob, a.timesteps, a.threads)
        print(f'write-up set-up (its env, DummyVecEnv of 1, its PPO), cut from the write-up and run just now: '
              f'learn {learn:7.1f} s (whole script {wall:.1f} s, with its pandas load)')
        for n, s in ours.items():
            print(f'ratio ours ({n} env{"s" if n > 1 else ""}) / write-up: {s / learn:5.2f}x  (< 1: ours is faster)')
    if a.quality: quality(a)

if __name__ == '__main__': main()
