"""What the readers and the command-line tools share (no torch, mmengine or mmdet): reading a file
whole, writing files whole or not at all, and the one-line error."""
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
