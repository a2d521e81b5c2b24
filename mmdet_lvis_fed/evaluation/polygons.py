"""Ground-truth polygons to compressed RLE in compiled loops, to the byte what pycocotools makes.

LVIS gives every ground-truth mask as polygons. lvis-api turns each annotation into RLE with
pycocotools (`frPyObjects`, then `merge` of its polygons), one Python call per annotation and a
C allocation per step: 0.6 s of the 4 s an end-to-end mask evaluation of 50,000 annotations
took. Here all annotations go through one compiled pass (in threads, `threads.py`), following
pycocotools' rules step by step so the strings are the same:

* rasterising one polygon (its `rleFrPoly`): the vertices scaled by 5 and rounded, the edges
  walked point by point at that scale, the points where the boundary crosses a pixel column's
  centre kept, each giving the first pixel inside that column; their column-major indices,
  sorted, are the run boundaries (a boundary met twice cancels out);
* several polygons of one annotation: the union of their runs (its `rleMerge`);
* the string: `rle_kernels.append_string` (its `rleToString`).

Only annotations whose segmentation is a list of polygons of at least 3 points each, in a
list whose first polygon has more than 4 numbers, take this path (pycocotools reads a list
whose first item has 4 numbers as boxes); the others keep pycocotools (`ground_truth.py`).
"""
import itertools

import numpy as np
from numba import njit

from .rle_kernels import append_string
from .threads import map_ranges

SCALE = 5.0                 # pycocotools' upsampling of the polygon's vertices
MAX_COORD = 2.0 ** 24       # coordinates beyond: left to pycocotools (no image is that large)


def polygon_rows(segms):
    """Rows whose segmentation this module encodes: a list of polygons, each a list of at least
    6 numbers (3 points; JSON's ints and floats), so never read as boxes by pycocotools."""
    ok = np.fromiter((type(s) is list and len(s) > 0 and all(
        type(p) is list and len(p) >= 6 for p in s) for s in segms), bool, len(segms))
    rows = np.flatnonzero(ok)
    coords = itertools.chain.from_iterable(itertools.chain.from_iterable(segms[i] for i in rows))
    if not set(map(type, coords)) <= {int, float}:       # rare: find the rows to leave out
        for i in rows:
            ok[i] = all(type(v) in (int, float) for p in segms[i] for v in p)
        rows = np.flatnonzero(ok)
    # NaN, infinite or huge coordinates (C's int conversion of them is undefined): pycocotools
    sizes = np.fromiter((sum(map(len, segms[i])) for i in rows), np.int64, len(rows))
    coords = np.fromiter(itertools.chain.from_iterable(
        itertools.chain.from_iterable(segms[i] for i in rows)), np.float64, int(sizes.sum()))
    wild = ~(np.abs(coords) < MAX_COORD)
    if wild.any():
        ok[rows[np.add.reduceat(wild, np.r_[0, np.cumsum(sizes)[:-1]]) > 0]] = False
    return ok


def encode_polygons(segms, heights, widths):
    """(chars, offsets) of the compressed RLE strings of `segms` (each passing `polygon_rows`)
    on images of the given heights and widths: the strings back to back, as pycocotools'
    frPyObjects and merge would make them."""
    n = len(segms)
    polys_per = np.fromiter(map(len, segms), np.int64, n)
    polys = list(itertools.chain.from_iterable(segms))
    lengths = np.fromiter(map(len, polys), np.int64, len(polys))
    coords = np.fromiter(itertools.chain.from_iterable(polys), np.float64, int(lengths.sum()))
    poly_starts = np.r_[0, np.cumsum(lengths)]
    ann_starts = np.r_[0, np.cumsum(polys_per)]
    heights = np.asarray(heights, np.int64)
    widths = np.asarray(widths, np.int64)
    parts = map_ranges(lambda lo, hi: _encode(coords, poly_starts, ann_starts, heights, widths,
                                              lo, hi), n, min_rows=1 << 10)
    chars = np.concatenate([p[0] for p in parts])
    shift = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
    offsets = np.concatenate([[0]] + [p[1][1:] + s for p, s in zip(parts, shift)])
    return chars, offsets


@njit(cache=True, nogil=True)
def _encode(coords, poly_starts, ann_starts, heights, widths, lo, hi):
    """Strings of annotations lo..hi-1 (see encode_polygons)."""
    out = np.empty(1 << 16, np.uint8)
    offsets = np.zeros(hi - lo + 1, np.int64)
    p = 0
    for i in range(lo, hi):
        h, w = heights[i], widths[i]
        runs = np.zeros(0, np.int64)
        for j in range(ann_starts[i], ann_starts[i + 1]):
            k = (poly_starts[j + 1] - poly_starts[j]) // 2
            poly = _polygon_runs(coords[poly_starts[j]:poly_starts[j] + 2 * k], h, w)
            runs = poly if j == ann_starts[i] else _union(runs, poly)
        out, p = append_string(runs, len(runs), out, p)
        offsets[i - lo + 1] = p
    return out[:p].copy(), offsets


