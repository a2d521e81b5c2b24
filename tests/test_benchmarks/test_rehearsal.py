"""tools/rehearsal.py and benchmarks/rehearsal.py: refusals before any data is written (the run
itself is `make rehearsal`: minutes, not a unit test)."""
import os
import os.path as osp

from mmdet_lvis_fed.benchmarks import rehearsal_data
from tests.conftest import ROOT
from tests.test_tools.test_error_contract import assert_one_line_error

BASELINE = osp.join(ROOT, 'configs', 'lvis_v1', 'mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-2x_lvis-v1.py')
PIECE = osp.join(ROOT, 'configs', '_base_', 'lvis-fixed-ap_test.py')


# --- a tool touches only what it made ---------------------------------------------------------

def _rehearsal_tool(*args, timeout=120):
    import subprocess
    import sys
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'rehearsal.py'), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


_one_error_line = assert_one_line_error


def test_a_data_folder_it_did_not_make_is_refused_untouched(tmp_path):
    # A work dir laid out as the README says (data/lvis_v1/...), and a folder that happens to
    # have the rehearsal's data name: neither is removed.
    user = tmp_path / 'data' / 'lvis_v1' / 'annotations'
    user.mkdir(parents=True)
    (user / 'lvis_v1_train.json').write_text('{"mine": 1}')
    theirs = tmp_path / rehearsal_data.DATA_FOLDER
    theirs.mkdir()
    (theirs / 'keep.txt').write_text('keep')
    res = _rehearsal_tool('--work-dir', str(tmp_path), '--train-images', '3', '--val-images',
                          '2', '--test-images', '1')
    _one_error_line(res, str(theirs), 'not made by the rehearsal')
    assert (user / 'lvis_v1_train.json').read_text() == '{"mine": 1}'
    assert (theirs / 'keep.txt').read_text() == 'keep'
    assert sorted(os.listdir(theirs)) == ['keep.txt']


def test_bad_inputs_fail_before_any_data_is_written(tmp_path):
    res = _rehearsal_tool('--work-dir', str(tmp_path / 'w'), '--config', 'nope.py')
    _one_error_line(res, '--config nope.py', 'no such config file')
    assert not (tmp_path / 'w' / rehearsal_data.DATA_FOLDER).exists()
    afile = tmp_path / 'afile'
    afile.write_text('x')
    res = _rehearsal_tool('--work-dir', str(afile))
    _one_error_line(res, str(afile), 'not a folder')
    assert afile.read_text() == 'x'
