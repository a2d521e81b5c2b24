"""Detections into columns, from the two files a user evaluates: the LVIS results JSON (the official
server's format) and the pickle that `mim test CONFIG --out results.pkl` writes (mmdet's
`DumpDetResults`). The metric's own predictions go through the same converter as the pickle.

The JSON is decoded by msgspec straight into typed records: it checks every type on the way (an
`image_id` of 1.5, "1", true or null, a `bbox` of 8 numbers) at twice the speed of `json.load`,
which builds a dict per detection that is thrown away at once. The records are decoded the same way
when they come as Python objects (`detections_from_records`), so there is one validator.
"""
import itertools
import json
import re
from operator import attrgetter
from typing import Annotated, List, Optional, Sequence, Tuple

import msgspec
import numpy as np

from ..errors import LVISFormatError, describe, field_error, where
from ..io import atomic_write
from .lvis_data import Detections, RLEColumn, check_rle_counts

Id = Annotated[int, msgspec.Meta(ge=-2 ** 63, le=2 ** 63 - 1)]
Size = Annotated[int, msgspec.Meta(gt=0, le=2 ** 31 - 1)]


class _RLE(msgspec.Struct, gc=False):
    size: Tuple[Size, Size]
    counts: str


class _Result(msgspec.Struct, gc=False, omit_defaults=True):
    image_id: Id
    category_id: Id
    score: float
    # Absent is allowed (None); an explicit null is not: the type has no None in it.
    bbox: Tuple[float, float, float, float] = None
    segmentation: _RLE = None


_RECORDS = List[_Result]
_DECODER = msgspec.json.Decoder(_RECORDS)
_AT = re.compile(r'^(.*?)(?: - at `\$(?:\[(\d+)\])?\.?([^`]*)`)?$', re.S)


def read_results(path: str) -> Detections:
    """An LVIS results JSON file as columns; every malformed record is an error naming it."""
    raw = _read_bytes(path)
    try:
        return _columns(_DECODER.decode(raw), path)
    except msgspec.ValidationError as e:
        raise _validation_error(e, path) from None
    except msgspec.DecodeError:
        pass
    # Not strict JSON. Python's json takes NaN and Infinity, which lvis-api would then read:
    # parse it that way to name the record and field, or to say where the JSON breaks.
    try:
        records = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise LVISFormatError(f'{path}: not valid JSON ({e})') from None
    return detections_from_records(records, path)


def write_results_json(dets: Detections, iou_type: str, path: str):
    """The LVIS results format (image_id, category_id, bbox x y w h, score [, segmentation]),
    written whole or not at all."""
    rows = [_Result(int(i), int(c), float(s), tuple(float(v) for v in b))
            for i, c, s, b in zip(dets.image_id, dets.category_id, dets.score, dets.bbox)]
    if iou_type == 'segm':
        for k, row in enumerate(rows):
            rle = dets.segm[k]
            row.segmentation = _RLE(tuple(rle['size']), rle['counts'].decode())
    data = msgspec.json.encode(rows)
    return atomic_write(path, lambda f: f.write(data), binary=True)


def detections_from_records(records, source: Optional[str] = None) -> Detections:
    """The official results format already in memory (a list of dicts), checked as a file is."""
    if isinstance(records, list):
        records = [_text_counts(r) for r in records]
    try:
        return _columns(msgspec.convert(records, _RECORDS), source)
    except msgspec.ValidationError as e:
        raise _validation_error(e, source) from None


def _text_counts(record):
    """pycocotools' RLE counts are bytes; in JSON they are text."""
    segm = record.get('segmentation') if isinstance(record, dict) else None
    if isinstance(segm, dict) and isinstance(segm.get('counts'), bytes):
        return dict(record, segmentation=dict(segm, counts=segm['counts'].decode('latin-1')))
    return record


