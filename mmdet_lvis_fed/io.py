"""What the command-line tools share (no torch, mmengine or mmdet): writing files whole or not at
all, the one-line error, and how the process keeps its freed memory."""
import json
import os
import os.path as osp
import tempfile


def umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write, binary=False):
    """Call `write(file)` on a temporary file beside `path`, then rename it into place: a failure
    leaves no half-written file and no temporary one. The file gets the mode a plain open() would
    give (0666 minus the umask), not mkstemp's 0600."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb' if binary else 'w') as f:
            write(f)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(text, path):
    return atomic_write(path, lambda f: f.write(text))


def atomic_write_json(obj, path):
    return atomic_write(path, lambda f: json.dump(obj, f))


def fail(message):
    """End a command-line tool with the project's error contract: one line on stderr, exit 2."""
    import sys
    print(f'error: {message}', file=sys.stderr)
    raise SystemExit(2)


def keep_freed_memory():
    """For a short batch process (a CLI run), keep freed memory instead of handing it back.

    glibc serves arrays above a threshold with fresh mmaps and returns them when freed, so every
    large temporary faults its pages in anew; on the machines here that costs more than the
    arithmetic. Raising the mmap and trim thresholds (glibc's mallopt; elsewhere nothing happens)
    makes the next array reuse the last one's pages: `tools/lvis_eval.py` runs ~10% faster end to
    end, at the same peak.
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(mallopt(m_trim_threshold, (1 << 31) - 1))
