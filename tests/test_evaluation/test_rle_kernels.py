"""The compiled RLE loops against a plain transcription of pycocotools' rleFrString and against
pycocotools itself (areas, decoded pixels, `mask.iou`), on strings pycocotools wrote and on broken
ones."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.evaluation.rle_kernels import decode_rows, group_pair_ious, rle_stats


def runs_of(s):
    """pycocotools' rleFrString, line for line (runs as Python ints, no uint wrap-around)."""
    runs, p = [], 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            if p >= len(s):
                return None                       # string ends inside a run
            c = s[p] - 48
            if not 0 <= c <= 63:
                return None
            x |= (c & 0x1f) << 5 * k
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << 5 * k
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    return runs


def encode_runs(runs):
    """The inverse (pycocotools' rleToString), to write broken run lists."""
    out = []
    for i, x in enumerate(runs):
        if i > 2:
            x -= runs[i - 2]
        more = True
        while more:
            c = x & 0x1f
            x >>= 5
            more = (x != -1) if c & 0x10 else (x != 0)
            if more:
                c |= 0x20
            out.append(c + 48)
    return bytes(out)


@pytest.fixture(scope='module')
def strings():
    rng = np.random.default_rng(3)
    good = []
    for _ in range(300):
        h, w = rng.integers(1, 90, 2)
        m = (rng.uniform(size=(h, w)) < rng.uniform(0, 1)).astype(np.uint8)
        if rng.uniform() < 0.5:
            m[:] = 0
            y, x = rng.integers(0, h), rng.integers(0, w)
            m[y:y + rng.integers(1, h + 1), x:x + rng.integers(1, w + 1)] = 1
        rle = mask_utils.encode(np.asfortranarray(m))
        good.append((rle['counts'], int(h), int(w)))
    return good


def broken(strings):
    out = []
    for k, (s, h, w) in enumerate(strings[:60]):
        runs = runs_of(s)
        kind = k % 6
        if kind == 0:
            s = encode_runs(runs + [5])                       # overruns the mask
        elif kind == 1:
            s = encode_runs(runs[:-1] + [runs[-1] - 1])       # falls short
        elif kind == 2:
            s = encode_runs([runs[0] + 3, -3] + runs[1:])     # a negative run, same sum
        elif kind == 3:
            s = s + b'\x7f'                                   # not pycocotools' alphabet
        elif kind == 4:
            s = s[:-1] + bytes([((s[-1] - 48) | 0x20) + 48])  # ends inside a run
        else:
            s = encode_runs([runs[0] + 2 ** 40] + runs[1:])   # a run beyond any image
        out.append((s, h, w))
    return out


def pack(items):
    counts = b''.join(s for s, _, _ in items)
    offsets = np.r_[0, np.cumsum([len(s) for s, _, _ in items])]
    return counts, offsets, np.array([h for _, h, _ in items]), np.array([w for _, _, w in items])


def test_stats_equal_the_reference_decoder_and_pycocotools(strings):
    counts, offsets, h, w = pack(strings)
    ok, area, box = rle_stats(np.frombuffer(counts, np.uint8), offsets,
                              np.arange(len(strings)), h, w)
    assert ok.all()
    rles = [dict(size=[hh, ww], counts=s) for s, hh, ww in strings]
    assert area.tolist() == [sum(runs_of(s)[1::2]) for s, _, _ in strings]
    assert area.tolist() == [int(a) for a in mask_utils.area(rles[:255])] + \
        [int(a) for a in mask_utils.area(rles[255:])]
    for rle, b in zip(rles, box):               # the box of the pixels set, inclusive
        ys, xs = np.nonzero(mask_utils.decode(rle))
        expect = [xs.min(), ys.min(), xs.max(), ys.max()] if len(xs) else [-1] * 4
        assert b.tolist() == expect


