"""Let torch >= 2.6 load the checkpoints that mmengine 0.10 saves, with a narrow allow-list.

torch 2.6 made `torch.load(weights_only=True)` the default; mmengine 0.10.7 calls `torch.load` without
the argument, and its checkpoints carry more than tensors: the message hub's `HistoryBuffer`s of
logged scalars (numpy arrays of float64) and numpy scalars in the runtime info. `mim test` and
`--resume` then fail. Instead of `weights_only=False` (which runs arbitrary pickled code), we allow
exactly the types such checkpoints contain: torch's safe unpickler still rejects anything else.
"""
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


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
