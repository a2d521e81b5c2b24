"""mmdet_lvis_fed.experiments.calibration on the demo data with a randomly initialised detector
saved as a checkpoint: one inference pass per image for the whole gamma sweep, each gamma's
detections equal to the calibrated model's own, the choice rules, the validation split, and a
written config that mmdet builds and mmengine's Runner tests (the command line's contract:
tests/test_tools/test_calibrate.py)."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from tests.conftest import ROOT
from mmdet_lvis_fed.experiments import calibration, calibration_inputs, calibration_sweep

BASELINE = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')
GAMMAS = [0.0, 0.5, 1.0]


def demo_child(folder, base, demo_root):
    """A config that inherits `base` with the demo data under demo_root."""
    path = folder / f'{osp.splitext(osp.basename(base))[0]}_tmp.py'
    path.write_text(f'_base_ = {base!r}\n' + ''.join(
        f'{loader} = dict(dataset=dict(data_root={demo_root!r}))\n'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')))
    return str(path)


def training_meta(cfg):
    """The training dataset's metainfo, as a training run saves it in its checkpoints. The 40-image
    demo has categories in no training image (image_count 0, refused): each count is raised by 1."""
    from mmdet.registry import DATASETS
    meta = DATASETS.build(dict(cfg.train_dataloader.dataset)).metainfo
    return dict(meta, image_count=tuple(c + 1 for c in meta['image_count']))


@pytest.fixture(scope='module')
def trained(demo_root, tmp_path_factory):
    """(config, checkpoint, the checkpoint's dataset_meta): the baseline on the demo data,
    randomly initialised."""
    from mmdet.apis import init_detector
    folder = tmp_path_factory.mktemp('calibrate')
    config = demo_child(folder, BASELINE, demo_root)
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = init_detector(cfg, None, device='cpu')
    meta = training_meta(cfg)
    ckpt = str(folder / 'random.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=meta)), ckpt)
    return config, ckpt, meta


def calls_of(monkeypatch, cls):
    """Count the forward calls of every module of class `cls`."""
    count, original = [0], cls.forward

    def counted(self, *args, **kwargs):
        count[0] += 1
        return original(self, *args, **kwargs)
    monkeypatch.setattr(cls, 'forward', counted)
    return count


def choose_largest(monkeypatch):
    """A randomly initialised model chooses gamma 0, for which no config is written: the tests
    of the written config take the largest gamma swept instead."""
    monkeypatch.setattr(calibration, 'choose', lambda rows, metric, drop: max(rows))


@pytest.mark.parametrize('masks', [False, True], ids=['box-only', 'masks'])
def test_one_inference_pass_serves_the_sweep(trained, tmp_path, monkeypatch, masks):
    from mmdet.apis import init_detector
    from mmdet.models.backbones import ResNet
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
    from mmdet.models.roi_heads.mask_heads import FCNMaskHead
    config, ckpt, _ = trained
    backbone = calls_of(monkeypatch, ResNet)
    box_head = calls_of(monkeypatch, Shared2FCBBoxHead)
    mask_head = calls_of(monkeypatch, FCNMaskHead)
    choose_largest(monkeypatch)
    out = tmp_path / 'calibrated.py'
    calibration.calibrate(config, ckpt, gammas=[0.5, 1], out_config=str(out),
                          work_dir=str(tmp_path / 'wd'), workers=0, device='cpu', masks=masks)
    result = json.loads((tmp_path / 'wd' / 'calibration.json').read_text())
    images = result['images']
    assert images > 0 and result['gammas'] == GAMMAS
    assert backbone[0] == images and box_head[0] == images      # once per image, not per gamma
    assert mask_head[0] == (images * len(GAMMAS) if masks else 0)
    rows = {r['gamma']: r for r in result['rows']}
    assert set(rows) == set(GAMMAS) and all('bbox_APr' in r for r in rows.values())
    assert all(('segm_AP' in r) == masks for r in rows.values())
    # The written config builds with mmdet's own API, with the chosen gamma.
    cfg = Config.fromfile(str(out))
    cfg.model.backbone.init_cfg = None
    head = init_detector(cfg, None, device='cpu').roi_head.bbox_head
    assert type(head).__name__ == 'CalibratedBBoxHead'
    assert head.calibration.gamma == result['chosen'] and head.calibration.freq_source == 'file'
    assert osp.normpath(osp.join(osp.dirname(str(out)), cfg.retest_of)) == config


def calibrated_model(config, ckpt, meta):
    cfg = Config.fromfile(config)
    override, _ = calibration_inputs.calibrated_head(cfg)
    ckpt_dict, _ = calibration_inputs.read_checkpoint(ckpt)
    model = calibration_inputs.load_model(cfg, override, dict(gamma=0.0), ckpt_dict, ckpt, 'cpu')
    from mmdet_lvis_fed.datasets.frequency import class_frequency
    model.roi_head.bbox_head.calibration.set_class_frequency(class_frequency(meta, 'file'))
    return cfg, model


@pytest.mark.parametrize('masks', [False, True], ids=['box-only', 'masks'])
def test_each_gamma_equals_the_calibrated_models_prediction(trained, masks):
    """The sweep's detections for a gamma are exactly what the model predicts with that gamma
    (mmdet's test_step: boxes at the original scale, masks when a mask head runs)."""
    from mmdet.registry import DATASETS
    config, ckpt, meta = trained
    cfg, model = calibrated_model(config, ckpt, meta)
    dataset = DATASETS.build(calibration_inputs.val_split_config(cfg)[0])
    batch = pseudo_collate([dataset[i] for i in range(2)])
    with torch.no_grad():
        swept = [(g, [s.clone() for s in samples])
                 for g, samples in calibration_sweep.predict_all(model, batch, GAMMAS, masks)]
        for g, samples in swept:
            model.roi_head.bbox_head.calibration.gamma = g
            for got, want in zip(samples, model.test_step(batch)):
                assert len(want.pred_instances) > 0
                for key in ('bboxes', 'scores', 'labels') + (('masks',) if masks else ()):
                    assert torch.equal(got.pred_instances[key], want.pred_instances[key]), (g, key)
    assert not torch.equal(swept[0][1][0].pred_instances.scores,
                           swept[-1][1][0].pred_instances.scores)


def test_the_written_config_runs_under_mmengines_runner(trained, tmp_path, demo_root,
                                                        monkeypatch):
    """What `mim test mmdet CONFIG --checkpoint CKPT` does: ClassFrequencyHook gives the
    calibrated head the frequencies of the checkpoint's training data."""
    from mmengine.runner import Runner
    from mmdet_lvis_fed.datasets.frequency import class_frequency
    config, ckpt, meta = trained
    out = tmp_path / 'calibrated.py'
    choose_largest(monkeypatch)
    calibration.calibrate(config, ckpt, gammas=[0.5], out_config=str(out),
                          work_dir=str(tmp_path / 'wd'), workers=0, device='cpu')
    cfg = Config.fromfile(str(out))
    assert cfg.model.roi_head.bbox_head.calibration.gamma == 0.5
    cfg.model.backbone.init_cfg = None
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.work_dir, cfg.load_from = str(tmp_path / 'test'), ckpt
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert 'lvis_fed/bbox_APr' in metrics
    log_freq = runner.model.roi_head.bbox_head.calibration.log_freq.numpy()
    np.testing.assert_allclose(log_freq, np.log(class_frequency(meta, 'file')), rtol=1e-6)


def test_nothing_from_the_command_line_runs_when_the_config_loads(trained, tmp_path, monkeypatch):
    """A checkpoint and a work dir whose names hold a newline and code: the written config
    names them only as quoted literals, so loading it runs nothing."""
    import ast
    import shutil
    config, ckpt, _ = trained
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / 'ran'
    payload = "x\nopen('ran', 'w').write('ran')\n#"
    folder = tmp_path / payload
    folder.mkdir()
    named = folder / f'{payload}.pth'
    shutil.copy(ckpt, named)
    out = tmp_path / 'calibrated.py'
    choose_largest(monkeypatch)
    calibration.calibrate(config, str(named), gammas=[0.5], out_config=str(out),
                          work_dir=str(folder), workers=0, device='cpu')
    text = out.read_text()
    # only assignments of literals: no line of the payload escaped from a string or a comment
    assert [type(n).__name__ for n in ast.parse(text).body] == ['Assign'] * 4, text
    cfg = Config.fromfile(str(out))
    assert not marker.exists()
    assert cfg.model.roi_head.bbox_head.calibration.gamma == 0.5
    record = osp.normpath(osp.join(osp.dirname(str(out)), cfg.calibration_record))
    assert record == str(folder / 'calibration.json')
    assert json.loads(open(record).read())['checkpoint'] == str(named)
    assert not marker.exists()


def test_gamma_0_writes_no_config(trained, tmp_path):
    """A random model chooses gamma 0: the record is written, no config that changes nothing."""
    config, ckpt, _ = trained
    out = tmp_path / 'calibrated.py'
    calibration.calibrate(config, ckpt, gammas=[0.5], out_config=str(out),
                          work_dir=str(tmp_path / 'wd'), workers=0, device='cpu')
    result = json.loads((tmp_path / 'wd' / 'calibration.json').read_text())
    assert result['chosen'] == 0 and result['out_config'] is None
    assert not out.exists()
