"""The wheel (`pip install .`, not -e) carries every file the package opens at run time."""
import glob
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

from tests.conftest import ROOT


def test_wheel_has_the_runtime_data_files(tmp_path):
    # build from a copy: an in-tree build leaves build/ and egg-info in the checkout
    src = tmp_path / 'src'
    for name in ('pyproject.toml', 'README.md', 'mmdet_lvis_fed'):
        src.mkdir(exist_ok=True)
        (shutil.copytree if osp.isdir(osp.join(ROOT, name)) else shutil.copy)(
            osp.join(ROOT, name), src / name)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '-q', '-w', str(tmp_path), str(src)], check=True, capture_output=True)
    wheel = glob.glob(str(tmp_path / 'mmdet_lvis_fed-*.whl'))[0]
    names = set(zipfile.ZipFile(wheel).namelist())
    assert 'mmdet_lvis_fed/datasets/coco_synsets.json' in names
    # every non-Python file under the package is shipped (caches aside: __pycache__ holds
    # numba's compiled RLE loops beside the bytecode)
    pkg = osp.join(ROOT, 'mmdet_lvis_fed')
    data = {osp.relpath(p, ROOT) for p in glob.glob(osp.join(pkg, '**', '*'), recursive=True)
            if osp.isfile(p) and not p.endswith(('.py', '.pyc'))
            and '__pycache__' not in p.split(osp.sep)}
    assert data <= names
    assert 'mmdet_lvis_fed/testing/synthetic.py' in names
    # every module, so that a folder without __init__.py (which packages.find skips) is caught:
    # the tools import mmdet_lvis_fed.experiments and .benchmarks from the installed package
    modules = {osp.relpath(p, ROOT) for p in glob.glob(osp.join(pkg, '**', '*.py'),
                                                       recursive=True)}
    assert modules <= names, sorted(modules - names)
