"""Boundary IoU (Cheng et al., CVPR 2021), the mask IoU of the LVIS challenge since 2021.

The definition (lvis-api branch `lvis_challenge_2021`, `boundary_utils.mask_to_boundary`): for a
mask of an h x w image, d = max(1, round(dilation_ratio x sqrt(h^2 + w^2))) (Python's round, half
to even); the mask, padded by one pixel of zeros, is eroded d times by a 3x3 square and cropped
back; its boundary is the mask minus the eroded mask. Put another way, a mask pixel is inside
(eroded) when the (2d+1) x (2d+1) square around it lies in the image and is all mask; every other
mask pixel is boundary, so pixels within d of the image border always are. Boundary IoU is
|Bd & Bg| / |Bd | Bg|, exact pixel counts divided as pycocotools does; the IoU used for matching
is min(mask IoU, boundary IoU).

The official code erodes every mask at full image size. Here only the masks of pairs that can
match (mask IoU >= 0.5: below it the minimum cannot reach the lowest threshold) are eroded, and
each only inside its box plus a margin of d (erosion changes nothing outside; the margin and the
area beyond the image border are zeros). Masks are held as bit columns: one image column of a
mask is a few 64-bit words (bit y of word w is pixel row 64 w + y, rows aligned to the image so
that two masks' words line up), and a square erosion is two one-dimensional ones: down each
image column on the runs of the RLE
(a run [a, b) of mask pixels erodes to [a + d, b - d)), then across columns on the bit columns,
by doubling windows (AND of a shifted copy) in log2(2d + 1) steps, for many masks at once.
"""
import numpy as np

from .rle_kernels import decode_rows

# Bit words held at once: 512 kB arrays. Larger ones cost more system time than they save
# (measured at 1000 images: 1 s of system time at 2^16, 4 s at 2^17 and above).
_WORDS_PER_CHUNK = 1 << 16
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def dilation(h, w, dilation_ratio=0.02):
    """d of an h x w image, as the official code computes it (Python's round, half to even)."""
    return np.maximum(1, np.rint(dilation_ratio * np.sqrt(np.asarray(h, np.float64) ** 2
                                                          + np.asarray(w, np.float64) ** 2))
                      ).astype(np.int64)


