"""tools/benchmark_memory.py runs a launch of gloo ranks x DataLoader workers (tiny file, no
figures asserted beyond what the launch must show: one segment for the shared case, none left)."""
import json
import os.path as osp
import re
import subprocess
import sys

from mmdet_lvis_fed import shared_buffer
from mmdet_lvis_fed.testing.synthetic import make_ground_truth
from tests.conftest import ROOT
from tests.test_tools.test_error_contract import assert_one_line_error


def test_benchmark_memory_runs_a_two_rank_launch(tmp_path):
    ann = tmp_path / 'tiny.json'
    ann.write_text(json.dumps(make_ground_truth(40, num_cats=20, seed=5)))
    before = set(shared_buffer.segments())
    out = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'benchmark_memory.py'),
                          '--ann-file', str(ann), '--workers', '1', '--cases',
                          'LVISFedDataset shared'],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0 and 'failed' not in out.stdout, out.stdout + out.stderr[-3000:]
    # both ranks measured, one segment counted once in the projection
    assert len(re.findall(r'rank [01]: build .* \(data segment 0\.\d\d\)', out.stdout)) == 2
    assert re.search(r'^LVISFedDataset shared +[\d.]+ +[\d.]+ +[\d.]+ +segment [\d.]+ once \+ 8 x',
                     out.stdout, re.M), out.stdout
    assert set(shared_buffer.segments()) <= before


def _bench(*args, timeout=300):
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'benchmark_memory.py'),
                           *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


_one_error_line = assert_one_line_error


def test_a_mistyped_ann_file_is_refused_not_generated(tmp_path):
    typo = tmp_path / 'lvis_v1_trian.json'
    _one_error_line(_bench('--ann-file', typo), str(typo), 'no such file')
    assert list(tmp_path.iterdir()) == []


def test_bad_counts_are_one_line(tmp_path):
    _one_error_line(_bench('--ranks', 0), '--ranks 0')
    _one_error_line(_bench('--workers', -1), '--workers -1')
    _one_error_line(_bench('--ranks', 'x'), 'argument --ranks')


def test_every_case_failing_is_a_failure(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')                       # truncated JSON: every build fails
    res = _bench('--ann-file', bad, '--workers', '0', '--cases', 'LVISFedDataset per rank')
    assert 'LVISFedDataset per rank: failed' in res.stdout, res.stdout + res.stderr[-2000:]
    _one_error_line(res, '1 of 1 cases failed (LVISFedDataset per rank)')


def test_sigterm_while_generating_leaves_no_temporary(tmp_path):
    import os
    import signal
    import time
    target = tmp_path / 'big.json'
    code = ('import signal, sys\n'
            'signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))   # as the tool does\n'
            'from mmdet_lvis_fed.testing.lvis_v1 import write_full_size\n'
            f'write_full_size({str(target)!r})\n')
    proc = subprocess.Popen([sys.executable, '-c', code], cwd=ROOT)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob('.big.json*.tmp')) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob('.big.json*.tmp')), 'the generation never started'
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
