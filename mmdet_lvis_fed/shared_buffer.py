"""A dataset's serialized data list in POSIX shared memory: the segment format, names and lifetime
(the child process that builds one: `forked_build`; the ranks' protocol:
`datasets.shared_data_list`).

mmengine's `BaseDataset` keeps its data list as one pickle per record in a numpy buffer
(`data_bytes`, cumulative ends in `data_address`), which forked DataLoader workers share. Two costs
stay: the parse that made the list leaves its freed objects in the process's heap (the allocator
keeps the pages: for LVIS v1 train, 7.2 GiB held for a 0.95 GiB buffer), and every rank of a node
holds its own copy. Here the list is built in a forked child, which writes the buffer into a
`/dev/shm` segment and exits (the parse's heap dies with it); every process of the node maps that
one segment read-only, and numpy arrays over the mapping stand in for `data_bytes` and
`data_address`.

A segment is a plain file in `/dev/shm` (on Linux, `shm_open` is exactly that), mapped with `mmap`.
Not `multiprocessing.shared_memory.SharedMemory`: Python 3.11 registers a segment with the resource
tracker on attach too (bpo-39959), which unlinks it when that process exits and warns about
"leaked shared_memory objects"; and numpy views over `SharedMemory.buf` make its `close()`, called
from `__del__`, raise BufferError ("cannot close exported pointers exist"). A mapping made here is
released with the last array over it, and no tracker knows the name.

Lifetime: the segment is named, then unlinked as soon as every process that needs it has mapped it
(the memory stays until the last mapping goes, and nothing can leak after that). A name outlives
its processes only if its owner dies between the two; the name records the owner's PID, its start
time and the boot id, so the next `remove_stale` (run before every build) removes it.

Standard library and numpy only: no torch, mmengine or mmdet (the dataset does the ranks' part).
"""
import hashlib
import mmap
import os
import os.path as osp
import pickle
import struct

import numpy as np

from .procfs import start_time

PREFIX = 'mmdet_lvis_fed_'
SHM_DIR = '/dev/shm'
_MAGIC = b'LVISFED1'
# magic, key (32 hex digits), length of the pickled state, number of records, length of the data
_HEADER = struct.Struct('<8s32sQQQ')
KEY_CHARS = 32


def digest(*parts) -> str:
    """A 32-hex-digit key of `parts` (their reprs)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=KEY_CHARS // 2).hexdigest()


def boot_id() -> str:
    try:
        with open('/proc/sys/kernel/random/boot_id') as f:
            return f.read().strip().replace('-', '')[:12]
    except OSError:
        return 'unknown'


def segment_name(key: str, pid=None) -> str:
    """The name of the segment that process `pid` (this one by default) owns for `key`."""
    pid = os.getpid() if pid is None else pid
    return f'{PREFIX}{key}_{boot_id()}_{pid}_{start_time(pid)}'


def parse_name(name):
    """dict(key, boot, pid, start) of a segment name made by `segment_name`, else None."""
    if not name.startswith(PREFIX):
        return None
    parts = name[len(PREFIX):].split('_')
    if len(parts) != 4 or len(parts[0]) != KEY_CHARS or not parts[2].isdigit():
        return None
    return dict(key=parts[0], boot=parts[1], pid=int(parts[2]), start=parts[3])


def is_stale(name) -> bool:
    """Whether the owner of segment `name` is gone: another boot, no process with its PID, or a
    process with its PID started at another time (the PID was reused)."""
    info = parse_name(name)
    if info is None:
        return False                      # not named by us: never touched
    return info['boot'] != boot_id() or start_time(info['pid']) != info['start']


def remove_stale(directory=SHM_DIR):
    """Unlink the segments of this prefix whose owner is gone (`is_stale`); returns their names.

    PIDs are those of this PID namespace: processes in another namespace that share this
    `/dev/shm` (containers with a shared IPC namespace) would look gone."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    removed = []
    for name in names:
        if is_stale(name):
            try:
                os.unlink(osp.join(directory, name))
                removed.append(name)
            except OSError:
                pass          # removed by another process meanwhile, or not ours to remove
    return removed


def segments(directory=SHM_DIR):
    """Names of the segments of this prefix in `directory`."""
    try:
        return sorted(n for n in os.listdir(directory) if n.startswith(PREFIX))
    except OSError:
        return []


