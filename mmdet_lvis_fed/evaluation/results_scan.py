"""LVIS results JSON straight into columns, in one compiled pass over the bytes.

At LVIS-val scale a results file holds millions of records, nearly all of it the masks' RLE
strings. A general decoder (msgspec) makes a Python object per record and per string, and the
columns are then gathered from them: 3 s of the 7 s an end-to-end mask evaluation took at
1.5M detections. This scanner reads the format that every LVIS tool writes, one record at a
time, into the arrays the evaluator keeps: ids, scores, boxes, mask sizes, and the RLE strings
back to back (the JSON escapes `\\\\` and `\\/` undone: pycocotools' alphabet holds a backslash).

It is a fast path, not a second reader. It accepts only well-formed JSON in the format of
`results_schema.Result`, with nothing else in it: keys in any order, any JSON whitespace, numbers
in JSON's grammar. Anything it does not know (another key, a `null`, a `\\u` escape, a string
that is not ASCII, an id of 19 digits or more, a number of more than 18 significant digits, a
record without a box when another has one, malformed text) makes it step aside, keeping nothing,
and `results_json` decodes the file with msgspec as before, which also words the error where
there is one. A number is converted by
`decimal_float.to_double`, the same double as `float()`; the rare one it cannot decide is
converted by `float()` itself, afterwards.
"""
import numpy as np
from numba import njit

from .decimal_float import POW_HI, POW_LO, clinger, to_double
from .threads import run_all

MAX_DIGITS = 18                 # significant digits of a number read here (an int64 holds them)
MIN_RECORD = len(b'{"image_id":0,"category_id":0,"score":0}')
MAX_SIZE = 2 ** 31 - 1
MAX_UNDECIDED = 1 << 16         # numbers left to float() per part; beyond, msgspec reads
PART_BYTES = 1 << 24            # threads scan parts of at least this many bytes

# the fields a record may have (bit k of `seen`), then those of its segmentation
_KEYS = [b'image_id', b'category_id', b'score', b'bbox', b'segmentation', b'size', b'counts']
IMAGE_ID, CATEGORY_ID, SCORE, BBOX, SEGMENTATION, SIZE, COUNTS = range(len(_KEYS))
_KEY_BYTES = np.frombuffer(b''.join(_KEYS), np.uint8)
_KEY_STARTS = np.cumsum([0] + [len(k) for k in _KEYS])
# the bytes of a JSON string copied as they are: printable ASCII but the quote and backslash
_PLAIN = np.zeros(256, np.uint8)
_PLAIN[32:127] = 1
_PLAIN[[ord('"'), ord('\\')]] = 0
_REQUIRED = (1 << IMAGE_ID) | (1 << CATEGORY_ID) | (1 << SCORE)

# scan statuses
OK, STEP_ASIDE = 0, 1

_QUOTE, _BACKSLASH, _COMMA, _COLON = 34, 92, 44, 58
_LBRACKET, _RBRACKET, _LBRACE, _RBRACE = 91, 93, 123, 125
_MINUS, _PLUS, _DOT, _ZERO = 45, 43, 46, 48


@njit(cache=True, nogil=True, inline='always')
def _ws(buf, p):
    """The first position at or after p that is not JSON whitespace."""
    n = len(buf)
    while p < n and (buf[p] == 32 or buf[p] == 10 or buf[p] == 13 or buf[p] == 9):
        p += 1
    return p


@njit(cache=True, nogil=True, inline='always')
def _next(buf, p, close):
    """After a value: (position after a comma and whitespace, 1) where another item follows,
    (position after `close`, 0) where the object or list ends, (p, -1) for anything else."""
    p = _ws(buf, p)
    if _is(buf, p, _COMMA):
        return _ws(buf, p + 1), 1
    if _is(buf, p, close):
        return p + 1, 0
    return p, -1


@njit(cache=True, nogil=True, inline='always')
def _item_end(buf, p, j, count):
    """After item j of an array of `count` items: (position of the next item, or after the
    closing bracket after the last, ok)."""
    p, more = _next(buf, p, _RBRACKET)
    return p, more == (1 if j < count - 1 else 0)


@njit(cache=True, nogil=True, inline='always')
def _is(buf, p, c):
    return p < len(buf) and buf[p] == c


