"""mmdet_lvis_fed.experiments.runs: a run is identified by everything that determines its numbers
(config path and content, seed, options, start checkpoints, annotation files), a test-time
variant tests its source's checkpoint, the Fixed AP test's config, publishing a checkpoint."""
import os
import os.path as osp

import pytest

from tests.conftest import ROOT

BASE = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')
LT_BASE = osp.join(ROOT, 'configs', 'demo', 'longtail',
                   'mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py')
PRETRAIN = osp.join(ROOT, 'configs', 'demo', 'study',
                    'mask-rcnn_r18_fpn_gn-scratch_base-pretrain_study.py')


def copy_config(tmp_path, folder, body=''):
    """A config in its own folder that inherits the baseline (same base name in each folder)."""
    path = tmp_path / folder / 'x.py'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'_base_ = {BASE!r}\n{body}')
    return str(path)


def test_run_key_follows_path_content_seed_options_and_start_checkpoint(tmp_path):
    from mmdet_lvis_fed.experiments.runs import Run
    a = copy_config(tmp_path, 'a')
    b = copy_config(tmp_path, 'b')
    w = str(tmp_path / 'w')
    ra, rb = Run(a, 0, w, []), Run(b, 0, w, [])
    assert ra.key != rb.key and ra.dir != rb.dir                 # same base name, other path
    assert Run(a, 0, w, []).key == ra.key                        # deterministic
    assert Run(a, 1, w, []).key == ra.key and Run(a, 1, w, []).dir != ra.dir   # seed: folder
    assert Run(a, 0, w, ['train_cfg.max_iters=9']).key != ra.key
    # content: the same path with what the runner reads changed (or a base changed under it) is
    # another run; a top-level variable the runner does not read (an unused piece) is not
    c = copy_config(tmp_path, 'c')
    k = Run(c, 0, w, []).key
    copy_config(tmp_path, 'c', 'unused_piece = dict(type="EQLLoss")\n')
    assert Run(c, 0, w, []).key == k
    copy_config(tmp_path, 'c', 'train_cfg = dict(max_iters=2)\n')
    assert Run(c, 0, w, []).key != k
    ckpt = tmp_path / 'start.pth'
    ckpt.write_bytes(b'one')
    d = copy_config(tmp_path, 'd', f'load_from = {str(ckpt)!r}\n')
    k1 = Run(d, 0, w, []).key
    ckpt.write_bytes(b'two')                                     # re-pretrained
    assert Run(d, 0, w, []).key != k1


def test_run_key_follows_the_annotation_files(tmp_path):
    """Data re-rendered under the same paths is another run; the key hashes the bytes of every
    annotation file the dataloaders read (joined to their data_root)."""
    from mmdet_lvis_fed.experiments.runs import Run
    root = tmp_path / 'data'
    (root / 'annotations').mkdir(parents=True)
    for name in ('lvis_v1_train.json', 'lvis_v1_val.json'):
        (root / 'annotations' / name).write_text('{"one": 1}')
    cfg = copy_config(tmp_path, 'a')
    w, opts = str(tmp_path / 'w'), [f'{k}.dataset.data_root={root}/' for k in
                                    ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    run = Run(cfg, 0, w, opts)
    assert sorted(run.inputs) == [f'{root}/annotations/lvis_v1_train.json',
                                  f'{root}/annotations/lvis_v1_val.json']
    import hashlib
    assert set(run.inputs.values()) == {hashlib.sha256(b'{"one": 1}').hexdigest()}
    (root / 'annotations' / 'lvis_v1_val.json').write_text('{"one": 2}')    # same size
    assert Run(cfg, 0, w, opts).key != run.key


def test_a_variant_of_a_variant_tests_the_training_runs_checkpoint(tmp_path):
    from mmdet_lvis_fed.experiments.runs import Run
    base = copy_config(tmp_path, 'a')
    v1 = tmp_path / 'a' / 'v1.py'
    v1.write_text("_base_ = './x.py'\nretest_of = './x.py'\n")
    v2 = tmp_path / 'a' / 'v2.py'
    v2.write_text("_base_ = './v1.py'\nretest_of = './v1.py'\n")
    w = str(tmp_path / 'w')
    trained = Run(base, 0, w, [])
    os.makedirs(trained.dir)
    with open(osp.join(trained.dir, 'last_checkpoint'), 'w') as f:
        f.write('/x/iter_300.pth')
    assert Run(str(v2), 0, w, []).test_checkpoint() == '/x/iter_300.pth'


def test_randomness_options_other_than_the_seed_reach_the_run(tmp_path):
    from mmdet_lvis_fed.experiments.runs import load_config, seeded
    cfg = copy_config(tmp_path, 'a', 'randomness = dict(seed=3, deterministic=True)\n')
    run_cfg = seeded(load_config(cfg, ['randomness.diff_rank_seed=True']), 7)
    assert run_cfg.randomness == dict(seed=7, deterministic=True, diff_rank_seed=True)
    assert seeded(load_config(copy_config(tmp_path, 'b'), []), 1).randomness == dict(seed=1)


def test_the_fixed_ap_test_replaces_the_loop_and_merges_the_rest():
    from mmengine.config import Config
    from mmdet_lvis_fed.experiments.runs import fixed_ap_config
    cfg = Config.fromfile(LT_BASE)
    fixed = fixed_ap_config(cfg)
    assert fixed.test_cfg == dict(type='TopKTestLoop', max_dets_per_cat=82, masks='evaluated')
    assert fixed.model.test_cfg.rcnn.max_per_img == -1 and fixed.model.test_cfg.rcnn.score_thr == 0
    assert fixed.model.test_cfg.rpn == cfg.model.test_cfg.rpn         # merged, not replaced
    assert fixed.test_evaluator.type == 'LVISFedMetric' and fixed.test_evaluator.max_dets == -1
    assert fixed.test_evaluator.max_dets_per_cat == 82
    assert cfg.test_cfg.type == 'TestLoop'                             # the original untouched
    cfg.fixed_ap_test = dict(cfg.fixed_ap_test, test_dataloader=dict())
    with pytest.raises(ValueError, match=r"sets \['test_dataloader'\]"):
        fixed_ap_config(cfg)


def test_publish_links_the_tested_checkpoint_once(tmp_path):
    from types import SimpleNamespace
    from mmdet_lvis_fed.experiments.runs import publish
    src = tmp_path / 'run' / 'epoch_4.pth'
    src.parent.mkdir()
    src.write_bytes(b'weights')
    run = SimpleNamespace(test_checkpoint=lambda: str(src))
    dest = tmp_path / 'pub' / 'pre.pth'
    publish(run, str(dest))
    assert dest.read_bytes() == b'weights' and osp.samefile(src, dest)
    publish(run, str(dest))                                       # already: nothing changes
    assert sorted(os.listdir(dest.parent)) == ['pre.pth']
    new = tmp_path / 'run2' / 'epoch_4.pth'
    new.parent.mkdir()
    new.write_bytes(b'retrained')
    publish(SimpleNamespace(test_checkpoint=lambda: str(new)), str(dest))
    assert dest.read_bytes() == b'retrained' and sorted(os.listdir(dest.parent)) == ['pre.pth']
