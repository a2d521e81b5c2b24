"""Masks as compressed RLE: packed columns, the checks before pycocotools reads them, areas.

pycocotools trusts the counts: a string whose runs add up to more or fewer pixels than the image
has, or that holds a negative run (it stores runs as unsigned ints), makes `mask.iou` and
`mask.area` read past the mask, loop for ever or crash. lvis-api hangs on such a result too. So
every string is decoded here first, in numpy, as pycocotools' `rleFrString` does: each character
is 48 + 5 value bits + a continuation bit (0x20); a run's last character carries the sign (0x10);
each run after the third is stored as the difference to the run two places back. The same
decoder gives the runs that `boundary.py` erodes.
"""
import numpy as np

from ..errors import LVISFormatError, field_error, where

_MAX_CHARS_PER_RUN = 7        # 35 value bits: beyond any image's pixel count


class RLEColumn:
    """Compressed RLE masks packed in one bytes blob: no Python object per mask until one is read.

    Millions of masks as dicts cost gigabytes; here they cost their compressed counts plus 24 bytes.
    Indexing gives the pycocotools dict of one mask.
    """

    def __init__(self, counts: bytes, offsets: np.ndarray, heights: np.ndarray, widths: np.ndarray):
        self.counts, self.offsets = counts, np.asarray(offsets, np.int64)
        self.heights, self.widths = np.asarray(heights, np.int64), np.asarray(widths, np.int64)
        # per mask, set by check_rle_counts: decoding a string to check it costs more than IoU
        self.counts_checked = np.zeros(len(self.heights), bool)

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

    def __len__(self):
        return len(self.heights)

    def __getitem__(self, i):
        return {'size': [int(self.heights[i]), int(self.widths[i])],
                'counts': self.counts[self.offsets[i]:self.offsets[i + 1]]}

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
    rows = rows[~column.counts_checked[rows]]
    if not len(rows):
        return
    bad = rows[bad_rle_rows(column.counts, column.offsets, column.heights, column.widths, rows)]
    if len(bad):
        i = int(bad.min())
        record, field = name_of(i)
        more = f'; {len(bad)} such masks' if len(bad) > 1 else ''
        raise LVISFormatError(
            f'{where(source)}{record}: field "{field}": its RLE "counts" do not '
            f'decode to {int(column.heights[i])} x {int(column.widths[i])} pixels (runs are '
            f'negative, malformed, or overrun the mask{more})')
    column.counts_checked[rows] = True


def mask_areas(column, rows, source, name_of):
    """pycocotools' area of the masks at `rows` (their counts checked first), float64."""
    from pycocotools import mask as mask_utils
    check_rle_counts(column, source, name_of, rows)
    rles = [column[i] for i in rows]
    if not rles:
        return np.zeros(0)
    try:
        # pycocotools' area() allocates its output as np.array((n,), dtype=np.uint8), which
        # overflows under numpy 2 for n > 255: ask for at most 255 masks at a time.
        return np.concatenate([np.asarray(mask_utils.area(rles[i:i + 255]), np.float64)
                               for i in range(0, len(rles), 255)])
    except Exception:
        for r, rle in zip(rows, rles):   # find the first record that does not decode
            try:
                mask_utils.area([rle])
            except Exception as e:
                raise field_error(source, *name_of(int(r)), f'cannot be decoded ({e})') from e
        raise


def rle_runs(chars: np.ndarray, offsets: np.ndarray, chunk_chars=1 << 15):
    """Decode the masks' strings. `chars` holds them back to back (uint8), mask i in
    chars[offsets[i]:offsets[i + 1]]. Returns (runs, runs_per_mask, ok): the run lengths of all
    masks back to back (int64, zeros first, as pycocotools counts), how many each mask has, and
    per mask whether its string is pycocotools' format with non-negative runs. Decodes about
    `chunk_chars` characters at a time: small chunks reuse the same memory, where large ones
    spend more time faulting fresh pages in than decoding (measured: 32k characters per chunk
    ran a third faster than 7M at once)."""
    offsets = np.asarray(offsets, np.int64)
    if offsets[-1] - offsets[0] <= 2 * chunk_chars:
        return _rle_runs(chars, offsets)
    cuts = np.unique(np.searchsorted(offsets, np.arange(offsets[0], offsets[-1], chunk_chars)))
    cuts = np.concatenate([cuts[cuts > 0], [len(offsets) - 1]])
    parts, lo = [], 0
    for hi in cuts:
        if hi > lo:
            part = offsets[lo:hi + 1]
            parts.append(_rle_runs(chars[part[0]:part[-1]], part - part[0]))
            lo = hi
    return tuple(np.concatenate(v) for v in zip(*parts))


