"""Start from another detector's checkpoint (a COCO Mask R-CNN): the class-agnostic parts load, the
class-specific head layers are re-initialised, and every skipped key is logged with its reason."""
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint

from mmdet.registry import HOOKS

from ..wrappers import unwrap_model
from .checks import _classes, _listed

# The layers of mmdet's heads whose outputs are one per class (or per class and box coordinate):
# their weights mean something only for the classes they were trained on, in that order.
CLASS_LAYERS = ('fc_cls', 'fc_reg', 'conv_logits', 'conv_cls', 'retina_cls', 'atss_cls',
                'gfl_cls')


def class_specific_keys(model: torch.nn.Module):
    """The state-dict keys of `model` that belong to one class each: the class layers
    (CLASS_LAYERS) of every module with a `num_classes` other than the RPN's single objectness
    class (a box regressor only when it is not class-agnostic), and every tensor of a class loss
    (`loss_*` with `num_classes`: EQLv2's and ECM's per-class statistics)."""
    keys = set()
    for name, module in model.named_modules():
        if getattr(module, 'num_classes', None) is None:
            continue
        prefix = name + '.' if name else ''
        is_loss = name.rsplit('.', 1)[-1].startswith('loss')
        for child_name, child in module.named_children():
            if child_name not in CLASS_LAYERS or (child_name == 'fc_reg' and getattr(
                    module, 'reg_class_agnostic', False)):
                continue
            keys.update(prefix + child_name + '.' + key for key in child.state_dict())
        if is_loss:
            keys.update(prefix + key for key in module.state_dict())
    return keys


def transfer_state_dict(model: torch.nn.Module, state: dict,
                        modules: Sequence[str] = ('backbone', 'neck', 'rpn_head'),
                        same_classes: Optional[bool] = False):
    """Copy the entries of `state` under `modules` whose shapes match; return what happened.

    Args:
        same_classes: whether the checkpoint was trained on this model's classes, in the same
            order. Unless True, the class-specific layers (`class_specific_keys`) are skipped even
            where their shapes match: an equal K says nothing about which classes they are.

    Returns:
        dict(loaded=[keys], skipped={key: reason}, share=loaded elements / elements of `model`
        under `modules` that could load (all but the class-specific ones skipped for their
        classes)).
    """
    own = model.state_dict()
    specific = class_specific_keys(model)
    prefixes = tuple(m + '.' for m in modules)
    loaded, skipped, class_skipped = [], {}, set()
    for key, value in state.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if not key.startswith(prefixes):
            skipped[key] = f'not transferred: outside {list(modules)}'
        elif key not in own:
            skipped[key] = 'not in this model'
        elif own[key].shape != value.shape:
            skipped[key] = (f'shape {tuple(value.shape)} in the checkpoint, {tuple(own[key].shape)} '
                            'here: ' + ('class-specific, re-initialised' if key in specific else
                                        'another architecture, not loaded (keeps its '
                                        'initialisation)'))
            if key in specific:
                class_skipped.add(key)
        elif key in specific and not same_classes:
            skipped[key] = ('class-specific, re-initialised: the checkpoint\'s classes are not '
                            'this model\'s' if same_classes is False else
                            'class-specific, re-initialised: the classes cannot be matched (the '
                            'checkpoint names no classes in meta.dataset_meta, or the training '
                            'dataset none)')
            class_skipped.add(key)
        else:
            own[key].copy_(value)
            loaded.append(key)
    wanted = [k for k in own if k.startswith(prefixes) and k not in class_skipped
              and own[k].is_floating_point()]
    total = sum(own[k].numel() for k in wanted)
    done = sum(own[k].numel() for k in loaded if own[k].is_floating_point())
    return dict(loaded=loaded, skipped=skipped, share=done / total if total else 1.0)


def _dataset_classes(runner):
    try:
        loader = runner.train_dataloader
    except AttributeError:      # a runner without a training dataloader (a test of the hook)
        return None
    return _classes(loader)


@HOOKS.register_module()
class TransferWeightsHook(Hook):
    """Load the class-agnostic parts of a detector checkpoint before training starts.

    Use it instead of ``load_from`` when the checkpoint's classes differ (COCO's 80 against a
    subset's K): with ``modules=('backbone', 'neck', 'rpn_head')`` the RoI heads keep their fresh
    initialisation; add ``'roi_head'`` to also take its class-agnostic layers (shared FCs, mask
    convs). The class-specific layers (``fc_cls``, ``fc_reg``, ``conv_logits``, a class loss's
    statistics) load only when the checkpoint's ``meta.dataset_meta.classes`` equal the training
    dataset's classes, in name and order; otherwise they are re-initialised, even when K is the
    same, and the log says why. Every skipped key is logged with its reason (another module,
    another class list, another architecture), with the share of the requested modules'
    parameters that loaded; below ``min_share`` a warning names it (an R50 checkpoint into an
    R18 model, say). Runs once, at the first iteration, and not when resuming.

    Args:
        checkpoint (str): path or URL of the checkpoint (a local file works offline).
        modules (Sequence[str]): top-level modules to take. Defaults to backbone, neck, rpn_head.
        min_share (float): the share of the requested modules' parameters (their elements, the
            class-specific layers skipped for their classes not counted) below which the hook
            warns. Defaults to 0.9.
    """
    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: str, modules=('backbone', 'neck', 'rpn_head'),
                 min_share: float = 0.9):
        if isinstance(modules, str):
            modules = (modules, )
        if not 0 <= float(min_share) <= 1:
            raise ValueError(f'TransferWeightsHook: min_share={min_share!r} is not in [0, 1]')
        self.checkpoint, self.modules, self.min_share = checkpoint, tuple(modules), min_share

    def before_train(self, runner):
        if runner.iter > 0:          # resumed: the weights come from the resumed checkpoint
            return
        ckpt = _load_checkpoint(self.checkpoint, map_location='cpu', logger=runner.logger)
        state = ckpt.get('state_dict', ckpt)
        meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
        theirs = (meta.get('dataset_meta') or {}).get('classes')
        ours = _dataset_classes(runner)
        same = None if theirs is None or ours is None else tuple(theirs) == tuple(ours)
        model = unwrap_model(runner.model)
        with torch.no_grad():
            out = transfer_state_dict(model, state, self.modules, same_classes=same)
        lines = [f'transferred {len(out["loaded"])} tensors of {list(self.modules)} from '
                 f'{self.checkpoint} ({out["share"]:.1%} of those modules\' parameters); '
                 f'skipped {len(out["skipped"])}:']
        if same is False:
            lines.insert(0, f'the checkpoint was trained on {len(theirs)} classes '
                            f'{_listed(tuple(theirs))}, this model on {len(ours)} '
                            f'{_listed(ours)}: its class-specific layers are not loaded')
        lines += [f'  {k}: {why}' for k, why in out['skipped'].items()]
        print_log('\n'.join(lines), runner.logger)
        if out['share'] < self.min_share:
            print_log(f'TransferWeightsHook: only {out["share"]:.1%} of the parameters of '
                      f'{list(self.modules)} loaded from {self.checkpoint} (min_share '
                      f'{self.min_share:.0%}): the rest keep their initialisation. Is it the '
                      'checkpoint of the same architecture? (the log above lists each skipped '
                      'key and why)', runner.logger, level=30)
        self.report = out