def test_broken_strings_are_found_among_good_ones(strings):
    bad = broken(strings)
    mixed = [x for pair in zip(strings[60:120], bad) for x in pair]   # good, bad, good, ...
    expect = [i for i, (s, hh, ww) in enumerate(mixed)
              if (r := runs_of(s)) is None or min(r) < 0 or sum(r) != hh * ww]
    assert expect == list(range(1, len(mixed), 2))
    counts, offsets, h, w = pack(mixed)
    chars = np.frombuffer(counts, np.uint8)
    ok, _, _ = rle_stats(chars, offsets, np.arange(len(mixed)), h, w)
    assert np.flatnonzero(~ok).tolist() == expect
    # a subset of the rows, in any order: results are per position in `rows`
    rows = np.arange(0, len(mixed), 3)[::-1].copy()
    ok, _, _ = rle_stats(chars, offsets, rows, h, w)
    assert rows[~ok].tolist() == [i for i in expect[::-1] if i % 3 == 0]


def test_decode_rows_gives_the_reference_runs(strings):
    counts, offsets, _, _ = pack(strings)
    rows = np.array([5, 0, 17, 5, 299], np.int64)
    runs, starts = decode_rows(np.frombuffer(counts, np.uint8), offsets, rows)
    assert [runs[a:b].tolist() for a, b in zip(starts[:-1], starts[1:])] == \
        [runs_of(strings[r][0]) for r in rows]


def test_pair_ious_are_pycocotools_doubles(strings):
    # masks of one size, pairs in every order, repeated detections: bit for bit mask.iou
    rng = np.random.default_rng(4)
    h, w = 37, 23
    masks = []
    for _ in range(40):
        m = np.zeros((h, w), np.uint8)
        for _ in range(rng.integers(0, 4)):
            y, x = rng.integers(0, h), rng.integers(0, w)
            m[y:y + rng.integers(1, 25), x:x + rng.integers(1, 20)] = 1
        if rng.uniform() < 0.2:
            m = (rng.uniform(size=(h, w)) < 0.5).astype(np.uint8)
        masks.append(mask_utils.encode(np.asfortranarray(m)))
    counts, offsets, hh, ww = pack([(r['counts'], h, w) for r in masks])
    chars = np.frombuffer(counts, np.uint8)
    rows = np.arange(len(masks))
    _, area, _ = rle_stats(chars, offsets, rows, hh, ww)
    det = np.sort(rng.integers(0, len(masks), 600))
    gt = rng.integers(0, len(masks), 600)
    # each detection row k paired with one ground truth: the gt rows in pair order
    g_runs, g_starts = decode_rows(chars, offsets, gt)
    k, j, got = group_pair_ious(chars, offsets, det, area[det], np.zeros((600, 4), np.int64),
                                np.arange(600), np.ones(600, np.int64), g_runs, g_starts,
                                area[gt], np.zeros((600, 4), np.int64), -1.0, False)
    assert k.tolist() == j.tolist() == list(range(600))
    expect = [mask_utils.iou([masks[d]], [masks[g]], [0])[0, 0] for d, g in zip(det, gt)]
    assert got.tolist() == expect
    assert (got > 0).any() and (got == 0).any() and (got == 1).any()


def test_crops_encode_as_pycocotools_encodes_the_whole_image():
    # a mask that is 0 outside its box, given by the box's pixels: pycocotools' string of the
    # whole image, whatever touches the box's edges or the image's
    from mmdet_lvis_fed.evaluation.rle_kernels import encode_crops
    rng = np.random.default_rng(6)
    for trial in range(200):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        n = 4
        bh, bw = rng.integers(0, h + 1, n), rng.integers(0, w + 1, n)
        y0 = np.array([rng.integers(0, h - b + 1) for b in bh])
        x0 = np.array([rng.integers(0, w - b + 1) for b in bw])
        crops = rng.uniform(size=(n, max(bh.max(), 1), max(bw.max(), 1))) < rng.uniform()
        crops[0] = trial % 3 == 0                              # all set, or all clear
        chars, offsets = encode_crops(crops, y0, x0, bh, bw, h, w)
        for k in range(n):
            full = np.zeros((h, w), np.uint8)
            full[y0[k]:y0[k] + bh[k], x0[k]:x0[k] + bw[k]] = crops[k, :bh[k], :bw[k]]
            want = mask_utils.encode(np.asfortranarray(full))['counts']
            assert chars[offsets[k]:offsets[k + 1]].tobytes() == want, (trial, k)
