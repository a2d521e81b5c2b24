"""Masks as compressed RLE: packed columns, the checks before any mask is read, areas.

pycocotools trusts the counts: a string whose runs add up to more or fewer pixels than the image
has, or that holds a negative run (it stores runs as unsigned ints), makes `mask.iou` and
`mask.area` read past the mask, loop for ever or crash. lvis-api hangs on such a result too. So
every string is decoded here first, as pycocotools' `rleFrString` does (`rle_kernels.py`), and
its area and the box of its pixels are kept from the same pass: the IoUs (`matching.py`) use them
to skip the pairs that cannot reach the lowest threshold.
"""
import numpy as np

from ..errors import LVISFormatError, field_error, where
from .rle_kernels import rle_stats
from .threads import map_ranges


class RLEColumn:
    """Compressed RLE masks packed in one bytes blob: no Python object per mask until one is read.

    Millions of masks as dicts cost gigabytes; here they cost their compressed counts plus 24 bytes.
    Indexing gives the pycocotools dict of one mask. `counts` is bytes, or a 1-d uint8 array
    (the results scanner's buffer, kept rather than copied).
    """

    def __init__(self, counts: bytes, offsets: np.ndarray, heights: np.ndarray, widths: np.ndarray):
        self.counts, self.offsets = counts, np.asarray(offsets, np.int64)
        self.heights, self.widths = np.asarray(heights, np.int64), np.asarray(widths, np.int64)
        # per mask, set by check_rle_counts from one decoding: checked, area, and the box of
        # its pixels (x0, y0, x1, y1 inclusive; x1 = -1 when empty). The last two are made at
        # the first check: a column only held (a test's masks per image) does not carry them.
        self.counts_checked = np.zeros(len(self.heights), bool)
        self.areas = self.boxes = None

    @property
    def chars(self):
        """The strings back to back, as uint8 (no copy)."""
        return np.frombuffer(self.counts, np.uint8)

    @classmethod
    def from_masks(cls, masks):
        """Binary masks (n, height, width), as pycocotools' `encode` writes them."""
        from pycocotools import mask as mask_utils
        masks = np.asarray(masks)
        if not len(masks):
            return cls.from_rles([])
        return cls.from_rles(mask_utils.encode(
            np.asfortranarray(masks.transpose(1, 2, 0), dtype=np.uint8)))

    @classmethod
    def from_rles(cls, rles):
        counts = [r['counts'] if isinstance(r['counts'], bytes) else r['counts'].encode()
                  for r in rles]
        sizes = np.array([r['size'] for r in rles], np.int64).reshape(-1, 2)
        return cls(b''.join(counts), np.r_[0, np.cumsum([len(c) for c in counts])],
                   sizes[:, 0], sizes[:, 1])

    @classmethod
    def concat(cls, columns):
        columns = list(columns)
        if not columns:
            return cls.from_rles([])
        shift = np.cumsum([0] + [c.offsets[-1] for c in columns[:-1]])
        return cls(b''.join(c.counts for c in columns),
                   np.r_[0, np.concatenate([c.offsets[1:] + s for c, s in zip(columns, shift)])],
                   np.concatenate([c.heights for c in columns]),
                   np.concatenate([c.widths for c in columns]))

    @classmethod
    def cat(cls, columns):
        """`concat` under the name mmengine's `InstanceData.cat` calls."""
        return cls.concat(columns)

    def __len__(self):
        return len(self.heights)

    def __getitem__(self, i):
        return {'size': [int(self.heights[i]), int(self.widths[i])],
                'counts': bytes(self.counts[self.offsets[i]:self.offsets[i + 1]])}

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def check_rle(rle, h, w, source, what, field='segmentation'):
    """One mask given as a dict: compressed RLE of its image's size (`what` names the record)."""
    if not isinstance(rle, dict) or 'counts' not in rle or 'size' not in rle:
        raise field_error(source, what, field, 'not an RLE dict with "size" and "counts"')
    if not isinstance(rle['counts'], (str, bytes)):
        raise field_error(source, what, field, f'cannot be decoded: "counts" is a '
                          f'{type(rle["counts"]).__name__}, not a compressed RLE string')
    if [int(v) for v in rle['size']] != [h, w]:
        raise field_error(source, what, field, f'size {list(rle["size"])} does not '
                          f'match the image size [{h}, {w}]')


def mask_column(segm, hw, source, name_of):
    """The masks as an RLEColumn, every size checked against its image (`hw`, one row per
    mask). Their counts are checked later (`check_rle_counts`), for the rows that pycocotools
    is about to read. `name_of(row)` gives (record, field) for a message."""
    if isinstance(segm, RLEColumn):
        bad = (segm.heights != hw[:, 0]) | (segm.widths != hw[:, 1])
        if bad.any():
            i = int(np.argmax(bad))
            check_rle(segm[i], int(hw[i, 0]), int(hw[i, 1]), source, *name_of(i))
        return segm
    for i, rle in enumerate(segm):
        check_rle(rle, int(hw[i, 0]), int(hw[i, 1]), source, *name_of(i))
    return RLEColumn.from_rles(segm)


def check_rle_counts(column, source, name_of, rows=None):
    """Refuse masks whose RLE runs do not cover exactly their height x width: pycocotools would
    read past them or loop for ever. Only `rows` (all by default) are decoded, each once per
    column: the evaluator asks for the masks pycocotools is about to read. `name_of(row)` gives
    (record, field) for a message."""
    rows = np.arange(len(column)) if rows is None else np.asarray(rows, np.int64)
    if column.areas is None:
        column.areas = np.zeros(len(column), np.int64)
        column.boxes = np.zeros((len(column), 4), np.int32)
    rows = rows[~column.counts_checked[rows]]
    if not len(rows):
        return
    chars = column.chars
    parts = map_ranges(lambda lo, hi: rle_stats(chars, column.offsets, rows[lo:hi],
                                                column.heights, column.widths), len(rows))
    ok, area, box = (np.concatenate(x) for x in zip(*parts))
    bad = rows[~ok]
    if len(bad):
        i = int(bad.min())
        record, field = name_of(i)
        more = f'; {len(bad)} such masks' if len(bad) > 1 else ''
        raise LVISFormatError(
            f'{where(source)}{record}: field "{field}": its RLE "counts" do not '
            f'decode to {int(column.heights[i])} x {int(column.widths[i])} pixels (runs are '
            f'negative, malformed, or overrun the mask{more})')
    column.counts_checked[rows] = True
    column.areas[rows] = area
    column.boxes[rows] = box


def mask_areas(column, rows, source, name_of):
    """pycocotools' area of the masks at `rows` (their counts checked first), float64."""
    rows = np.asarray(rows, np.int64)
    check_rle_counts(column, source, name_of, rows)
    return column.areas[rows].astype(np.float64)
