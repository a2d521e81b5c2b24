"""Detections in columns, and every rule a detection's values must follow, in one function.

The readers (`results_json.py`, `mmdet_dump.py`) check types and shapes as they decode, and
`detections_from_predictions` turns mmdet's predictions into these columns; `check_detections`
checks the values against the ground truth, whatever the reader: ids that name an image and a
category of the annotation file, a score that can be ranked, a box that passes the box rule of the
annotation file (`records.check_boxes`, the same rule as the ground truth's) and, where masks are
read, masks of their image's size. A mask's RLE counts are decoded and checked when pycocotools is
about to read it (`masks.check_rle_counts`): decoding 1.5M strings only to check them would cost
more than the IoUs.
"""
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Sequence

import numpy as np

from ..errors import describe, field_error
from ..records import BOX_RULE, check_boxes
from .columns import index_of
from .masks import RLEColumn, mask_column


class ResultRecords:
    """How messages name detection rows of the LVIS results format: row i is `record i`, fields
    by their names in the format (image_id, category_id, score, bbox, segmentation)."""

    def record(self, row):
        return f'record {row}'

    def field(self, key, row):
        return key

    def name(self, key, row):
        """(record, field) of a row's value, for `errors.field_error`."""
        return self.record(row), self.field(key, row)

    def mask_name(self, row):
        return self.name('segmentation', row)

    def box_problem(self, bbox):
        """`bbox`: the row's x, y, w, h."""
        return f'{describe(bbox.tolist())} {BOX_RULE}'


class PredictionRecords(ResultRecords):
    """How messages name rows that came from mmdet's per-image predictions: record r of the list
    (one per image, with its `img_id`), detection j of its `pred_instances`."""

    def __init__(self, counts, img_ids):
        self.ends = np.cumsum(np.asarray(counts, np.int64))
        self.img_ids = list(img_ids)

    def _where(self, row):
        r = int(np.searchsorted(self.ends, row, 'right'))
        return r, row - (int(self.ends[r - 1]) if r else 0)

    def record(self, row):
        r, _ = self._where(row)
        return f'record {r} (img_id {self.img_ids[r]})'

    def field(self, key, row):
        if key == 'image_id':
            return 'img_id'
        _, j = self._where(row)
        name = dict(category_id='labels', score='scores', bbox='bboxes',
                    segmentation='masks')[key]
        return f'pred_instances.{name}[{j}]'

    def box_problem(self, bbox):
        x, y, w, h = bbox.tolist()
        return (f'{describe([x, y, x + w, y + h])} (x1, y1, x2, y2) is not finite, or has x2 < x1 '
                'or y2 < y1')


@dataclass
class Detections:
    """Detections in columns: image id, category id, score, box (x, y, w, h) and optional RLE.

    Attributes:
        segm: an RLEColumn (or RLE dicts) aligned with the rows, or None.
        source: the file they came from, for messages.
        box_given: False when the results carry no boxes: boxes were derived from the masks, and
            areas come from the masks (lvis-api's rule).
        images: the images predicted on, with or without detections (mmdet's dumps know them).
        names: how messages name a row (`ResultRecords`, the default, or `PredictionRecords`).
    """
    image_id: np.ndarray
    category_id: np.ndarray
    score: np.ndarray
    bbox: np.ndarray
    segm: Optional[Sequence] = None
    source: Optional[str] = None
    box_given: bool = True
    images: Optional[np.ndarray] = None
    names: ResultRecords = field(default_factory=ResultRecords, repr=False)

    def __len__(self):
        return len(self.score)

    @classmethod
    def empty(cls):
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)), [])


class CheckedDetections(NamedTuple):
    """The columns `check_detections` vouches for: dense image and category indices, float64
    scores and boxes, and the masks (an RLEColumn) where they were asked for."""
    img: np.ndarray
    cat: np.ndarray
    score: np.ndarray
    bbox: np.ndarray
    segm: Optional[RLEColumn]


