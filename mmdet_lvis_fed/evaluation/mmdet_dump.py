"""Read what `mim test CONFIG --out results.pkl` writes (mmdet's `DumpDetResults`): a pickle of
one dict per image. Unpickling runs code: `results_file.read_detections` opens only files named
*.pkl or *.pickle, or those a user names with `lvis_eval.py --pickle`.
"""
from typing import Optional

import numpy as np

from ..errors import LVISFormatError, describe, field_error
from ..io import read_bytes
from .detections import Detections, detections_from_predictions
from .results_schema import int_problem


def read_mmdet_dump(path, label_cat_ids, raw: Optional[bytes] = None) -> Detections:
    """What `mim test CONFIG --out results.pkl` writes (mmdet's DumpDetResults): a list with one
    dict per image, ``img_id`` and ``pred_instances`` (``bboxes``, ``scores``, ``labels`` as
    tensors, ``masks`` as RLE). A pickle runs code when it is read: open only files you made."""
    import pickle
    raw = read_bytes(path) if raw is None else raw
    if not raw:
        raise LVISFormatError(f'{path}: empty file, not a pickle of mmdet test results')
    try:
        data = pickle.loads(raw)
    except Exception as e:       # truncated, or needs a module that is not installed (torch)
        raise LVISFormatError(f'{path}: cannot read the pickle ({type(e).__name__}: {e})') from None
    if not isinstance(data, list):
        raise LVISFormatError(f'{path}: not mmdet test results (a list with one dict per image, '
                              f'from `--out results.pkl`), but a {type(data).__name__}')
    if not data:
        raise LVISFormatError(f'{path}: no predictions (an empty list: the test run processed '
                              'no images)')
    preds = [_prediction(r, i, path) for i, r in enumerate(data)]
    with_masks = all('masks' in p for p in preds)
    return detections_from_predictions(preds, label_cat_ids, str(path), with_masks)


def _prediction(record, i, path):
    rec = f'record {i}'
    if not isinstance(record, dict):
        raise LVISFormatError(f'{path}: {rec} is a {type(record).__name__}, not a dict')
    img_id = record.get('img_id')
    problem = int_problem(img_id)
    if problem:
        raise field_error(path, rec, 'img_id', problem if type(img_id) is int else
                          f'{describe(img_id)} is not an integer id')
    rec = f'record {i} (img_id {img_id})'
    pred = record.get('pred_instances')
    if not isinstance(pred, dict):
        raise field_error(path, rec, 'pred_instances', 'missing, or not a dict of bboxes, '
                          'scores and labels')
    out = dict(img_id=img_id)
    for key, shape in (('bboxes', (-1, 4)), ('scores', (-1,)), ('labels', (-1,))):
        if key not in pred:
            raise field_error(path, rec, f'pred_instances.{key}', 'missing')
        a = _numpy(pred[key])
        kinds = 'iu' if key == 'labels' else 'fiu'
        if a.ndim != len(shape) or a.shape[1:] != shape[1:] or a.dtype.kind not in kinds:
            want = '(n, 4) numbers' if key == 'bboxes' else '(n,) integers' if kinds == 'iu' \
                else '(n,) numbers'
            raise field_error(path, rec, f'pred_instances.{key}',
                              f'{a.dtype} array of shape {a.shape}, not {want}')
        out[key] = a
    n = {len(out[k]) for k in ('bboxes', 'scores', 'labels')}
    if len(n) != 1:
        raise field_error(path, rec, 'pred_instances', f'bboxes, scores and labels differ in '
                          f'length ({len(out["bboxes"])}, {len(out["scores"])}, '
                          f'{len(out["labels"])})')
    if 'masks' in pred:
        masks = pred['masks']
        if not isinstance(masks, (list, tuple)) or len(masks) != len(out['scores']) or not all(
                isinstance(m, dict) and 'size' in m and isinstance(m.get('counts'), (bytes, str))
                for m in masks):
            raise field_error(path, rec, 'pred_instances.masks', 'not one compressed RLE dict '
                              'per detection (mmdet DumpDetResults encodes masks as RLE)')
        out['masks'] = list(masks)
    return out


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)
