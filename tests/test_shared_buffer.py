"""The shared-memory segment format and names (shared_buffer.py) by hand: header, records, ends,
state, the key check, the owner in the name."""
import os
import pickle

import numpy as np
import pytest

from mmdet_lvis_fed import shared_buffer


def test_the_segment_layout_by_hand(tmp_path):
    name = shared_buffer.segment_name('d' * 32)
    shared_buffer.write_segment(name, 'd' * 32, ['s'], np.frombuffer(b'abcde', np.uint8),
                                np.array([3, 5]), str(tmp_path))
    raw = (tmp_path / name).read_bytes()
    # header: magic, key, state length, record count, data length; data padded to 8 bytes;
    # the ends as int64; the pickled state
    blob = pickle.dumps(['s'], protocol=4)
    head = b'LVISFED1' + b'd' * 32 + len(blob).to_bytes(8, 'little') + (2).to_bytes(8, 'little') \
        + (5).to_bytes(8, 'little')
    assert raw == head + b'abcde' + b'\0' * 3 + (3).to_bytes(8, 'little') \
        + (5).to_bytes(8, 'little') + blob
    with pytest.raises(ValueError, match='holds another data list'):
        shared_buffer.map_segment(name, 'e' * 32, str(tmp_path))
    info = shared_buffer.parse_name(name)
    assert info['key'] == 'd' * 32 and info['pid'] == os.getpid()
    assert not shared_buffer.is_stale(name)
    gone = name.replace(f'_{os.getpid()}_', '_999999999_')
    assert shared_buffer.is_stale(gone)
