"""Layering: the numpy core imports without torch, mmengine or mmdet; `import mmdet_lvis_fed`
still registers everything whichever is imported first; the package's imports have no cycle."""
import ast
import json
import os
import os.path as osp
import subprocess
import sys

from tests.conftest import ROOT

PACKAGE = osp.join(ROOT, 'mmdet_lvis_fed')
FRAMEWORKS = ('torch', 'mmengine', 'mmdet', 'mmcv', 'cv2')


def run(code):
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_core_imports_no_framework():
    loaded = run(f'''
import json, sys
import mmdet_lvis_fed
from mmdet_lvis_fed.evaluation.federated_eval import evaluate
from mmdet_lvis_fed.evaluation.results_file import read_results, read_mmdet_dump
from mmdet_lvis_fed.lvis_file import LVISFile
from mmdet_lvis_fed.datasets.subset import FederatedSubset
from mmdet_lvis_fed.datasets import repeat_factors
from mmdet_lvis_fed.evaluation import LVISGroundTruth
print(json.dumps([m for m in {FRAMEWORKS!r} if m in sys.modules]))''')
    assert loaded == []


def test_lvis_eval_cli_imports_no_framework(tmp_path):
    # The CLI's whole import chain, run as a user runs it (sys.path from the script's folder).
    loaded = run(f'''
import json, runpy, sys
sys.argv = ['lvis_eval.py', '--help']
try:
    runpy.run_path({osp.join(ROOT, 'tools', 'lvis_eval.py')!r}, run_name='__main__')
except SystemExit:
    pass
print(json.dumps([m for m in {FRAMEWORKS!r} if m in sys.modules]))''')
    assert loaded == []


LOOKUPS = '''
from mmdet.registry import DATASETS, METRICS, MODELS, HOOKS, DATA_SAMPLERS, TRANSFORMS
from mmengine.registry import RUNNERS, init_default_scope
init_default_scope('mmdet')
import torch
found = [DATASETS.get('LVISFedDataset'), METRICS.get('LVISFedMetric'), MODELS.get('FedRoIHead'),
         MODELS.get('FederatedSigmoidLoss'), HOOKS.get('ValidationLossHook'),
         DATA_SAMPLERS.get('RepeatFactorSampler'), TRANSFORMS.get('FedCopyPaste'),
         RUNNERS.get('LVISFedRunner')]
from mmengine.logging.history_buffer import HistoryBuffer
safe = HistoryBuffer in torch.serialization.get_safe_globals()
print(json.dumps(dict(found=[f is not None for f in found], safe=safe, early=early)))
'''


def test_registered_when_the_package_comes_first():
    # A notebook that imports the package before mmengine: registration waits for the first
    # registry lookup; mmengine's checkpoints are loadable as soon as mmengine is.
    got = run('import json, sys\nimport mmdet_lvis_fed\n'
              'early = "torch" in sys.modules\n' + LOOKUPS)
    assert got == dict(found=[True] * 8, safe=True, early=False)


def test_registered_at_once_after_mmengine():
    # A config's custom_imports (mmengine is loaded): everything is registered at the import.
    got = run('import json, mmengine\nimport mmdet_lvis_fed\n'
              'from mmdet.registry import DATASETS\n'
              'early = "LVISFedDataset" in DATASETS.module_dict\n' + LOOKUPS)
    assert got == dict(found=[True] * 8, safe=True, early=True)


def test_config_custom_imports_build_the_runner_type():
    got = run('''
import json
import mmdet_lvis_fed
from mmengine.config import Config
from mmengine.registry import RUNNERS
cfg = Config.fromfile('configs/demo/mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py')
cls = RUNNERS.switch_scope_and_registry(cfg.default_scope).__enter__().get(cfg.runner_type)
print(json.dumps(cls.__name__))''')
    assert got == 'LVISFedRunner'


def package_imports():
    """module -> the package's modules it imports (at any level of the file)."""
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = osp.join(folder, name)
            rel = osp.relpath(path, ROOT)[:-3].replace(os.sep, '.')
            module = rel[:-len('.__init__')] if rel.endswith('.__init__') else rel
            package = module if name == '__init__.py' else module.rpartition('.')[0]
            edges = set()
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, ast.ImportFrom):
                    base = node.module or ''
                    if node.level:
                        parts = package.split('.')
                        parts = parts[:len(parts) - node.level + 1]
                        base = '.'.join(parts + ([base] if base else []))
                    targets = [base] + [f'{base}.{a.name}' for a in node.names]
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    continue
                edges.update(t for t in targets if t.startswith('mmdet_lvis_fed'))
            graph[module] = edges
    return {m: {e for e in edges if e in graph and e != m} for m, edges in graph.items()}


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = 'open'
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 'open':
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 'done'
        return None
    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycles():
    graph = package_imports()
    assert 'mmdet_lvis_fed.lvis_file' in graph['mmdet_lvis_fed.evaluation.lvis_data']
    assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


def test_cycle_finder_finds_one(tmp_path, monkeypatch):
    # The check above can fail: the cycle issue 8 found (dataset reader <-> evaluator data).
    src = tmp_path / 'mmdet_lvis_fed'
    (src / 'datasets').mkdir(parents=True)
    (src / 'evaluation').mkdir()
    (src / '__init__.py').write_text('')
    (src / 'datasets' / '__init__.py').write_text('')
    (src / 'evaluation' / '__init__.py').write_text('')
    (src / 'datasets' / 'lvis_file.py').write_text('from ..evaluation.lvis_data import X\n')
    (src / 'evaluation' / 'lvis_data.py').write_text(
        'def f():\n    from ..datasets.lvis_file import LVISFile\n')
    monkeypatch.setattr(sys.modules[__name__], 'ROOT', str(tmp_path))
    monkeypatch.setattr(sys.modules[__name__], 'PACKAGE', str(src))
    cycle = find_cycle(package_imports())
    assert cycle == ['mmdet_lvis_fed.datasets.lvis_file', 'mmdet_lvis_fed.evaluation.lvis_data',
                     'mmdet_lvis_fed.datasets.lvis_file']
