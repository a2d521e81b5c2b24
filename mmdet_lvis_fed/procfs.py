"""Reading /proc (Linux): the package's one reader of a process's memory, parent, state and start
time (standard library only).

Forked workers share the pages of their rank, and ranks on one node may share a segment of
shared memory: RSS counts a shared page once in every process that maps it, so summing RSS
overcounts. Proportional set size (PSS, `/proc/PID/smaps_rollup`) splits each shared page among
the processes that map it, so the PSS of all the processes of a launch adds up to what the node
really holds for them.
"""
import os


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


def own_peak_rss(children=False):
    """The peak RSS of this process (or, with `children`, of the largest of its waited-for
    children) in bytes, from getrusage: the kernel's own high-water mark, no sampling."""
    import resource
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss * 1024          # Linux reports kB


def mappings(pid='self', contains=''):
    """(inode, file name) of the files mapped into process `pid` whose path holds `contains`
    (/proc/PID/maps)."""
    out = set()
    with open(f'/proc/{pid}/maps') as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and contains in parts[5]:
                out.add((int(parts[4]), os.path.basename(parts[5])))
    return out


def smaps(pid, segment=None):
    """(PSS, private (Private_Clean + Private_Dirty), PSS of the mappings whose path holds
    `segment`) of process `pid`, in bytes (OSError once it is gone)."""
    pss = private = seg = 0
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key == 'Pss':
                pss = int(rest.split()[0]) * 1024
            elif key in ('Private_Clean', 'Private_Dirty'):
                private += int(rest.split()[0]) * 1024
    if segment:
        with open(f'/proc/{pid}/smaps') as f:
            in_segment = False
            for line in f:
                first = line.split(None, 6)
                if '-' in first[0] and len(first) >= 5 and ':' in first[3]:     # a mapping's line
                    in_segment = len(first) >= 6 and segment in first[5]
                elif in_segment and first[0] == 'Pss:':
                    seg += int(first[1]) * 1024
    return pss, private, seg


def children(pid):
    """The direct children of process `pid`."""
    return sorted(p for p, parent in _parents().items() if parent == pid)


def _stat(pid):
    """The fields of /proc/PID/stat after the command name (field 3 on: state, parent, ...), or
    None once the process is gone. The command name (field 2) is in parentheses and may hold
    spaces and any bytes."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            return f.read().rsplit(b')', 1)[1].decode().split()
    except (OSError, IndexError):
        return None


def process_state(pid):
    """The state letter of a process (R, S, D, Z for a zombie, ...), None once it is gone."""
    fields = _stat(pid)
    return fields[0] if fields else None


def _parents():
    out = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            fields = _stat(name)
            if fields:
                out[int(name)] = int(fields[1])
    return out


def start_time(pid):
    """The start time of process `pid` (clock ticks after boot, /proc/PID/stat field 22), or None
    when there is no such process. With the PID it names a process even after PIDs wrap."""
    fields = _stat(pid)
    return fields[19] if fields else None          # fields from 3 on follow the name


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
