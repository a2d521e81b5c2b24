"""TopKTestLoop (two-pass top-K inference for Fixed AP): the loop run through mmengine's Runner
as `mim test` runs it, against one uncapped pass scored by tools/lvis_eval.py (the independent path) on a randomly initialised detector."""
import json
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tests.conftest import ROOT
from tests.test_engine.test_topk_per_class import kth_highest

BASELINE = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')
PIECE = osp.join(ROOT, 'configs', '_base_', 'lvis-fixed-ap_test.py')
K = 40          # per class over 2 images: most classes have about twice as many
IMAGES = 2


@pytest.mark.parametrize('value', ['100', 2.5, True, 0, -3])
def test_loop_values_are_whole_numbers_checked_before_anything_is_built(value):
    from mmdet_lvis_fed.engine.topk_test_loop import TopKTestLoop
    for name in ('max_dets_per_cat', 'mask_chunk', 'log_interval'):
        with pytest.raises(ValueError, match=f'TopKTestLoop: {name} must be a whole number >= 1'):
            TopKTestLoop(None, None, None, **{name: value})      # runner None: nothing built


@pytest.mark.parametrize('world_size', [1, 3, 4])
def test_the_padding_of_a_distributed_test_set_is_found(monkeypatch, world_size):
    # mmengine's DefaultSampler repeats the first images so that every rank gets as many: pass 1
    # must leave the repeats out (here 7 images).
    from types import SimpleNamespace

    import mmengine.dataset.sampler as sampler_module
    from mmengine.dataset import DefaultSampler

    import mmdet_lvis_fed.engine.topk_test_loop as loop
    seen = []
    for rank in range(world_size):
        monkeypatch.setattr(sampler_module, 'get_dist_info', lambda: (rank, world_size))
        monkeypatch.setattr(loop, 'get_dist_info', lambda: (rank, world_size))
        sampler = DefaultSampler(list(range(7)), shuffle=False, seed=0)
        indices = list(sampler)
        padded = loop._padded_tail(SimpleNamespace(sampler=sampler))
        seen += indices[:len(indices) - padded]
    assert sorted(seen) == list(range(7))


# --- the loop under mmengine's Runner -----------------------------------------------------------
#
# A randomly initialised detector scores no object, and its Fixed AP would be 0 whatever the loop
# did. So that the numbers compared are not all zero, the test's detector sees each image's
# ground-truth boxes among its proposals (a patched RPN: both passes and the uncapped run get the
# same ones) and its mask logits start high (masks fill their boxes). 50 proposals per image keep
# the uncapped pass quick.

@pytest.fixture(scope='module')
def setup(demo_root, tmp_path_factory):
    """(child config applying the piece, random-weight checkpoint, annotation file, data)."""
    from mmdet.apis import init_detector
    from mmdet.registry import DATASETS
    folder = tmp_path_factory.mktemp('topk')
    child = folder / 'fixed-ap_child.py'
    child.write_text(f'_base_ = [{BASELINE!r}, {PIECE!r}]\n'
                     'test_cfg = _base_.fixed_ap_test_loop\n'
                     'model = dict(test_cfg=_base_.fixed_ap_test_cfg)\n'
                     'test_evaluator = _base_.fixed_ap_evaluator\n')
    cfg = Config.fromfile(str(child))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(1)
    state = init_detector(cfg, None, device='cpu').state_dict()
    state['roi_head.mask_head.conv_logits.bias'] += 5
    meta = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=demo_root)).metainfo
    # the 40-image demo has categories in no training image: counts raised by 1
    meta = dict(meta, image_count=tuple(c + 1 for c in meta['image_count']))
    ckpt = str(folder / 'random.pth')
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=meta)), ckpt)
    return str(child), ckpt, osp.join(demo_root, 'annotations', 'lvis_v1_val.json'), demo_root


@pytest.fixture
def gt_proposals(monkeypatch):
    """The RPN's proposals with each image's ground-truth boxes first (demo images are not
    resized, so the boxes are in the image's coordinates)."""
    _with_gt_proposals(monkeypatch)


