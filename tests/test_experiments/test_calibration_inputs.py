"""What a calibration sweep reads (experiments/calibration_inputs.py): the validation split of the
training file, the test evaluator's options."""
import os.path as osp

from mmengine.config import Config

from tests.conftest import ROOT
from mmdet_lvis_fed.experiments import calibration_inputs

BASELINE = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')


def test_validation_split_is_the_training_files_val_split():
    """Under wrappers (copy-paste's MultiImageMixDataset) and samplers: the innermost training
    dataset with split='val', test mode, the test pipeline and the test not_exhaustive rule."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'demo', 'longtail',
                                   'mask-rcnn_r18_fpn_base-frozen_copy-paste-jitter_150it_'
                                   'study-9cat.py'))
    ds, trained_on_val = calibration_inputs.val_split_config(cfg)
    assert ds['type'] == 'LVISFedDataset' and ds['split'] == 'val' and ds['test_mode'] is True
    assert ds['ann_file'] == cfg.train_dataloader.dataset.dataset.ann_file
    assert ds['pipeline'] == cfg.test_dataloader.dataset.pipeline
    assert ds['not_exhaustive'] == 'exclude' and 'filter_cfg' not in ds
    assert not trained_on_val       # the ablation trains on the split's train part


def test_the_sweep_is_judged_by_the_test_evaluators_options():
    cfg = Config(dict(test_evaluator=dict(type='LVISFedMetric', metric=['bbox', 'segm'],
                                          classwise=True, max_dets=100, mask_area=True)))
    assert calibration_inputs.metric_options(cfg) == dict(max_dets=100, mask_area=True)
    assert calibration_inputs.metric_options(Config(dict(test_evaluator=dict(type='CocoMetric')))) == {}
