"""`LVISFedRunner`: mmengine's Runner that resolves the subset's config values before building."""
import copy

from mmengine.hooks import Hook
from torch.nn import ModuleList
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdet.registry import HOOKS

from .subset_config import apply_subset, check_mixing


def _unwrap(dataset):
    while hasattr(dataset, 'dataset') and not hasattr(dataset, 'parse_data_info'):
        dataset = dataset.dataset
    return dataset


def _model(runner):
    return runner.model.module if hasattr(runner.model, 'module') else runner.model


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Stop before the first iteration when a head's num_classes differs from the dataset's classes
    (mmdet's own check only runs when added by hand, and names no fix)."""
    priority = 'VERY_HIGH'

    def _check(self, runner, loader, what):
        classes = _unwrap(loader.dataset).metainfo.get('classes')
        if classes is None:
            return
        roi = getattr(_model(runner), 'roi_head', None)
        for name in ('bbox_head', 'mask_head'):
            head = getattr(roi, name, None)
            for h in (list(head) if isinstance(head, ModuleList) else [head]):
                n = getattr(h, 'num_classes', None)
                if n is not None and n != len(classes):
                    raise ValueError(
                        f'{name}.num_classes is {n} but the {what} dataset has {len(classes)} '
                        f'classes ({", ".join(classes[:8])}{", ..." if len(classes) > 8 else ""})'
                        f'. Fix: set classes=(...) or subset=dict(num_per_freq=...) at the top '
                        f'level of the config (LVISFedRunner derives num_classes from them), or '
                        f'set model.roi_head.bbox_head.num_classes and mask_head.num_classes to '
                        f'{len(classes)}')

    def before_train(self, runner):
        self._check(runner, runner.train_dataloader, 'training')

    def before_test(self, runner):
        self._check(runner, runner.test_dataloader, 'test')


@HOOKS.register_module()
class ClassFrequencyHook(Hook):
    """Give losses that need it (EQL, the sampled federated loss) each class's image frequency from
    the training file: ``image_count / number of images`` (LVIS's own counts)."""
    priority = 'VERY_HIGH'

    def before_train(self, runner):
        losses = [m for m in _model(runner).modules() if hasattr(m, 'set_class_frequency')]
        if not losses:
            return
        meta = _unwrap(runner.train_dataloader.dataset).metainfo
        count, total = meta.get('image_count'), meta.get('num_file_images')
        if not count or total is None or any(c is None for c in count):
            if any(getattr(m, 'needs_class_freq', False) for m in losses):
                raise ValueError('the loss needs each class\'s image_count, and the training '
                                 f'annotation file {meta.get("ann_file")} has none in "categories"')
            return
        for m in losses:
            m.set_class_frequency(count, total)


@RUNNERS.register_module()   # mmengine's root registry: mmdet's train.py and test.py both find it
class LVISFedRunner(Runner):
    """A Runner that, before building anything, writes the config's top-level ``classes`` /
    ``subset`` into every LVISFedDataset and derives ``num_classes`` (see subset_config.py), refuses
    Mosaic/MixUp on mask models, and checks the heads against the dataset at start-up."""

    @classmethod
    def from_cfg(cls, cfg):
        cfg = copy.deepcopy(cfg)
        apply_subset(cfg)
        check_mixing(cfg)
        return super().from_cfg(cfg)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_hook(NumClassesCheckHook())
        self.register_hook(ClassFrequencyHook())