def run_test(setup, work_dir, name, two_pass, dump, **changes):
    """`mim test CHILD --checkpoint CKPT --out dump` on the first IMAGES test images, K per
    class (dump None: no `--out`); `two_pass=False`: mmengine's TestLoop with the piece's
    uncapped model (and a dump only)."""
    child, ckpt, _, demo_root = setup
    cfg = Config.fromfile(child)
    cfg.work_dir, cfg.load_from, cfg.experiment_name = str(work_dir), ckpt, name
    cfg.visualizer.name = f'visualizer-{name}'        # a process-wide instance per name
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[split].dataset.data_root = demo_root
        cfg[split].num_workers, cfg[split].persistent_workers = 0, False
    cfg.test_dataloader.dataset.indices = IMAGES
    cfg.model.test_cfg.rpn.max_per_img = 50
    cfg.test_cfg.max_dets_per_cat = K
    cfg.test_cfg.mask_chunk = 7         # several chunks per image: the masks must not change
    cfg.test_evaluator = [dict(cfg.test_evaluator, metric=['bbox', 'segm'], pooled=False,
                               max_dets_per_cat=K),
                          dict(type='DumpDetResults', out_file_path=str(dump))][:2 if dump else 1]
    if not two_pass:
        cfg.test_cfg = dict(type='TestLoop')
        cfg.test_evaluator = cfg.test_evaluator[1:]
    cfg.merge_from_dict(changes)
    runner = Runner.from_cfg(cfg)
    return runner, runner.test()


def lvis_eval(ann, dump, iou_type, out, *caps):
    """tools/lvis_eval.py over a dump, as a user runs it: its summary numbers."""
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'lvis_eval.py'), ann, str(dump),
                    '--iou-type', iou_type, '--result-images-only', '--out', str(out), *caps],
                   check=True, capture_output=True, text=True)
    return json.loads(out.read_text())


def per_image(dump):
    with open(dump, 'rb') as f:
        return {d['img_id']: d['pred_instances'] for d in pickle.load(f)}


def test_two_passes_equal_one_uncapped_pass(setup, tmp_path, gt_proposals):
    ann = setup[2]
    runner, metrics = run_test(setup, tmp_path / 'two', 'topk-two', True, tmp_path / 'two.pkl')
    run_test(setup, tmp_path / 'one', 'topk-one', False, tmp_path / 'one.pkl')
    thresholds = runner.test_loop.thresholds
    two, one = per_image(tmp_path / 'two.pkl'), per_image(tmp_path / 'one.pkl')
    assert sorted(two) == sorted(one) and len(one) == IMAGES

    # The thresholds are each class's K-th score of the uncapped pass; pass 2 gave the metric
    # exactly the uncapped detections at or above them, in the same order, masks included.
    labels = np.concatenate([p['labels'].numpy() for p in one.values()])
    scores = np.concatenate([p['scores'].numpy() for p in one.values()])
    np.testing.assert_array_equal(thresholds, kth_highest(labels, scores, 24, K))
    for img_id, got in two.items():
        want = one[img_id]
        keep = want['scores'] >= torch.from_numpy(thresholds)[want['labels']]
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(got[key], want[key][keep]), (img_id, key)
        assert got['masks'] == [m for m, k in zip(want['masks'], keep.tolist()) if k]

    # Not trivial: the caps bind for most classes and removed detections; every class kept
    # at least K, or all it had.
    kept = np.concatenate([p['labels'].numpy() for p in two.values()])
    uncapped, capped = np.bincount(labels, minlength=24), np.bincount(kept, minlength=24)
    full = uncapped >= K
    assert full.sum() >= 18 and (capped[full] >= K).all()
    assert (capped[~full] == uncapped[~full]).all() and capped.sum() < 0.7 * uncapped.sum()

    caps = ['--max-dets', '-1', '--max-dets-per-cat', str(K)]
    for iou_type in ('bbox', 'segm'):
        want = lvis_eval(ann, tmp_path / 'one.pkl', iou_type, tmp_path / f'one_{iou_type}.json',
                         *caps)
        got = lvis_eval(ann, tmp_path / 'two.pkl', iou_type, tmp_path / f'two_{iou_type}.json',
                        *caps)
        assert got == want                                           # every key, exactly
        assert {k: metrics[f'lvis_fed/{iou_type}_{k}'] for k in want} == \
            {k: round(v, 4) for k, v in want.items()}                # the metric's, rounded
        # the numbers are not zero, and the cap changes them
        uncut = lvis_eval(ann, tmp_path / 'one.pkl', iou_type, tmp_path / 'uncut.json',
                          '--max-dets', '-1')
        assert 0 < want['AP'] < uncut['AP'], (iou_type, want['AP'], uncut['AP'])


