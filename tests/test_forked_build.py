"""The forked build of a shared-memory segment (forked_build.py): the state and records come back
through the segment, an exception as itself, a child killed as an error, an unusable folder
named."""
import os
import signal

import pytest

from mmdet_lvis_fed import shared_buffer
from mmdet_lvis_fed.forked_build import build_in_child


def test_the_child_writes_records_and_state_and_exits(tmp_path):
    name = shared_buffer.segment_name('a' * 32)

    def build(writer):
        for record in (b'xy', b'', b'zzz'):
            writer.append(record)
        return dict(built_in=os.getpid())
    pid = build_in_child(build, name, 'a' * 32, str(tmp_path))
    state, data, address = shared_buffer.map_segment(name, 'a' * 32, str(tmp_path))
    assert state == dict(built_in=pid) and pid != os.getpid()
    assert data.tobytes() == b'xyzzz' and address.tolist() == [2, 2, 5]
    with pytest.raises(ChildProcessError):                 # exited and reaped
        os.waitpid(pid, os.WNOHANG)


def test_an_error_comes_back_as_itself_and_leaves_no_segment(tmp_path):
    name = shared_buffer.segment_name('b' * 32)

    def build(writer):
        writer.append(b'half')
        raise KeyError('the field')
    with pytest.raises(KeyError, match='the field'):
        build_in_child(build, name, 'b' * 32, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_killed_child_is_an_error_not_a_hang(tmp_path):
    name = shared_buffer.segment_name('c' * 32)
    with pytest.raises(RuntimeError, match=r'died \(signal SIGKILL\) before it reported'):
        build_in_child(lambda writer: os.kill(os.getpid(), signal.SIGKILL), name, 'c' * 32,
                       str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_an_unusable_shm_folder_names_the_way_out_and_is_not_masked(tmp_path):
    not_a_folder = tmp_path / 'shm'
    not_a_folder.write_text('')                    # like a read-only /dev/shm: nothing created
    name = shared_buffer.segment_name('2' * 32)
    with pytest.raises(OSError, match=f'{not_a_folder}: cannot create the data list.*'
                                      'shared_memory=False'):
        build_in_child(lambda writer: {}, name, '2' * 32, str(not_a_folder))