def _read_bytes(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as e:
        raise LVISFormatError(f'{path}: cannot read file ({e.strerror or e})') from None


def _validation_error(e, source):
    """msgspec's "Expected `int`, got `float` - at `$[5].image_id`" as our one-line format."""
    m = _AT.match(str(e))
    problem, record, path = m.group(1), m.group(2), m.group(3)
    problem = (problem[:1].lower() + problem[1:]).replace('`', '')
    missing = re.match(r'object missing required field (\w+)', problem)
    if record is None:
        return LVISFormatError(f'{where(source)}results must be a list of detection objects '
                               f'({problem})')
    if missing:
        return field_error(source, f'record {record}', missing.group(1), 'missing')
    if not path:
        return LVISFormatError(f'{where(source)}record {record}: {problem}')
    if problem.startswith('expected array of length 4'):
        problem = 'not 4 numbers [x, y, width, height]'
    return field_error(source, f'record {record}', path, problem)


def _columns(recs: Sequence[_Result], source) -> Detections:
    n = len(recs)
    if not n:
        return Detections.empty()
    col = {key: np.fromiter(map(attrgetter(key), recs), dtype, n)
           for key, dtype in (('image_id', np.int64), ('category_id', np.int64),
                              ('score', np.float64))}
    # lvis-api decides by the first record whether results carry boxes (and so whether areas
    # come from boxes or masks); a file that mixes the two is refused rather than guessed.
    boxes = _same_presence(recs, 'bbox', source)
    rles = _same_presence(recs, 'segmentation', source)
    if boxes is None and rles is None:
        raise LVISFormatError(f'{where(source)}record 0: has neither "bbox" nor "segmentation"')
    segm = None
    if rles is not None:
        text = ''.join(r.counts for r in rles)
        if not text.isascii():
            i = next(i for i, r in enumerate(rles) if not r.counts.isascii())
            raise field_error(source, f'record {i}', 'segmentation.counts',
                              f'{describe(rles[i].counts)} is not a compressed RLE string')
        sizes = np.fromiter(itertools.chain.from_iterable(r.size for r in rles), np.int64, 2 * n)
        lengths = np.fromiter((len(r.counts) for r in rles), np.int64, n)
        segm = RLEColumn(text.encode('ascii'), np.r_[0, np.cumsum(lengths)],
                         sizes[0::2], sizes[1::2])
    if boxes is not None:
        bbox = np.fromiter(itertools.chain.from_iterable(boxes), np.float64, 4 * n)
    else:
        bbox = _boxes_of_masks(segm, source)
    return Detections(col['image_id'], col['category_id'], col['score'], bbox.reshape(-1, 4),
                      segm, source, box_given=boxes is not None)


def _same_presence(recs, key, source):
    """Every record's `key`, or None where no record has one; some with and some without is an
    error naming the first record that differs from record 0."""
    values = list(map(attrgetter(key), recs))
    missing = values.count(None)
    if missing == 0:
        return values
    if missing == len(values):
        return None
    first = values[0] is not None
    i = next(i for i, v in enumerate(values) if (v is not None) != first)
    raise field_error(source, f'record {i}', key,
                      f'{"missing" if first else "present"}, but record 0 '
                      f'{"has one" if first else "has none"}: give it in every detection or in '
                      'none')


def _boxes_of_masks(segm, source):
    """lvis-api's box of a mask-only result: pycocotools' toBbox (after the counts are checked:
    pycocotools would read past broken ones)."""
    from pycocotools import mask as mask_utils
    check_rle_counts(segm, source, lambda i: f'record {i}')
    out = np.zeros((len(segm), 4))
    for lo in range(0, len(segm), 1 << 16):
        hi = min(len(segm), lo + (1 << 16))
        out[lo:hi] = mask_utils.toBbox([segm[i] for i in range(lo, hi)])
    return out


# mmdet's predictions: the metric's per-image arrays and DumpDetResults' pickle ----------------


def detections_from_predictions(preds: Sequence[dict], label_cat_ids, source: Optional[str],
                                with_masks: bool) -> Detections:
    """mmdet's per-image predictions as LVIS columns.

    Each entry: ``img_id``, ``bboxes`` (n, 4) x1 y1 x2 y2, ``scores`` (n,), ``labels`` (n,) 0..K-1
    and, with `with_masks`, ``masks`` (an RLEColumn or a list of RLE dicts). Label k is category
    ``label_cat_ids[k]``. Boxes become x y w h in float32, as mmdet's own LVIS metric writes them.
    """
    label_cat_ids = np.asarray(label_cat_ids, np.int64)
    counts = [len(p['scores']) for p in preds]
    labels = _cat([p['labels'] for p in preds], np.int64)
    bad = (labels < 0) | (labels >= len(label_cat_ids))
    if bad.any():
        k = int(np.argmax(bad))
        rec = int(np.searchsorted(np.cumsum(counts), k, 'right'))
        raise field_error(source, f'record {rec} (img_id {preds[rec]["img_id"]})',
                          'pred_instances.labels', f'label {labels[k]} has no category: there '
                          f'are {len(label_cat_ids)} classes')
    boxes = _cat([np.asarray(p['bboxes'], np.float32).reshape(-1, 4) for p in preds], np.float32)
    boxes[:, 2:] -= boxes[:, :2]
    segm = None
    if with_masks:
        segm = RLEColumn.concat(p['masks'] if isinstance(p['masks'], RLEColumn)
                                else RLEColumn.from_rles(p['masks']) for p in preds)
    return Detections(
        image_id=np.repeat(np.array([p['img_id'] for p in preds], np.int64), counts),
        category_id=label_cat_ids[labels], score=_cat([p['scores'] for p in preds], np.float64),
        bbox=boxes.astype(np.float64), segm=segm, source=source)


def _cat(arrays, dtype):
    arrays = [np.asarray(a) for a in arrays]
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)