@njit(cache=True, nogil=True)
def _polygon_runs(xy, h, w):
    """The runs of one polygon (x0, y0, x1, y1, ...), pycocotools' rleFrPoly."""
    k = len(xy) // 2
    x = np.empty(k + 1, np.int64)
    y = np.empty(k + 1, np.int64)
    for j in range(k):
        x[j] = int(SCALE * xy[2 * j] + 0.5)       # C's (int): toward zero
        y[j] = int(SCALE * xy[2 * j + 1] + 0.5)
    x[k], y[k] = x[0], y[0]
    m = 0
    for j in range(k):
        m += max(abs(x[j] - x[j + 1]), abs(y[j] - y[j + 1])) + 1
    u = np.empty(m, np.int64)
    v = np.empty(m, np.int64)
    m = 0
    for j in range(k):                             # every point of every edge, at 5x
        xs, xe, ys, ye = x[j], x[j + 1], y[j], y[j + 1]
        dx, dy = abs(xe - xs), abs(ys - ye)
        flip = (dx >= dy and xs > xe) or (dx < dy and ys > ye)
        if flip:
            xs, xe, ys, ye = xe, xs, ye, ys
        if dx >= dy:
            s = np.float64(ye - ys) / dx if dx else 0.0
            for d in range(dx + 1):
                t = dx - d if flip else d
                u[m] = t + xs
                v[m] = int(ys + s * t + 0.5)
                m += 1
        else:
            s = np.float64(xe - xs) / dy
            for d in range(dy + 1):
                t = dy - d if flip else d
                v[m] = t + ys
                u[m] = int(xs + s * t + 0.5)
                m += 1
    # where the boundary crosses a column's centre: the first pixel inside that column
    bounds = np.empty(m + 1, np.int64)
    nb = 0
    for j in range(1, m):
        if u[j] == u[j - 1]:
            continue
        xd = np.float64(u[j] if u[j] < u[j - 1] else u[j] - 1)
        xd = (xd + 0.5) / SCALE - 0.5
        if np.floor(xd) != xd or xd < 0 or xd > w - 1:
            continue
        yd = np.float64(v[j] if v[j] < v[j - 1] else v[j - 1])
        yd = (yd + 0.5) / SCALE - 0.5
        if yd < 0:
            yd = 0.0
        elif yd > h:
            yd = np.float64(h)
        bounds[nb] = int(xd) * h + int(np.ceil(yd))
        nb += 1
    bounds[nb] = h * w
    nb += 1
    a = np.sort(bounds[:nb])
    # run lengths between sorted boundaries; a zero-length run (a boundary met twice) joins its
    # neighbours
    runs = np.empty(nb, np.int64)
    prev = 0
    for j in range(nb):
        t = a[j]
        a[j] -= prev
        prev = t
    runs[0] = a[0]
    nr = 1
    j = 1
    while j < nb:
        if a[j] > 0:
            runs[nr] = a[j]
            nr += 1
            j += 1
        else:
            j += 1
            if j < nb:
                runs[nr - 1] += a[j]
                j += 1
    return runs[:nr]


@njit(cache=True, nogil=True, inline='always')
def _take(runs, i, left, value):
    """A mask's run with `left` pixels to go: where it is used up, the next run (its length,
    the index after it, the flipped value); else as it was."""
    if left == 0 and i < len(runs):
        return runs[i], i + 1, not value
    return left, i, value


@njit(cache=True, nogil=True)
def _union(ra, rb):
    """The runs of the union of two masks given as runs (zeros first), pycocotools' rleMerge:
    a run ends where the union's value changes, and at the end."""
    out = np.empty(len(ra) + len(rb) + 1, np.int64)
    m = 0
    ca, cb = ra[0], rb[0]
    va = vb = v = False
    a = b = 1
    cc = 0
    ct = 1
    while ct > 0:
        c = min(ca, cb)
        cc += c
        ct = 0
        ca, a, va = _take(ra, a, ca - c, va)
        cb, b, vb = _take(rb, b, cb - c, vb)
        ct += ca + cb
        vp = v
        v = va or vb
        if v != vp or ct == 0:
            out[m] = cc
            m += 1
            cc = 0
    return out[:m]
