"""The one reader of detection results: the LVIS results JSON (the official server's format), the
pickle that `mim test CONFIG --out results.pkl` writes (mmdet's `DumpDetResults`), and the same
records or predictions already in memory (the metric's go through the pickle's converter).

A file is read once, as bytes (so `<(cat res.json)` works), and unpickled only when its name ends
in `.pkl` or `.pickle` (or the caller says so, `lvis_eval.py --pickle`): unpickling runs code, and
a results file must not. A file named otherwise is JSON; one that starts like a pickle is refused
unread.

JSON is decoded by msgspec straight into typed records: it checks every type on the way at twice
the speed of `json.load`, which builds a dict per detection that is thrown away at once. When that
typed decode refuses the text, the text is decoded untyped (Python's `json` where msgspec refuses
it: it reads the NaN and Infinity that Python writes, and words its errors with line and column)
and every record is checked by `_record_problem`, so the message that names the record and field
is ours, not msgspec's. Values (known ids, finite boxes, rankable scores) are checked against the
ground truth by `detections.check_detections`.
"""
import itertools
import json
import os.path as osp
from operator import attrgetter
from typing import Annotated, List, Optional, Sequence, Tuple

import msgspec
import numpy as np

from ..errors import LVISFormatError, describe, field_error, where
from ..io import atomic_write, read_bytes
from .detections import Detections, PredictionRecords
from .masks import RLEColumn, check_rle_counts

_INT64 = (-2 ** 63, 2 ** 63 - 1)
_SIZE = (1, 2 ** 31 - 1)
Id = Annotated[int, msgspec.Meta(ge=_INT64[0], le=_INT64[1])]
Size = Annotated[int, msgspec.Meta(ge=_SIZE[0], le=_SIZE[1])]
PICKLE_SUFFIXES = ('.pkl', '.pickle')


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


def is_pickle_name(path) -> bool:
    """Whether `path` is named as a pickle (`.pkl`, `.pickle`): the only files unpickled."""
    return str(path).lower().endswith(PICKLE_SUFFIXES)


def read_detections(path, label_cat_ids=None, pickle: Optional[bool] = None) -> Detections:
    """Detections from `path`: mmdet's test dump when `pickle` is True (by default: when the
    name ends in .pkl or .pickle), else LVIS results JSON. `label_cat_ids()` gives the category
    id of each label 0..K-1 of a dump (called only for a dump)."""
    if pickle is None:
        pickle = is_pickle_name(path)
    if pickle:
        return read_mmdet_dump(path, label_cat_ids())
    return read_results(path)


def read_results(path) -> Detections:
    """An LVIS results JSON file as columns; every malformed record is an error naming it."""
    return results_from_json(read_bytes(path), str(path))


def results_from_json(raw: bytes, source: Optional[str] = None) -> Detections:
    """LVIS results JSON text (bytes) as columns."""
    try:
        return _columns(_DECODER.decode(raw), source)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    try:
        records = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        try:
            records = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise _not_json(raw, source, e) from None
    return detections_from_records(records, source)


def _not_json(raw, source, e):
    if not raw.strip():
        return LVISFormatError(f'{where(source)}empty file, not JSON results')
    if raw[:1] == b'\x80' or (raw[:1] in b'(]}cIFSVNL' and raw.rstrip()[-1:] == b'.'):
        # a pickle: the PROTO opcode first (protocol 2 and later), or an opcode of protocols
        # 0 and 1 first and STOP last (JSON starts with neither)
        return LVISFormatError(
            f'{where(source)}this looks like a pickle, not JSON: it was not read (unpickling '
            f'runs code). Only files named *.pkl or *.pickle are unpickled (tools/lvis_eval.py: '
            f'or with --pickle); rename it if you made it yourself')
    return LVISFormatError(f'{where(source)}not valid JSON ({e})')


