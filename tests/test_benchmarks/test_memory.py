"""mmdet_lvis_fed.benchmarks.memory: a process tree's PSS sampled while it runs."""
import os
import signal
import time

import numpy as np

from mmdet_lvis_fed import procfs
from mmdet_lvis_fed.benchmarks import memory


def test_pss_of_a_fork_shares_what_rss_counts_twice():
    """A 256 MiB array written before a fork: parent and child both map it, so each RSS holds
    it whole while their PSS add up to it once (plus interpreter overhead)."""
    big = np.ones(256 * 2**20 // 8)         # touched: resident
    pid = os.fork()
    if pid == 0:                           # the child only sleeps; it never writes the array
        time.sleep(60)
        os._exit(0)
    try:
        assert memory.wait_for(lambda: pid in procfs.process_tree(os.getpid()), 10)
        rss = procfs.rss_gib(os.getpid()) + procfs.rss_gib(pid)
        pss = procfs.pss_gib(os.getpid()) + procfs.pss_gib(pid)
        assert rss > 0.5                   # the array counted in both processes
        assert 0.25 <= pss < rss - 0.2     # once in all
        with memory.TreeSampler(os.getpid(), interval=0.05) as sampler:
            time.sleep(0.3)
        assert sampler.peak_parts[os.getpid()][0] == 0 and sampler.peak_parts[pid][0] == 1
        assert abs(sampler.peak_total - sum(g for _, g in sampler.peak_parts.values())) < 1e-9
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    del big
    assert procfs.pss_gib(pid) is None     # gone