@njit(cache=True, nogil=True, inline='always')
def _digit(buf, p):
    return p < len(buf) and 48 <= buf[p] <= 57


@njit(cache=True, nogil=True)
def _key(buf, p, key_bytes, key_starts):
    """(position after the closing quote, index of the key in _KEYS or -1); p at the opening
    quote. -1 also for a key with an escape in it."""
    q = p + 1
    while q < len(buf) and buf[q] != _QUOTE:
        if buf[q] == _BACKSLASH:
            return q, -1
        q += 1
    if q >= len(buf):
        return q, -1
    length = q - p - 1
    for k in range(len(key_starts) - 1):
        lo = key_starts[k]
        if key_starts[k + 1] - lo == length:
            same = True
            for j in range(length):
                if buf[p + 1 + j] != key_bytes[lo + j]:
                    same = False
                    break
            if same:
                return q + 1, k
    return q + 1, -1


@njit(cache=True, nogil=True)
def _int(buf, p):
    """(position after, value, ok) of a JSON integer of at most 18 digits at p. Not ok where
    there is none, it has more digits or a leading zero, or a fraction or exponent follows."""
    n = len(buf)
    neg = p < n and buf[p] == _MINUS
    if neg:
        p += 1
    start = p
    p, v = _uint(buf, p, 10 ** 18)
    if p == start or p - start > 18 or (buf[start] == _ZERO and p - start > 1):
        return p, 0, False
    if p < n and (buf[p] == _DOT or buf[p] == 101 or buf[p] == 69):
        return p, 0, False
    return p, -v if neg else v, True


@njit(cache=True, nogil=True, inline='always')
def _uint(buf, p, cap):
    """(position after the digits at p, their value; it stops growing once it reaches `cap`)."""
    n = len(buf)
    v = 0
    while p < n:
        d = np.int64(buf[p]) - _ZERO
        if d < 0 or d > 9:
            break
        if v < cap:
            v = v * 10 + d
        p += 1
    return p, v


@njit(cache=True, nogil=True)
def _digits(buf, p, man, digits):
    """Read the digits at p into man: (position after, man, significant digits so far)."""
    n = len(buf)
    while p < n:
        d = np.int64(buf[p]) - _ZERO
        if d < 0 or d > 9:
            break
        man = man * 10 + d            # wraps past 18 digits: such a number is refused below
        if man:
            digits += 1
        p += 1
    return p, man, digits


@njit(cache=True, nogil=True)
def _number(buf, p, pow_hi, pow_lo):
    """(position after, value, status) of a JSON number at p: status 0 done, 1 valid but left
    to float() (a rounding `to_double` cannot decide, a subnormal or an overflow), 2 not a JSON
    number or one of more than 18 significant digits (no writer of doubles makes those: msgspec
    reads them)."""
    n = len(buf)
    neg = p < n and buf[p] == _MINUS
    if neg:
        p += 1
    if not _digit(buf, p) or (buf[p] == _ZERO and _digit(buf, p + 1)):
        return p, 0.0, 2                        # no digit, or a leading zero: not JSON
    p, man, digits = _digits(buf, p, 0, 0)
    exp10 = 0
    if p < n and buf[p] == _DOT:
        start = p + 1
        p, man, digits = _digits(buf, start, man, digits)
        if p == start:
            return p, 0.0, 2
        exp10 = start - p
    if digits > MAX_DIGITS:
        return p, 0.0, 2
    if p < n and (buf[p] == 101 or buf[p] == 69):      # e, E
        p += 1
        eneg = p < n and buf[p] == _MINUS
        if p < n and (buf[p] == _MINUS or buf[p] == _PLUS):
            p += 1
        start = p
        p, e = _uint(buf, p, 100000)            # beyond: as good as infinite
        if p == start:
            return p, 0.0, 2
        exp10 += -e if eneg else e
    if digits <= 15 and -22 <= exp10 <= 22:             # the common case, inline
        return p, clinger(np.float64(man), exp10, neg), 0
    v, ok = to_double(np.uint64(man), exp10, neg, pow_hi, pow_lo)
    return p, v, 0 if ok else 1


