"""Load checkpoints safely, and say in one line why one cannot be loaded.

Let torch >= 2.6 load the checkpoints that mmengine 0.10 saves, with a narrow allow-list.

torch 2.6 made `torch.load(weights_only=True)` the default; mmengine 0.10.7 calls `torch.load` without
the argument, and its checkpoints carry more than tensors: the message hub's `HistoryBuffer`s of
logged scalars (numpy arrays of float64) and numpy scalars in the runtime info. `mim test` and
`--resume` then fail. Instead of `weights_only=False` (which runs arbitrary pickled code), we allow
exactly the types such checkpoints contain: torch's safe unpickler still rejects anything else.
"""
import os.path as osp
import pickle
import zipfile

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import CheckpointError


def _numpy_reconstructors():
    core = getattr(np, '_core', None) or np.core          # numpy 2 moved np.core to np._core
    return [core.multiarray._reconstruct, core.multiarray.scalar]


def history_buffer_getattr(obj, name):
    """`getattr` as a checkpoint may use it: only HistoryBuffer's statistics methods.

    A HistoryBuffer pickles its `_statistics_methods` (min, max, mean, current, ...) as
    `getattr(HistoryBuffer, 'min')`. Allowing the real `builtins.getattr` would let a malicious
    checkpoint walk from any allowed object to `__globals__`; this stand-in resolves nothing else.
    """
    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'checkpoint asks for getattr({obj!r}, {name!r}); only '
                                 'HistoryBuffer statistics methods are allowed')


def checkpoint_safe_globals():
    """The globals an mmengine 0.10 checkpoint pickles besides tensors."""
    dtypes = [type(np.dtype(t)) for t in ('float16', 'float32', 'float64', 'int32', 'int64',
                                           'uint8', 'bool')]
    return [HistoryBuffer, np.ndarray, np.dtype, *dtypes, *_numpy_reconstructors(),
            (history_buffer_getattr, 'builtins.getattr')]


if hasattr(torch.serialization, 'add_safe_globals'):     # torch >= 2.4
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


# Every local checkpoint that mmengine loads (`mim test --checkpoint`, `load_from`, `--resume`,
# TransferWeightsHook, the tools) goes through mmengine's CheckpointLoader, whose scheme '' is the
# local file. It is replaced by the one below (its public register_scheme with force=True): the
# same torch.load with the allow-list above, plus the checks and one-line errors torch lacks.
#
# What it checks: the file exists and is not empty; a zip checkpoint (torch.save's format since
# 1.6) is whole and its bytes are those written: every entry's CRC-32, which torch.save stores
# but torch.load never compares (a flipped byte in a tensor otherwise loads as a silently wrong
# weight). A legacy (non-zip) checkpoint carries no checksum: its bytes cannot be checked.


def verify_zip(path):
    """Raise CheckpointError unless every entry of the zip checkpoint at `path` reads back with
    the CRC-32 stored beside it. Entries whose stored CRC is 0 (a writer that did not compute
    one, torch.serialization.config.save.compute_crc32 = False) are not compared."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CheckpointError(f'{path}: not a complete zip checkpoint ({e}): a truncated copy?'
                              ) from None
    with z:
        for info in z.infolist():
            if info.CRC == 0 and info.file_size:
                continue
            try:
                with z.open(info) as f:          # zipfile compares the CRC at the end
                    while f.read(1 << 24):
                        pass
            except (zipfile.BadZipFile, OSError, EOFError):
                raise CheckpointError(
                    f'{path}: its bytes changed since it was saved (entry {info.filename!r} does '
                    'not read back with its CRC-32): a corrupted or partly overwritten copy; copy '
                    'it again from the original') from None


def load_checkpoint_file(filename, map_location=None):
    """torch.load of a local checkpoint, with every failure as one CheckpointError line that names
    the file (and none advising weights_only=False, which would run code from the file)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename}: no such checkpoint file')
    if osp.getsize(filename) == 0:
        raise CheckpointError(f'{filename}: the checkpoint file is empty (0 bytes)')
    is_zip = zipfile.is_zipfile(filename)
    if is_zip:
        verify_zip(filename)
    # torch < 2.4 has no allow-list, so weights_only=True would refuse every mmengine checkpoint:
    # there torch.load keeps its own default, as mmengine calls it
    safe = dict(weights_only=True) if hasattr(torch.serialization, 'add_safe_globals') else {}
    try:
        return torch.load(filename, map_location=map_location, **safe)
    except pickle.UnpicklingError:
        if not is_zip and _looks_like_text(filename):
            raise CheckpointError(f'{filename}: not a PyTorch checkpoint: it is text (JSON?), '
                                  'not what torch.save writes') from None
        if not is_zip and not _is_pickle(filename):
            raise CheckpointError(f'{filename}: not a PyTorch checkpoint (neither torch.save\'s '
                                  'zip format nor a pickle)') from None
        raise CheckpointError(
            f'{filename}: refused: its pickle asks for objects other than tensors, numbers, '
            'containers and mmengine\'s logging statistics, and creating them could run code '
            f'from the file ({_unsafe_globals(filename, is_zip)}); this plugin loads only '
            'checkpoints of weights and training state') from None
    except (EOFError, RuntimeError, ValueError, OSError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f'{filename}: cannot load the checkpoint, a truncated or damaged '
                              f'file? ({type(e).__name__}: {first})') from None


def _looks_like_text(path):
    with open(path, 'rb') as f:
        head = f.read(64).lstrip()
    return head[:1] in (b'{', b'[', b'"') or (bool(head) and all(32 <= c < 127 or c in b'\r\n\t'
                                                                  for c in head))


def _is_pickle(path):
    with open(path, 'rb') as f:
        head = f.read(2)
    return head[:1] == b'\x80' and 2 <= head[1:2][0] <= 5 if len(head) == 2 else False


def _unsafe_globals(path, is_zip):
    """What the refused pickle asks for, from torch's own scan of a zip checkpoint
    (torch.serialization.get_unsafe_globals_in_checkpoint, torch >= 2.6, reads without
    unpickling); a legacy pickle is not scanned."""
    scan = getattr(torch.serialization, 'get_unsafe_globals_in_checkpoint', None)
    if is_zip and scan is not None:
        try:
            names = sorted(set(scan(path)))
        except Exception:
            names = []
        if names:
            return 'it asks for ' + ', '.join(names[:3]) + (', ...' if len(names) > 3 else '')
    return 'a global outside the allow-list'


def load_from_local(filename, map_location):     # the name mmengine's log line shows: "local"
    return load_checkpoint_file(filename, map_location)


CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