def check_detections(gt, dets: Detections, with_masks: bool) -> CheckedDetections:
    """Every value rule of a detection, checked against the ground truth `gt`. The error names
    the file, the first bad record and its field."""
    names, src = dets.names, dets.source or 'detections'
    ann = f'the annotation file{f" {gt.source}" if gt.source else ""}'

    def error(key, row, problem):
        return field_error(src, *names.name(key, row), problem)

    img = index_of(dets.image_id, gt.img_ids, lambda i: error(
        'image_id', i, f'{dets.image_id[i]} is not an image of {ann}'))
    cat = index_of(dets.category_id, gt.cat_ids, lambda i: error(
        'category_id', i, f'{dets.category_id[i]} is not a category of {ann}'))
    score = np.asarray(dets.score, np.float64)
    bad = np.isnan(score)
    if bad.any():
        raise error('score', int(np.argmax(bad)), 'NaN cannot be ranked')
    bbox = np.asarray(dets.bbox, np.float64).reshape(-1, 4)
    check_boxes(bbox, lambda i: error('bbox', i, names.box_problem(bbox[i])))
    segm = None
    if with_masks:
        if len(dets) and dets.segm is None:
            raise error('segmentation', 0, 'missing: segm evaluation needs a mask in every '
                        'detection')
        segm = mask_column(dets.segm if dets.segm is not None else [], gt.img_hw[img], src,
                           names.mask_name)
    return CheckedDetections(img, cat, score, bbox, segm)


# mmdet's predictions (the metric's per-image arrays, a test dump) as detections ------------


def detections_from_predictions(preds: Sequence[dict], label_cat_ids, source: Optional[str],
                                with_masks: bool) -> Detections:
    """mmdet's per-image predictions as LVIS columns.

    Each entry: ``img_id``, ``bboxes`` (n, 4) x1 y1 x2 y2, ``scores`` (n,), ``labels`` (n,) 0..K-1
    and, with `with_masks`, ``masks`` (an RLEColumn or a list of RLE dicts). Label k is category
    ``label_cat_ids[k]``. Boxes become x, y, w, h as mmdet's own LVIS metric writes them: the
    values taken to float64 first (mmdet's `bbox.tolist()`), then w = x2 - x1 and h = y2 - y1 in
    float64 (subtracting in float32 would round a width of 4.99999990 to 5.0 and change which
    IoUs reach a threshold). Scores are taken to float64 as they are (mmdet's `float(score)`).
    Messages name the entry and the detection in it.
    """
    label_cat_ids = np.asarray(label_cat_ids, np.int64)
    counts = [len(p['scores']) for p in preds]
    names = PredictionRecords(counts, [p['img_id'] for p in preds])
    labels = _cat([np.asarray(p['labels']).reshape(-1) for p in preds], np.int64)
    bad = (labels < 0) | (labels >= len(label_cat_ids))
    if bad.any():
        k = int(np.argmax(bad))
        raise field_error(source, *names.name('category_id', k), f'label {labels[k]} has no '
                          f'category: there are {len(label_cat_ids)} classes')
    boxes = _cat([np.asarray(p['bboxes']).reshape(-1, 4) for p in preds], np.float64)
    boxes = boxes.reshape(-1, 4)
    boxes[:, 2:] -= boxes[:, :2]
    segm = None
    if with_masks:
        segm = RLEColumn.concat(p['masks'] if isinstance(p['masks'], RLEColumn)
                                else RLEColumn.from_rles(p['masks']) for p in preds)
    return Detections(
        image_id=np.repeat(np.array([p['img_id'] for p in preds], np.int64), counts),
        category_id=label_cat_ids[labels],
        score=_cat([np.asarray(p['scores']).reshape(-1) for p in preds], np.float64),
        bbox=boxes, segm=segm, source=source, names=names,
        images=np.unique(np.array([p['img_id'] for p in preds], np.int64)))


def _cat(arrays, dtype):
    arrays = [np.asarray(a) for a in arrays]
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)
