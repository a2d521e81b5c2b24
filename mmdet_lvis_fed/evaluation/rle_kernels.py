"""Compiled loops over compressed RLE strings: decode, check, area, box and pair intersections.

Mask AP spends its time on the detections' RLE strings: every string must be checked before
pycocotools would read it (a negative or overrunning run makes it read past the mask), and the
pairs that can match need their IoU. In numpy a string is decoded in bulk but with a dozen passes
over temporary arrays; calling pycocotools per (image, category) builds a dict per mask and
decodes each string again in every call. These loops decode each string once, in one pass, with
numba (a wheel from the registry; compiled on first use and cached beside this file).

The string format is pycocotools' `rleToString`/`rleFrString`: a run is 1-7 characters, each
48 + 5 value bits + a continuation bit (0x20); the last character of a run carries the sign
(0x10); each run after the third (index m > 2) is stored as the difference to run m - 2. Runs
alternate, zeros first, over the image in column-major order.

pycocotools' IoU of two masks of one image is i / u in double precision, i the pixels in both,
u those in either (its `rleIou`; 0 when i is 0): `group_pair_ious` computes the same two integers,
so the IoUs are the same doubles.
"""
import numpy as np
from numba import njit

MAX_CHARS_PER_RUN = 7        # 35 value bits: beyond any image's pixel count


@njit(cache=True, nogil=True)
def _decode(chars, lo, hi, out):
    """Runs of the string chars[lo:hi] into `out` (at least hi - lo long). Returns (number of
    runs, whether the string is pycocotools' format with non-negative runs)."""
    n = 0
    p = lo
    while p < hi:
        x = np.int64(0)
        k = 0
        more = True
        while more:
            if p >= hi or k >= MAX_CHARS_PER_RUN:
                return n, False               # an unfinished run, or one too long to be real
            c = np.int64(chars[p]) - 48
            if c < 0 or c > 63:
                return n, False
            x |= (c & 0x1f) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10) != 0:
                x -= np.int64(1) << (5 * k)    # sign-extend: pycocotools' x |= -1 << 5k
        if n > 2:
            x += out[n - 2]
        if x < 0:
            return n, False
        out[n] = x
        n += 1
    return n, True


@njit(cache=True, nogil=True)
def rle_stats(chars, offsets, rows, heights, widths):
    """Per mask of `rows`: (ok, area, box). ok: the string decodes to non-negative runs that
    cover exactly height x width pixels. area: the pixels set (pycocotools' `area`). box: x0,
    y0, x1, y1 of the pixels set, inclusive (x1 = -1 for an empty mask). `offsets[r]` to
    `offsets[r + 1]` are mask r's characters in `chars`."""
    n = len(rows)
    ok = np.zeros(n, np.bool_)
    area = np.zeros(n, np.int64)
    box = np.full((n, 4), -1, np.int64)
    longest = 0
    for k in range(n):
        longest = max(longest, offsets[rows[k] + 1] - offsets[rows[k]])
    buf = np.empty(longest, np.int64)
    for k in range(n):
        r = rows[k]
        m, good = _decode(chars, offsets[r], offsets[r + 1], buf)
        h, w = heights[r], widths[r]
        if not good:
            continue
        if h <= 0 or w <= 0:                # no pixels: only runs adding up to 0 fit
            ok[k] = _sum(buf, m) == h * w
            continue
        pos = np.int64(0)
        a = np.int64(0)
        x0, y0, x1, y1 = w, h, np.int64(-1), np.int64(-1)
        col, row = np.int64(0), np.int64(0)       # pos as (column, row): no division a run
        for j in range(m):
            v = buf[j]
            if j % 2 == 1 and v > 0:
                ce, re = _advance(col, row, v - 1, h)     # the run's last pixel
                x0, x1 = min(x0, col), max(x1, ce)
                if ce > col:
                    y0, y1 = 0, h - 1
                else:
                    y0, y1 = min(y0, row), max(y1, re)
                a += v
            col, row = _advance(col, row, v, h)
            pos += v
        ok[k] = pos == h * w
        area[k] = a
        if x1 >= 0:
            box[k, 0], box[k, 1], box[k, 2], box[k, 3] = x0, y0, x1, y1
    return ok, area, box