@njit(cache=True, nogil=True)
def _string(buf, p, chars, c, plain):
    """Copy the JSON string at p (its opening quote) to chars[c:], its escapes undone:
    (position after, new c, ok). Not ok for a control character, a byte outside ASCII, or an
    escape other than \\\\, \\/ and \\". `plain[b]` is 1 for the bytes copied as they are."""
    p += 1
    n = len(buf)
    while True:
        q = p
        while q < n and plain[buf[q]]:
            q += 1
        if c + q - p >= len(chars):
            return q, c, False                  # a part that ran past its end
        chars[c:c + q - p] = buf[p:q]
        c += q - p
        if q + 1 >= n:
            return q, c, False
        if buf[q] == _QUOTE:
            return q + 1, c, True
        if buf[q] != _BACKSLASH:
            return q, c, False                  # a control character or beyond ASCII
        b = buf[q + 1]
        if b != _BACKSLASH and b != 47 and b != _QUOTE:
            return q, c, False
        chars[c] = b
        c += 1
        p = q + 2


class _Columns:
    """One part's output arrays, sized for the most records `size` bytes can hold."""

    def __init__(self, size):
        cap = size // MIN_RECORD + 1
        self.img = np.empty(cap, np.int64)
        self.cat = np.empty(cap, np.int64)
        self.score = np.empty(cap, np.float64)
        self.bbox = np.empty((cap, 4), np.float64)
        self.sizes = np.empty((cap, 2), np.int64)
        self.offsets = np.empty(cap + 1, np.int64)
        self.chars = np.empty(size + 1, np.uint8)
        # the numbers left to float(): row, column (0 score, 1-4 bbox), start and end in raw
        self.undecided = np.empty((MAX_UNDECIDED, 4), np.int64)

    def scan(self, buf, start, stop):
        self.status, self.n, self.n_box, self.n_segm, self.n_chars, self.n_undecided = _scan(
            buf, start, stop, self.img, self.cat, self.score, self.bbox, self.sizes,
            self.offsets, self.chars, self.undecided, _KEY_BYTES, _KEY_STARTS, _PLAIN, POW_HI,
            POW_LO)
        return self


@njit(cache=True, nogil=True)
def _scan(buf, start, stop, img, cat, score, bbox, sizes, offsets, chars, undecided, key_bytes,
          key_starts, plain, pow_hi, pow_lo):
    """Scan the records from `start` (0: the whole list, else the first byte of a record) to
    `stop` (the first byte of a later record, or -1: to the end of the list and the text).
    Returns (status, records, records with a box, records with a mask, characters of RLE,
    numbers left to float())."""
    n_box = n_segm = c = n_undecided = 0
    offsets[0] = 0
    n = 0
    p = start
    if start == 0:
        p = _ws(buf, 0)
        if not _is(buf, p, _LBRACKET):
            return STEP_ASIDE, 0, 0, 0, 0, 0
        p = _ws(buf, p + 1)
        if _is(buf, p, _RBRACKET):
            if stop >= 0 or _ws(buf, p + 1) != len(buf):
                return STEP_ASIDE, 0, 0, 0, 0, 0
            return OK, 0, 0, 0, 0, 0
    while True:
        if p == stop:
            return OK, n, n_box, n_segm, c, n_undecided       # the next part's records
        if (stop >= 0 and p > stop) or n >= len(score):
            return STEP_ASIDE, n, 0, 0, 0, 0
        if not _is(buf, p, _LBRACE):
            return STEP_ASIDE, n, 0, 0, 0, 0
        p = _ws(buf, p + 1)
        seen = 0
        while True:
            if not _is(buf, p, _QUOTE):
                return STEP_ASIDE, n, 0, 0, 0, 0
            p, k = _key(buf, p, key_bytes, key_starts)
            if k < 0 or k > SEGMENTATION or seen & (1 << k):
                return STEP_ASIDE, n, 0, 0, 0, 0      # not ours, or a duplicate key
            seen |= 1 << k
            p = _ws(buf, p)
            if not _is(buf, p, _COLON):
                return STEP_ASIDE, n, 0, 0, 0, 0
            p = _ws(buf, p + 1)
            if k == IMAGE_ID or k == CATEGORY_ID:
                p, v, ok = _int(buf, p)
                if not ok:
                    return STEP_ASIDE, n, 0, 0, 0, 0
                if k == IMAGE_ID:
                    img[n] = v
                else:
                    cat[n] = v
            elif k == SCORE:
                p, v, n_undecided, ok = _float(buf, p, n, 0, undecided, n_undecided, pow_hi,
                                               pow_lo)
                if not ok:
                    return STEP_ASIDE, n, 0, 0, 0, 0
                score[n] = v
            elif k == BBOX:
                p, n_undecided, ok = _box(buf, p, n, bbox, undecided, n_undecided, pow_hi,
                                          pow_lo)
                if not ok:
                    return STEP_ASIDE, n, 0, 0, 0, 0
                n_box += 1
            else:
                p, c, ok = _segmentation(buf, p, n, sizes, chars, c, key_bytes, key_starts,
                                         plain)
                if not ok:
                    return STEP_ASIDE, n, 0, 0, 0, 0
                n_segm += 1
            p, more = _next(buf, p, _RBRACE)
            if more < 0:
                return STEP_ASIDE, n, 0, 0, 0, 0
            if not more:
                break
        if seen & _REQUIRED != _REQUIRED:
            return STEP_ASIDE, n, 0, 0, 0, 0
        n += 1
        offsets[n] = c
        p, more = _next(buf, p, _RBRACKET)
        if more < 0:
            return STEP_ASIDE, n, 0, 0, 0, 0
        if not more:
            break
    if stop >= 0 or _ws(buf, p) != len(buf):
        return STEP_ASIDE, n, 0, 0, 0, 0              # something after the list
    return OK, n, n_box, n_segm, c, n_undecided


