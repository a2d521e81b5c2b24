"""Start from another detector's checkpoint (a COCO Mask R-CNN): the class-agnostic parts load, the
class-specific head layers are re-initialised, and every skipped key is logged with its reason."""
from typing import Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint

from mmdet.registry import HOOKS


def transfer_state_dict(model: torch.nn.Module, state: dict,
                        modules: Sequence[str] = ('backbone', 'neck', 'rpn_head')):
    """Copy the entries of `state` under `modules` whose shapes match; return what happened.

    Returns:
        dict(loaded=[keys], skipped={key: reason}).
    """
    own = model.state_dict()
    prefixes = tuple(m + '.' for m in modules)
    loaded, skipped = [], {}
    for key, value in state.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if not key.startswith(prefixes):
            skipped[key] = f'not transferred: outside {list(modules)}'
        elif key not in own:
            skipped[key] = 'not in this model'
        elif own[key].shape != value.shape:
            skipped[key] = (f'shape {tuple(value.shape)} in the checkpoint, {tuple(own[key].shape)} '
                            'here: class-specific, re-initialised')
        else:
            own[key].copy_(value)
            loaded.append(key)
    return dict(loaded=loaded, skipped=skipped)


@HOOKS.register_module()
class TransferWeightsHook(Hook):
    """Load the class-agnostic parts of a detector checkpoint before training starts.

    Use it instead of ``load_from`` when the checkpoint's classes differ (COCO's 80 against a
    subset's K): with ``modules=('backbone', 'neck', 'rpn_head')`` the RoI heads keep their fresh
    initialisation; add ``'roi_head'`` to also take its class-agnostic layers (shared FCs, mask
    convs) while the class-specific ones (``fc_cls``, ``fc_reg``, ``conv_logits``) are skipped for
    their shape. Runs once, at the first epoch, and not when resuming.

    Args:
        checkpoint (str): path or URL of the checkpoint (a local file works offline).
        modules (Sequence[str]): top-level modules to take. Defaults to backbone, neck, rpn_head.
    """
    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: str, modules=('backbone', 'neck', 'rpn_head')):
        self.checkpoint, self.modules = checkpoint, tuple(modules)

    def before_train(self, runner):
        if runner.iter > 0:          # resumed: the weights come from the resumed checkpoint
            return
        ckpt = _load_checkpoint(self.checkpoint, map_location='cpu', logger=runner.logger)
        state = ckpt.get('state_dict', ckpt)
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        with torch.no_grad():
            out = transfer_state_dict(model, state, self.modules)
        lines = [f'transferred {len(out["loaded"])} tensors of {list(self.modules)} from '
                 f'{self.checkpoint}; skipped {len(out["skipped"])}:']
        lines += [f'  {k}: {why}' for k, why in out['skipped'].items()]
        print_log('\n'.join(lines), runner.logger)
        self.report = out
