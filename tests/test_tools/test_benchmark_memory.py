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