@njit(cache=True, nogil=True)
def _float(buf, p, row, col, undecided, n_undecided, pow_hi, pow_lo):
    """The number at p as a double: (position after, value, numbers left to float() so far,
    ok). One that `to_double` cannot decide is noted in `undecided` (row, column (0 score, 1-4
    bbox), start, end) and read by float() afterwards."""
    start = p
    p, v, status = _number(buf, p, pow_hi, pow_lo)
    if status == 2 or (status == 1 and n_undecided >= len(undecided)):
        return p, v, n_undecided, False
    if status == 1:
        undecided[n_undecided, 0] = row
        undecided[n_undecided, 1] = col
        undecided[n_undecided, 2] = start
        undecided[n_undecided, 3] = p
        n_undecided += 1
    return p, v, n_undecided, True


@njit(cache=True, nogil=True)
def _box(buf, p, row, bbox, undecided, n_undecided, pow_hi, pow_lo):
    """[x, y, w, h] at p into bbox[row]: (position after, numbers left to float(), ok)."""
    if not _is(buf, p, _LBRACKET):
        return p, n_undecided, False
    p = _ws(buf, p + 1)
    for j in range(4):
        p, v, n_undecided, ok = _float(buf, p, row, j + 1, undecided, n_undecided, pow_hi,
                                       pow_lo)
        if not ok:
            return p, n_undecided, False
        bbox[row, j] = v
        p, ok = _item_end(buf, p, j, 4)
        if not ok:
            return p, n_undecided, False
    return p, n_undecided, True


@njit(cache=True, nogil=True)
def _segmentation(buf, p, row, sizes, chars, c, key_bytes, key_starts, plain):
    """A compressed RLE object {"size": [h, w], "counts": "..."} at p: (position after, new
    character count, ok)."""
    if not _is(buf, p, _LBRACE):
        return p, c, False
    p = _ws(buf, p + 1)
    seen = 0
    while True:
        if not _is(buf, p, _QUOTE):
            return p, c, False
        p, k = _key(buf, p, key_bytes, key_starts)
        if (k != SIZE and k != COUNTS) or seen & (1 << k):
            return p, c, False
        seen |= 1 << k
        p = _ws(buf, p)
        if not _is(buf, p, _COLON):
            return p, c, False
        p = _ws(buf, p + 1)
        if k == SIZE:
            if not _is(buf, p, _LBRACKET):
                return p, c, False
            p = _ws(buf, p + 1)
            for j in range(2):
                p, v, ok = _int(buf, p)
                if not ok or v < 1 or v > MAX_SIZE:
                    return p, c, False
                sizes[row, j] = v
                p, ok = _item_end(buf, p, j, 2)
                if not ok:
                    return p, c, False
        else:
            if not _is(buf, p, _QUOTE):
                return p, c, False
            p, c, ok = _string(buf, p, chars, c, plain)
            if not ok:
                return p, c, False
        p, more = _next(buf, p, _RBRACE)
        if more <= 0:
            return p, c, more == 0 and seen == (1 << SIZE) | (1 << COUNTS)