@pytest.mark.parametrize('changes, message', [
    (dict(model=dict(test_cfg=dict(rcnn=dict(max_per_img=100)))),
     r'model.test_cfg.rcnn.max_per_img=100 cuts each image'),
    (dict(test_cfg=dict(max_dets_per_cat=K - 1)),
     rf"max_dets_per_cat={K - 1} is below the metric's {K}"),
    (dict(test_evaluator=[dict(type='LVISFedMetric', metric='bbox')]),
     r'LVISFedMetric must cut per category and not per image .* got max_dets_per_cat=-1, '
     r'max_dets=300'),
], ids=['per-image-cap', 'loop-k-below-metric', 'metric-per-image-cap'])
def test_a_config_that_cannot_be_exact_is_refused(setup, tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        run_test(setup, tmp_path, f'topk-refused-{tmp_path.name}', True, tmp_path / 'x.pkl',
                 **changes)


@pytest.fixture(scope='module')
def uncapped(setup, tmp_path_factory):
    """One uncapped pass dumped, and lvis_eval.py's numbers of it under the cap (bbox, segm)."""
    from _pytest.monkeypatch import MonkeyPatch
    folder = tmp_path_factory.mktemp('uncapped')
    with MonkeyPatch.context() as mp:
        _with_gt_proposals(mp)
        run_test(setup, folder / 'one', 'topk-uncapped', False, folder / 'one.pkl')
    caps = ['--max-dets', '-1', '--max-dets-per-cat', str(K)]
    return {t: lvis_eval(setup[2], folder / 'one.pkl', t, folder / f'{t}.json', *caps)
            for t in ('bbox', 'segm')}


def _with_gt_proposals(mp):
    """`gt_proposals` on a MonkeyPatch."""
    from mmdet.models.dense_heads import RPNHead
    from mmengine.structures import InstanceData
    predict = RPNHead.predict

    def with_gt(self, x, batch_data_samples, rescale=False):
        out = []
        for res, sample in zip(predict(self, x, batch_data_samples, rescale=rescale),
                               batch_data_samples):
            gt = sample.gt_instances.bboxes.to(res.bboxes)
            out.append(InstanceData(bboxes=torch.cat([gt, res.bboxes]),
                                    scores=torch.cat([res.scores.new_ones(len(gt)),
                                                      res.scores])))
        return out
    mp.setattr(RPNHead, 'predict', with_gt)


@pytest.mark.parametrize('masks', ['evaluated', 'all'])
def test_masks_made_for_the_metric_alone_give_the_same_numbers(setup, tmp_path, gt_proposals,
                                                               uncapped, monkeypatch, masks):
    # With LVISFedMetric the only reader (no dump), pass 2 pastes each mask inside its box and
    # hands the metric RLE; with masks='evaluated' only detections of a class annotated on their
    # image get a mask. The metric's numbers, unrounded, equal lvis_eval.py's on the uncapped
    # dump, every key.
    from mmdet_lvis_fed.evaluation import lvis_fed_metric
    seen = {}

    def spy(gt, dets, iou_type, **kwargs):
        res = evaluate(gt, dets, iou_type, **kwargs)
        seen[iou_type] = res.summary
        return res
    evaluate = lvis_fed_metric.evaluate
    monkeypatch.setattr(lvis_fed_metric, 'evaluate', spy)
    runner, _ = run_test(setup, tmp_path, f'topk-rle-{masks}', True, None,
                         test_cfg=dict(masks=masks))
    for iou_type in ('bbox', 'segm'):
        assert {k: seen[iou_type][k] for k in uncapped[iou_type]} == uncapped[iou_type]
    computed = runner.test_loop.masks_computed
    if masks == 'all':
        assert computed is None
    else:       # a share of the kept detections: the demo images have 1-5 of 24 classes each
        assert 0 < computed < 0.5 * 2 * 24 * K
