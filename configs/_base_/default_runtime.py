# mmdet's runtime, plus the plugin's registration and its start-up hooks. They are default hooks
# (a dict merged by name), so a config that replaces `custom_hooks` keeps them:
# - NumClassesCheckHook stops a run whose heads, datasets or loaded checkpoint disagree on the
#   classes, before the first iteration, naming both and the fix;
# - UnusedVariablesCheckHook stops a run whose top-level classes, metainfo or data_root was set
#   (by a child config or --cfg-options) but is used by no dataset: it would train the base's;
# - MaskMixingCheckHook refuses Mosaic / MixUp (which leave gt_masks as they were) on mask models;
# - ClassFrequencyHook gives the losses and heads that use class frequencies (EQL, the sampled
#   federated loss, ECM, calibration) theirs, from the training data.
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['mmdet_lvis_fed.plugin'], allow_failed_imports=False)

default_hooks = dict(
    num_classes_check=dict(type='NumClassesCheckHook'),
    unused_variables_check=dict(type='UnusedVariablesCheckHook'),
    mask_mixing_check=dict(type='MaskMixingCheckHook'),
    class_frequency=dict(type='ClassFrequencyHook'))
