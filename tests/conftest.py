import copy
import logging
import os.path as osp

import numpy as np
import pytest

SHARED = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '..', 'shared', 'data')
LVIS_VAL_100 = osp.normpath(osp.join(SHARED, 'lvis_val_100.json'))
COCO_TO_SYNSET = osp.normpath(osp.join(SHARED, 'coco_to_synset.json'))


@pytest.fixture
def lvis_val_100():
    if not osp.exists(LVIS_VAL_100):
        pytest.skip(f'{LVIS_VAL_100} not found: the real LVIS fixture lives in ../shared/data/, '
                    'beside the repository, and this clone has none')
    return LVIS_VAL_100


def lvis_reference(gt, results, iou_type, cat_ids=None, img_ids=None):
    """lvis-api 0.5.3 on in-memory data: the independent reference for exact numbers.

    lvis-api calls np.float (gone since numpy 1.24): the shim is set here, in tests only.
    """
    np.float = float
    from lvis import LVIS, LVISEval, LVISResults

    class InMemory(LVIS):
        def __init__(self, dataset):
            self.logger = logging.getLogger('lvis')
            self.dataset = dataset
            self._create_index()

    g = InMemory(copy.deepcopy(gt))
    ev = LVISEval(g, LVISResults(g, copy.deepcopy(results)), iou_type)
    if cat_ids is not None:
        ev.params.cat_ids = sorted(cat_ids)
    if img_ids is not None:
        ev.params.img_ids = sorted(img_ids)
    ev.run()
    return ev
