"""The value rules of detections, checked in one place, and the one box rule they share with
the ground truth."""
import pytest

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation.ground_truth import LVISGroundTruth
from tests.test_evaluation.test_federated_eval import det, federated_case
from tests.test_evaluation.test_limits import ours


@pytest.mark.parametrize('box', [[0, 0, -1, 5], [0, 0, 5, -0.5], [float('inf'), 0, 1, 1]])
def test_ground_truth_and_detections_refuse_the_same_boxes(box):
    gt, dets = federated_case()
    bad_gt = dict(gt, annotations=[dict(a) for a in gt['annotations']])
    bad_gt['annotations'][2]['bbox'] = box
    with pytest.raises(LVISFormatError, match=r'annotations\[2\]: field "bbox": .* is not '
                                              'finite, or has a negative width or height'):
        LVISGroundTruth.from_dict(bad_gt)
    with pytest.raises(LVISFormatError, match=r'record 1: field "bbox": .* is not finite, or has '
                                              'a negative width or height'):
        ours(gt, [dets[0], det(1, 1, 0.5, box)])


def test_masks_are_asked_for_where_masks_are_evaluated():
    gt, dets = federated_case()
    with pytest.raises(LVISFormatError, match='record 0: field "segmentation": missing: segm '
                                              'evaluation needs a mask in every detection'):
        ours(gt, dets, 'boundary')