@njit(cache=True, nogil=True, inline='always')
def _advance(col, row, v, h):
    """(column, row) of the pixel v after (col, row) in column-major order, h rows a column.
    Runs mostly end in the next column at most: a division only for longer ones."""
    row += v
    if row >= h:
        if row < 2 * h:
            return col + 1, row - h
        return col + row // h, row % h
    return col, row


@njit(cache=True, nogil=True)
def _sum(buf, m):
    s = np.int64(0)
    for j in range(m):
        s += buf[j]
    return s


@njit(cache=True, nogil=True)
def decode_rows(chars, offsets, rows):
    """The runs of the masks `rows` (already checked), back to back, and where each mask's
    start: mask k's runs are runs[starts[k]:starts[k + 1]]."""
    n = len(rows)
    starts = np.zeros(n + 1, np.int64)
    total = 0
    for k in range(n):
        total += offsets[rows[k] + 1] - offsets[rows[k]]
    runs = np.empty(total, np.int64)
    for k in range(n):
        r = rows[k]
        m, _ = _decode(chars, offsets[r], offsets[r + 1], runs[starts[k]:])
        starts[k + 1] = starts[k] + m
    return runs[:starts[n]].copy(), starts


@njit(cache=True, nogil=True)
def _intersection(a, na, b, nb):
    """Pixels set in both of two masks given by their runs (zeros first)."""
    inter = np.int64(0)
    ja, jb = 1, 1                          # the ones-runs are the odd ones
    sa = a[0] if na > 0 else 0             # start of a's current ones-run
    sb = b[0] if nb > 0 else 0
    while ja < na and jb < nb:
        ea, eb = sa + a[ja], sb + b[jb]    # one past the end
        lo, hi = max(sa, sb), min(ea, eb)
        if hi > lo:
            inter += hi - lo
        if ea <= eb:                       # a's run ends first: go to a's next ones-run
            if ja + 1 < na:
                sa = ea + a[ja + 1]
            ja += 2
        else:
            if jb + 1 < nb:
                sb = eb + b[jb + 1]
            jb += 2
    return inter


@njit(cache=True, nogil=True)
def group_pair_ious(chars, offsets, det_rows, det_area, det_box, gt_first, gt_count, gt_runs,
                    gt_starts, gt_area, gt_box, thr, prefilter):
    """pycocotools' mask IoU of the pairs (detection k, ground truth j) for j in gt_first[k] ..
    gt_first[k] + gt_count[k] - 1, keeping those >= thr: returns (k, j, IoU) of each, by k then
    j. Detection k is string det_rows[k] of chars/offsets, decoded here once; ground truth j
    comes decoded (`decode_rows`: runs gt_runs[gt_starts[j]:gt_starts[j + 1]]). Areas and pixel
    boxes (x0, y0, x1, y1 inclusive) are `rle_stats`'. With `prefilter` (thr 0.5), a pair whose
    intersection cannot reach half its union by those (i <= min(box overlap, both areas), u = a +
    b - i: it needs 3i >= a + b) is skipped without decoding, exactly."""
    out_k = np.empty(1024, np.int64)
    out_j = np.empty(1024, np.int64)
    out_iou = np.empty(1024)
    n = 0
    longest = 0
    for k in range(len(det_rows)):
        longest = max(longest, offsets[det_rows[k] + 1] - offsets[det_rows[k]])
    buf = np.empty(longest, np.int64)
    for k in range(len(det_rows)):
        r = det_rows[k]
        a = det_area[k]
        m = -1                                   # not decoded yet
        for j in range(gt_first[k], gt_first[k] + gt_count[k]):
            b = gt_area[j]
            if prefilter:
                w = (min(det_box[k, 2], gt_box[j, 2]) - max(det_box[k, 0], gt_box[j, 0]) + 1)
                h = (min(det_box[k, 3], gt_box[j, 3]) - max(det_box[k, 1], gt_box[j, 1]) + 1)
                bound = min(max(w, 0) * max(h, 0), a, b)
                if bound <= 0 or 3 * bound < a + b:
                    continue
            if m < 0:
                m, _ = _decode(chars, offsets[r], offsets[r + 1], buf)
            lo, hi = gt_starts[j], gt_starts[j + 1]
            i = _intersection(buf, m, gt_runs[lo:hi], hi - lo)
            iou = np.float64(i) / np.float64(a + b - i) if i > 0 else 0.0
            if iou < thr:
                continue
            if n == len(out_k):
                out_k, out_j = _grown(out_k, n, n + 1), _grown(out_j, n, n + 1)
                out_iou = _grown(out_iou, n, n + 1)
            out_k[n], out_j[n], out_iou[n] = k, j, iou
            n += 1
    return out_k[:n].copy(), out_j[:n].copy(), out_iou[:n].copy()