def is_pickle(path) -> bool:
    try:
        with open(path, 'rb') as f:
            return f.read(1) == b'\x80'      # the PROTO opcode every pickle since protocol 2 has
    except OSError as e:
        raise LVISFormatError(f'{path}: cannot read file ({e.strerror or e})') from None


def read_mmdet_dump(path: str, label_cat_ids) -> Detections:
    """What `mim test CONFIG --out results.pkl` writes (mmdet's DumpDetResults): a list with one
    dict per image, ``img_id`` and ``pred_instances`` (``bboxes``, ``scores``, ``labels`` as
    tensors, ``masks`` as RLE). A pickle runs code when it is read: open only files you made."""
    import pickle
    try:
        with open(path, 'rb') as f:
            data = pickle.load(f)
    except OSError as e:
        raise LVISFormatError(f'{path}: cannot read file ({e.strerror or e})') from None
    except Exception as e:       # truncated, or needs a module that is not installed (torch)
        raise LVISFormatError(f'{path}: cannot read the pickle ({type(e).__name__}: {e})') from None
    if not isinstance(data, list):
        raise LVISFormatError(f'{path}: not mmdet test results (a list with one dict per image, '
                              f'from `--out results.pkl`), but a {type(data).__name__}')
    preds = [_prediction(r, i, path) for i, r in enumerate(data)]
    with_masks = bool(preds) and all('masks' in p for p in preds)
    dets = detections_from_predictions(preds, label_cat_ids, path, with_masks)
    dets.images = np.unique(np.array([p['img_id'] for p in preds], np.int64))
    return dets


def _prediction(record, i, path):
    rec = f'record {i}'
    if not isinstance(record, dict):
        raise LVISFormatError(f'{path}: {rec} is a {type(record).__name__}, not a dict')
    img_id = record.get('img_id')
    if type(img_id) is not int:
        raise field_error(path, rec, 'img_id', f'{describe(img_id)} is not an integer id')
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
