"""Validation loss each epoch, early stopping on it, and the best checkpoint by it.

mmdet validates with metrics only; the seed report trained "until validation loss was
non-decreasing". This hook computes the training losses on the validation split (train-style
pipeline with annotations, no augmentation), with no gradient and the model in eval mode (so
BatchNorm statistics and everything else in the model stay untouched), logs `val_loss` beside the
training loss, keeps `best_val_loss.pth`, and stops training after `patience` epochs without
improvement.
"""
import copy
import math

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet.registry import HOOKS, TRANSFORMS

from ..datasets.val_split import val_split


def _random_transforms():
    """Random augmentation and image mixing: the validation loss is measured on the images as
    they are. Classes, so that scoped names ('mmdet.RandomFlip') and subclasses match too."""
    from mmcv.transforms import RandomResize
    from mmdet.datasets.transforms import (CachedMixUp, CachedMosaic, CopyPaste, MixUp, Mosaic,
                                           PhotoMetricDistortion, RandomCrop, RandomFlip)
    return RandomResize, (RandomFlip, PhotoMetricDistortion, CopyPaste, Mosaic, MixUp,
                          CachedMosaic, CachedMixUp, RandomCrop)


def _transform_class(t):
    cls = t['type'] if isinstance(t['type'], type) else TRANSFORMS.get(t['type'])
    if cls is None:
        raise KeyError(f'transform type {t["type"]!r} is not registered')
    return cls


def unwrapped_val_dataset(ds_cfg):
    """The training dataset config as a validation one: wrappers (ClassBalancedDataset,
    MultiImageMixDataset) removed, their pipelines appended to the inner one, random augmentation
    dropped (RandomResize becomes Resize at its nominal scale), split='val'."""
    random_resize, dropped = _random_transforms()
    ds_cfg, outer_pipelines = val_split(ds_cfg)
    pipeline = []
    for t in list(ds_cfg.get('pipeline') or []) + [t for p in outer_pipelines for t in p]:
        cls = _transform_class(t)
        if issubclass(cls, dropped):
            continue
        if issubclass(cls, random_resize):
            t = dict(type='Resize', scale=t['scale'], keep_ratio=t.get('keep_ratio', True))
        pipeline.append(t)
    return dict(ds_cfg, pipeline=pipeline)


@HOOKS.register_module()
class ValidationLossHook(Hook):
    """Args:
        dataloader (dict): the validation split as a dataloader config whose pipeline loads
            annotations (defaults to the train dataloader with ``split='val'``, no flip).
        interval (int): epochs between evaluations. Defaults to 1.
        patience (int, optional): stop after this many evaluations without improvement;
            None never stops. Defaults to 3.
        min_delta (float): an improvement must exceed this. Defaults to 0.
        save_best (bool): keep ``best_val_loss.pth`` in the work dir. Defaults to True.
    """
    priority = 'LOW'   # after the checkpoint and logger hooks of the same epoch

    def __init__(self, dataloader=None, interval=1, patience=3, min_delta=0.0, save_best=True):
        self.dataloader_cfg = dataloader
        self.interval, self.patience, self.min_delta = interval, patience, min_delta
        self.save_best = save_best
        self.best, self.bad_epochs, self.history = math.inf, 0, []
        self._loader = None

    def _build_loader(self, runner):
        cfg = self.dataloader_cfg
        if cfg is None:
            cfg = copy.deepcopy(runner.cfg.train_dataloader)
            cfg['dataset'] = unwrapped_val_dataset(cfg['dataset'])
            cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
            cfg.pop('batch_sampler', None)
        return runner.build_dataloader(cfg, seed=runner.seed)

    def after_train_epoch(self, runner):
        if not self.every_n_epochs(runner, self.interval):
            return
        if self._loader is None:
            self._loader = self._build_loader(runner)
        loss = self.validation_loss(runner.model, self._loader)
        epoch = runner.epoch + 1
        self.history.append((epoch, loss))
        runner.message_hub.update_scalar('val/val_loss', loss)
        runner.visualizer.add_scalars({'val_loss': loss, 'epoch': epoch}, step=runner.iter)
        improved = loss < self.best - self.min_delta
        if improved:
            self.best, self.bad_epochs = loss, 0
            if self.save_best:
                runner.save_checkpoint(runner.work_dir, 'best_val_loss.pth', save_optimizer=False,
                                       save_param_scheduler=False,
                                       meta=dict(val_loss=loss, epoch=epoch))
        else:
            self.bad_epochs += 1
        print_log(f'Epoch(val_loss) [{epoch}]  val_loss: {loss:.4f}  best: {self.best:.4f}  '
                  f'epochs without improvement: {self.bad_epochs}', runner.logger)
        if self.patience is not None and self.bad_epochs >= self.patience:
            print_log(f'early stopping: validation loss has not improved for {self.bad_epochs} '
                      f'epoch(s) (best {self.best:.4f}); best_val_loss.pth holds that model',
                      runner.logger)
            runner.train_loop.stop_training = True

    @staticmethod
    def validation_loss(model, loader):
        """Mean total loss over the loader, computed like a training step without its update."""
        was_training = model.training
        model.eval()
        total, n = 0.0, 0
        try:
            with torch.no_grad():
                for batch in loader:
                    data = model.data_preprocessor(batch, True)
                    losses = model(**data, mode='loss')
                    loss, _ = model.parse_losses(losses)
                    size = len(data['data_samples'])
                    total += float(loss) * size
                    n += size
        finally:
            model.train(was_training)
        return total / max(n, 1)
