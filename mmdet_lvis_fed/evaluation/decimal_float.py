"""Decimal to double, correctly rounded, in compiled code: the Eisel-Lemire algorithm.

The results reader (`results_scan.py`) turns a JSON number into a double without Python: a
score or a box coordinate must be the very double that `float()` (and msgspec, and Python's
`json`) gives for the same text, or the ranking of equal scores and the box areas would differ
from lvis-api's. A number is first split into a decimal significand `man` (at most 19 digits)
and a power of ten `exp10`. Where one rounding suffices it is done in hardware, which rounds
correctly: `man` below 2^53 times or over an exact power of ten (Clinger's fast path); an
exact binary fraction printed in full, as mmdet writes float32 boxes (`man` a multiple of 5^k
over 10^k); an integer below 2^64. Otherwise `to_double` multiplies `man` by a 128-bit
truncation of 10^exp10 and rounds to 53 bits (Lemire, "Number Parsing at a Gigabyte per
Second", 2021; the form here follows Nigel Tao's write-up,
https://nigeltao.github.io/blog/2020/eisel-lemire.html). Where the truncation could decide the
rounding (a value at or within 2^-64 of a half-way point: exact decimals of 17 digits and more,
mostly), or the result would be subnormal or overflow, it says so instead of guessing, and the
caller reads that text another way.

The table of powers is made at import from Python's exact integers, not written out.
"""
import numpy as np
from numba import njit

MIN_EXP10, MAX_EXP10 = -348, 347


def _power_table():
    """(hi, lo) 64-bit halves of the 128-bit mantissa of 10^e, top bit set, rounded down, for
    e in MIN_EXP10..MAX_EXP10."""
    hi = np.zeros(MAX_EXP10 - MIN_EXP10 + 1, np.uint64)
    lo = np.zeros_like(hi)
    for k, e in enumerate(range(MIN_EXP10, MAX_EXP10 + 1)):
        if e >= 0:
            v = 10 ** e
            shift = v.bit_length() - 128
            m = v >> shift if shift > 0 else v << -shift
        else:
            d = 10 ** -e                 # 2^(127 + bits) / d lies in (2^127, 2^128)
            m = (1 << (127 + d.bit_length())) // d
        hi[k], lo[k] = m >> 64, m & (2 ** 64 - 1)
    return hi, lo


POW_HI, POW_LO = _power_table()

_EXACT = np.uint64(2 ** 53)
_POW10 = np.array([10.0 ** k for k in range(23)])       # exact doubles
_MAX_POW5 = 27                                           # 5^27 < 2^63
_POW5 = np.array([5 ** k for k in range(_MAX_POW5 + 1)], np.uint64)
_POW2 = np.array([2.0 ** -k for k in range(_MAX_POW5 + 1)])
_MAX_POW10U = 19
_POW10U = np.array([10 ** k for k in range(_MAX_POW10U + 1)], np.uint64)
_U64_MAX = np.uint64(2 ** 64 - 1)
_M32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)


@njit(cache=True, nogil=True, inline='always')
def _mul128(a, b):
    """(high, low) 64-bit words of the 128-bit product of two uint64."""
    a_lo, a_hi = a & _M32, a >> _U32
    b_lo, b_hi = b & _M32, b >> _U32
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (p0 >> _U32) + (p1 & _M32) + (p2 & _M32)
    return p3 + (p1 >> _U32) + (p2 >> _U32) + (mid >> _U32), (mid << _U32) | (p0 & _M32)


@njit(cache=True, nogil=True, inline='always')
def clinger(man, exp10, negative):
    """Clinger's fast path: man (an integer below 2^53, as a double) x 10^exp10 for |exp10| <=
    22. Both are exact doubles, so one IEEE operation rounds once, correctly."""
    v = man * _POW10[exp10] if exp10 >= 0 else man / _POW10[-exp10]
    return -v if negative else v


@njit(cache=True, nogil=True)
def to_double(man, exp10, negative, pow_hi, pow_lo):
    """(the double nearest (-1 if negative) x man x 10^exp10, ok): `man` a uint64,
    `pow_hi`/`pow_lo` the table (`POW_HI`, `POW_LO`). ok is False where this cannot be sure of
    the rounding or the value is subnormal, infinite or outside the table: read the text
    another way then."""
    if man == 0:
        return -0.0 if negative else 0.0, True
    if man <= _EXACT and -22 <= exp10 <= 22:
        # (this also takes the exact integers that the general path below leaves undecided)
        return clinger(np.float64(man), exp10, negative), True
    if -_MAX_POW5 <= exp10 < 0 and man % _POW5[-exp10] == 0:
        # an exact binary fraction printed in full (a float32 box as mmdet writes it, say
        # 28.319671630859375): man / 10^k = (man / 5^k) / 2^k, an integer rounded once to a
        # double, then scaled exactly
        v = np.float64(man // _POW5[-exp10]) * _POW2[-exp10]
        return -v if negative else v, True
    if 0 <= exp10 <= _MAX_POW10U and man <= _U64_MAX // _POW10U[exp10]:
        v = np.float64(man * _POW10U[exp10])          # an integer below 2^64, rounded once
        return -v if negative else v, True
    bits, ok = _eisel_lemire(man, exp10, pow_hi, pow_lo)
    sign = np.uint64(1) << np.uint64(63) if negative else np.uint64(0)
    return np.uint64(bits | sign).view(np.float64), ok


@njit(cache=True, nogil=True)
def _eisel_lemire(man, exp10, pow_hi, pow_lo):
    """(bits of the positive double nearest man x 10^exp10, ok), man > 0."""
    if exp10 < MIN_EXP10 or exp10 > MAX_EXP10:
        return np.uint64(0), False
    # normalise: the significand's top bit set
    clz = 0
    for step in (32, 16, 8, 4, 2, 1):
        if man >> np.uint64(64 - step) == 0:
            man <<= np.uint64(step)
            clz += step
    # 217706 / 2^16 is log2(10) to enough places for every exponent of the table
    exp2 = ((217706 * exp10) >> 16) + 64 + 1023 - clz
    k = exp10 - MIN_EXP10
    hi, lo = _mul128(man, pow_hi[k])
    low9 = np.uint64(0x1FF)
    if (hi & low9) == low9 and lo + man < man:
        # the 64-bit truncation of the power might decide the rounding: take 64 more bits
        y_hi, y_lo = _mul128(man, pow_lo[k])
        merged_lo = lo + y_hi
        merged_hi = hi + np.uint64(1) if merged_lo < lo else hi
        if (merged_hi & low9) == low9 and merged_lo + np.uint64(1) == 0 and y_lo + man < man:
            return np.uint64(0), False
        hi, lo = merged_hi, merged_lo
    msb = hi >> np.uint64(63)
    mantissa = hi >> (msb + np.uint64(9))            # 54 bits
    exp2 -= 1 - int(msb)
    if lo == 0 and (hi & low9) == 0 and (mantissa & np.uint64(3)) == 1:
        return np.uint64(0), False                   # exactly half-way as far as we can see
    mantissa += mantissa & np.uint64(1)              # round half to even, to 53 bits
    mantissa >>= np.uint64(1)
    if mantissa >> np.uint64(53) > 0:
        mantissa >>= np.uint64(1)
        exp2 += 1
    if exp2 <= 0 or exp2 >= 0x7FF:
        return np.uint64(0), False                   # subnormal or infinite
    return (np.uint64(exp2) << np.uint64(52)) | (mantissa & np.uint64(0xFFFFFFFFFFFFF)), True
