"""mmdet_lvis_fed.evaluation.per_category_file: the one reader of lvis_fed_per_category.json."""
import json

import pytest

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation.per_category_file import read_per_category

ROW = dict(id=1, name='a', frequency='r', num_gt=2, ap=0.5, ap_per_iou=[0.5, 0.5])


def write(tmp_path, text):
    path = tmp_path / 'lvis_fed_per_category.json'
    path.write_text(text if isinstance(text, str) else json.dumps(text))
    return path


def test_a_whole_file_reads_back(tmp_path):
    data = dict(iou_thrs=[0.5, 0.55], area='all', bbox=[ROW, dict(ROW, ap=None, ap_per_iou=None)],
                segm=[ROW])
    assert read_per_category(str(write(tmp_path, data)), iou_types=('bbox', 'segm')) == data


@pytest.mark.parametrize('text, needle', [
    ('{"iou_thrs": [0.5], "bbox": [{"frequency": "r", "ap": 0.5', 'not valid JSON'),
    ('', 'not valid JSON'),
    (dict(iou_thrs=[0.5, 0.55], bbox=[{k: v for k, v in ROW.items() if k != 'ap_per_iou'}],
          segm=[]), 'bbox[0]: field "ap_per_iou": missing'),
    (dict(iou_thrs=[0.5, 0.55], bbox=[]), 'field "segm" is missing'),
    (dict(iou_thrs=[0.5, 0.55], bbox=[dict(ROW, ap='0.5')], segm=[]),
     'bbox[0]: field "ap": "0.5" is not a number'),
    (dict(iou_thrs=[0.5, 0.55], bbox=[dict(ROW, ap_per_iou=[0.5])], segm=[]),
     'bbox[0]: field "ap_per_iou": [0.5] is not one number per IoU threshold'),
    ([1, 2], 'no field "iou_thrs"'),
])
def test_a_bad_file_names_the_file_record_and_field(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(LVISFormatError) as e:
        read_per_category(str(path), iou_types=('bbox', 'segm'))
    message = str(e.value)
    assert message.startswith(f'{path}: ') and needle in message and '\n' not in message, message
