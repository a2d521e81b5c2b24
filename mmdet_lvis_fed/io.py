"""What the readers and the command-line tools share (no torch, mmengine or mmdet): reading a file
whole, writing files whole or not at all, and the one-line error."""
import argparse
import json
import os
import os.path as osp
import tempfile

from .errors import LVISFormatError


def read_bytes(path):
    """The whole file at `path`, read once (so a pipe such as `<(cat res.json)` works too). The
    one "cannot read" message of every reader."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as e:
        raise LVISFormatError(f'{path}: cannot read file ({e.strerror or e})') from None


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


def write_together(files):
    """Write (or, for a None text, remove) several files as one change: {path: text or None}.

    Every text is written to a temporary file beside its path first, then renamed into place (or
    the file removed), all with SIGINT, SIGTERM, SIGHUP and SIGQUIT deferred (their handlers only
    note them; they are raised again, to the handlers as they were, at the end), so that a
    Ctrl-C or a kill arriving meanwhile takes effect after both: the files of a pair are both new
    or both old, and no temporary file is left. (SIGKILL cannot be deferred: a kill -9 between two
    renames, a window of microseconds, can still leave one new file beside one old one. Signals
    are deferred only when called from the main thread, the only one Python delivers them to.)"""
    import signal
    import threading
    deferred = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    temporaries, pending, previous = {}, [], {}
    try:
        if threading.current_thread() is threading.main_thread():
            previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum))
                        for s in deferred}
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
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(pending):
            signal.raise_signal(s)
    return list(files)


def atomic_write_text(text, path):
    return atomic_write(path, lambda f: f.write(text))


def atomic_write_json(obj, path):
    return atomic_write(path, lambda f: json.dump(obj, f))


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
