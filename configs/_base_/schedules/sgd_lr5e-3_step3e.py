# The seed report's optimiser and protocol: SGD, lr 0.005, momentum 0.9, weight decay 0.005, the
# learning rate x0.1 every 3 epochs; trained until the validation loss stops falling:
# ValidationLossHook computes the training losses on the validation split every epoch (no
# gradient, model untouched), logs val_loss, keeps best_val_loss.pth and stops after `patience`
# epochs without improvement. max_epochs is a ceiling.
max_epochs = 24
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='StepLR', step_size=3, gamma=0.1, by_epoch=True)]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.005))
auto_scale_lr = dict(enable=False, base_batch_size=10)
custom_hooks = [dict(type='ValidationLossHook', patience=3)]
