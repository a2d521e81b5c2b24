"""mmdet_lvis_fed.io: files written whole, and pairs written together."""
import os
import signal

import pytest

from mmdet_lvis_fed import io


def test_a_kill_between_the_two_writes_of_a_pair_waits_for_both(tmp_path, monkeypatch):
    """SIGTERM arriving after the first file of a pair is in place is held back until the second
    is too: the handler (standing in for the default one, which ends the process) sees both new
    files, and no temporary file is left."""
    a, b = tmp_path / 'calibration.json', tmp_path / 'calib.py'
    a.write_text('old a')
    b.write_text('old b')
    seen = []

    def handler(signum, frame):
        seen.append((a.read_text(), b.read_text()))
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, handler)
    replace = os.replace

    def replace_then_kill(src, dst):
        replace(src, dst)
        if dst == str(a):
            os.kill(os.getpid(), signal.SIGTERM)
    monkeypatch.setattr(os, 'replace', replace_then_kill)
    try:
        with pytest.raises(KeyboardInterrupt):
            io.write_together({str(a): 'new a', str(b): 'new b'})
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [('new a', 'new b')]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['calib.py', 'calibration.json']


def test_a_failed_write_leaves_both_old_files(tmp_path, monkeypatch):
    a, b = tmp_path / 'a.json', tmp_path / 'b.py'
    a.write_text('old a')
    b.write_text('old b')

    real_fdopen = os.fdopen
    calls = []

    def fdopen(fd, mode):
        calls.append(fd)
        if len(calls) == 2:          # the second temporary file cannot be written
            os.close(fd)
            raise OSError(28, 'No space left on device')
        return real_fdopen(fd, mode)
    monkeypatch.setattr(os, 'fdopen', fdopen)
    with pytest.raises(OSError):
        io.write_together({str(a): 'new a', str(b): 'new b'})
    assert (a.read_text(), b.read_text()) == ('old a', 'old b')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.json', 'b.py']


def test_a_none_text_removes_the_file(tmp_path):
    a, b = tmp_path / 'a.json', tmp_path / 'b.py'
    b.write_text('old b')
    io.write_together({str(a): 'new a', str(b): None})
    assert a.read_text() == 'new a' and not b.exists()


def test_deferred_signals_hold_sigterm_until_the_block_ends():
    steps = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: steps.append('handler'))
    try:
        with io.deferred_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            steps.append('first rename')
            steps.append('second rename')
        assert steps == ['first rename', 'second rename', 'handler']
        assert signal.getsignal(signal.SIGTERM) is not None
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path):
    target = tmp_path / 'calib.py'
    target.write_text('keep')
    stale = tmp_path / '.calib.py1a2b3c.tmp'            # what _temporary_beside names
    stale.write_text('half')
    other = tmp_path / '.other.py9.tmp'
    other.write_text('not ours')
    assert io.remove_stale_temporaries(str(target)) == [str(stale)]
    assert not stale.exists() and other.exists() and target.read_text() == 'keep'


def test_file_digest_is_the_content_whatever_the_mtime(tmp_path):
    import hashlib
    path = tmp_path / 'lvis.json'
    path.write_bytes(b'{"images": []}')
    assert io.file_digest(str(path)) == hashlib.sha256(b'{"images": []}').hexdigest()
    os.utime(path, ns=(1, 1))                     # touched: the same file
    assert io.file_digest(str(path)) == hashlib.sha256(b'{"images": []}').hexdigest()
    path.write_bytes(b'{"images": [1]}')          # rewritten, the old mtime put back
    os.utime(path, ns=(1, 1))
    assert io.file_digest(str(path)) == hashlib.sha256(b'{"images": [1]}').hexdigest()
    copy = tmp_path / 'copy.json'                 # another path, the same bytes
    copy.write_bytes(b'{"images": [1]}')
    assert io.file_digest(str(copy)) == io.file_digest(str(path))


def test_write_folder_replaces_the_whole_folder(tmp_path):
    out = tmp_path / 'set'
    io.write_folder({'a.json': {'x': 1}, 'b.txt': 'b'}, str(out))
    assert sorted(os.listdir(out)) == ['a.json', 'b.txt'] and (out / 'b.txt').read_text() == 'b'
    io.write_folder({'a.json': [2], 'b.txt': 'c'}, str(out))
    assert (out / 'a.json').read_text() == '[2]' and (out / 'b.txt').read_text() == 'c'
    (out / 'mine.txt').write_text('a user file')       # never moved away with the old set
    with pytest.raises(OSError, match='holds files this tool did not write'):
        io.write_folder({'a.json': [3], 'b.txt': 'd'}, str(out))
    assert (out / 'a.json').read_text() == '[2]' and (out / 'mine.txt').exists()
    assert sorted(os.listdir(tmp_path)) == ['set']      # no temporary folder left


def test_mapped_bytes_maps_a_file_and_reads_a_pipe(tmp_path):
    import mmap
    import subprocess

    from mmdet_lvis_fed.errors import LVISFormatError
    from mmdet_lvis_fed.io import mapped_bytes
    path = tmp_path / 'f.json'
    path.write_bytes(b'[1, 2, 3]')
    with mapped_bytes(path) as raw:
        assert isinstance(raw, mmap.mmap) and raw[:] == b'[1, 2, 3]'
    (tmp_path / 'empty').write_bytes(b'')
    with mapped_bytes(tmp_path / 'empty') as raw:
        assert raw == b''
    proc = subprocess.Popen(['cat', str(path)], stdout=subprocess.PIPE)
    with mapped_bytes(f'/dev/fd/{proc.stdout.fileno()}') as raw:   # a pipe: read once
        assert raw == b'[1, 2, 3]'
    proc.wait()
    with pytest.raises(LVISFormatError, match=r'nope.json: cannot read file'):
        with mapped_bytes(tmp_path / 'nope.json'):
            pass
