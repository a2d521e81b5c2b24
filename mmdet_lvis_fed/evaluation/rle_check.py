"""Check compressed RLE masks before pycocotools decodes them.

pycocotools trusts the counts: a string whose runs add up to more or fewer pixels than the image
has, or that holds a negative run (it stores runs as unsigned ints), makes `mask.iou` and
`mask.area` read past the mask, loop for ever or crash. lvis-api hangs on such a result too. The
check decodes every string of a packed column at once, in numpy: pycocotools' 6-bit format
(48 + 5 value bits + a continuation bit, sign-extended), each run after the third stored as the
difference to the run two places back.
"""
import numpy as np

_MAX_CHARS_PER_RUN = 7        # 35 value bits: beyond any image's pixel count


def rle_run_sums(counts: bytes, offsets: np.ndarray):
    """Per mask, (sum of its runs, whether it decodes to non-negative runs). Masks whose string
    is not pycocotools' format get ok=False."""
    offsets = np.asarray(offsets, np.int64)
    n = len(offsets) - 1
    c = np.frombuffer(counts, np.uint8).astype(np.int64) - 48
    ok = np.ones(n, bool)
    total = np.zeros(n, np.int64)
    if n == 0 or len(c) == 0:
        return total, ok
    mask_of = np.repeat(np.arange(n), np.diff(offsets))
    bad_char = (c < 0) | (c > 63)
    ok[np.unique(mask_of[bad_char])] = False
    c = np.where(bad_char, 0, c)
    ends = (c & 0x20) == 0
    # every mask's string must end on a complete run
    last = offsets[1:] - 1
    nonempty = offsets[1:] > offsets[:-1]
    ok[nonempty] &= ends[last[nonempty]]
    end_pos = np.nonzero(ends)[0]
    start_pos = np.r_[0, end_pos[:-1] + 1]
    # runs that straddle two masks belong to a broken string, already flagged
    run_mask = mask_of[end_pos]
    length = end_pos - start_pos + 1
    long_run = length > _MAX_CHARS_PER_RUN
    ok[np.unique(run_mask[long_run])] = False
    k = np.arange(len(c)) - np.repeat(start_pos, length)     # chunk index inside its run
    k = np.minimum(k, _MAX_CHARS_PER_RUN)
    run_of_char = np.repeat(np.arange(len(end_pos)), length)
    value = np.bincount(run_of_char, weights=((c & 0x1f) << (5 * k)).astype(np.float64),
                        minlength=len(end_pos)).astype(np.int64)
    neg = (c[end_pos] & 0x10) != 0
    value = value - np.where(neg, np.int64(1) << (5 * np.minimum(length, _MAX_CHARS_PER_RUN)), 0)
    # delta decoding: run m > 2 adds run m - 2 of the same mask (two chains: even, odd)
    first_run = np.searchsorted(run_mask, np.arange(n))
    idx = np.arange(len(end_pos)) - first_run[run_mask]
    runs = value.copy()
    for parity in (0, 1):
        # cumulative sum along the chain of this parity inside each mask (run 0 is on its own)
        on = (idx % 2 == parity) & (idx >= 2 - parity)
        cs = np.cumsum(np.where(on, value, 0))
        before = np.r_[0, cs][first_run[run_mask]]
        runs[on] = (cs - before)[on]
    ok[np.unique(run_mask[runs < 0])] = False
    total = np.bincount(run_mask, weights=runs.astype(np.float64), minlength=n).astype(np.int64)
    return total, ok


def bad_rle_rows(counts: bytes, offsets, heights, widths, chunk_chars=1 << 22):
    """Indices of masks whose runs are negative, malformed, or do not cover height x width.
    Decodes about `chunk_chars` characters at a time (a few hundred MB of temporaries)."""
    offsets = np.asarray(offsets, np.int64)
    area = np.asarray(heights, np.int64) * np.asarray(widths, np.int64)
    bad, lo, n = [], 0, len(offsets) - 1
    while lo < n:
        hi = max(lo + 1, int(np.searchsorted(offsets, offsets[lo] + chunk_chars, 'right')) - 1)
        hi = min(hi, n)
        total, ok = rle_run_sums(counts[offsets[lo]:offsets[hi]], offsets[lo:hi + 1] - offsets[lo])
        bad.append(lo + np.nonzero(~ok | (total != area[lo:hi]))[0])
        lo = hi
    return np.concatenate(bad) if bad else np.zeros(0, np.int64)
