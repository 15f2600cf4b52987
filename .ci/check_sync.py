"""Fail if the package, the notebooks or README.md are out of date.

Runs nbdev_export, nbdev_clean (nbs/ and the test fixtures) and the README writer, and reports every file they
changed. Needs no git, so it works on an unpacked archive as well as a clone.
"""
import hashlib, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
bin_ = Path(sys.executable).parent

def snapshot():
    files = [*root.glob('quantnotes/**/*.py'), *root.glob('nbs/**/*.ipynb'), *root.glob('tests/fixtures/**/*.ipynb'),
             root/'README.md']
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.exists()}

before = snapshot()
steps = [[bin_/'nbdev_export'], [bin_/'nbdev_clean'], [bin_/'nbdev_clean', '--fname', 'tests/fixtures/studies'],
         [bin_/'nbdev_clean', '--fname', 'tests/fixtures/sweep_studies'],
         [bin_/'quantnotes', 'docs', '--readme']]
for cmd in steps: subprocess.run([str(c) for c in cmd], cwd=root, check=True, stdout=subprocess.DEVNULL)
after = snapshot()
changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
if changed:
    print('Out of sync: nbdev_export / nbdev_clean / the README writer changed these files:')
    for k in changed: print('   ', k)
    print('Edit the notebooks (the source of truth), run `make export clean`, and commit the results.')
    sys.exit(1)
print(f'in sync: {len(after)} files unchanged by nbdev_export, nbdev_clean and the README writer')
