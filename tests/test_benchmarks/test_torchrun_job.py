"""One torchrun job watched (benchmarks/torchrun_job.py): a timeout ends its whole process group."""

from mmdet_lvis_fed import procfs
from mmdet_lvis_fed.benchmarks import torchrun_job


def test_the_timeout_ends_the_whole_process_group_and_says_so(tmp_path):
    import sys
    import time
    # A launcher with two children that ignore nothing and would outlive it (as torchrun's ranks
    # and their DataLoader workers did): each writes its pid, then sleeps.
    pids = tmp_path / 'pids'
    code = ('import subprocess, sys, time\n'
            f'kids = [subprocess.Popen([sys.executable, "-c", "import os, time; '
            f'open({str(pids)!r}, \\"a\\").write(str(os.getpid()) + \\"\\\\n\\"); '
            f'time.sleep(300)"]) for _ in range(2)]\n'
            'print("started", flush=True)\n'
            'time.sleep(300)\n')
    launch = torchrun_job.Launch([sys.executable, '-c', code], str(tmp_path / 'log'),
                              dict(started='started'))
    t0 = time.monotonic()
    launch.run(timeout=3)
    assert time.monotonic() - t0 < 60
    assert launch.timed_out
    kids = [int(p) for p in pids.read_text().split()]
    assert len(kids) == 2
    for pid in kids:
        deadline = time.monotonic() + 10
        while procfs.process_state(pid) is not None and time.monotonic() < deadline:
            if procfs.process_state(pid) == 'Z':   # dead, waiting for its new parent to reap it
                break
            time.sleep(0.1)
        else:
            assert procfs.process_state(pid) is None, f'child {pid} still running'
    message = str(launch.failure('test', 3)).splitlines()[0]
    assert 'timed out after 3 s (--timeout)' in message and 'process group' in message
