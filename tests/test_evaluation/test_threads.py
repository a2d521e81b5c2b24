"""Row ranges in threads (threads.py): every row once, in order, whatever the thread count."""
import numpy as np
import pytest

from mmdet_lvis_fed.evaluation import threads


@pytest.mark.parametrize('n, cores', [(0, 2), (5, 2), (100000, 1), (100000, 2), (100001, 3)])
def test_ranges_cover_every_row_in_order(monkeypatch, n, cores):
    monkeypatch.setenv('OMP_NUM_THREADS', str(cores))
    parts = threads.map_ranges(lambda lo, hi: np.arange(lo, hi), n, min_rows=10)
    assert np.array_equal(np.concatenate(parts), np.arange(n))
    assert len(parts) == max(1, min(cores, threads.thread_count(), n // 10))


def test_thread_count_follows_omp_num_threads(monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert threads.thread_count() == 1
    monkeypatch.setenv('OMP_NUM_THREADS', 'not a number')
    assert 1 <= threads.thread_count() <= threads.MAX_THREADS
    monkeypatch.delenv('OMP_NUM_THREADS')
    assert 1 <= threads.thread_count() <= threads.MAX_THREADS


def test_run_all_returns_in_order():
    assert threads.run_all([lambda k=k: k * k for k in range(5)]) == [0, 1, 4, 9, 16]


def test_weighted_ranges_balance_the_work(monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    weights = np.r_[np.full(10, 100), np.ones(990)]          # the first 10 rows: half the work
    parts = threads.map_ranges(lambda lo, hi: (lo, hi), 1000, min_rows=10, weights=weights)
    if threads.thread_count() == 2:
        assert parts == [(0, 10), (10, 1000)]
    assert parts[0][0] == 0 and parts[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