def _rle_runs(chars, offsets):
    """`rle_runs` of one chunk."""
    n = len(offsets) - 1
    ok = np.ones(n, bool)
    if n == 0 or len(chars) == 0:
        return np.zeros(0, np.int64), np.zeros(n, np.int64), ok
    v = chars.astype(np.int16) - 48
    ends = (v & 0x20) == 0
    nonempty = np.nonzero(offsets[1:] > offsets[:-1])[0]
    first_char, last_char = offsets[nonempty], offsets[nonempty + 1] - 1
    ok[nonempty] = ~np.logical_or.reduceat((v < 0) | (v > 63), first_char) & ends[last_char]
    # Runs per mask from the run ends counted up to each mask's start and end.
    ends_before = np.r_[0, np.cumsum(ends)]
    runs_per_mask = ends_before[offsets[1:]] - ends_before[offsets[:-1]]
    run_mask = np.repeat(np.arange(n), runs_per_mask)
    first_run = np.r_[0, np.cumsum(runs_per_mask)[:-1]]
    idx = np.arange(len(run_mask)) - first_run[run_mask]       # run index inside its mask
    end = np.flatnonzero(ends)
    start = np.r_[0, end[:-1] + 1]
    start = np.where(idx == 0, offsets[run_mask], start)       # a broken tail stays in its mask
    length = end - start + 1
    ok[run_mask[length > _MAX_CHARS_PER_RUN]] = False
    value = np.zeros(len(end), np.int64)
    live = np.arange(len(end))
    for k in range(_MAX_CHARS_PER_RUN):                       # most runs are 1-2 characters
        live = live[length[live] > k]
        if not len(live):
            break
        value[live] |= (v[start[live] + k].astype(np.int64) & 0x1f) << (5 * k)
    negative = (v[end] & 0x10) != 0
    value -= np.where(negative, np.int64(1) << (5 * np.minimum(length, _MAX_CHARS_PER_RUN)), 0)
    # Delta decoding: run m > 2 adds run m - 2 of the same mask: a cumulative sum along each of
    # the two chains (odd runs from run 1, even runs from run 2; run 0 stands alone).
    runs = value.copy()
    for parity in (0, 1):
        on = (idx % 2 == parity) & (idx >= 2 - parity)
        cs = np.cumsum(np.where(on, value, 0))
        before = np.r_[0, cs][first_run[run_mask]]
        runs[on] = (cs - before)[on]
    ok[run_mask[runs < 0]] = False
    return runs, runs_per_mask, ok


def rle_run_sums(chars: np.ndarray, offsets: np.ndarray):
    """Per mask, (sum of its runs, whether it decodes to non-negative runs)."""
    runs, runs_per_mask, ok = rle_runs(chars, offsets)
    total = np.zeros(len(runs_per_mask), np.int64)
    has = np.nonzero(runs_per_mask)[0]
    total[has] = np.add.reduceat(runs, (np.cumsum(runs_per_mask) - runs_per_mask)[has])
    return total, ok


def gather_strings(counts: bytes, offsets, rows):
    """The strings of masks `rows` back to back (uint8) and their local offsets."""
    offsets = np.asarray(offsets, np.int64)
    starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
    local = np.r_[0, np.cumsum(lengths)]
    take = np.repeat(starts - local[:-1], lengths) + np.arange(local[-1])
    return np.frombuffer(counts, np.uint8)[take], local


def bad_rle_rows(counts: bytes, offsets, heights, widths, rows=None, chunk_chars=1 << 16):
    """Positions in `rows` (default: every mask) of masks whose runs are negative, malformed, or
    do not cover height x width; about `chunk_chars` characters gathered at a time."""
    offsets = np.asarray(offsets, np.int64)
    rows = np.arange(len(offsets) - 1) if rows is None else np.asarray(rows, np.int64)
    area = np.asarray(heights, np.int64)[rows] * np.asarray(widths, np.int64)[rows]
    lengths = offsets[rows + 1] - offsets[rows]
    ends = np.cumsum(lengths)
    bad, lo = [], 0
    while lo < len(rows):
        hi = max(lo + 1, int(np.searchsorted(ends, ends[lo] - lengths[lo] + chunk_chars, 'right')))
        hi = min(hi, len(rows))
        chars, local = gather_strings(counts, offsets, rows[lo:hi])
        total, ok = rle_run_sums(chars, local)
        bad.append(lo + np.nonzero(~ok | (total != area[lo:hi]))[0])
        lo = hi
    return np.concatenate(bad) if bad else np.zeros(0, np.int64)
