"""`ClassFrequencyHook`: hand each class's frequency to the parts of the model that use it."""
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet.registry import HOOKS

from ..datasets.frequency import class_frequency
from ..wrappers import unwrap_dataset, unwrap_model


def frequency_users(model):
    """Modules that take class frequencies: EQL, the sampled federated loss, ECM, calibration."""
    return [m for m in model.modules() if hasattr(m, 'set_class_frequency')]


@HOOKS.register_module()
class ClassFrequencyHook(Hook):
    """Give every module with ``set_class_frequency`` (EQL, the sampled federated loss, ECM, the
    calibrated box head) its classes' frequencies, by the module's ``freq_source`` ('file':
    LVIS's image_count over the images it was counted on; 'subset': the share of the training
    images; see ``mmdet_lvis_fed/datasets/frequency.py``).

    * before training: from the training dataset;
    * when a checkpoint is loaded (``mim test``, ``load_from``): from the training dataset it was
      saved with (its ``meta.dataset_meta``), so that a test-time calibration uses the frequencies
      of the data the model was trained on, not of the test file.

    The runtime base (``configs/_base_/default_runtime.py``) names it in ``default_hooks``.
    """
    priority = 'VERY_HIGH'

    def _set(self, runner, metainfo, what):
        users = frequency_users(unwrap_model(runner.model))
        for m in users:
            m.set_class_frequency(class_frequency(metainfo, getattr(m, 'freq_source', 'file')))
        if users:
            print_log(f'class frequencies from {what} set on '
                      f'{sorted({type(m).__name__ for m in users})}', logger='current')

    def before_train(self, runner):
        self._set(runner, unwrap_dataset(runner.train_dataloader.dataset).metainfo,
                  'the training dataset')

    def after_load_checkpoint(self, runner, checkpoint):
        meta = (checkpoint.get('meta') or {}).get('dataset_meta')
        if not frequency_users(unwrap_model(runner.model)):
            return
        try:
            self._set(runner, meta or {}, 'the checkpoint\'s training dataset')
        except ValueError as e:   # before_train sets them again; calibration refuses to run without
            print_log(f'ClassFrequencyHook: no class frequencies from the checkpoint ({e})',
                      logger='current', level=30)
