"""Replay-environment speed against the write-up's own environment, side by side on the same book files.

The write-up's `LOBSTEREnv` (its file `env_lobster.py`) is cut out of the write-up text in ../shared/seed at run time
(it is never stored in this repository), written to a temporary folder and imported from there. Both environments
then run the write-up's task (read from its `make_env`: parent size, horizon, steps, side, penalty) on the SAME
LOBSTER message/order-book pair (GOOG 2012-06-21, ten levels, from ../shared/data/lobster; a synthetic day written as
LOBSTER CSVs when that is missing or with --synthetic), with one fixed uniform-random policy, in this one process,
back to back: for each repeat the write-up's env, then ours under each impact rule. The write-up's env has no impact
option: its replay is always the recorded book ("none"), so every row compares OUR env under that rule with the
write-up's one and only rule. Printed per rule: the median steps/s of each side, the median of the per-repeat ratios
and their range. Without ../shared/seed only our figures are printed, and the report says that no ratio was possible.

    .venv/bin/python benchmarks/execution_env.py [--steps 200000] [--writeup-steps 20000] [--repeats 3] [--synthetic]
"""
import os
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(_v, '1')
import argparse, ast, importlib.util, platform, statistics, sys, tempfile, time
from pathlib import Path

import numpy as np
import gymnasium

from quantnotes.execution.lobster import load_lobster, find_lobster_pair, LobsterError
from quantnotes.execution.synthetic import simulate_lobster, write_lobster
from quantnotes.execution.env import LobsterExecutionEnv, ExecConfig

ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = ROOT.parent/'shared'/'seed'
DATA = ROOT.parent/'shared'/'data'/'lobster'
ENV_MARKER, PPO_MARKER = '# env_lobster.py', '# train_ppo.py'  # the first line of each script in the write-up text

def _blocks(lines:list) -> list:
    "Split lines into top-level blocks: one unindented line plus the blank or indented lines after it."
    out = []
    for ln in lines:
        if out and (not ln.strip() or ln[0] in ' \t'): out[-1].append(ln)
        else: out.append([ln])
    return out

def writeup_script(seed_dir:Path, marker:str) -> str|None:
    """The write-up script that starts at the line `marker`, or None if no seed text holds it.

    The text indents with no-break spaces (read as spaces here). The script is extended block by block (a top-level
    line and the indented lines under it) while it compiles; a block that does not compile is joined with the next
    ones (a closing bracket at the margin starts a block of its own) until it does, or the cut ends before it (the
    prose that follows the script). A cut that does not compile fails loudly; the callers also check its contents."""
    for f in sorted(Path(seed_dir).glob('*.txt')):
        lines = f.read_text(encoding='utf-8').replace('\xa0', ' ').splitlines()
        start = next((i for i, ln in enumerate(lines) if ln.strip() == marker), None)
        if start is None: continue
        src, pending = '', ''
        for b in _blocks(lines[start:]):
            pending += '\n'.join(b).rstrip() + '\n\n'
            try: compile(src + pending, marker[2:], 'exec')
            except SyntaxError:
                if pending.count('\n\n') >= 4: break  # a statement split over blocks (a closing bracket) joins up sooner
                continue
            src, pending = src + pending, ''
        compile(src, marker[2:], 'exec')  # raises if even the first block is not code
        return src
    return None

def _need(ok:bool, what:str):
    if not ok: sys.exit(f'error: the cut of the write-up text is not the script expected: {what}')

def writeup_task(ppo_src:str) -> dict:
    "The keyword arguments the write-up's `make_env` passes to `LOBSTEREnv`, file paths left out (literals only)."
    fn = next((n for n in ast.parse(ppo_src).body if isinstance(n, ast.FunctionDef) and n.name == 'make_env'), None)
    _need(fn is not None, 'train_ppo.py defines no make_env()')
    call = next((n for n in ast.walk(fn) if isinstance(n, ast.Call) and getattr(n.func, 'id', '') == 'LOBSTEREnv'), None)
    _need(call is not None, 'make_env() does not call LOBSTEREnv(...)')
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg not in ('message_path', 'book_path')}

def import_writeup_env(env_src:str, folder:Path):
    "Write the cut `env_lobster.py` into `folder` and import it; returns its `LOBSTEREnv` class."
    tree = ast.parse(env_src)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == 'LOBSTEREnv'), None)
    _need(cls is not None and {'reset', 'step'} <= {n.name for n in cls.body if isinstance(n, ast.FunctionDef)},
          'env_lobster.py has no class LOBSTEREnv with reset() and step()')
    path = Path(folder)/'env_lobster.py'
    path.write_text(env_src, encoding='utf-8')
    spec = importlib.util.spec_from_file_location('env_lobster', path)
    mod = importlib.util.module_from_spec(spec); sys.modules['env_lobster'] = mod
    spec.loader.exec_module(mod)
    return mod.LOBSTEREnv

def book_files(synthetic:bool, folder:Path) -> tuple:
    "(message path, order-book path, description): the real GOOG level-10 day, or a synthetic day written as CSVs."
    if not synthetic and DATA.exists():
        try:
            msg, ob = find_lobster_pair(DATA, 'GOOG', 10)
            return msg, ob, f'real GOOG 2012-06-21 level 10 ({msg.name})'
        except LobsterError as e: print(f'real sample unusable ({e}); falling back to a synthetic day')
    book = simulate_lobster(23_400, seed=0)
    msg, ob = write_lobster(book, folder)
    return msg, ob, 'synthetic 6.5 h day, 10 levels (simulate_lobster(23_400, seed=0), written as LOBSTER CSVs)'

