"""Memory of a launch as users run it (ranks x DataLoader workers), read from /proc (Linux).

Forked workers share the pages of their rank, and ranks on one node may share a segment of
shared memory: RSS counts a shared page once in every process that maps it, so summing RSS
overcounts. Proportional set size (PSS, `/proc/PID/smaps_rollup`) splits each shared page among
the processes that map it, so the PSS of all the processes of a launch adds up to what the node
really holds for them.
"""
import os
import threading
import time


def _field_gib(path, key):
    """The `key:` line of a /proc file whose values are in kB, in GiB (None when the process is
    gone or the file unreadable)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1]) / 2**20
    except OSError:
        return None
    return None


def pss_gib(pid):
    """PSS of one process in GiB (None once it is gone or unreadable)."""
    return _field_gib(f'/proc/{pid}/smaps_rollup', 'Pss')


def rss_gib(pid):
    return _field_gib(f'/proc/{pid}/status', 'VmRSS')


def peak_rss_gib(pid):
    """The process's peak RSS so far (VmHWM)."""
    return _field_gib(f'/proc/{pid}/status', 'VmHWM')


def _parents():
    out = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open(f'/proc/{name}/stat') as f:
                    stat = f.read()
            except OSError:
                continue
            # the command name (field 2) is in parentheses and may hold spaces
            out[int(name)] = int(stat.rsplit(')', 1)[1].split()[1])
    return out


def process_tree(root):
    """`root` and all its descendants, parents before children."""
    return list(tree_depths(root))


def tree_depths(root):
    """{pid: depth} of `root` (0) and its descendants (children 1, grandchildren 2, ...)."""
    children = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [(root, 0)]
    while todo:
        pid, depth = todo.pop(0)
        out[pid] = depth
        todo += [(c, depth + 1) for c in sorted(children.get(pid, ()))]
    return out


def command_of(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace').strip()
    except OSError:
        return ''


class TreeSampler:
    """Samples the PSS of a process tree every `interval` seconds in a thread; keeps the peak
    total and, for that moment, each process's share; `snapshot()` gives the current one. A
    share is {pid: (depth in the tree, GiB)}: for a torchrun job depth 0 is the launcher, 1 a
    rank, 2 a DataLoader worker."""

    def __init__(self, root, interval=0.5, python_only=True):
        self.root, self.interval, self.python_only = root, interval, python_only
        self.peak_total, self.peak_parts, self.samples = 0.0, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def snapshot(self):
        parts = {}
        for pid, depth in tree_depths(self.root).items():
            if self.python_only and 'python' not in command_of(pid):
                continue          # torchrun's own launcher process is Python too; shells are not
            value = pss_gib(pid)
            if value is not None:
                parts[pid] = (depth, value)
        return parts

    def _run(self):
        while not self._stop.is_set():
            parts = self.snapshot()
            total = sum(gib for _, gib in parts.values())
            self.samples += 1
            if total > self.peak_total:
                self.peak_total, self.peak_parts = total, parts
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False


def wait_for(predicate, timeout, interval=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return False
