"""The full-vocabulary LVIS v1 family (configs/lvis_v1/): K = 1203 in every head and class loss,
datasets that take every category of a v1 file in id order, repeat factors at t = 1e-3 equal to
detectron2's formula on LVIS's real image counts, and class frequencies from 1,203 counts."""
import copy
import glob
import json
import math
import os.path as osp
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdet.apis import init_detector
from mmdet.registry import DATA_SAMPLERS, DATASETS, MODELS
from mmdet_lvis_fed.engine.class_frequency import ClassFrequencyHook
from mmdet_lvis_fed.testing import lvis_v1
from tests.conftest import ROOT

FAMILY = osp.join(ROOT, 'configs', 'lvis_v1')
CONFIGS = sorted(glob.glob(osp.join(FAMILY, '*.py')))
BASELINE = osp.join(FAMILY, 'mask-rcnn_r50_fpn_in1k_rfs-1e-3_ms-1x_lvis-v1.py')
K = 1203
NUM_TRAIN_IMAGES = 100170
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# Class outputs of the box head per class loss: softmax K+1, sigmoid K, EQLv2 / ECM K+1 (the last
# one objectness), Seesaw K+2.
CLS_OUT = {'CrossEntropyLoss': K + 1, 'FederatedSigmoidLoss': K, 'FixedEQLV2Loss': K + 1,
           'ECMLoss': K + 1, 'FixedSeesawLoss': K + 2}


def name(path):
    return osp.basename(path)


@pytest.fixture(scope='module')
def v1_root(tmp_path_factory):
    """Generated LVIS v1 files (all 1,203 categories, LVIS's image counts) under the names the
    configs read: 60 train and 30 val images."""
    root = tmp_path_factory.mktemp('lvis_v1')
    lvis_v1.write_lvis_v1(str(root / 'annotations' / 'lvis_v1_train.json'), 60, seed=0)
    lvis_v1.write_lvis_v1(str(root / 'annotations' / 'lvis_v1_val.json'), 30, seed=1,
                          split='val')
    return str(root) + '/'


def build_dataset(cfg, loader, root):
    ds_cfg = copy.deepcopy(cfg[loader]['dataset'])
    ds_cfg.update(data_root=root, check_files=False)
    return DATASETS.build(ds_cfg)


def test_the_family_is_there():
    assert len(CONFIGS) >= 8 and BASELINE in CONFIGS


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_init_detector_states_1203_classes(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmdet_lvis_fed.plugin']
    for loader in LOADERS:         # no class list: every category of the file
        assert 'classes' not in (cfg[loader]['dataset'].get('metainfo') or {})
    cfg.model.backbone.init_cfg = None
    model = init_detector(cfg, None, device='cpu')
    bbox, mask = model.roi_head.bbox_head, model.roi_head.mask_head
    assert bbox.num_classes == mask.num_classes == K
    assert getattr(bbox.loss_cls, 'num_classes', K) == K
    assert bbox.fc_cls.out_features == CLS_OUT[type(bbox.loss_cls).__name__]
    assert mask.conv_logits.out_channels == K
    assert model.test_cfg.rcnn.max_per_img == 300 and model.test_cfg.rcnn.score_thr == 1e-4
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)


def distinct_datasets(paths):
    """One config per distinct set of dataloader datasets (the family's configs share theirs):
    building each of them once tests every config's."""
    seen = {}
    for path in paths:
        cfg = Config.fromfile(path)
        seen.setdefault(repr([cfg[loader]['dataset'] for loader in LOADERS]), path)
    return sorted(seen.values())


@pytest.mark.parametrize('path', distinct_datasets(CONFIGS), ids=name)
def test_datasets_take_all_categories_in_id_order(path, v1_root):
    cfg = Config.fromfile(path)
    names = tuple(c['name'] for c in lvis_v1.lvis_v1_categories())
    for loader in LOADERS:
        ds = build_dataset(cfg, loader, v1_root)
        meta = ds.metainfo
        assert meta['classes'] == names and meta['lvis_cat_ids'] == tuple(range(1, K + 1))
        assert meta['image_count_images'] == NUM_TRAIN_IMAGES
        assert len(ds) == (60 if loader == 'train_dataloader' else 30)


def detectron2_repeat_factors(dataset_dicts, repeat_thresh, category_freq):
    """detectron2's RepeatFactorTrainingSampler._get_repeat_factors, transcribed: r(c) =
    max(1, sqrt(t / f(c))), r(I) = max over the categories of I's annotations (1 with none)."""
    category_rep = {c: max(1.0, math.sqrt(repeat_thresh / f)) for c, f in category_freq.items()}
    rep_factors = []
    for d in dataset_dicts:
        cat_ids = {ann['category_id'] for ann in d['annotations']}
        rep_factors.append(max({category_rep[c] for c in cat_ids}, default=1.0))
    return rep_factors, category_rep


