"House rules for the notebooks that the docs build depends on."
import ast
from pathlib import Path
import nbformat
import pytest
from conftest import ROOT

NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb'))

def _directives(src):
    return {l.strip()[3:].split(':')[0].split()[0] for l in src.splitlines() if l.strip().startswith('#|') and l.strip()[3:].strip()}

@pytest.mark.parametrize('nb', NBS, ids=[p.name for p in NBS])
def test_imports_live_in_their_own_cells(nb):
    """nbdev's docs build executes every cell that imports something; a cell that mixes imports with other code
    would run out of context (and fail) when the docs are built, so imports get cells of their own."""
    bad = []
    for i, c in enumerate(nbformat.read(nb, as_version=4).cells):
        if c.cell_type != 'code' or not c.source.strip(): continue
        if _directives(c.source) & {'export', 'exports', 'exporti', 'exec_doc'}: continue
        if any(l.strip() in ('#| eval: false', '#|eval: false') for l in c.source.splitlines()): continue
        try: tree = ast.parse('\n'.join(l for l in c.source.splitlines() if not l.lstrip().startswith(('%', '!'))))
        except SyntaxError: continue
        nodes = list(ast.walk(tree))
        if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in nodes) and \
           any(isinstance(n, (ast.Expr, ast.Assign)) for n in nodes):
            bad.append(f'cell {i}: {c.source.splitlines()[0][:60]}')
    assert not bad, f'{nb.name}: cells mixing imports with other code:\n' + '\n'.join(bad)

@pytest.mark.parametrize('nb', NBS, ids=[p.name for p in NBS])
def test_notebook_opens_the_house_way(nb):
    cells = nbformat.read(nb, as_version=4).cells
    assert cells[0].cell_type == 'markdown' and cells[0].source.startswith('# '), 'first cell must be an H1 title'
    if nb.name != 'index.ipynb':
        assert any(c.cell_type == 'code' and '#| default_exp' in c.source for c in cells[:4]), 'no default_exp near the top'
