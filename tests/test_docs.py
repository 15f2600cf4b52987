"The main job end to end at the smoke profile: every study through the runner, then the docs preview of every page."
import json, re, shutil
from pathlib import Path
import pytest
from conftest import quantnotes, ROOT, SHARED

def test_every_study_regenerates_and_every_page_renders(smoke_project, smoke_docs):
    project_copy, r = smoke_project
    reports = project_copy/'reports'
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    studies = sorted(p.stem for p in (ROOT/'nbs'/'studies').glob('*.ipynb'))
    for s in studies:
        done = reports/s/'manifest.json'
        skipped = reports/f'{s}.skipped'/'manifest.json'
        assert done.exists() or skipped.exists(), f'{s}: no report'
        man = json.loads((done if done.exists() else skipped).read_text())
        assert man['status'] in ('ok', 'skipped') and man['profile'] == 'smoke'
        if skipped.exists():  # only studies that need the optional shared data may skip, and only without it
            assert not SHARED.exists(), f'{s} skipped although {SHARED} exists: {man["error"]["evalue"]}'
    _, plan, r = smoke_docs  # the cluster plan and the docs, as `make regenerate` runs them after the studies
    assert plan.returncode == 0 and (reports/'cluster_plan'/'tables'/'projection.md').is_file(), plan.stderr
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Quarto was not found' in r.stdout or 'Quarto site rendered' in r.stdout
    docs = project_copy/'_docs'
    pages = sorted((project_copy/'nbs'/'writeups').glob('*.qmd'))
    assert len(pages) >= 4
    for page in pages:
        html = (docs/'writeups'/f'{page.stem}.html').read_text()
        assert '{{<' not in html, f'{page.name}: an include was not resolved'
        assert '<table' in html or 'Not generated on this machine' in html, f'{page.name}: no table'
        for img in re.findall(r'!\[[^\]]*\]\(([^)]+\.png)\)', page.read_text()):
            target = (docs/'writeups'/img).resolve()
            study = img.split('reports/')[1].split('/')[0]
            assert target.exists() or (reports/f'{study}.skipped').exists(), f'{page.name}: missing figure {img}'
    # every API notebook has a page
    for nb in (ROOT/'nbs').glob('[0-9]*.ipynb'): assert (docs/f'{nb.stem}.html').exists(), nb.stem

def test_a_published_sweep_fills_the_page_of_a_machine_without_one(smoke_docs):
    "The smoke run has no seed sweep of its own: every study with a sweep in `nbs/_published` shows that one, saying so."
    proj, _, r = smoke_docs
    assert r.returncode == 0, r.stderr[-3000:]
    published = sorted(p.parent.parent.name for p in (ROOT/'nbs'/'_published').glob('*/sweep/summary'))
    if not published: pytest.skip('no sweep is published in nbs/_published')
    pages = {p.stem: p.read_text() for p in (proj/'nbs'/'writeups').glob('*.qmd')}
    shown = 0
    for study in published:
        assert not (proj/'reports'/study/'sweep').exists()
        for stem, src in pages.items():
            if f'../reports/{study}/sweep/summary/text/seeds.md' not in src: continue
            html = (proj/'_docs'/'writeups'/f'{stem}.html').read_text()
            assert 'published from commit' in html and 'No seed sweep on this machine' not in html, stem
            assert 'Held in every seed:' in html  # the generated sentence on which claims survived the seeds
            shown += 1
    assert shown, f'no page includes the published sweeps of {published}'

def test_sweep_publish_writes_a_stamped_summary_into_the_project(project_copy):
    seedy = ROOT/'tests'/'fixtures'/'sweep_studies'/'seedy.ipynb'
    r = quantnotes('sweep', str(seedy), '--seeds', '1-2', '--out', project_copy/'reports', '--publish', '--no-progress',
                   cwd=project_copy)
    assert r.returncode == 0, r.stderr
    pub = project_copy/'nbs'/'_published'/'seedy'/'sweep'/'summary'
    prov = json.loads((pub/'provenance.json').read_text())
    assert prov['seeds'] == [1, 2] and prov['failed'] == [] and len(prov['wall_seconds']) == 2
    assert (pub/'tables'/'moments.md').is_file() and 'published from commit' in (pub/'text'/'seeds.md').read_text()
    assert (pub/'text'/'claims.md').read_text().startswith('**Held in every seed:**')
    assert not list(pub.parent.glob('.publish.staging-*'))
    r = quantnotes('sweep', 'no_such_study', '--seeds', '1', '--publish', cwd=project_copy)
    assert r.returncode == 2 and r.stderr.startswith('error:')
