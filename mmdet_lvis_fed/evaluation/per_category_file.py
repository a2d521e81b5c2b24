"""`lvis_fed_per_category.json`, what LVISFedMetric writes beside its log: its one reader and
validator (the study report and the AP-by-IoU plot read it). No numpy, torch or mmengine.

The file: ``{"iou_thrs": [0.5, ...], "area": "all", "bbox": [row, ...], "segm": [row, ...]}``, a
row per evaluated category: ``{"id", "name", "frequency", "num_gt", "ap", "ap_per_iou"}``, with
``ap`` and ``ap_per_iou`` null where the category's AP is undefined (no ground truth in the
evaluated images).
"""
import json

from ..errors import LVISFormatError, describe, field_error
from ..io import read_bytes

FILE_NAME = 'lvis_fed_per_category.json'
IOU_TYPES = ('bbox', 'segm', 'boundary')
ROW_FIELDS = ('name', 'frequency', 'ap', 'ap_per_iou')


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_per_category(path, iou_types=None):
    """The file at `path`, checked; LVISFormatError naming the file, the record and the field
    otherwise (a truncated or empty file, a row without a field, AP that is not a number).

    Args:
        iou_types: the IoU types the reader needs (each must be there); None: at least one.
    """
    try:
        per_cat = json.loads(read_bytes(path))
    except ValueError as e:
        raise LVISFormatError(f'{path}: not valid JSON ({e}): a truncated or empty file? Test '
                              'the run again') from None
    if not isinstance(per_cat, dict) or not isinstance(per_cat.get('iou_thrs'), list):
        raise LVISFormatError(f'{path}: no field "iou_thrs": not an {FILE_NAME} file')
    n_thrs = len(per_cat['iou_thrs'])
    for t in iou_types or ():
        if t not in per_cat:
            raise LVISFormatError(f'{path}: field "{t}" is missing')
    present = [t for t in IOU_TYPES if t in per_cat]
    if not present:
        raise LVISFormatError(f'{path}: no field "bbox" or "segm": not an {FILE_NAME} file')
    for t in present:
        rows = per_cat[t]
        if not isinstance(rows, list):
            raise LVISFormatError(f'{path}: field "{t}" is not a list of categories')
        for i, row in enumerate(rows):
            record = f'{t}[{i}]'
            if not isinstance(row, dict):
                raise LVISFormatError(f'{path}: {record} is {describe(row)}, not a category')
            for key in ROW_FIELDS:
                if key not in row:
                    raise field_error(path, record, key, 'missing')
            if row['ap'] is not None and not _number(row['ap']):
                raise field_error(path, record, 'ap', f'{describe(row["ap"])} is not a number')
            ap = row['ap_per_iou']
            if ap is not None and (not isinstance(ap, list) or len(ap) != n_thrs
                                   or not all(map(_number, ap))):
                raise field_error(path, record, 'ap_per_iou',
                                  f'{describe(ap)} is not one number per IoU threshold')
    return per_cat