def steps_per_s(env, n_steps:int, seed:int=0) -> tuple[float, float]:
    """(steps per wall-clock second, steps per CPU second of this process) over `n_steps` steps, resets included,
    with uniform random actions drawn beforehand. On a shared machine the CPU figure is the steadier one."""
    acts = list(np.random.default_rng(seed).random((n_steps, 1), dtype=np.float32))
    env.reset(seed=seed)
    step, reset = env.step, env.reset
    t, c = time.perf_counter(), time.process_time()
    for a in acts:
        if step(a)[2]: reset()
    return n_steps / (time.perf_counter() - t), n_steps / (time.process_time() - c)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=200_000, help='steps per measurement of our env')
    ap.add_argument('--writeup-steps', type=int, default=20_000, help="steps per measurement of the write-up's env")
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--synthetic', action='store_true', help='use a synthetic day even if the real sample exists')
    ap.add_argument('--seed-dir', default=str(SEED_DIR), help='where the write-up text is (default ../shared/seed)')
    a = ap.parse_args()
    print(f'python {platform.python_version()} on {platform.machine()}, numpy {np.__version__}, gymnasium {gymnasium.__version__}')
    env_src = ppo_src = None
    if Path(a.seed_dir).is_dir():
        env_src, ppo_src = writeup_script(a.seed_dir, ENV_MARKER), writeup_script(a.seed_dir, PPO_MARKER)
    with tempfile.TemporaryDirectory(prefix='qn-bench-env-') as d:
        msg, obf, what = book_files(a.synthetic, Path(d))
        print(f'book: {what}')
        t = time.perf_counter(); book = load_lobster(msg, obf); dt = time.perf_counter() - t
        print(f'our load (validated LobsterBook): {len(book):,} events in {dt:.3f} s')
        ref_cls, task = None, dict(parent_size=50_000, horizon_seconds=600.0, n_steps=60, side='sell', terminal_penalty=50.0)
        if env_src is None or ppo_src is None:
            print(f'write-up env: not found (no write-up text in {a.seed_dir}): no ratio was possible; the task below is '
                  "the write-up's, typed in")
        else:
            task = writeup_task(ppo_src)
            ref_cls = import_writeup_env(env_src, Path(d))
            t = time.perf_counter(); ref = ref_cls(message_path=str(msg), book_path=str(obf), **task); dt = time.perf_counter() - t
            print(f"write-up env: its LOBSTEREnv, cut from the write-up text just now; construction (pandas read, rolling vol) {dt:.3f} s")
        cfg = ExecConfig(parent_size=task['parent_size'], horizon_s=task['horizon_seconds'], n_steps=task['n_steps'],
                         side=task['side'], terminal_penalty=task['terminal_penalty'])
        print(f"task (the write-up's make_env): parent {cfg.parent_size:,} shares, {cfg.horizon_s:g} s horizon, {cfg.n_steps} steps, "
              f"{cfg.side}, penalty {cfg.terminal_penalty:g}; uniform random actions; {a.steps:,} steps per measurement of ours, "
              f"{a.writeup_steps:,} of the write-up's; {a.repeats} repeats, sides back to back")
        t = time.perf_counter(); LobsterExecutionEnv(book, cfg); dt = time.perf_counter() - t
        print(f'our env construction (per-event feature arrays, scales): {dt:.3f} s')
        rules = ('none', 'transient', 'persistent')
        ours = {r: LobsterExecutionEnv(book, cfg, impact=r) for r in rules}
        meas = {r: [] for r in rules + ('writeup',)}
        t = time.perf_counter()
        for e in ours.values(): steps_per_s(e, 2_000, 99)  # warm-up: numba compiles (or loads its cache) on first use
        print(f'warm-up of ours (first use of the compiled impact step included): {time.perf_counter() - t:.2f} s')
        if ref_cls is not None: steps_per_s(ref, 200, 99)
        for rep in range(a.repeats):
            if ref_cls is not None: meas['writeup'].append(steps_per_s(ref, a.writeup_steps, rep))
            for r in rules: meas[r].append(steps_per_s(ours[r], a.steps, rep))
        wrapped = gymnasium.make('quantnotes/LobsterExecution-v0', book=book, config=cfg)
        wrapped_sps = [steps_per_s(wrapped, a.steps // 2, s) for s in range(a.repeats)]
    print()
    for c, clock in enumerate(('wall-clock', 'CPU')):
        med = {k: statistics.median(x[c] for x in v) for k, v in meas.items() if v}
        print(f'steps per {clock} second (median of {a.repeats}):')
        if ref_cls is None:
            for r in rules: print(f'  ours, impact={r:<10s} {med[r]:>10,.0f} steps/s   (no ratio was possible)')
        else:
            print(f"  {'our impact rule':<16s} {'write-up (its replay)':>22s} {'ours':>12s} {'ratio (median)':>15s} {'ratio range':>16s}")
            for r in rules:
                ratios = [o[c] / w[c] for o, w in zip(meas[r], meas['writeup'])]
                print(f'  {r:<16s} {med["writeup"]:>16,.0f} st/s {med[r]:>9,.0f} st/s {statistics.median(ratios):>14.1f}x '
                      f'{min(ratios):>7.1f}-{max(ratios):.1f}x')
        print(f'  ours through gymnasium.make (checker + order wrappers), impact=none: '
              f'{statistics.median(x[c] for x in wrapped_sps):,.0f} steps/s')
        for k, v in meas.items():
            if v: print(f'    per repeat, {k:<10s}: ' + ', '.join(f'{x[c]:,.0f}' for x in v))
    if ref_cls is not None:
        print("the write-up's env has no impact rule: its replay never depletes the book (our 'none'); each row times it "
              'against ours under that rule')

if __name__ == '__main__': main()
