"Package metadata comes from settings.ini (nbdev 2 convention); this file only reads it."
from configparser import ConfigParser
from pathlib import Path
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read(Path(__file__).parent/'settings.ini', encoding='utf-8')
c = cfg['DEFAULT']

setuptools.setup(
    name=c['lib_name'], version=c['version'], description=c['description'],
    author=c['author'], author_email=c['author_email'], license=c['license'],
    url=c['git_url'], python_requires='>=' + c['min_python'],
    packages=setuptools.find_packages(include=[c['lib_path'], c['lib_path'] + '.*']),
    include_package_data=True,
    package_data={'quantnotes': ['alpha/corpus/*.md']},
    install_requires=c.get('requirements', '').split(),
    extras_require={'dev': c.get('dev_requirements', '').split()},
    entry_points={'console_scripts': c['console_scripts'].split(),
                  'nbdev': [f"{c['lib_path']}={c['lib_path']}._modidx:d"]},
    long_description=(Path(__file__).parent/'README.md').read_text(encoding='utf-8')
        if (Path(__file__).parent/'README.md').exists() else '',
    long_description_content_type='text/markdown',
    zip_safe=False)
