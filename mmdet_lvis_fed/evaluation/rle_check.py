"""Check compressed RLE masks before pycocotools decodes them.

pycocotools trusts the counts: a string whose runs add up to more or fewer pixels than the image
has, or that holds a negative run (it stores runs as unsigned ints), makes `mask.iou` and
`mask.area` read past the mask, loop for ever or crash. lvis-api hangs on such a result too. The
check decodes the strings of a packed column at once, in numpy, as pycocotools' `rleFrString`
does: each character is 48 + 5 value bits + a continuation bit (0x20); a run's last character
carries the sign (0x10); each run after the third is stored as the difference to the run two
places back.
"""
import numpy as np

_MAX_CHARS_PER_RUN = 7        # 35 value bits: beyond any image's pixel count


def rle_run_sums(chars: np.ndarray, offsets: np.ndarray):
    """Per mask, (sum of its runs, whether it decodes to non-negative runs). `chars` holds the
    masks' strings back to back (uint8), mask i in chars[offsets[i]:offsets[i + 1]]. A string
    that is not pycocotools' format gets ok=False."""
    offsets = np.asarray(offsets, np.int64)
    n = len(offsets) - 1
    ok = np.ones(n, bool)
    total = np.zeros(n, np.int64)
    if n == 0 or len(chars) == 0:
        return total, ok
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
    has = np.nonzero(runs_per_mask)[0]
    total[has] = np.add.reduceat(runs, first_run[has])
    return total, ok


def bad_rle_rows(counts: bytes, offsets, heights, widths, rows=None, chunk_chars=1 << 16):
    """Positions in `rows` (default: every mask) of masks whose runs are negative, malformed, or
    do not cover height x width. Decodes about `chunk_chars` characters at a time: small chunks
    reuse the same memory, where large ones spend more time faulting fresh pages in than
    decoding (measured: 64k characters per chunk ran twice as fast as 8M)."""
    offsets = np.asarray(offsets, np.int64)
    rows = np.arange(len(offsets) - 1) if rows is None else np.asarray(rows, np.int64)
    area = np.asarray(heights, np.int64)[rows] * np.asarray(widths, np.int64)[rows]
    chars = np.frombuffer(counts, np.uint8)
    starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
    ends = np.cumsum(lengths)
    bad, lo = [], 0
    while lo < len(rows):
        hi = max(lo + 1, int(np.searchsorted(ends, ends[lo] - lengths[lo] + chunk_chars, 'right')))
        hi = min(hi, len(rows))
        n = lengths[lo:hi]
        local = np.r_[0, np.cumsum(n)]
        # the chosen masks' characters, back to back
        take = np.repeat(starts[lo:hi] - local[:-1], n) + np.arange(local[-1])
        total, ok = rle_run_sums(chars[take], local)
        bad.append(lo + np.nonzero(~ok | (total != area[lo:hi]))[0])
        lo = hi
    return np.concatenate(bad) if bad else np.zeros(0, np.int64)
