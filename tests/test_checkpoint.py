"""torch >= 2.6 loads mmengine's checkpoints through the package's narrow allow-list."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

import mmdet_lvis_fed.plugin  # noqa: F401  (registers the allow-list)
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint


def mmengine_checkpoint(path):
    """What mmengine's Runner.save_checkpoint writes: weights plus meta with the message hub."""
    model = torch.nn.Linear(3, 2)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    optim.step()
    hub = MessageHub.get_instance('ckpt_test')
    for i in range(3):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
        hub.update_scalar('val/lvis_fed/bbox_AP', np.float64(0.25))
    hub.update_info('iter', 3)
    hub.update_info('best_score', np.float64(0.5))
    checkpoint = dict(
        meta=dict(epoch=1, iter=3, seed=0, mmengine_version='0.10.7',
                  dataset_meta=dict(classes=('a', 'b'), lvis_cat_ids=(1, 2)),
                  message_hub=hub.state_dict()),
        state_dict=model.state_dict(), optimizer=optim.state_dict(),
        param_schedulers=[dict(base_lrs=[0.1], last_epoch=1, _step_count=2)])
    save_checkpoint(checkpoint, str(path))
    return checkpoint


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    saved = mmengine_checkpoint(path)
    loaded = _load_checkpoint(str(path), map_location='cpu')      # torch.load's default: safe
    assert torch.equal(loaded['state_dict']['weight'], saved['state_dict']['weight'])
    buf = loaded['meta']['message_hub']['log_scalars']['train/loss']
    assert buf.mean() == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert loaded['meta']['message_hub']['runtime_info']['best_score'] == 0.5
    assert loaded['optimizer']['state'][0]['momentum_buffer'].shape == (2, 3)


def test_without_the_package_torch_refuses(tmp_path):
    # The same file fails in a fresh interpreter that does not import mmdet_lvis_fed.
    path = tmp_path / 'epoch_1.pth'
    mmengine_checkpoint(path)
    code = f'import torch; torch.load({str(path)!r})'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode != 0 and 'Weights only load failed' in out.stderr


class _Gadget:
    """getattr on an allowed class towards __init__.__globals__: how a malicious pickle escapes."""
    def __reduce__(self):
        from mmengine.logging.history_buffer import HistoryBuffer
        return getattr, (HistoryBuffer, '__init__')


def test_getattr_stand_in_refuses_anything_else(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Gadget()}, str(path))
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer statistics methods'):
        torch.load(str(path))


# --- every load path: one line that names the file ----------------------------------------------

class _Payload:
    """What a hostile checkpoint pickles: a call to run when it is unpickled."""
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f'touch {self.marker}', )


def _one_line(error, path):
    text = str(error)
    assert '\n' not in text and text.startswith(f'{path}: '), text
    assert 'weights_only' not in text, text
    return text


@pytest.mark.parametrize('content, needle', [
    (b'', 'is empty (0 bytes)'),
    (b'{"state_dict": {"w": [1, 2]}}', 'it is text'),
    (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
     'not a PyTorch checkpoint'),
])
def test_not_a_checkpoint_is_one_line(tmp_path, content, needle):
    from mmdet_lvis_fed.errors import CheckpointError
    path = tmp_path / 'bad.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as e:        # mmengine's loader: mim test, load_from, ...
        _load_checkpoint(str(path), map_location='cpu')
    assert needle in _one_line(e.value, path)
    assert e.value.__cause__ is None      # no torch advice chained to it
    assert e.value.__context__ is None or e.value.__suppress_context__


def test_a_pickled_payload_is_refused_and_never_run(tmp_path):
    from mmdet_lvis_fed.errors import CheckpointError
    marker = tmp_path / 'ran'
    path = tmp_path / 'payload.pth'
    torch.save(dict(state_dict={'w': torch.ones(2)}, meta=_Payload(marker)), str(path))
    with pytest.raises(CheckpointError) as e:
        _load_checkpoint(str(path), map_location='cpu')
    text = _one_line(e.value, path)
    assert 'refused' in text and 'system' in text, text
    assert not marker.exists()


def test_flipped_bytes_in_a_tensor_are_found(tmp_path):
    from mmdet_lvis_fed.errors import CheckpointError
    path = tmp_path / 'epoch_1.pth'
    saved = mmengine_checkpoint(path)
    raw = bytearray(path.read_bytes())
    weight = saved['state_dict']['weight'].numpy().tobytes()
    at = raw.find(weight)
    assert at > 0
    raw[at + 2] ^= 0x40
    path.write_bytes(bytes(raw))
    # torch itself keeps no check of the bytes: the damaged file loads, with another weight
    plain = torch.load(str(path), map_location='cpu')
    assert not torch.equal(plain['state_dict']['weight'], saved['state_dict']['weight'])
    with pytest.raises(CheckpointError) as e:
        _load_checkpoint(str(path), map_location='cpu')
    assert 'bytes changed since it was saved' in _one_line(e.value, path)


def test_a_truncated_checkpoint_is_one_line(tmp_path):
    from mmdet_lvis_fed.errors import CheckpointError
    path = tmp_path / 'epoch_1.pth'
    mmengine_checkpoint(path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(CheckpointError) as e:
        _load_checkpoint(str(path), map_location='cpu')
    assert 'truncated' in _one_line(e.value, path)


def test_a_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such checkpoint file'):
        _load_checkpoint(str(tmp_path / 'none.pth'), map_location='cpu')


def test_mmdet_test_py_ends_in_the_plugins_line_for_a_hostile_checkpoint(tmp_path, demo_root):
    """The path `mim test` takes (mmdet's tools/test.py, Runner.load_checkpoint)."""
    import os.path as osp
    from tests.conftest import ROOT
    config = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')
    marker = tmp_path / 'ran'
    path = tmp_path / 'payload.pth'
    torch.save(dict(state_dict={}, meta=_Payload(marker)), str(path))
    test_py = osp.join(osp.dirname(sys.modules['mmdet'].__file__), '.mim', 'tools', 'test.py')
    out = subprocess.run([sys.executable, test_py, config, str(path), '--work-dir',
                          str(tmp_path / 'w'), '--cfg-options',
                          f'test_dataloader.dataset.data_root={demo_root}',
                          'test_dataloader.num_workers=0',
                          'test_dataloader.persistent_workers=False'],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f'mmdet_lvis_fed.errors.CheckpointError: {path}: refused'), \
        out.stderr[-2000:]
    assert 'weights_only' not in out.stderr and not marker.exists()
