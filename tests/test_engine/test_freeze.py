"""FreezeModulesHook: the named modules do not move in training, the others do."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mmdet_lvis_fed.engine.freeze import FreezeModulesHook


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
        self.neck = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.neck(self.backbone(x)))


def runner_of(model):
    return SimpleNamespace(model=model, logger=None)


def test_frozen_modules_keep_their_weights_and_statistics():
    torch.manual_seed(0)
    model = Tiny()
    hook = FreezeModulesHook(modules=('backbone', 'neck'))
    runner = runner_of(model)
    hook.before_train(runner)
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith('head')}
    head = model.head.weight.clone()
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(3):
        model.train()                      # what the train loop does; the hook undoes it
        hook.before_train_iter(runner, 0)
        assert not model.backbone.training and not model.neck.training and model.head.training
        optim.zero_grad()
        model(torch.randn(8, 3)).pow(2).sum().backward()
        assert all(p.grad is None for p in model.backbone.parameters())
        assert all(p.grad is None for p in model.neck.parameters())
        optim.step()
    for k, v in model.state_dict().items():
        if k in frozen:     # weights, and BatchNorm's running statistics and batch count
            assert torch.equal(v, frozen[k]), k
    assert not torch.equal(model.head.weight, head)
    assert sum(p.requires_grad for p in model.parameters()) == 2      # the head's weight, bias


def test_a_module_the_model_does_not_have_is_named():
    with pytest.raises(ValueError, match="no module 'nekc'.*'backbone', 'neck', 'head'"):
        FreezeModulesHook(modules=('backbone', 'nekc')).before_train(runner_of(Tiny()))
    with pytest.raises(ValueError, match='modules is empty'):
        FreezeModulesHook(modules=())


def test_a_single_name_is_one_module():
    model = Tiny()
    FreezeModulesHook(modules='neck').before_train(runner_of(model))
    assert [n for n, p in model.named_parameters() if not p.requires_grad] == ['neck.weight',
                                                                             'neck.bias']
