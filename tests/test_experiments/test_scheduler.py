"""mmdet_lvis_fed.experiments.scheduler: the estimate of the time left, by hand numbers;
a run folder's lock."""
import os
from types import SimpleNamespace

import pytest

from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.experiments.scheduler import lock


def test_the_estimate_counts_what_is_left_of_each_kind():
    from mmdet_lvis_fed.experiments.scheduler import estimate_left
    durations = {'train': [100.0, 140.0], 'test': [30.0]}
    # 3 trainings and 2 tests to start, one training running for 50 s, 2 at a time:
    # (3 x 120 + 2 x 30 + (120 - 50)) / 2
    assert estimate_left(durations, ['train'] * 3 + ['test'] * 2, [('train', 50.0)], 2) == 245.0
    assert estimate_left({'train': [100.0], 'test': []}, ['test'], [], 2) is None


def test_a_run_folder_is_locked_once(tmp_path):
    run = SimpleNamespace(dir=str(tmp_path / 'a' / 'seed0'))
    fd = lock(run)                       # the folder is made, the lock taken
    try:
        with pytest.raises(CommandError, match='being worked on by another ablate.py'):
            lock(run)
    finally:
        os.close(fd)
    os.close(lock(run))                  # free again once the holder closed it
