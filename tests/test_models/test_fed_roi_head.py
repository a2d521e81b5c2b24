"""FedRoIHead hands each RoI's image lists to the class loss: the (N, K) weights that reach the
loss are the federated rule applied to the lists of the RoI's own image, computed here by hand."""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmdet.registry import DATASETS, MODELS
from tests.conftest import ROOT

FED = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_rfs-fed-loss_demo.py')


def expected_weights(rois, labels, lists, k):
    """w[i, j] = 1[j in P_b or N_b] * (1 - 1[j in E_b] * (1 - y_ij)) for RoI i on image b."""
    w = np.zeros((len(labels), k))
    for i, (b, y) in enumerate(zip(rois[:, 0].astype(int), labels)):
        pos, neg, ne = lists[b]
        for j in range(k):
            known = j in pos or j in neg
            positive = j == y
            w[i, j] = float(known and (positive or j not in ne))
    return w


def test_two_images_get_their_own_lists(demo_root):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    cfg = Config.fromfile(FED)
    k = cfg.num_classes
    ds = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=demo_root))
    # Two images with annotated instances; their lists are set to known values that differ.
    idx = [i for i in range(len(ds)) if len(ds.get_data_info(i)['instances']) >= 1][:2]
    batch = pseudo_collate([ds[i] for i in idx])
    lists = []
    for b, sample in enumerate(batch['data_samples']):
        pos = sorted(set(sample.gt_instances.labels.tolist()))
        absent = [j for j in range(k) if j not in pos]
        neg = absent[b:b + 3] if b == 0 else absent[-2:]
        ne = pos[:1] if b == 0 else [absent[5]]         # a positive class, then an unannotated one
        sample.set_metainfo(dict(neg_labels=neg, not_exhaustive_labels=ne))
        lists.append((set(pos), set(neg), set(ne)))
    assert lists[0] != lists[1]

    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    head, seen = model.roi_head.bbox_head, {}
    head_loss, loss_forward = head.loss, head.loss_cls.forward

    def record_head(cls_score, bbox_pred, rois, labels, *args, **kwargs):
        seen.update(rois=rois.detach().numpy(), labels=labels.numpy())
        return head_loss(cls_score, bbox_pred, rois, labels, *args, **kwargs)

    def record_loss(*args, class_weights=None, **kwargs):
        seen['weights'] = class_weights.numpy()
        return loss_forward(*args, class_weights=class_weights, **kwargs)

    head.loss, head.loss_cls.forward = record_head, record_loss
    data = model.data_preprocessor(batch, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert torch.isfinite(losses['loss_cls'])
    rois, labels = seen['rois'], seen['labels']
    assert set(rois[:, 0].astype(int)) == {0, 1}
    want = expected_weights(rois, labels, lists, k)
    assert seen['weights'].shape == (len(labels), k)
    np.testing.assert_array_equal(seen['weights'], want)
    # The rule is not trivially all ones or all zeros on this batch, and the lists are taken
    # after the loss call (nothing left on the head for a later, list-less call).
    assert 0 < want.sum() < want.size and head.federated_lists is None