def write_results_json(dets: Detections, iou_type: str, path: str):
    """The LVIS results format (image_id, category_id, bbox x y w h, score [, segmentation]),
    written whole or not at all; masks for 'segm' and 'boundary'."""
    rows = [_Result(int(i), int(c), float(s), tuple(float(v) for v in b))
            for i, c, s, b in zip(dets.image_id, dets.category_id, dets.score, dets.bbox)]
    if iou_type in ('segm', 'boundary'):
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
        typed_error = e
    if not isinstance(records, list):
        raise LVISFormatError(f'{where(source)}results must be a list of detection objects '
                              f'(expected array, got {_json_type(records)})')
    for i, r in enumerate(records):
        problem = _record_problem(r)
        if problem:
            key, text = problem
            if key is None:
                raise LVISFormatError(f'{where(source)}record {i}: {text}')
            raise field_error(source, f'record {i}', key, text)
    # msgspec refused what our rules accept: should not happen; say what msgspec said
    raise LVISFormatError(f'{where(source)}not in the LVIS results format ({typed_error})')


def _json_type(v):
    for t, name in ((bool, 'bool'), (int, 'int'), (float, 'float'), (str, 'str'),
                    (bytes, 'bytes'), (dict, 'object'), ((list, tuple), 'array')):
        if isinstance(v, t):
            return name
    return 'null' if v is None else type(v).__name__


def _int_problem(v):
    if type(v) is not int:
        return f'expected int, got {_json_type(v)}'
    if not _INT64[0] <= v <= _INT64[1]:
        return f'{v} does not fit in 64 bits'
    return None


def _float_problem(v):
    if type(v) not in (int, float):
        return f'expected float, got {_json_type(v)}'
    return None


def _record_problem(r):
    """(field or None, what is wrong) for the first problem of one results record, or None: the
    types and shapes of the LVIS results format (values are `check_detections`'s)."""
    if not isinstance(r, dict):
        return None, f'expected object, got {_json_type(r)}'
    for key, v in r.items():
        if key in ('image_id', 'category_id'):
            problem = _int_problem(v)
        elif key == 'score':
            problem = _float_problem(v)
        elif key == 'bbox':
            if not isinstance(v, (list, tuple)):
                problem = f'expected array, got {_json_type(v)}'
            elif len(v) != 4:
                problem = 'not 4 numbers [x, y, width, height]'
            else:
                bad = next((k for k, x in enumerate(v) if _float_problem(x)), None)
                if bad is not None:
                    return f'bbox[{bad}]', _float_problem(v[bad])
                problem = None
        elif key == 'segmentation':
            problem = _rle_problem(v)
            if problem and problem[0]:
                return f'segmentation.{problem[0]}', problem[1]
            problem = problem and problem[1]
        else:
            continue                      # other fields are not read
        if problem:
            return key, problem
    for key in ('image_id', 'category_id', 'score'):
        if key not in r:
            return key, 'missing'
    return None


def _rle_problem(v):
    """(sub-field or None, problem) of a segmentation value, or None."""
    if not isinstance(v, dict):
        return None, (f'expected object (compressed RLE: size and counts), got {_json_type(v)}')
    for key in ('size', 'counts'):
        if key not in v:
            return key, 'missing'
    size, counts = v['size'], v['counts']
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(
            type(s) is int and _SIZE[0] <= s <= _SIZE[1] for s in size):
        return 'size', f'{describe(size)} is not [height, width] (2 positive integers)'
    if not isinstance(counts, str):
        return 'counts', f'expected str, got {_json_type(counts)}'
    return None


def _text_counts(record):
    """pycocotools' RLE counts are bytes; in JSON they are text."""
    segm = record.get('segmentation') if isinstance(record, dict) else None
    if isinstance(segm, dict) and isinstance(segm.get('counts'), bytes):
        return dict(record, segmentation=dict(segm, counts=segm['counts'].decode('latin-1')))
    return record


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
    check_rle_counts(segm, source, lambda i: (f'record {i}', 'segmentation'))
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
    problem = _int_problem(img_id)
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
