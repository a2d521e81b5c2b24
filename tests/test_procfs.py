"""mmdet_lvis_fed.procfs: PSS splits shared pages, RSS does not; a segment's share by its name;
children, states and start times."""
import os
import time

import numpy as np

from mmdet_lvis_fed import procfs
from mmdet_lvis_fed.benchmarks.memory import wait_for


def test_smaps_counts_a_shared_segment_by_its_name_and_children_are_direct(tmp_path):
    """A 64 MiB file in /dev/shm mapped and read by parent and child: the PSS of its mappings
    (the segment share) adds up to it once over both; `children` names the child, whose state
    turns to zombie ('Z') when it exits unreaped."""
    import mmap
    name = f'/dev/shm/procfs_test_segment_{os.getpid()}'      # not the package's prefix
    size = 64 * 2**20
    with open(name, 'wb') as f:
        f.write(b'\1' * size)
    try:
        with open(name, 'rb') as f:
            view = mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ)
        np.frombuffer(view, np.uint8)[::4096].sum()           # every page resident here
        pid = os.fork()
        if pid == 0:
            np.frombuffer(view, np.uint8)[::4096].sum()       # and in the child
            time.sleep(2)
            os._exit(0)
        time.sleep(1)
        assert pid in procfs.children(os.getpid())       # (pytest may have others)
        assert procfs.process_state(pid) in ('S', 'R')
        shares = [procfs.smaps(p, segment=os.path.basename(name))[2] for p in (os.getpid(), pid)]
        assert abs(sum(shares) - size) < 2**20 and min(shares) > 0.4 * size
        assert procfs.smaps(os.getpid())[2] == 0               # no name asked: not counted
        assert wait_for(lambda: procfs.process_state(pid) == 'Z', 10)
        os.waitpid(pid, 0)
        assert procfs.process_state(pid) is None and pid not in procfs.children(os.getpid())
    finally:
        os.unlink(name)


def test_start_time_names_a_process_and_none_once_gone():
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    try:
        mine, its = procfs.start_time(os.getpid()), procfs.start_time(proc.pid)
        assert mine.isdigit() and its.isdigit() and int(its) >= int(mine)
        assert procfs.command_of(proc.pid).endswith('time.sleep(30)')
        assert proc.pid in procfs.process_tree(os.getpid())
    finally:
        proc.kill()
        proc.wait()
    assert procfs.start_time(proc.pid) is None and procfs.pss_gib(proc.pid) is None


def test_peak_rss_of_this_process_and_of_its_children():
    import subprocess
    import sys
    before = procfs.own_peak_rss()
    big = np.ones(160 * 2**20 // 8)                   # 160 MiB, touched
    assert procfs.own_peak_rss() >= before + 150 * 2**20 or before > 160 * 2**20
    assert abs(procfs.own_peak_rss() / 2**30 - procfs.peak_rss_gib(os.getpid())) < 0.01
    del big
    subprocess.run([sys.executable, '-c', 'import numpy as np; a = np.ones(300 * 2**17)'],
                   check=True)
    assert procfs.own_peak_rss(children=True) >= 300 * 2**20
