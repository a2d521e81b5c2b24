"""mmdet_lvis_fed.benchmarks.rehearsal: the data it generates and the configs it writes (the run
itself is `make rehearsal`: minutes, not a unit test)."""
import ast
import json
import os
import os.path as osp

from mmengine.config import Config

from mmdet_lvis_fed import procfs
from mmdet_lvis_fed.benchmarks import rehearsal
from tests.conftest import ROOT
from tests.test_tools.test_error_contract import assert_one_line_error

BASELINE = osp.join(ROOT, 'configs', 'lvis_v1', 'mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-2x_lvis-v1.py')
PIECE = osp.join(ROOT, 'configs', '_base_', 'lvis-fixed-ap_test.py')


def test_data_has_an_image_file_for_every_record(tmp_path):
    root = str(tmp_path / 'data')
    rehearsal.prepare_data(root, 30, 7, pictures=4)
    for split, n in (('train', 30), ('val', 7)):
        with open(osp.join(root, 'annotations', f'lvis_v1_{split}.json')) as f:
            lvis = json.load(f)
        assert len(lvis['images']) == n and len(lvis['categories']) == 1203
        for im in lvis['images']:
            path = osp.join(root, *im['coco_url'].split('/')[-2:])
            assert osp.isfile(path)
        assert len(os.listdir(osp.join(root, f'{split}2017'))) == n + 4
    stamp = osp.getmtime(osp.join(root, 'annotations', 'lvis_v1_train.json'))
    rehearsal.prepare_data(root, 30, 7, pictures=4)            # same arguments: reused
    assert osp.getmtime(osp.join(root, 'annotations', 'lvis_v1_train.json')) == stamp


def test_written_configs_hold_literals_and_keep_k(tmp_path):
    data_root = str(tmp_path / "it's\ndata")                  # a quote and a newline
    train, test = rehearsal.write_configs(str(tmp_path / 'cfg'), BASELINE, data_root, iters=7,
                                          scale=(64, 48), val_images=11, max_dets_per_cat=13,
                                          fixed_ap_piece=PIECE)
    for path in (train, test):
        body = ast.parse(open(path).read()).body
        assert {type(n).__name__ for n in body} == {'Assign'}, path
    cfg = Config.fromfile(test)
    assert cfg.model.roi_head.bbox_head.num_classes == 1203
    assert cfg.model.roi_head.mask_head.num_classes == 1203
    assert cfg.model.backbone.depth == 18 and cfg.model.backbone.init_cfg is None
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=7, val_interval=10**9)
    assert cfg.test_cfg.type == 'TopKTestLoop' and cfg.test_cfg.max_dets_per_cat == 13
    assert cfg.test_evaluator.max_dets_per_cat == 13 and cfg.test_evaluator.max_dets == -1
    assert cfg.model.test_cfg.rcnn.max_per_img == -1
    ds = cfg.test_dataloader.dataset
    assert ds.indices == 11 and ds.data_root == data_root + '/'
    resize = [t for t in ds.pipeline if t['type'] == 'Resize']
    assert resize and all(t['scale'] == (64, 48) for t in resize)
    assert cfg.val_dataloader is None and cfg.val_cfg is None


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
    theirs = tmp_path / rehearsal.DATA_FOLDER
    theirs.mkdir()
    (theirs / 'keep.txt').write_text('keep')
    res = _rehearsal_tool('--work-dir', str(tmp_path), '--train-images', '3', '--val-images',
                          '2', '--test-images', '1')
    _one_error_line(res, str(theirs), 'not made by the rehearsal')
    assert (user / 'lvis_v1_train.json').read_text() == '{"mine": 1}'
    assert (theirs / 'keep.txt').read_text() == 'keep'
    assert sorted(os.listdir(theirs)) == ['keep.txt']


def test_its_own_stale_data_is_replaced_and_said(tmp_path, capsys):
    root = str(tmp_path / rehearsal.DATA_FOLDER)
    rehearsal.prepare_data(root, 5, 3, pictures=3)
    assert osp.isfile(osp.join(root, rehearsal.OWNER_MARK))
    rehearsal.prepare_data(root, 6, 3, pictures=3)        # other arguments: written again
    assert 'removing' in capsys.readouterr().out
    with open(osp.join(root, 'annotations', 'lvis_v1_train.json')) as f:
        assert len(json.load(f)['images']) == 6


def test_bad_inputs_fail_before_any_data_is_written(tmp_path):
    res = _rehearsal_tool('--work-dir', str(tmp_path / 'w'), '--config', 'nope.py')
    _one_error_line(res, '--config nope.py', 'no such config file')
    assert not (tmp_path / 'w' / rehearsal.DATA_FOLDER).exists()
    afile = tmp_path / 'afile'
    afile.write_text('x')
    res = _rehearsal_tool('--work-dir', str(afile))
    _one_error_line(res, str(afile), 'not a folder')
    assert afile.read_text() == 'x'


def test_the_timeout_ends_the_whole_process_group_and_says_so(tmp_path):
    import sys
    import time
    # A launcher with two children that ignore nothing and would outlive it (as torchrun's ranks
    # and their DataLoader workers did): each writes its pid, then sleeps.
    pids = tmp_path / 'pids'
    code = ('import subprocess, sys, time\n'
            f'kids = [subprocess.Popen([sys.executable, "-c", "import os, time; '
            f'open({str(pids)!r}, \\"a\\").write(str(os.getpid()) + \\"\\\\n\\"); '
            f'time.sleep(300)"]) for _ in range(2)]\n'
            'print("started", flush=True)\n'
            'time.sleep(300)\n')
    launch = rehearsal.Launch([sys.executable, '-c', code], str(tmp_path / 'log'),
                              dict(started='started'))
    t0 = time.monotonic()
    launch.run(timeout=3)
    assert time.monotonic() - t0 < 60
    assert launch.timed_out
    kids = [int(p) for p in pids.read_text().split()]
    assert len(kids) == 2
    for pid in kids:
        deadline = time.monotonic() + 10
        while procfs.process_state(pid) is not None and time.monotonic() < deadline:
            if procfs.process_state(pid) == 'Z':   # dead, waiting for its new parent to reap it
                break
            time.sleep(0.1)
        else:
            assert procfs.process_state(pid) is None, f'child {pid} still running'
    message = str(launch.failure('test', 3)).splitlines()[0]
    assert 'timed out after 3 s (--timeout)' in message and 'process group' in message