def test_repeat_factors_equal_detectron2_on_lvis_counts(v1_root):
    cats = lvis_v1.lvis_v1_categories()
    freq = {c['id']: c['image_count'] / NUM_TRAIN_IMAGES for c in cats}
    with open(osp.join(v1_root, 'annotations', 'lvis_v1_train.json')) as f:
        raw = json.load(f)
    anns = defaultdict(list)
    for a in raw['annotations']:
        anns[a['image_id']].append(a)

    cfg = Config.fromfile(BASELINE)
    assert cfg.train_dataloader.sampler == dict(type='RepeatFactorSampler', repeat_thr=1e-3,
                                                freq_source='file')
    ds = build_dataset(cfg, 'train_dataloader', v1_root)
    sampler = DATA_SAMPLERS.build(dict(cfg.train_dataloader.sampler, dataset=ds, seed=0))
    dicts = [dict(annotations=anns[ds.get_data_info(i)['img_id']]) for i in range(len(ds))]
    expected, cat_r = detectron2_repeat_factors(dicts, 1e-3, freq)

    # LVIS's own numbers: a category on 1 of 100,170 images is repeated sqrt(100.17) times; the
    # 798 rare and common categories (at most 100 images, f < 1e-3) are repeated, no frequent one.
    assert cat_r[31] == pytest.approx(10.008496390567366, abs=1e-12)        # baboon, 1 image
    assert cat_r[153] == pytest.approx(math.sqrt(100.17 / 50), abs=1e-12)   # briefcase, 50
    assert cat_r[3] == 1.0                                                  # airplane, 1,911
    assert sum(r > 1 for r in cat_r.values()) == 798
    assert sum(c['frequency'] in 'rc' for c in cats) == 798
    assert sampler.repeat_factors.tolist() == pytest.approx(expected, abs=1e-12)
    assert max(expected) == pytest.approx(10.008496390567366, abs=1e-12)
    assert len(sampler) == round(sum(expected))


def box_head_of(path):
    """The box head of a config, built alone (its frequency users all live there)."""
    cfg = Config.fromfile(path)
    return MODELS.build(cfg.model.roi_head.bbox_head)


def set_frequencies(module, dataset):
    ClassFrequencyHook().before_train(SimpleNamespace(
        model=module, train_dataloader=SimpleNamespace(dataset=dataset)))


@pytest.fixture(scope='module')
def lvis_freq():
    return np.array([c['image_count'] for c in lvis_v1.lvis_v1_categories()]) / NUM_TRAIN_IMAGES


@pytest.fixture(scope='module')
def train_dataset(v1_root):
    return build_dataset(Config.fromfile(BASELINE), 'train_dataloader', v1_root)


def test_sampled_federated_loss_teaches_50_classes(train_dataset, lvis_freq):
    path = osp.join(FAMILY, 'mask-rcnn_r50_fpn_in1k_rfs-1e-3-fed-loss-50_ms-1x_lvis-v1.py')
    assert Config.fromfile(path).model.roi_head.type == 'StandardRoIHead'   # no per-image lists
    head = box_head_of(path)
    set_frequencies(head, train_dataset)
    loss = head.loss_cls
    assert (loss.unknown, loss.num_sampled, loss.freq_weight_power) == ('sample', 50, 0.5)
    assert torch.allclose(loss.class_freq, torch.as_tensor(lvis_freq, dtype=torch.float32))
    # Through the head's loss, as training calls it: 2 foreground classes + 48 drawn get a
    # gradient, none of the other 1,153.
    torch.manual_seed(0)
    n = 6
    labels = torch.tensor([0, 700, 700, K, K, K])
    score = torch.zeros(n, K, requires_grad=True)
    rois = torch.tensor([[0, 0, 0, 10, 10]] * n, dtype=torch.float32)
    out = head.loss(score, torch.zeros(n, 4 * K), rois, labels, torch.ones(n),
                    torch.zeros(n, 4), torch.zeros(n, 4))
    out['loss_cls'].backward()
    taught = score.grad.abs().sum(0) > 0
    assert int(taught.sum()) == 50 and taught[0] and taught[700]


@pytest.mark.parametrize('remedy', ['ecm', 'calib'])
def test_frequencies_reach_ecm_and_calibration(remedy, train_dataset, lvis_freq):
    config = f'mask-rcnn_r50_fpn_in1k_rfs-1e-3-{remedy}_ms-1x_lvis-v1.py'
    head = box_head_of(osp.join(FAMILY, config))
    set_frequencies(head, train_dataset)
    if remedy == 'ecm':
        assert torch.allclose(head.loss_cls.class_freq.double(), torch.as_tensor(lvis_freq),
                              rtol=1e-6)
        margin = head.loss_cls.margin
        assert margin.shape == (K + 1,) and torch.isfinite(margin).all()
    else:
        assert torch.allclose(head.calibration.log_freq.double(),
                              torch.as_tensor(np.log(lvis_freq)), rtol=1e-6)


def test_eql_takes_its_tail_from_lvis_counts(train_dataset, lvis_freq):
    piece = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'longtail.py')).eql_loss
    piece = {k: v for k, v in piece.items() if k != '_delete_'}
    loss = MODELS.build(dict(piece, num_classes=K))
    set_frequencies(loss, train_dataset)
    w = loss.extra_weights(torch.tensor([2, K]))       # an airplane RoI (frequent), a background
    # f < 0.00177 (fewer than ~177 of 100,170 images): 877 tail classes lose its negative terms
    assert int((w[0] == 0).sum()) == int((lvis_freq < 0.00177).sum()) == 877
    assert bool((w[1] == 1).all())


def test_eqlv2_classifier_starts_at_the_authors_prior():
    """The authors' EQLv2 head starts every sigmoid logit at the prior 0.001; mmdet's at 0.5."""
    head = box_head_of(osp.join(FAMILY, 'mask-rcnn_r50_fpn_in1k_eqlv2_ms-1x_lvis-v1.py'))
    head.init_weights()
    assert head.fc_cls.out_features == K + 1
    assert torch.allclose(head.fc_cls.bias, torch.full((K + 1,), -math.log(999.0)))
    assert 0.005 < float(head.fc_cls.weight.std()) < 0.015
    assert float(head.fc_reg.weight.std()) < 0.002
