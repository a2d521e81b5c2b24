"""One torchrun job run and watched: its log with the time of given lines, the proportional set
size of its process tree (after start-up and at the peak), rank 0's peak RSS, and the whole
process group stopped on a timeout or an interruption."""
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import threading
import time

from .. import procfs
from ..dist_cpu import free_port
from . import memory


class Launch:
    """One torchrun job: its output (to `log_path`, with the time of the first line matching each
    of `marks`), the PSS of its process tree after the first mark and at the peak, and rank 0's
    peak RSS (VmHWM)."""

    def __init__(self, cmd, log_path, marks, env=None):
        self.cmd, self.log_path, self.marks = cmd, log_path, marks
        self.env = env or os.environ
        self.times, self.lines = {}, []
        self.after_start = {}
        self.rank0_hwm = 0.0

    def _read(self, proc, sampler):
        with open(self.log_path, 'w', buffering=1) as log:     # line by line: tail -f works
            for line in proc.stdout:
                now = time.perf_counter() - self.t0
                log.write(line)
                self.lines.append(line)
                for name, pattern in self.marks.items():
                    if name not in self.times and re.search(pattern, line):
                        self.times[name] = now
                        if name == 'started':
                            self.after_start = self.roles(sampler.snapshot())

    @staticmethod
    def roles(parts):
        """{pid: (role, GiB)} from the sampler's {pid: (depth, GiB)}: the launcher, its ranks
        (children), and their children: DataLoader workers, or during start-up the short-lived
        child that builds the data list (LVISFedDataset.full_init)."""
        names = {0: 'launcher', 1: 'rank'}
        return {pid: (names.get(depth, 'worker/builder'), gib)
                for pid, (depth, gib) in parts.items()}

    def _watch_rank0(self, stop):
        while not stop.is_set():
            ranks = [p for p, depth in procfs.tree_depths(self.pid).items() if depth == 1]
            if ranks:
                hwm = procfs.peak_rss_gib(min(ranks))
                if hwm:
                    self.rank0_hwm = max(self.rank0_hwm, hwm)
            stop.wait(0.5)

    def run(self, timeout):
        """Run the command in a process group of its own, for at most `timeout` seconds. On the
        timeout, or when this process is interrupted, the whole group (torchrun, its ranks and
        their DataLoader workers) is stopped: SIGTERM, then SIGKILL after `grace` seconds."""
        self.t0 = time.perf_counter()
        self.timed_out = False
        proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=self.env, start_new_session=True)
        self.pid = proc.pid
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_rank0, args=(stop,), daemon=True)
        try:
            with memory.TreeSampler(proc.pid) as sampler:
                watcher.start()
                reader = threading.Thread(target=self._read, args=(proc, sampler), daemon=True)
                reader.start()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.timed_out = True
                if self.timed_out:
                    stop_group(proc)
                reader.join(timeout=10)
        finally:
            stop_group(proc)        # also on Ctrl-C / SIGTERM, and for strays of a finished run
            stop.set()
        watcher.join()
        self.wall = time.perf_counter() - self.t0
        self.returncode = proc.returncode
        self.peak = self.roles(sampler.peak_parts)
        self.peak_total = sampler.peak_total
        return self

    def failure(self, what, timeout):
        """The error of a failed launch: its first line says why (the timeout, or the exit
        status), then the log's last lines."""
        if self.timed_out:
            why = (f'{what} timed out after {timeout} s (--timeout): its process group '
                   '(launcher, ranks, DataLoader workers) was stopped')
        else:
            why = f'{what} failed (exit {self.returncode})'
        return RuntimeError(f'{why}; see {self.log_path}:\n' + ''.join(self.lines[-15:]))


def stop_group(proc, grace=10):
    """End the process group led by `proc` (started with start_new_session): SIGTERM to every
    member, SIGKILL to what is left after `grace` seconds. Only that group: the processes this
    module started and their children."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:      # nothing left in the group
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(proc):
            time.sleep(0.1)
    proc.wait()


def _group_alive(proc):
    proc.poll()                          # reap the leader: a zombie still counts as a member
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _by_role(parts):
    out = {}
    for role, gib in parts.values():
        out.setdefault(role, []).append(gib)
    return out


def memory_line(parts):
    roles = _by_role(parts)
    cells = [f'{role} ' + ' + '.join(f'{g:.2f}' for g in roles[role])
             for role in ('launcher', 'rank', 'worker/builder') if role in roles]
    return f'{sum(g for _, g in parts.values()):.2f} GiB ({"; ".join(cells)})'


def iteration_seconds(lines):
    """The last `time: X` of the training log lines (mmengine's mean over its window)."""
    times = [float(m.group(1)) for line in lines if 'Iter(train)' in line
             for m in [re.search(r'\btime: ([\d.]+)', line)] if m]
    return times[-1] if times else float('nan')


def torchrun(script_args, nproc, threads):
    exe = osp.join(osp.dirname(sys.executable), 'torchrun')
    return [exe, '--nproc-per-node', str(nproc), '--master-port', str(free_port()),
            '-m', 'mmdet_lvis_fed.dist_cpu'] + list(script_args), dict(
                os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
