"""What the readers and the command-line tools share (no torch, mmengine or mmdet): reading a file
whole (or mapping it), writing files whole or not at all, and the one-line error."""
import argparse
import json
import mmap
import os
import os.path as osp
import shutil
import stat
import tempfile
from contextlib import contextmanager

from .errors import LVISFormatError


def read_bytes(path):
    """The whole file at `path`, read once (so a pipe such as `<(cat res.json)` works too). The
    one "cannot read" message of every reader."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as e:
        raise _cannot_read(path, e) from None


def _cannot_read(path, e):
    return LVISFormatError(f'{path}: cannot read file ({e.strerror or e})')


@contextmanager
def mapped_bytes(path):
    """The whole file at `path` as a read-only buffer: memory-mapped where it is a regular file
    (no copy: the pages are the system's file cache), else read once (a pipe). The same "cannot
    read" message as `read_bytes`. Views of the map must be gone when the block ends."""
    try:
        f = open(path, 'rb')
    except OSError as e:
        raise _cannot_read(path, e) from None
    with f:
        try:
            st = os.fstat(f.fileno())
            mm = (mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                  if stat.S_ISREG(st.st_mode) and st.st_size else None)
        except (OSError, ValueError):
            mm = None
        if mm is None:
            try:
                data = f.read()
            except OSError as e:
                raise _cannot_read(path, e) from None
            yield data
            return
        try:
            yield mm
        finally:
            try:
                mm.close()
            except BufferError:         # a view still held (an error's traceback): left to gc
                pass


def umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_beside(path):
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path), suffix='.tmp')


def atomic_write(path, write, binary=False):
    """Call `write(file)` on a temporary file beside `path`, then rename it into place: a failure
    leaves no half-written file and no temporary one. The file gets the mode a plain open() would
    give (0666 minus the umask), not mkstemp's 0600."""
    fd, tmp = _temporary_beside(path)
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