def unlink(name, directory=SHM_DIR):
    """Remove segment `name` if it is there. A name that cannot be removed because it was
    never made (an unusable `directory`: read-only, not a folder) is not an error: this runs on
    the way out of a failed build, whose own error must not be masked."""
    path = osp.join(directory, name)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        if osp.lexists(path):
            raise


class SegmentWriter:
    """Writes segment `name` for `key`, one serialized record at a time (no second copy of the
    buffer in the writer's memory): a header, the records' bytes (`data_bytes`), their cumulative
    ends (`data_address`, int64, 8-byte aligned), then the pickled state. Refuses to replace an
    existing segment; `abort()` removes a half-written one."""

    def __init__(self, name, key, directory=SHM_DIR):
        self.name, self.key, self.directory = name, key, directory
        self.path = osp.join(directory, name)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            raise OSError(e.errno, f'{directory}: cannot create the data list\'s shared-memory '
                          f'segment there ({e.strerror}): it needs a writable {directory}; or '
                          'build the dataset with shared_memory=False (a copy of the list per '
                          'rank, mmengine\'s way)') from None
        self._file = os.fdopen(fd, 'wb', buffering=1 << 20)
        self._ends, self.nbytes = [], 0
        self._write(b'\0' * _HEADER.size)            # the header is written last

    def append(self, record: bytes):
        self._write(record)
        self.nbytes += len(record)
        self._ends.append(self.nbytes)

    def finish(self, state):
        blob = pickle.dumps(state, protocol=4)
        self._write(b'\0' * (-self.nbytes % 8))
        self._write(np.array(self._ends, np.int64).data)
        self._write(blob)
        self._file.seek(0)
        self._write(_HEADER.pack(_MAGIC, self.key.encode(), len(blob), len(self._ends),
                                 self.nbytes))
        self._file.close()

    def abort(self):
        try:
            self._file.close()
        except OSError:
            pass
        unlink(self.name, self.directory)

    def _write(self, data):
        try:
            self._file.write(data)
        except OSError as e:
            if e.errno != 28:                             # ENOSPC: a small /dev/shm
                raise
            free = os.statvfs(self.directory)
            raise OSError(e.errno, f'{self.directory} is full after {self.nbytes / 2**20:.0f} '
                          f'MiB of the data list ({free.f_bavail * free.f_frsize / 2**20:.0f} '
                          "MiB free): enlarge it (docker's --shm-size) or build the dataset with "
                          'shared_memory=False') from None


def write_segment(name, key, state, data_bytes, data_address, directory=SHM_DIR):
    """Write segment `name` from a whole `data_bytes` and `data_address`, as mmengine makes them."""
    writer = SegmentWriter(name, key, directory)
    try:
        data = memoryview(np.ascontiguousarray(data_bytes, np.uint8))
        start = 0
        for end in np.asarray(data_address, np.int64).tolist():
            writer.append(data[start:end])
            start = end
        writer.finish(state)
    except BaseException:
        writer.abort()
        raise


def map_segment(name, key, directory=SHM_DIR):
    """Map segment `name` read-only: (state, data_bytes, data_address), the arrays over the
    mapping (it lasts as long as they do). Refuses a segment written for another key."""
    path = osp.join(directory, name)
    fd = os.open(path, os.O_RDONLY)
    try:
        mm = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    if mm.size() < _HEADER.size:
        raise ValueError(f'{path}: not a data-list segment ({mm.size()} bytes)')
    magic, seg_key, n_blob, n, nbytes = _HEADER.unpack_from(mm)
    if magic != _MAGIC:
        raise ValueError(f'{path}: not a data-list segment of {PREFIX[:-1]}')
    if seg_key.decode() != key:
        raise ValueError(f'{path} holds another data list (key {seg_key.decode()}, not {key}): '
                         'built with other options or from another file')
    ends = _HEADER.size + nbytes + (-nbytes % 8)
    if mm.size() != ends + 8 * n + n_blob:
        raise ValueError(f'{path}: {mm.size()} bytes, its header says {ends + 8 * n + n_blob}')
    data = np.frombuffer(mm, np.uint8, count=nbytes, offset=_HEADER.size)
    address = np.frombuffer(mm, np.int64, count=n, offset=ends)
    state = pickle.loads(mm[ends + 8 * n:])
    return state, data, address
