"""Train with some modules fixed: the decoupled long-tail recipe (Kang et al. 2020) keeps the
features a detector learnt on a large set and re-trains the heads on the long-tailed one."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet.registry import HOOKS

from ..wrappers import unwrap_model


@HOOKS.register_module()
class FreezeModulesHook(Hook):
    """Fix the parameters of top-level modules of the model for the whole of training.

    Before the first iteration every parameter under ``modules`` gets ``requires_grad=False``,
    so no gradient is computed for them (the backward pass stops at the first trained module:
    with the backbone and neck frozen, a training step costs the forward pass there and the
    heads' forward and backward), and SGD, which skips a parameter without a gradient, leaves
    them and their weight decay alone. The modules are kept in eval mode at every iteration, so
    that normalisation layers with running statistics (BatchNorm) do not move either; GroupNorm
    has none. Use it with ``TransferWeightsHook`` (which loads the weights being kept): the order
    of the two does not matter.

    Args:
        modules (Sequence[str]): names of top-level modules (``backbone``, ``neck``, ...).
    """
    priority = 'VERY_HIGH'

    def __init__(self, modules: Sequence[str] = ('backbone', 'neck')):
        if isinstance(modules, str):
            modules = (modules, )
        if not modules:
            raise ValueError('FreezeModulesHook: modules is empty; name the modules to freeze '
                             "(e.g. ('backbone', 'neck'))")
        self.modules = tuple(modules)

    def _frozen(self, model):
        missing = [m for m in self.modules if not hasattr(model, m)]
        if missing:
            raise ValueError(f'FreezeModulesHook: the model ({type(model).__name__}) has no '
                             f'module {missing[0]!r}; its top-level modules are '
                             f'{[n for n, _ in model.named_children()]}')
        return [getattr(model, m) for m in self.modules]

    def before_train(self, runner):
        model = unwrap_model(runner.model)
        self._kept = self._frozen(model)      # looked up once, not at every iteration
        frozen = 0
        for module in self._kept:
            for p in module.parameters():
                p.requires_grad_(False)
                frozen += p.numel()
            module.eval()
        total = sum(p.numel() for p in model.parameters())
        print_log(f'FreezeModulesHook: {list(self.modules)} frozen: {frozen:,} of {total:,} '
                  f'parameters ({frozen / max(total, 1):.1%}); {total - frozen:,} trained',
                  runner.logger)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        # The train loop calls model.train() (at its start, and after a validation), which would
        # put BatchNorm back into training mode.
        for module in self._kept:
            if module.training:
                module.eval()
