"""Layering: the numpy core imports without torch, mmengine or mmdet; importing
`mmdet_lvis_fed.plugin` (every config's custom_imports) registers every class with plain
decorators; the package's imports have no cycle."""
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
from mmdet_lvis_fed.evaluation.results_file import read_detections
from mmdet_lvis_fed.lvis_file import LVISFile
from mmdet_lvis_fed.datasets.subset import FederatedSubset
from mmdet_lvis_fed.datasets import frequency, repeat_factors
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
from mmdet.registry import DATASETS, METRICS, MODELS, HOOKS, DATA_SAMPLERS, TRANSFORMS, LOOPS
from mmengine.registry import init_default_scope
init_default_scope('mmdet')
import torch
found = [DATASETS.get('LVISFedDataset'), METRICS.get('LVISFedMetric'), MODELS.get('FedRoIHead'),
         MODELS.get('FederatedSigmoidLoss'), HOOKS.get('ValidationLossHook'),
         HOOKS.get('NumClassesCheckHook'), HOOKS.get('ClassFrequencyHook'),
         DATA_SAMPLERS.get('RepeatFactorSampler'), TRANSFORMS.get('FedCopyPaste'),
         LOOPS.get('TopKTestLoop')]
from mmengine.logging.history_buffer import HistoryBuffer
safe = HistoryBuffer in torch.serialization.get_safe_globals()
print(json.dumps(dict(found=[f is not None for f in found], safe=safe)))
'''


def test_the_package_alone_registers_nothing():
    # `import mmdet_lvis_fed` is light: nothing enters mmdet's registries until the plugin module
    # is imported, and nothing hooks the import system.
    got = run('import json, sys\nmeta_path = len(sys.meta_path)\nimport mmdet_lvis_fed\n'
              'from mmdet.registry import DATASETS\n'
              'print(json.dumps([len(sys.meta_path) == meta_path, '
              '"LVISFedDataset" in DATASETS.module_dict]))')
    assert got == [True, False]


def test_importing_the_plugin_registers_everything():
    got = run('import json\nimport mmdet_lvis_fed.plugin\n' + LOOKUPS)
    assert got == dict(found=[True] * 10, safe=True)


def test_config_custom_imports_register_everything():
    # What mmdet's tools do: Config.fromfile imports the config's custom_imports.
    got = run('''import json
from mmengine.config import Config
cfg = Config.fromfile('configs/demo/mask-rcnn_r50_fpn_gn-scratch_1x-cpu_demo.py')
''' + LOOKUPS)
    assert got == dict(found=[True] * 10, safe=True)


def test_no_import_hooks_or_private_registry_writes():
    # Registration is by plain import: no meta_path finder, no loader patching, no writes to
    # mmengine's private Registry._locations.
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith('.py'):
                text = open(osp.join(folder, name)).read()
                for word in ('meta_path', '_locations', 'exec_module'):
                    assert word not in text, f'{name}: {word}'


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
    assert 'mmdet_lvis_fed.lvis_file' in graph['mmdet_lvis_fed.datasets.lvis_fed']
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