def boundary_ious(det_masks, det_rows, gt_masks, gt_rows, hw, dilation_ratio=0.02):
    """Boundary IoU of each pair (mask `det_rows[k]` of RLEColumn `det_masks`, mask `gt_rows[k]`
    of `gt_masks`), both of an image of size `hw[k]` (height, width). float64."""
    n = len(det_rows)
    out = np.zeros(n)
    if not n:
        return out
    d_pair = dilation(hw[:, 0], hw[:, 1], dilation_ratio)
    # Masks are decoded a chunk of pairs at a time; a chunk's masks are each decoded once.
    # About the words a pair's two blocks take: a string has ~4 characters per mask column,
    # a column takes 1-3 words, and each block has 2d extra columns.
    cost = (det_masks.offsets[det_rows + 1] - det_masks.offsets[det_rows]
            + gt_masks.offsets[gt_rows + 1] - gt_masks.offsets[gt_rows] + 12 * d_pair + 64)
    cuts = np.searchsorted(np.cumsum(cost), np.arange(1, 1 + cost.sum() // _WORDS_PER_CHUNK)
                           * _WORDS_PER_CHUNK)
    lo = 0
    for hi in np.unique(np.concatenate([cuts[cuts > 0], [n]])):
        out[lo:hi] = _chunk(det_masks, det_rows[lo:hi], gt_masks, gt_rows[lo:hi], d_pair[lo:hi])
        lo = hi
    return out


def _chunk(det_masks, det_rows, gt_masks, gt_rows, d_pair):
    det_u, det_of = np.unique(det_rows, return_inverse=True)
    gt_u, gt_of = np.unique(gt_rows, return_inverse=True)
    d_det = np.zeros(len(det_u), np.int64)
    d_det[det_of] = d_pair
    d_gt = np.zeros(len(gt_u), np.int64)
    d_gt[gt_of] = d_pair
    blocks = Boundaries.of([(det_masks, det_u, d_det), (gt_masks, gt_u, d_gt)])
    return blocks.ious(det_of, len(det_u) + gt_of)


class Boundaries:
    """The boundaries of some masks as bit blocks: mask m holds columns [x0[m], x0[m] + nc[m])
    of its image, each as nw[m] words from word w0[m] (rows 64 w0[m] ...), at `offset[m]` in
    `bits` (column by column). `box` is each mask's own extent (x0, y0, x1, y1), `count` its
    number of boundary pixels."""

    @classmethod
    def of(cls, parts):
        """`parts`: (RLEColumn, rows, d per row) triples, masks taken in that order."""
        self = cls()
        segs, boxes, ds, base = [], [], [], 0
        for column, rows, d in parts:
            mask, x, ya, yb, box = _column_segments(column, rows)
            segs.append((mask + base, x, ya, yb))
            boxes.append(box)
            ds.append(d)
            base += len(rows)
        mask, x, ya, yb = (np.concatenate(v) for v in zip(*segs))
        self.box = np.concatenate(boxes).reshape(-1, 4)
        d = np.concatenate(ds)
        # the erosion down the columns, on the runs
        shrunk = yb - ya > 2 * d[mask]
        v_mask, v_x = mask[shrunk], x[shrunk]
        v_ya, v_yb = ya[shrunk] + d[v_mask], yb[shrunk] - d[v_mask]
        x0, y0, x1, y1 = self.box.T
        empty = x1 <= x0
        # A block: the box plus d on every side (the erosion reads that far), words aligned.
        self.x0 = x0 - d
        self.nc = np.where(empty, 0, x1 - x0 + 2 * d)
        self.w0 = (y0 - d) // 64
        self.nw = np.where(empty, 0, (y1 - 1 + d) // 64 + 1 - self.w0)
        # Blocks grouped by (d, words per column): each group erodes as one 2D array.
        order = np.lexsort((self.nw, d))
        size = self.nc * self.nw
        offset = np.zeros(len(d), np.int64)
        offset[order] = np.cumsum(size[order]) - size[order]
        self.offset = offset
        total = int(size.sum())
        # word k of column x of mask m is at rowbase[m] + x * nw[m] + k (k counted from row 0)
        self.rowbase = offset - self.x0 * self.nw - self.w0
        # the mask and its erosion down the columns, painted in one buffer, one after the other
        painted = np.zeros(2 * total, np.uint64)
        _paint(painted, np.concatenate([mask, v_mask]), np.concatenate([x, v_x]),
               np.concatenate([ya, v_ya]), np.concatenate([yb, v_yb]),
               np.concatenate([self.rowbase[mask], self.rowbase[v_mask] + total]), self.nw)
        self.bits, eroded = painted[:total], painted[total:]
        groups = np.concatenate([[0], np.nonzero(np.diff(d[order]) | np.diff(self.nw[order]))[0]
                                 + 1, [len(order)]])
        for a, b in zip(groups[:-1], groups[1:]):
            first, last = order[a], order[b - 1]
            nw = int(self.nw[first])
            if nw == 0:
                continue
            lo, hi = offset[first], offset[last] + size[last]
            block = self.bits[lo:hi].reshape(-1, nw)
            block &= ~_erode_columns(eroded[lo:hi].reshape(-1, nw), int(d[first]))
        self.count = _block_sums(_popcount(self.bits), offset, size)
        return self

    def ious(self, a, b):
        """Boundary IoU of mask pairs (a[k], b[k]): pycocotools' i / u, 0 where i is 0."""
        # only the overlap of the two masks' own extents can hold common pixels
        x0 = np.maximum(self.box[a, 0], self.box[b, 0])
        x1 = np.minimum(self.box[a, 2], self.box[b, 2])
        w0 = np.maximum(self.box[a, 1], self.box[b, 1]) // 64
        w1 = (np.minimum(self.box[a, 3], self.box[b, 3]) - 1) // 64 + 1
        ncol = np.maximum(x1 - x0, 0)
        nwrd = np.where(ncol > 0, np.maximum(w1 - w0, 0), 0)
        n = ncol * nwrd
        pair = np.repeat(np.arange(len(a)), n)
        k = np.arange(len(pair)) - np.repeat(np.cumsum(n) - n, n)
        col, wrd = np.divmod(k, np.repeat(nwrd, n))
        # the first overlapping word of each pair in each block, then steps of a column
        na, nb = self.nw[a], self.nw[b]
        ia = np.repeat(self.rowbase[a] + x0 * na + w0, n) + col * np.repeat(na, n) + wrd
        ib = np.repeat(self.rowbase[b] + x0 * nb + w0, n) + col * np.repeat(nb, n) + wrd
        inter = np.bincount(pair, _popcount(self.bits[ia] & self.bits[ib]),
                            minlength=len(a)).astype(np.int64)
        union = self.count[a] + self.count[b] - inter
        return np.where(inter > 0, inter / np.maximum(union, 1), 0.0)


def _column_segments(column, rows):
    """The masks `rows` of an RLEColumn as column segments: (mask, x, y from, y to) of every
    run of mask pixels inside one image column, and each mask's extent (x0, y0, x1, y1; 0s for
    an empty mask). RLE runs are column-major and start with zeros; a run of ones that spans
    columns is cut at each column end."""
    runs, run_starts = decode_rows(column.chars, column.offsets, np.asarray(rows, np.int64))
    per_mask = np.diff(run_starts)                     # counts were checked before: ok
    h = column.heights[rows]
    run_mask = np.repeat(np.arange(len(rows)), per_mask)
    first = np.cumsum(per_mask) - per_mask
    ends = np.cumsum(runs)
    starts = ends - runs
    starts -= starts[first[run_mask]]                  # positions inside each mask
    ends = starts + runs                               # positions inside the mask
    ones = ((np.arange(len(runs)) - first[run_mask]) % 2 == 1) & (runs > 0)
    m, s, e = run_mask[ones], starts[ones], ends[ones]
    hm = h[m]
    c0, c1 = s // hm, (e - 1) // hm
    pieces = c1 - c0 + 1
    seg = np.repeat(np.arange(len(m)), pieces)
    x = c0[seg] + np.arange(len(seg)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    hs = hm[seg]
    ya = np.where(x == c0[seg], s[seg] - x * hs, 0)
    yb = np.where(x == c1[seg], e[seg] - x * hs, hs)
    mask = m[seg]
    box = np.zeros((len(rows), 4), np.int64)
    if len(mask):
        new = np.concatenate([[True], mask[1:] != mask[:-1]])
        starts_of, last_of = np.flatnonzero(new), np.flatnonzero(np.append(new[1:], True))
        has = mask[starts_of]
        box[has, 0] = x[starts_of]
        box[has, 2] = x[last_of] + 1
        box[has, 1] = np.minimum.reduceat(ya, starts_of)
        box[has, 3] = np.maximum.reduceat(yb, starts_of)
    return mask, x, ya, yb, box


def _paint(bits, mask, x, ya, yb, rowbase, nw):
    """Set the bits of the column segments (mask, x, rows [ya, yb)) in `bits`, where word k of
    column x of mask m is at rowbase[m] + x * nw[m] + k. A segment's words are consecutive:
    its first and last word are set bit by bit, the full ones between with a running sum."""
    if not len(mask):
        return
    wa, wb = ya // 64, (yb - 1) // 64                  # first and last word of each segment
    first = rowbase + x * nw[mask] + wa
    last = first + (wb - wa)
    lo = (ya - 64 * wa).astype(np.uint64)
    hi = np.minimum(yb - 64 * wa, 64).astype(np.uint64)
    head = (_ONES >> (np.uint64(64) - hi + lo)) << lo
    tail = np.where(wb > wa, _ONES >> (np.uint64(64) - (yb - 64 * wb).astype(np.uint64)),
                    np.uint64(0))
    # Heads and tails in segment order: a mask's segments come column by column, down each
    # column in order, so words that two segments share are neighbours here. OR those
    # together, then write each word once.
    index = np.stack([first, last], 1).ravel()
    word = np.stack([head, tail], 1).ravel()
    new = np.flatnonzero(np.concatenate([[True], index[1:] != index[:-1]]))
    bits[index[new]] |= np.bitwise_or.reduceat(word, new)
    inner = last - first >= 2
    if inner.any():
        # words first + 1 .. last - 1 of each segment are full; no two segments share one
        step = np.zeros(len(bits) + 1, np.int32)
        step[first[inner] + 1] = 1
        step[last[inner]] = -1
        bits[np.cumsum(step[:-1], dtype=np.int32) > 0] = _ONES


def _erode_columns(a, d):
    """AND over the columns [i - d, i + d] of (columns, words) bits, by doubling: after the loop,
    a[i] is the AND over [i, i + s); two such windows cover the 2d + 1 wanted. Columns beyond
    the array count as empty; a block's own d empty columns on each side keep its neighbours'
    columns out of the windows of its mask pixels."""
    s = 1
    while 2 * s <= 2 * d + 1:
        a = a & _shift_columns(a, s)
        s *= 2
    return _shift_columns(a, -d) & _shift_columns(a, d + 1 - s)


def _shift_columns(a, k):
    """b with b[i] = a[i + k] (0 outside the array)."""
    out = np.zeros_like(a)
    if k > 0:
        out[:-k] = a[k:]
    elif k < 0:
        out[-k:] = a[:k]
    else:
        out[:] = a
    return out


def _popcount(words):
    if hasattr(np, 'bitwise_count'):                  # numpy >= 2.0
        return np.bitwise_count(words).astype(np.int64)
    return np.unpackbits(words.view(np.uint8)).reshape(len(words), 64).sum(1)


def _block_sums(values, offset, size):
    out = np.zeros(len(offset), np.int64)
    has = size > 0
    if has.any():
        cs = np.concatenate([[0], np.cumsum(values)])
        out[has] = cs[offset[has] + size[has]] - cs[offset[has]]
    return out
