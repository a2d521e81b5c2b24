"""The benchmark scripts run (tiny sizes, no timing asserted: figures belong in `make bench`), and
every evaluator they compare gives the same numbers."""
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def bench(*args):
    out = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'benchmark_eval.py'),
                          '--images', '12', '--dets-per-image', '20', '--cats', '30', *args],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'failed' not in out.stdout, out.stdout
    return out.stdout


def diffs(stdout):
    """The last column of each tool row: the largest difference from the reference."""
    return [float(m) for m in re.findall(r'^ {6}(?!reference)\S.*?\s(\S+)$', stdout, re.M)
            if re.match(r'^[0-9.e+-]+$', m)]


@pytest.mark.parametrize('mode', [[], ['--end-to-end']], ids=['in-memory', 'end-to-end'])
def test_benchmark_eval_runs_and_all_agree(mode):
    stdout = bench(*mode, '--iou-types', 'bbox', 'segm')
    assert stdout.count('reference for differences: lvis-api') == 2
    found = diffs(stdout)
    assert len(found) == 2 * (3 if mode else 4), stdout
    assert max(found) < 1e-12, stdout


def test_boundary_and_fixed_ap_benchmarks_run_and_all_agree():
    # The challenge protocol end to end: ours, faster-coco-eval's boundary and the transcribed
    # branch algorithm give the same numbers; Fixed AP data (detections per category) in memory.
    stdout = bench('--end-to-end', '--no-readers', '--iou-types', 'boundary', '--max-dets', '-1',
                   '--max-dets-per-cat', '30', '--tools', 'ours', 'fce', 'branch')
    assert 'reference for differences: lvis-api branch alg.' in stdout
    found = diffs(stdout)
    assert len(found) == 3 and max(found) < 1e-12, stdout
    stdout = bench('--dets-per-cat', '25', '--iou-types', 'bbox', '--max-dets', '-1',
                   '--max-dets-per-cat', '20', '--tools', 'ours', 'lvis')
    found = diffs(stdout)
    assert len(found) == 2 and max(found) < 1e-12, stdout
