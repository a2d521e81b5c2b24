"""LVISFedMetric through its public API (process + evaluate), single and two-process."""
import json
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.dist_cpu import free_port
from mmdet_lvis_fed.evaluation.lvis_fed_metric import LVISFedMetric
from mmdet_lvis_fed.testing.reference import lvis_reference
from tests.conftest import mmdet_lvis_metric, synthetic_case


@pytest.fixture(scope='module')
def case(tmp_path_factory):
    gt, ann_file, cols, rles = synthetic_case(tmp_path_factory.mktemp('metric'), 24, 60, seed=11)
    return gt, str(ann_file), cols, rles


def data_samples(gt, cols, rles):
    """What a Mask R-CNN test step hands the metric: per image boxes (x1y1x2y2), masks, labels."""
    cat_index = {c['id']: i for i, c in enumerate(gt['categories'])}
    out = []
    for im in gt['images']:
        sel = np.nonzero(cols['image_id'] == im['id'])[0]
        b = cols['bbox'][sel].astype(np.float32)
        masks = np.stack([mask_utils.decode(rles[i]) for i in sel]).astype(bool)
        out.append(dict(img_id=im['id'], ori_shape=(im['height'], im['width']),
                        pred_instances=dict(
                            bboxes=torch.from_numpy(np.c_[b[:, :2], b[:, :2] + b[:, 2:]]),
                            scores=torch.from_numpy(cols['score'][sel].astype(np.float32)),
                            labels=torch.tensor([cat_index[c] for c in cols['category_id'][sel]]),
                            masks=torch.from_numpy(masks))))
    return out


def run_metric(gt, samples, ann_file, **kw):
    metric = LVISFedMetric(**kw)
    metric.dataset_meta = dict(classes=tuple(c['name'] for c in gt['categories']),
                               lvis_cat_ids=tuple(c['id'] for c in gt['categories']),
                               ann_file=ann_file)
    for i in range(0, len(samples), 4):
        metric.process({}, samples[i:i + 4])
    return metric.evaluate(len(samples))


def test_metric_equals_lvis_api_on_its_own_results_file(case, tmp_path):
    gt, ann_file, cols, rles = case
    samples = data_samples(gt, cols, rles)
    prefix = str(tmp_path / 'preds')
    assert run_metric(gt, samples, ann_file, format_only=True, outfile_prefix=prefix) == {}
    metrics = run_metric(gt, samples, ann_file, out_dir=str(tmp_path),
                         classwise=True)
    for iou_type in ('bbox', 'segm'):
        with open(f'{prefix}.{iou_type}.json') as f:
            results = json.load(f)
        assert len(results) == len(cols['score'])
        ref = lvis_reference(gt, results, iou_type)
        for key, value in ref.results.items():
            assert metrics[f'lvis_fed/{iou_type}_{key}'] == round(value, 4), (iou_type, key)
    with open(tmp_path / 'lvis_fed_per_category.json') as f:
        per_cat = json.load(f)
    assert len(per_cat['iou_thrs']) == 10
    row = next(r for r in per_cat['bbox'] if r['ap'] is not None)
    assert row['ap'] == pytest.approx(np.mean(row['ap_per_iou']), abs=1e-12)


def test_metric_conversion_equals_mmdet_lvis_metric(case, tmp_path):
    # mmdet's LVISMetric converts the same pred_instances (boxes to x y w h, masks to RLE, labels
    # to category ids) on its own and runs lvis-api: an independent converter and evaluator.
    gt, ann_file, cols, rles = case
    prefix = str(tmp_path / 'mmdet')
    theirs = mmdet_lvis_metric(ann_file, data_samples(gt, cols, rles), prefix)
    metric = LVISFedMetric(ann_file=ann_file, out_dir=str(tmp_path))   # labels: cats by id
    metric.process({}, data_samples(gt, cols, rles))
    ours = metric.evaluate(len(gt['images']))
    for iou_type in ('bbox', 'segm'):
        with open(f'{prefix}.{iou_type}.json') as f:
            ref = lvis_reference(gt, json.load(f), iou_type).results
        for key, value in ref.items():
            assert ours[f'lvis_fed/{iou_type}_{key}'] == round(value, 4), (iou_type, key)
        for key in ('AP', 'AP50', 'APs', 'APr', 'APc', 'APf'):
            assert theirs[f'{iou_type}_{key}'] == float(f'{ref[key]:.3f}'), (iou_type, key)


