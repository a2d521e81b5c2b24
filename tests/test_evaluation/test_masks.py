"""The numpy RLE decoder against a plain transcription of pycocotools' rleFrString, on strings
pycocotools wrote and on broken ones."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_lvis_fed.evaluation.masks import bad_rle_rows, rle_run_sums


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


def test_sums_equal_the_reference_decoder(strings):
    counts, offsets, h, w = pack(strings)
    total, ok = rle_run_sums(np.frombuffer(counts, np.uint8), offsets)
    assert ok.all()
    assert total.tolist() == [sum(runs_of(s)) for s, _, _ in strings] == (h * w).tolist()


def test_broken_strings_are_found_among_good_ones(strings):
    bad = broken(strings)
    mixed = [x for pair in zip(strings[60:120], bad) for x in pair]   # good, bad, good, ...
    expect = [i for i, (s, hh, ww) in enumerate(mixed)
              if (r := runs_of(s)) is None or min(r) < 0 or sum(r) != hh * ww]
    assert expect == list(range(1, len(mixed), 2))
    counts, offsets, h, w = pack(mixed)
    assert bad_rle_rows(counts, offsets, h, w).tolist() == expect
    # a subset of the rows, in small chunks: positions are into the subset
    rows = np.arange(0, len(mixed), 3)
    got = bad_rle_rows(counts, offsets, h, w, rows=rows, chunk_chars=50)
    assert rows[got].tolist() == [i for i in expect if i % 3 == 0]


def test_decoding_in_chunks_equals_decoding_at_once(strings):
    # broken strings (a tail that never ends its run, say) must not spill into the next chunk
    from mmdet_lvis_fed.evaluation.masks import rle_runs
    mixed = [x for pair in zip(strings[60:120], broken(strings)) for x in pair]
    counts, offsets, _, _ = pack(mixed)
    chars = np.frombuffer(counts, np.uint8)
    whole = rle_runs(chars, offsets, chunk_chars=1 << 30)
    for chunk in (1, 7, 40, 333):
        for a, b in zip(rle_runs(chars, offsets, chunk_chars=chunk), whole):
            np.testing.assert_array_equal(a, b)
