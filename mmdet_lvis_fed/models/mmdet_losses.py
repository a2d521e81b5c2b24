"""mmdet 3.3's Seesaw and EQLv2 losses, with what they get wrong for evaluation fixed.

Both count class statistics on every forward pass: Seesaw the samples per class
(`cum_samples`), EQLv2 the accumulated positive and negative gradients. mmdet calls them in
training only, but a validation-loss pass (`ValidationLossHook`, the model in eval mode) runs the
same forward and would count the validation split into the statistics the next training step
uses. Here the statistics change only while the loss module is in training mode.

EQLv2 in mmdet 3.3 also lacks `custom_cls_channels`/`custom_activation`, so `BBoxHead` scores it
with a softmax over K+1 logits although it was trained as K+1 sigmoids (the last one an
objectness): here the head uses its own `get_activation` (sigmoid scores times 1 - background).
"""
from mmdet.models.losses import EQLV2Loss, SeesawLoss
from mmdet.models.losses.accuracy import accuracy
from mmdet.registry import MODELS


@MODELS.register_module()
class FixedSeesawLoss(SeesawLoss):
    """mmdet's ``SeesawLoss`` (same arguments) whose ``cum_samples`` count training batches only."""

    def forward(self, cls_score, labels, label_weights=None, avg_factor=None,
                reduction_override=None):
        if self.training:
            return super().forward(cls_score, labels, label_weights, avg_factor,
                                   reduction_override)
        saved = self.cum_samples.clone()
        try:
            return super().forward(cls_score, labels, label_weights, avg_factor,
                                   reduction_override)
        finally:
            self.cum_samples.copy_(saved)


@MODELS.register_module()
class FixedEQLV2Loss(EQLV2Loss):
    """mmdet's ``EQLV2Loss`` (same arguments), scored with its own sigmoid activation and with
    gradient statistics collected in training mode only. The head has K+1 outputs, the last one
    the objectness (background) logit."""
    custom_cls_channels = True
    custom_activation = True
    custom_accuracy = True

    def get_cls_channels(self, num_classes):
        if num_classes != self.num_classes:
            raise ValueError(f'FixedEQLV2Loss(num_classes={self.num_classes}) under a head with '
                             f'num_classes={num_classes}: set both to the same K')
        return num_classes + 1

    def get_accuracy(self, cls_score, labels):
        return dict(acc=accuracy(cls_score, labels))

    def collect_grad(self, pred, target, weight):
        if self.training:
            super().collect_grad(pred, target, weight)
