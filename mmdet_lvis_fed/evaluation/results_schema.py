"""The LVIS results format (the official server's): one record per detection, `image_id`,
`category_id`, `score`, and a `bbox` (x, y, width, height), a compressed RLE `segmentation`, or
both. Written twice, on purpose: as msgspec types, which decode and check a whole file at twice
`json.load`'s speed, and as `record_problem`, which names the first bad record and field in our
words when the typed decode refuses a file (msgspec's messages name neither record nor file).
Values (known ids, finite boxes, rankable scores) are checked against the ground truth by
`detections.check_detections`.
"""
from typing import Annotated, List, Tuple

import msgspec

from ..errors import describe
from ..records import INT64, is_id, not_id

_SIZE = (1, 2 ** 31 - 1)
Id = Annotated[int, msgspec.Meta(ge=INT64[0], le=INT64[1])]
Size = Annotated[int, msgspec.Meta(ge=_SIZE[0], le=_SIZE[1])]


class RLE(msgspec.Struct, gc=False):
    size: Tuple[Size, Size]
    counts: str


class Result(msgspec.Struct, gc=False, omit_defaults=True):
    image_id: Id
    category_id: Id
    score: float
    # Absent is allowed (None); an explicit null is not: the type has no None in it.
    bbox: Tuple[float, float, float, float] = None
    segmentation: RLE = None


RECORDS = List[Result]
DECODER = msgspec.json.Decoder(RECORDS)


def json_type(v):
    for t, name in ((bool, 'bool'), (int, 'int'), (float, 'float'), (str, 'str'),
                    (bytes, 'bytes'), (dict, 'object'), ((list, tuple), 'array')):
        if isinstance(v, t):
            return name
    return 'null' if v is None else type(v).__name__


def int_problem(v):
    if type(v) is not int:
        return f'expected int, got {json_type(v)}'
    return None if is_id(v) else not_id(v)


def _float_problem(v):
    if type(v) not in (int, float):
        return f'expected float, got {json_type(v)}'
    return None


def record_problem(r):
    """(field or None, what is wrong) for the first problem of one results record, or None: the
    types and shapes of the LVIS results format (values are `check_detections`'s)."""
    if not isinstance(r, dict):
        return None, f'expected object, got {json_type(r)}'
    for key, v in r.items():
        if key in ('image_id', 'category_id'):
            problem = int_problem(v)
        elif key == 'score':
            problem = _float_problem(v)
        elif key == 'bbox':
            if not isinstance(v, (list, tuple)):
                problem = f'expected array, got {json_type(v)}'
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
        return None, (f'expected object (compressed RLE: size and counts), got {json_type(v)}')
    for key in ('size', 'counts'):
        if key not in v:
            return key, 'missing'
    size, counts = v['size'], v['counts']
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(
            type(s) is int and _SIZE[0] <= s <= _SIZE[1] for s in size):
        return 'size', f'{describe(size)} is not [height, width] (2 positive integers)'
    if not isinstance(counts, str):
        return 'counts', f'expected str, got {json_type(counts)}'
    return None