def test_metric_restricted_to_processed_images_and_subset(case, tmp_path):
    # Half the images, labels for a 5-category subset: the metric judges only those.
    gt, ann_file, cols, rles = case
    chosen = [c['id'] for c in gt['categories']][:5]
    keep = np.isin(cols['category_id'], chosen)
    sub = {k: v[keep] for k, v in cols.items()}
    sub_rles = [r for r, k in zip(rles, keep) if k]
    samples = data_samples(gt, sub, sub_rles)[::2]
    metric = LVISFedMetric(metric='bbox', out_dir=str(tmp_path))
    metric.dataset_meta = dict(lvis_cat_ids=tuple(chosen), ann_file=ann_file)
    for s in samples:      # labels are indices into `chosen`: the first 5 categories keep theirs
        metric.process({}, [s])
    got = metric.evaluate(len(samples))
    results = [dict(image_id=s['img_id'], category_id=chosen[int(label)], score=float(score),
                    bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])])
               for s in samples
               for b, score, label in zip(s['pred_instances']['bboxes'].numpy(),
                                          s['pred_instances']['scores'].numpy(),
                                          s['pred_instances']['labels'].numpy())]
    ref = lvis_reference(gt, results, 'bbox', cat_ids=chosen, img_ids=[s['img_id'] for s in samples])
    for key, value in ref.results.items():
        assert got[f'lvis_fed/bbox_{key}'] == round(value, 4), key


def _worker(rank, world, port, samples, gt, ann_file, out):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world)
    metric = LVISFedMetric(out_dir=os.path.dirname(out))
    metric.dataset_meta = dict(lvis_cat_ids=tuple(c['id'] for c in gt['categories']),
                               ann_file=ann_file)
    # mmengine's DefaultSampler: pad to a multiple of the world size with the first indices,
    # interleave; collect_results then drops the padding (an odd count: one duplicate)
    indices = list(range(len(samples)))
    indices += indices[:(-len(samples)) % world]
    for i in indices[rank::world]:
        metric.process({}, [samples[i]])
    got = metric.evaluate(len(samples))
    if rank == 0:
        with open(out, 'w') as f:
            json.dump(got, f)
    dist.destroy_process_group()


@pytest.mark.parametrize('odd', [False, True], ids=['even', 'odd'])
def test_two_process_gloo_equals_one_process(case, tmp_path, odd):
    gt, ann_file, cols, rles = case
    samples = data_samples(gt, cols, rles)
    if odd == (len(samples) % 2 == 0):
        samples = samples[:-1]
    assert len(samples) % 2 == odd
    single = run_metric(gt, samples, ann_file, out_dir=str(tmp_path))
    port = free_port()
    out = str(tmp_path / 'two.json')
    mp.spawn(_worker, args=(2, port, samples, gt, ann_file, out), nprocs=2, join=True)
    with open(out) as f:
        assert json.load(f) == single


def test_metric_challenge_protocol_equals_the_reference(case, tmp_path):
    # Boundary AP and Fixed AP (and AP-pool) from the metric, against the official rules on the
    # results mmdet's own LVISMetric writes for the same predictions (an independent converter).
    from mmdet_lvis_fed.testing.reference import challenge_eval
    gt, ann_file, cols, rles = case
    prefix = str(tmp_path / 'mmdet')
    mmdet_lvis_metric(ann_file, data_samples(gt, cols, rles), prefix)
    got = run_metric(gt, data_samples(gt, cols, rles), ann_file, metric=['bbox', 'boundary'],
                     max_dets=-1, max_dets_per_cat=30, pooled=True, out_dir=str(tmp_path))
    assert (np.bincount(cols['category_id']) > 30).sum() > 5          # the cap binds
    for iou_type, file in (('bbox', 'bbox'), ('boundary', 'segm')):
        with open(f'{prefix}.{file}.json') as f:
            ref = challenge_eval(gt, json.load(f), iou_type, -1, 30, pooled=True)
        assert got[f'lvis_fed/{iou_type}_AR@30/cat'] == round(ref.results['AR@-1'], 4)
        for key in ('AP', 'AP50', 'APr', 'APc', 'APf', 'AP-pool', 'APf-pool'):
            assert got[f'lvis_fed/{iou_type}_{key}'] == round(ref.results[key], 4), (iou_type,
                                                                                     key)


