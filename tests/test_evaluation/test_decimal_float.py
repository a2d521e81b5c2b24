"""Decimal to double (decimal_float.py) against Python's float(), bit for bit, on the numbers
results files hold (repr of doubles, float32 values printed to 17 digits, short decimals) and on
the hard ones (every exponent of the table, 19-digit significands, exact integers, half-way
points, the ends of the double range)."""
import random
import struct
from fractions import Fraction

import numpy as np
import pytest

from mmdet_lvis_fed.evaluation.decimal_float import (MAX_EXP10, MIN_EXP10, POW_HI, POW_LO,
                                                     to_double)


def split(text):
    """(significand, power of ten, negative) of a decimal string, by plain string handling."""
    neg = text.startswith('-')
    mantissa, _, exp = text.lstrip('-').lower().partition('e')
    whole, _, frac = mantissa.partition('.')
    return int((whole + frac).lstrip('0') or '0'), int(exp or 0) - len(frac), neg


def bits(x):
    return struct.pack('<d', x)


def check(texts):
    """Every text that to_double decides gives float()'s double; returns how many it left."""
    undecided = 0
    for text in texts:
        man, exp10, neg = split(text)
        assert man < 2 ** 64, text
        got, ok = to_double(np.uint64(man), exp10, neg, POW_HI, POW_LO)
        if not ok:
            undecided += 1
            continue
        assert bits(got) == bits(float(text)), text
    return undecided


def test_table_is_the_published_one():
    # two rows of the table in Go's strconv (eisel_lemire.go): 1e-348 and 1e43
    assert (POW_HI[0], POW_LO[0]) == (0xFA8FD5A0081C0288, 0x1732C869CD60E453)
    assert POW_HI[43 - MIN_EXP10] == 0xE596B7B0C643C719
    assert len(POW_HI) == MAX_EXP10 - MIN_EXP10 + 1
    assert (POW_HI >> np.uint64(63) == 1).all()


def test_numbers_results_files_hold():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.random(20000), rng.random(20000) * 1500,
                             -rng.random(5000) * 30, rng.standard_normal(5000) * 1e-3])
    texts = [repr(float(v)) for v in values]                       # Python's json
    # float32 scores and boxes as mmdet writes them: float() of the value, then repr
    texts += [repr(float(v)) for v in (rng.random(20000) * 1000).astype(np.float32)]
    texts += [f'{v:.2f}' for v in rng.random(20000) * 1000]        # rounded boxes
    texts += [str(int(v)) for v in rng.integers(-10 ** 6, 10 ** 6, 5000)]
    assert check(texts) == 0


def test_hard_numbers():
    rng = np.random.default_rng(1)
    random.seed(1)
    texts = []
    for exp10 in range(MIN_EXP10 - 2, MAX_EXP10 + 3):             # every row, and past the ends
        for digits in (1, 5, 15, 17, 19):
            texts.append(f'{random.randrange(10 ** (digits - 1), 10 ** digits)}e{exp10}')
    texts += [f'{random.randrange(1, 2 ** 64)}e{random.randrange(-30, 30)}'
              for _ in range(20000)]
    # half-way points between neighbouring doubles: exact decimals of m + 1/2 ulp
    for v in rng.random(2000) * 2.0 ** rng.integers(-60, 60, 2000):
        a, b = float(v), float(np.nextafter(v, np.inf))
        mid = (Fraction(a) + Fraction(b)) / 2
        texts.append(f'{mid.numerator * 10 ** 25 // mid.denominator}e-25'[-45:])
    # the exact decimal of a float32 (a writer that prints 17 digits): the truncated powers
    # often cannot decide these, and the scanner leaves them to float()
    texts += ['%.17g' % v for v in rng.random(2000).astype(np.float32)]
    texts = [t for t in texts if split(t)[0] < 2 ** 64]
    texts += ['0', '-0', '0e400', '-0.0e-400', '1e22', '1e23', '9007199254740993',
              '2.2250738585072014e-308', '1.7976931348623157e308', '1.7976931348623159e308',
              '5e-324', '1e400', '0.1', '-123.456', '6273802664282917.0']
    undecided = check(texts)
    assert undecided < len(texts) // 20                            # subnormals, overflows


@pytest.mark.parametrize('text, expect', [('0', 0.0), ('-0', -0.0), ('1e22', 1e22),
                                          ('9007199254740993', 9007199254740992.0),
                                          ('28.319671630859375', 28.319671630859375),
                                          ('18446744073709551615', 2.0 ** 64)])
def test_exact_paths(text, expect):
    got, ok = to_double(np.uint64(split(text)[0]), split(text)[1], split(text)[2], POW_HI,
                        POW_LO)
    assert ok and bits(got) == bits(expect)


@pytest.mark.parametrize('text', ['5e-324', '1e400', '1e-400', '2.5e-310'])
def test_subnormal_and_overflow_are_left_undecided(text):
    man, exp10, neg = split(text)
    assert not to_double(np.uint64(man), exp10, neg, POW_HI, POW_LO)[1]