class deferred_signals:
    """A block that SIGINT, SIGTERM, SIGHUP and SIGQUIT do not interrupt: their handlers only
    note them meanwhile; at the end they are raised again, to the handlers as they were. Use it
    around steps that must happen together (two renames). SIGKILL cannot be deferred. Signals are
    deferred only in the main thread, the only one Python delivers them to."""
    SIGNALS = ('SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT')

    def __enter__(self):
        import signal
        import threading
        self.pending, self.previous = [], {}
        if threading.current_thread() is threading.main_thread():
            self.previous = {
                getattr(signal, s): signal.signal(getattr(signal, s),
                                                  lambda signum, frame: self.pending.append(signum))
                for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        import signal
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(self.pending):
            signal.raise_signal(s)
        return False


def write_together(files):
    """Write (or, for a None text, remove) several files as one change: {path: text or None}.

    Every text is written to a temporary file beside its path first, then renamed into place (or
    the file removed), all inside `deferred_signals`, so that a Ctrl-C or a kill arriving
    meanwhile takes effect after both: the files of a pair are both new or both old, and no
    temporary file is left. (SIGKILL cannot be deferred: a kill -9 between two renames, a window
    of microseconds, can still leave one new file beside one old one, and a temporary file
    `.NAME*.tmp` beside it, which `remove_stale_temporaries` takes away.)"""
    temporaries = {}
    with deferred_signals():
        try:
            for path, text in files.items():
                if text is None:
                    continue
                fd, tmp = _temporary_beside(path)
                temporaries[path] = tmp
                with os.fdopen(fd, 'w') as f:
                    f.write(text)
                os.chmod(tmp, 0o666 & ~umask())
            for path, text in files.items():
                if text is None:
                    if osp.lexists(path):
                        os.unlink(path)
                else:
                    os.replace(temporaries.pop(path), path)
        finally:
            for tmp in temporaries.values():
                if osp.exists(tmp):
                    os.unlink(tmp)
    return list(files)


def remove_stale_temporaries(path):
    """Remove the temporary files that a killed writer (SIGKILL) left beside `path`
    (`_temporary_beside`'s `.NAME*.tmp`); returns their paths."""
    import glob
    folder, name = osp.split(osp.abspath(path))
    stale = glob.glob(osp.join(glob.escape(folder), '.' + glob.escape(name) + '*.tmp'))
    for tmp in stale:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return stale


def atomic_write_text(text, path):
    return atomic_write(path, lambda f: f.write(text))


def atomic_write_json(obj, path):
    return atomic_write(path, lambda f: json.dump(obj, f))


_DIGESTS = {}


def file_digest(path):
    """SHA-256 of the whole file at `path` (hex): the one answer to "has this file changed?" for
    every key in the package (a run's inputs, a shared data list's annotation file). The content,
    not the mtime: re-rendering the same bytes is the same file, and any change of a byte is
    another. Hashed once per version of the file in a process (every seed of a config and every
    dataset of a job read the same files): a version is the inode, size, mtime and ctime, and the
    ctime changes with every write, also one that sets the mtime back. Measured 0.63-0.70 s for the
    0.80 GiB file of LVIS v1 train's size (tools/README.md, Loading)."""
    import hashlib
    st = os.stat(path)
    key = (osp.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _leftovers(out_dir):
    parent, name = osp.split(out_dir)
    if not osp.isdir(parent):
        return [], []
    names = os.listdir(parent)
    return ([osp.join(parent, n) for n in names if n.startswith(f'.{name}.tmp-')],
            [osp.join(parent, n) for n in names if n.startswith(f'.{name}.old-')])


def _recover(out_dir):
    """Undo what a killed run left: its temporary folder goes; a previous set that it had moved
    aside but not yet replaced comes back."""
    tmps, olds = _leftovers(out_dir)
    for path in tmps:
        shutil.rmtree(path, ignore_errors=True)
    for path in sorted(olds):
        if not osp.exists(out_dir):
            os.rename(path, out_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


def write_folder(outputs, out_dir):
    """Write {file name: text, or an object written as JSON} as the whole content of folder
    `out_dir`: into a temporary folder beside it first, then put in place.

    The old set is moved aside, the new one renamed in (SIGINT, SIGTERM, SIGHUP and SIGQUIT
    deferred until both are done), the old one removed: a kill leaves either set in place. Only a
    SIGKILL in the microseconds between the two renames leaves `out_dir` absent, the old set
    moved aside as `.NAME.old-*`: the next run puts it back before anything else. Never a
    mix. A symlink `out_dir` keeps pointing where it did: the set is written into its target. `out_dir` may hold only this tool's files (nothing else is moved away with the old
    set). Returns the folder written.
    """
    out_dir = osp.realpath(out_dir)
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise OSError(f'{out_dir}: exists and is not a folder')
    _recover(out_dir)
    if osp.isdir(out_dir):
        other = sorted(set(os.listdir(out_dir)) - set(outputs))
        if other:
            raise OSError(f'{out_dir}: holds files this tool did not write ({", ".join(other[:3])}'
                          f'{", ..." if len(other) > 3 else ""}); choose a new or empty folder')
    parent, name = osp.split(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{name}.tmp-', dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~umask())
        for fname, content in outputs.items():
            atomic_write_text(content if isinstance(content, str) else json.dumps(content),
                              osp.join(tmp, fname))
        if not osp.isdir(out_dir):
            os.rename(tmp, out_dir)
        else:
            old = tmp.replace('.tmp-', '.old-')
            with deferred_signals():        # Ctrl-C / SIGTERM: after both renames
                os.rename(out_dir, old)
                os.rename(tmp, out_dir)
            shutil.rmtree(old)
    finally:
        if osp.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


class ToolParser(argparse.ArgumentParser):
    """argparse for the tools: an option error is one line, `error: ...`, exit status 2, like
    every other error (argparse prints the usage before it)."""

    def error(self, message):
        fail(message)


def fail(message):
    """End a command-line tool with the project's error contract: one line on stderr, exit 2."""
    import sys
    print(f'error: {message}', file=sys.stderr)
    raise SystemExit(2)
