"""Read LVIS results JSON (the official server's format, `results_schema`) into `Detections`
columns, and the same records already in memory.

A file is read once: memory-mapped, or read whole from a pipe (so `<(cat res.json)` works). The
format every LVIS tool writes is scanned straight into columns by compiled code where it lies
(`results_scan.py`: 1.3-1.5 s and 1.2 GB for 421 MB of mask results in a fresh process, against
4.0-4.2 s and 2.3 GB for what follows). A file it steps aside from (another key, an escape it
does not know, anything malformed) is decoded by msgspec into typed records: it checks every
type on the way at twice the speed of `json.load`, which builds a dict per detection that is
thrown away at once. When that typed decode refuses the text, the text is decoded untyped
(Python's `json` where msgspec refuses it: it reads the NaN and Infinity that Python writes,
and words its errors with line and column) and every record is
checked by `results_schema.record_problem`, so the message that names the record and field is
ours, not msgspec's. A file that starts like a pickle is refused unread (unpickling runs code:
`results_file.read_detections` unpickles only files named so).
"""
import itertools
import json
from operator import attrgetter
from typing import Optional, Sequence

import msgspec
import numpy as np

from ..errors import LVISFormatError, describe, field_error, where
from ..io import mapped_bytes
from .detections import Detections
from .masks import RLEColumn, check_rle_counts
from .results_scan import scan_results
from .results_schema import DECODER, RECORDS, Result, json_type, record_problem
from .threads import thread_count


def read_results(path) -> Detections:
    """An LVIS results JSON file as columns; every malformed record is an error naming it."""
    with mapped_bytes(path) as raw:           # scanned where it lies, copied only for msgspec
        dets = _scanned(raw, str(path))
        if dets is None:
            raw = bytes(raw)
    return dets if dets is not None else _decoded(raw, str(path))


def results_from_json(raw: bytes, source: Optional[str] = None) -> Detections:
    """LVIS results JSON text (bytes) as columns."""
    dets = _scanned(raw, source)
    return dets if dets is not None else _decoded(raw, source)


def _scanned(raw, source):
    """The columns by `results_scan`, or None where it steps aside."""
    scanned = scan_results(raw, threads=thread_count())
    if scanned is None:
        return None
    segm = None
    if scanned['counts'] is not None:
        sizes = scanned['sizes']
        segm = RLEColumn(scanned['counts'], scanned['offsets'], sizes[:, 0], sizes[:, 1])
    return _detections(scanned['image_id'], scanned['category_id'], scanned['score'],
                       scanned['bbox'], segm, source)


def _decoded(raw: bytes, source):
    """The columns by msgspec (or Python's json), every malformed record an error naming it."""
    try:
        return _columns(DECODER.decode(raw), source)
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


def detections_from_records(records, source: Optional[str] = None) -> Detections:
    """The official results format already in memory (a list of dicts), checked as a file is."""
    if isinstance(records, list):
        records = [_text_counts(r) for r in records]
    try:
        return _columns(msgspec.convert(records, RECORDS), source)
    except msgspec.ValidationError as e:
        typed_error = e
    if not isinstance(records, list):
        raise LVISFormatError(f'{where(source)}results must be a list of detection objects '
                              f'(expected array, got {json_type(records)})')
    for i, r in enumerate(records):
        problem = record_problem(r)
        if problem:
            key, text = problem
            if key is None:
                raise LVISFormatError(f'{where(source)}record {i}: {text}')
            raise field_error(source, f'record {i}', key, text)
    # msgspec refused what our rules accept: should not happen; say what msgspec said
    raise LVISFormatError(f'{where(source)}not in the LVIS results format ({typed_error})')


def _text_counts(record):
    """pycocotools' RLE counts are bytes; in JSON they are text."""
    segm = record.get('segmentation') if isinstance(record, dict) else None
    if isinstance(segm, dict) and isinstance(segm.get('counts'), bytes):
        return dict(record, segmentation=dict(segm, counts=segm['counts'].decode('latin-1')))
    return record


def _columns(recs: Sequence[Result], source) -> Detections:
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
        counts = list(map(attrgetter('counts'), rles))
        text = ''.join(counts)
        if not text.isascii():
            i = next(i for i, r in enumerate(rles) if not r.counts.isascii())
            raise field_error(source, f'record {i}', 'segmentation.counts',
                              f'{describe(rles[i].counts)} is not a compressed RLE string')
        sizes = np.fromiter(itertools.chain.from_iterable(map(attrgetter('size'), rles)),
                            np.int64, 2 * n)
        lengths = np.fromiter(map(len, counts), np.int64, n)
        segm = RLEColumn(text.encode('ascii'), np.r_[0, np.cumsum(lengths)],
                         sizes[0::2], sizes[1::2])
    bbox = None
    if boxes is not None:
        bbox = np.fromiter(itertools.chain.from_iterable(boxes), np.float64, 4 * n).reshape(-1, 4)
    return _detections(col['image_id'], col['category_id'], col['score'], bbox, segm, source)


def _detections(image_id, category_id, score, bbox, segm, source):
    """Detections of the read columns; without boxes, lvis-api's boxes of the masks."""
    box_given = bbox is not None
    if not box_given:
        bbox = _boxes_of_masks(segm, source)
    return Detections(image_id, category_id, score, bbox, segm, source, box_given=box_given)


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
