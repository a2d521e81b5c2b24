# mmdet's runtime plus the seed report's training protocol: validation loss every epoch, early
# stopping when it has not improved for `patience` epochs, and two best checkpoints (by validation
# loss: best_val_loss.pth; by mask AP on the validation split: best_lvis_fed_segm_AP_*.pth).
_base_ = 'mmdet::_base_/default_runtime.py'

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='lvis_fed/segm_AP', rule='greater'))
custom_hooks = [dict(type='ValidationLossHook', patience=3)]