@njit(cache=True, nogil=True)
def _grown(x, used, need):
    """A buffer of at least `need` (twice x's size at least) holding x[:used]."""
    out = np.empty(max(2 * len(x), need), x.dtype)
    out[:used] = x[:used]
    return out


@njit(cache=True, nogil=True)
def append_string(runs, m, out, p):
    """pycocotools' string of runs[:m] written at out[p:], out grown where it is short:
    (out, the position after)."""
    if p + 8 * m > len(out):                     # at most 7 characters a run
        out = _grown(out, p, p + 8 * m)
    return out, _write_string(runs, m, out, p)


@njit(cache=True, nogil=True)
def encode_crops(crops, y0, x0, heights, widths, img_h, img_w):
    """Compressed RLE strings of masks that are 0 outside a box: mask k of an img_h x img_w
    image is crops[k, :heights[k], :widths[k]] placed at row y0[k], column x0[k] (any other
    entry of `crops` is padding and not read). Returns (chars, offsets): the strings back to
    back, pycocotools' `encode` of the whole image to the byte (runs column-major, zeros first,
    written by its `rleToString`), with no image-sized array."""
    n = len(y0)
    runs = np.empty(2 * (crops.shape[1] + 2) * (crops.shape[2] + 1) + 2, np.int64)
    out = np.empty(n * 16 + 8, np.uint8)
    offsets = np.zeros(n + 1, np.int64)
    p = 0
    for k in range(n):
        m = _crop_runs(crops[k], y0[k], x0[k], heights[k], widths[k], img_h, img_w, runs)
        out, p = append_string(runs, m, out, p)
        offsets[k + 1] = p
    return out[:p].copy(), offsets


@njit(cache=True, nogil=True)
def _crop_runs(crop, y, x, h, w, img_h, img_w, runs):
    """The runs (zeros first, column-major over the whole image) of a mask that is `crop[:h,
    :w]` at row y, column x and 0 elsewhere, into `runs`; returns how many."""
    m = 0
    start = np.int64(0)          # where the current run began
    cur = 0
    for dx in range(w + 1):
        col = np.int64(x + dx) * img_h
        # zeros above the box in this column, and after its last column: a run of ones that
        # reached the bottom of the previous column ends here
        if cur == 1 and (y > 0 or dx == w) and col < np.int64(img_h) * img_w:
            runs[m] = col - start
            m += 1
            start, cur = col, 0
        if dx == w:
            break
        for dy in range(h):
            v = 1 if crop[dy, dx] else 0
            if v != cur:
                runs[m] = col + y + dy - start
                m += 1
                start, cur = col + y + dy, v
        if cur == 1 and y + h < img_h:       # zeros below the box
            runs[m] = col + y + h - start
            m += 1
            start, cur = col + y + h, 0
    runs[m] = np.int64(img_h) * img_w - start
    return m + 1


@njit(cache=True, nogil=True)
def _write_string(runs, m, out, p):
    """pycocotools' `rleToString` of runs[:m] into out[p:]: after the third run, each run minus
    the run two places back; 5 bits a character, 0x20 = more to come, the last one's 0x10 = the
    sign. Returns the position after the string."""
    for i in range(m):
        x = runs[i]
        if i > 2:
            x -= runs[i - 2]
        more = True
        while more:
            c = x & 0x1f
            x >>= 5
            more = x != -1 if (c & 0x10) != 0 else x != 0
            if more:
                c |= 0x20
            out[p] = c + 48
            p += 1
    return p
