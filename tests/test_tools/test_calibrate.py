"""tools/calibrate.py as users run it: the error contract (one line, nothing written), --help,
inputs never overwritten, outputs replaced only with --force (the sweep itself:
tests/test_experiments/test_calibration.py)."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT
from tests.test_experiments.test_calibration import BASELINE, trained  # noqa: F401 (a fixture)


# --- the error contract ----------------------------------------------------------------------

def run_tool(*args):
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'calibrate.py'),
                           *map(str, args)], capture_output=True, text=True, timeout=300)


def assert_one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_checkpoint(trained, tmp_path):
    config, _, _ = trained
    res = run_tool(config, tmp_path / 'nope.pth', '--work-dir', tmp_path / 'wd')
    assert_one_line_error(res, 'nope.pth', 'no such checkpoint file')
    assert not (tmp_path / 'wd').exists()


def test_checkpoint_of_other_classes(trained, tmp_path):
    config, ckpt, meta = trained
    state = torch.load(ckpt)
    other = tuple(reversed(meta['classes']))
    state['meta']['dataset_meta'] = dict(meta, classes=other)
    bad = tmp_path / 'other.pth'
    torch.save(state, str(bad))
    out = tmp_path / 'out.py'
    res = run_tool(config, bad, '--out-config', out, '--work-dir', tmp_path / 'wd',
                   '--workers', '0')
    assert_one_line_error(res, str(bad), f'({other[0]}', f'({meta["classes"][0]}')
    assert not out.exists() and not (tmp_path / 'wd').exists()


def test_not_a_checkpoint(trained, tmp_path):
    config, _, _ = trained
    bad = tmp_path / 'text.pth'
    bad.write_text('not a checkpoint')
    res = run_tool(config, bad, '--work-dir', tmp_path / 'wd')
    assert_one_line_error(res, str(bad), 'not a PyTorch checkpoint')
    assert not (tmp_path / 'wd').exists()


def test_bad_gamma(trained, tmp_path):
    config, ckpt, _ = trained
    assert_one_line_error(run_tool(config, ckpt, '--gammas', '0.5', '-1'), '--gammas', '-1')


def test_help():
    res = run_tool('--help')
    assert res.returncode == 0
    for needle in ('validation split', 'One inference pass', 'mim test', '--metric APr'):
        assert needle in res.stdout, needle


# --- what is written -------------------------------------------------------------------------


@pytest.mark.parametrize('which', ['config', 'base'])
def test_an_input_is_never_overwritten(trained, tmp_path, which):
    """Not even with --force: the config being calibrated, or a file it inherits."""
    config, ckpt, _ = trained
    target = dict(config=config, base=BASELINE)[which]
    before = open(target, 'rb').read()
    res = run_tool(config, ckpt, '--out-config', target, '--work-dir', tmp_path / 'wd',
                   '--force', '--workers', '0')
    assert_one_line_error(res, target, 'is an input of this run')
    assert open(target, 'rb').read() == before and not (tmp_path / 'wd').exists()


def test_an_existing_output_is_replaced_only_with_force(trained, tmp_path):
    config, ckpt, _ = trained
    out = tmp_path / 'calibrated.py'
    out.write_text('# an earlier sweep\n')
    args = (config, ckpt, '--gammas', '0.5', '--out-config', out, '--work-dir',
            tmp_path / 'wd', '--workers', '0', '--device', 'cpu')
    assert_one_line_error(run_tool(*args), str(out), 'exists', '--force')
    assert out.read_text() == '# an earlier sweep\n' and not (tmp_path / 'wd').exists()
    res = run_tool(*args, '--force')
    assert res.returncode == 0, res.stderr
    # gamma 0 chosen: the earlier config goes with its record, and the tool says so
    assert not out.exists() and f'{out} removed' in res.stdout
    assert json.loads((tmp_path / 'wd' / 'calibration.json').read_text())['chosen'] == 0