@njit(cache=True, nogil=True)
def _record_start(buf, p):
    """The first byte of a record after p (a '{' after '}', ',' and whitespace), or -1. A guess:
    it may lie inside a string, and is trusted only once the part before it has been scanned to
    exactly there."""
    n = len(buf)
    while p < n:
        if buf[p] == _RBRACE:
            q = _ws(buf, p + 1)
            if _is(buf, q, _COMMA):
                q = _ws(buf, q + 1)
                if _is(buf, q, _LBRACE):
                    return q
        p += 1
    return -1


def _parts(buf, parts):
    """Start of each part: 0 and then a guessed record start near each 1/parts of the text."""
    starts = [0]
    for k in range(1, parts):
        s = _record_start(buf, max(len(buf) * k // parts, starts[-1] + 1))
        if s < 0:
            break
        starts.append(s)
    return starts


def scan_results(raw, threads: int = 1):
    """LVIS results JSON (bytes, or any buffer: a memory map) as a dict of columns
    (image_id, category_id, score, bbox or None, and sizes, counts (a uint8 array) and offsets
    or None), or None where the scanner steps aside (see the module's docstring): decode it
    with msgspec then. `threads` > 1 scans that many parts of a large text at once, each from a
    record start; where a part does not end exactly at the next one's start, the text is
    scanned again in one piece."""
    buf = np.frombuffer(raw, np.uint8)
    starts = _parts(buf, threads if len(buf) >= PART_BYTES * threads else 1)
    ends = starts[1:] + [len(buf)]
    # the first part's arrays hold every record: the others are copied in after it
    cols = [_Columns(len(buf) if k == 0 else hi - lo)
            for k, (lo, hi) in enumerate(zip(starts, ends))]
    jobs = [(c, lo, hi if hi < len(buf) else -1) for c, lo, hi in zip(cols, starts, ends)]
    run_all([lambda job=job: job[0].scan(buf, *job[1:]) for job in jobs])
    if len(jobs) > 1 and any(c.status != OK for c in cols):
        cols = [cols[0].scan(buf, 0, -1)]
    return _merge(raw, cols)


def _merge(raw, cols):
    """The parts' columns as one dict (see scan_results), or None."""
    n = sum(c.n for c in cols)
    n_box, n_segm = sum(c.n_box for c in cols), sum(c.n_segm for c in cols)
    if any(c.status != OK for c in cols) or n_box not in (0, n) or n_segm not in (0, n) or not (
            n_box + n_segm):
        return None                 # not ours, or a mix msgspec's reader words an error for
    for c in cols:
        for r, col, lo, hi in c.undecided[:c.n_undecided].tolist():
            v = float(raw[lo:hi])
            if v in (float('inf'), float('-inf')):
                return None         # out of a double's range: msgspec refuses it, words it
            if col:
                c.bbox[r, col - 1] = v
            else:
                c.score[r] = v
    first, row, char = cols[0], cols[0].n, cols[0].n_chars
    for c in cols[1:]:
        for name in ('img', 'cat', 'score', 'bbox', 'sizes'):
            getattr(first, name)[row:row + c.n] = getattr(c, name)[:c.n]
        first.offsets[row + 1:row + c.n + 1] = c.offsets[1:c.n + 1] + char
        first.chars[char:char + c.n_chars] = c.chars[:c.n_chars]
        row, char = row + c.n, char + c.n_chars
    out = dict(image_id=first.img[:n], category_id=first.cat[:n], score=first.score[:n],
               bbox=first.bbox[:n] if n_box else None, sizes=None, counts=None, offsets=None)
    if n_segm:
        out.update(sizes=first.sizes[:n], counts=first.chars[:char],
                   offsets=first.offsets[:n + 1])
    return out
