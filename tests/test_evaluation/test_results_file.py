"""Which reader a results file takes (results_file.py): a pickle is opened only when named so."""
import pytest

from mmdet_lvis_fed.errors import LVISFormatError
from mmdet_lvis_fed.evaluation.results_file import read_detections


class MakesAFile:
    """Unpickling this creates `path`: a stand-in for code a pickle runs when it is read."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, 'w')


def test_a_pickle_not_named_pkl_is_never_unpickled(tmp_path):
    import pickle
    marker = tmp_path / 'ran'
    for protocol in (0, 2, 5):
        path = tmp_path / 'submission.json'
        path.write_bytes(pickle.dumps([MakesAFile(marker)], protocol=protocol))
        with pytest.raises(LVISFormatError, match=f'{path}: this looks like a pickle, not JSON: '
                                                  'it was not read'):
            read_detections(str(path), lambda: [1])
        assert not marker.exists()
    # named as a pickle, it is unpickled (and the check above could fail)
    path = tmp_path / 'results.pkl'
    path.write_bytes(pickle.dumps([MakesAFile(marker)]))
    with pytest.raises(LVISFormatError, match='record 0 is a TextIOWrapper, not a dict'):
        read_detections(str(path), lambda: [1])
    assert marker.exists()
