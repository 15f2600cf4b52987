"""The book's shape, checked: modules import only from notebooks that come earlier in reading order, no agent role
imports another role, and the reading-order section of the index lists every numbered notebook in order."""
import ast, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/'quantnotes'
ROLES = {'quantnotes.alpha.proposer', 'quantnotes.alpha.implementer', 'quantnotes.alpha.critic', 'quantnotes.alpha.replicator'}

def _modules() -> dict:
    "Module name -> the notebook stem it is exported from."
    out = {}
    for py in PKG.rglob('*.py'):
        m = re.search(r'File to edit: \S*?nbs/(\S+?)\.ipynb', py.read_text(encoding='utf-8')[:400])
        if m: out['.'.join(py.relative_to(ROOT).with_suffix('').parts)] = m.group(1)
    return out

def _imports(mod:str) -> set:
    "quantnotes modules imported anywhere in `mod` (top level or inside functions)."
    py = ROOT/(mod.replace('.', '/') + '.py')
    pkg = mod.rsplit('.', 1)[0]
    out = set()
    for node in ast.walk(ast.parse(py.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = pkg.split('.')[:len(pkg.split('.')) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            if base.startswith('quantnotes'):
                out.add(base)
                out.update(f'{base}.{a.name}' for a in node.names)  # `from . import x` imports a module
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith('quantnotes'))
    return out

def test_no_import_runs_back_up_a_layer():
    mods = _modules()
    bad = [f'{m} ({nb}) imports {i} ({mods[i]})' for m, nb in mods.items() for i in _imports(m)
           if i in mods and i != m and mods[i] > nb]
    assert not bad, 'imports from a later notebook:\n  ' + '\n  '.join(sorted(bad))

def test_no_role_imports_another_role():
    bad = [f'{r} imports {i}' for r in ROLES if (ROOT/(r.replace('.', '/') + '.py')).exists()
           for i in _imports(r) if i in ROLES - {r}]
    assert not bad, '\n'.join(bad)

def test_the_import_check_can_fail(tmp_path):
    "The checker itself: a made-up later import is caught."
    mods = _modules()
    assert mods['quantnotes.core'] < mods['quantnotes.cli'] and 'quantnotes.core' in _imports('quantnotes.runner')

def test_index_reading_order_lists_every_notebook_in_order():
    import json
    nb = json.loads((ROOT/'nbs'/'index.ipynb').read_text(encoding='utf-8'))
    text = '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    m = re.search(r'^## Reading order\n(.*?)(?=^## |\Z)', text, re.S | re.M)
    assert m, 'index.ipynb has no "## Reading order" section'
    listed = re.findall(r'`(\d\d[a-z]?_[a-z0-9_]+)`', m.group(1))
    on_disk = sorted(p.stem for p in (ROOT/'nbs').glob('[0-9]*.ipynb'))
    assert listed == on_disk, f'reading order {listed} does not match the notebooks {on_disk}'
