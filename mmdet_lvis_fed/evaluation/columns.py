"""Array kernels of the evaluator: (image, category) keys, membership, id lookup, ordering.

The evaluator works on columns instead of per-annotation dicts: a category id and an image id
become dense indices, an (image, category) pair becomes one int64 key, and the federated lists of
every image become sorted key arrays that `np.searchsorted` tests in bulk.
"""
import numpy as np
from numba import njit


def pair_keys(img_idx, cat_idx, num_cats):
    """One int64 key per (image, category) pair, ordered by image then category."""
    return np.asarray(img_idx, np.int64) * num_cats + np.asarray(cat_idx, np.int64)


def in_sorted(keys, sorted_keys):
    """Vectorised membership test of `keys` in an ascending unique array."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos[pos == len(sorted_keys)] = 0
    return sorted_keys[pos] == keys


def index_of(values, sorted_ids, name_bad):
    """Map ids to dense indices in `sorted_ids`. An id not there raises the error that
    `name_bad(i)` makes for the first such row `i`."""
    values = np.asarray(values, np.int64)
    if len(sorted_ids) == 0:
        if len(values):
            raise name_bad(0)
        return values
    lo, hi = int(sorted_ids[0]), int(sorted_ids[-1])
    if 0 <= lo and hi < 4 * len(sorted_ids) + (1 << 16) and len(values) > len(sorted_ids):
        # Ids are small integers (LVIS's are): one table lookup per value instead of a search.
        table = np.full(hi + 2, -1, np.int64)
        table[sorted_ids] = np.arange(len(sorted_ids))
        pos = table[np.clip(values, -1, hi + 1)]
        bad = pos < 0
    else:
        pos = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
        bad = sorted_ids[pos] != values
    if bad.any():
        raise name_bad(int(np.argmax(bad)))
    return pos


def sort_by(primary, descending):
    """Order by `primary` ascending (integers), then `descending` descending, ties in input
    order: a stable sort by `primary` (numpy's radix sort where the values fit 16 bits, as
    category indices do), then each run of equal `primary` sorted by `descending` in compiled
    code."""
    primary = np.asarray(primary)
    narrow = primary
    if len(primary) and primary.min() >= 0 and primary.max() < 2 ** 15:
        narrow = primary.astype(np.int16)
    order = np.argsort(narrow, kind='stable')
    starts = group_starts(primary[order])
    _sort_runs_descending(order, np.asarray(descending, np.float64),
                          np.r_[starts, len(order)].astype(np.int64))
    return order


@njit(cache=True, nogil=True)
def _sort_runs_descending(order, values, bounds):
    """Sort order[bounds[k]:bounds[k + 1]] for each k by values[order] descending, stably
    (equal values keep their order)."""
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        if hi - lo <= 16:                       # insertion sort: stable, quick for a few
            for i in range(lo + 1, hi):
                x = order[i]
                j = i - 1
                while j >= lo and values[order[j]] < values[x]:
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = x
        else:
            seg = order[lo:hi].copy()
            order[lo:hi] = seg[np.argsort(-values[seg], kind='mergesort')]


def group_starts(sorted_keys):
    """Start of each run of equal values in a sorted array."""
    if not len(sorted_keys):
        return np.zeros(0, np.int64)
    return np.r_[0, np.nonzero(np.diff(sorted_keys))[0] + 1]


def rank_in_group(sorted_keys):
    """0, 1, 2, ... inside each run of equal values of a sorted array."""
    starts = group_starts(sorted_keys)
    n = len(sorted_keys)
    return np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