def test_metric_without_predictions_says_so():
    from mmdet_lvis_fed.errors import LVISFormatError
    with pytest.raises(LVISFormatError, match='no predictions to evaluate') as e:
        LVISFedMetric(ann_file='unused.json').compute_metrics([])
    assert '\n' not in str(e.value)


def test_metric_refuses_a_duplicate_annotation_id_outside_its_subset(case, tmp_path):
    # The metric reads only the subset's annotations, the CLI all of them: both refuse the
    # file the same way.
    from mmdet_lvis_fed.errors import LVISFormatError
    from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
    gt, ann_file, cols, rles = case
    bad = json.loads(open(ann_file).read())
    chosen = [c['id'] for c in gt['categories']][:5]
    outside = [k for k, a in enumerate(bad['annotations']) if a['category_id'] not in chosen]
    bad['annotations'][outside[3]]['id'] = bad['annotations'][outside[1]]['id']
    path = tmp_path / 'dup.json'
    path.write_text(json.dumps(bad))
    message = (f'{path}: annotations[{outside[3]}]: field "id": '
               f'{bad["annotations"][outside[1]]["id"]} is the id of annotations[{outside[1]}] too')
    with pytest.raises(LVISFormatError) as cli:
        LVISGroundTruth.from_file(str(path))
    assert str(cli.value) == message
    metric = LVISFedMetric(metric='bbox', out_dir=str(tmp_path))
    metric.dataset_meta = dict(lvis_cat_ids=tuple(chosen), ann_file=str(path))
    metric.process({}, data_samples(gt, cols, rles)[:2])
    with pytest.raises(LVISFormatError) as e:
        metric.evaluate(2)
    assert str(e.value) == message


def test_fixed_ap_test_piece_builds_beside_a_config(tmp_path):
    # configs/_base_/lvis-fixed-ap_test.py next to an experiment config in one `_base_` list: no
    # key the two define twice (mmengine refuses those), and the child applies its values.
    import os.path as osp
    import shutil

    from mmengine.config import Config
    from mmdet.registry import METRICS, MODELS
    from mmdet.utils import register_all_modules

    import mmdet_lvis_fed.plugin  # noqa: F401
    from tests.conftest import ROOT
    register_all_modules()
    configs = tmp_path / 'configs'
    shutil.copytree(osp.join(ROOT, 'configs'), configs)
    child = configs / 'demo' / 'fixed-ap_child.py'
    child.write_text("_base_ = ['./mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py',\n"
                     "          '../_base_/lvis-fixed-ap_test.py']\n"
                     'test_cfg = _base_.fixed_ap_test_loop\n'
                     'model = dict(test_cfg=_base_.fixed_ap_test_cfg)\n'
                     'test_evaluator = _base_.fixed_ap_evaluator\n')
    cfg = Config.fromfile(str(child))
    assert cfg.test_cfg == dict(type='TopKTestLoop', max_dets_per_cat=10000, masks='evaluated')
    assert cfg.model.test_cfg.rcnn.max_per_img == -1 and cfg.model.test_cfg.rcnn.score_thr == 0
    assert cfg.model.test_cfg.rcnn.nms.iou_threshold == 0.5          # merged, not replaced
    metric = METRICS.build(cfg.test_evaluator)
    assert (metric.metrics, metric.max_dets, metric.max_dets_per_cat) == \
        (['bbox', 'segm', 'boundary'], -1, 10000)
    assert metric.classwise                                           # the config's, kept
    assert type(MODELS.build(cfg.model)).__name__ == 'MaskRCNN'


def test_masks_not_at_the_original_size_name_the_image_and_shapes():
    metric = LVISFedMetric(ann_file='unused.json', metric=['segm'])
    sample = dict(img_id=7, ori_shape=(48, 64), pred_instances=dict(
        bboxes=torch.zeros(2, 4), scores=torch.ones(2), labels=torch.zeros(2, dtype=torch.long),
        masks=torch.zeros(2, 24, 32, dtype=torch.bool)))          # the resized image's size
    with pytest.raises(ValueError, match=r'image 7: pred_instances.masks has shape \(2, 24, 32\), '
                                         r'not \(2, 48, 64\)'):
        metric.process({}, [sample])
