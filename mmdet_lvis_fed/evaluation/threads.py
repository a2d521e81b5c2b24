"""Row ranges of a compiled loop run at once, one thread per core.

The evaluator's compiled loops (`rle_kernels.py`, `results_scan.py`) release the GIL
(numba's `nogil=True`), so the rows of one call split into ranges run in parallel threads
without copies or processes. How many: the cores this process may run on, at most
`MAX_THREADS`, or `OMP_NUM_THREADS` where it is set (launchers such as torchrun set it to 1 per
rank, so ranks sharing a node do not oversubscribe it).
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MAX_THREADS = 8
MIN_ROWS = 1 << 13        # fewer rows than this per thread: not worth a thread


def thread_count():
    """Threads the evaluator's loops may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    try:
        cores = min(cores, int(os.environ.get('OMP_NUM_THREADS', cores)))
    except ValueError:
        pass
    return max(1, min(cores or 1, MAX_THREADS))


def map_ranges(fn, n, min_rows=MIN_ROWS, weights=None):
    """[fn(lo, hi) for consecutive ranges covering rows 0..n-1], in order: one range per
    thread, in threads when there are at least `min_rows` rows per thread. The ranges hold
    equal numbers of rows, or equal sums of `weights` (the work of each row) where given."""
    parts = max(1, min(thread_count(), n // max(min_rows, 1)))
    bounds = [n * k // parts for k in range(parts + 1)]
    if weights is not None and parts > 1:
        cum = np.cumsum(weights)
        bounds = [0] + [min(n, int(np.searchsorted(cum, cum[-1] * k / parts)) + 1)
                        for k in range(1, parts)]
        bounds = sorted(set(bounds + [n]))
        parts = len(bounds) - 1
    ranges = list(zip(bounds[:-1], bounds[1:]))
    if parts == 1:
        return [fn(0, n)]
    with ThreadPoolExecutor(parts) as pool:
        return list(pool.map(lambda r: fn(*r), ranges))


def run_all(jobs):
    """Call each of `jobs` (callables), in threads when there are several."""
    if len(jobs) == 1:
        return [jobs[0]()]
    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(lambda job: job(), jobs))
