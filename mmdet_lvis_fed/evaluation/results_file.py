"""Which reader a detections file takes: mmdet's test dump (a pickle, `mmdet_dump`) or LVIS
results JSON (`results_json`).

A file is unpickled only when its name ends in `.pkl` or `.pickle` (or the caller says so,
`lvis_eval.py --pickle`): unpickling runs code, and a results file must not. A file named
otherwise is read as JSON; one that starts like a pickle is refused unread.
"""
from typing import Optional

from .detections import Detections
from .mmdet_dump import read_mmdet_dump
from .results_json import read_results

PICKLE_SUFFIXES = ('.pkl', '.pickle')


def is_pickle_name(path) -> bool:
    """Whether `path` is named as a pickle (`.pkl`, `.pickle`): the only files unpickled."""
    return str(path).lower().endswith(PICKLE_SUFFIXES)


def read_detections(path, label_cat_ids=None, pickle: Optional[bool] = None) -> Detections:
    """Detections from `path`: mmdet's test dump when `pickle` is True (by default: when the
    name ends in .pkl or .pickle), else LVIS results JSON. `label_cat_ids()` gives the category
    id of each label 0..K-1 of a dump (called only for a dump)."""
    if pickle is None:
        pickle = is_pickle_name(path)
    if pickle:
        return read_mmdet_dump(path, label_cat_ids())
    return read_results(path)
