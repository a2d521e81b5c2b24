"""Sigmoid classification losses that use LVIS's per-image lists: federated loss and EQL."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet.registry import MODELS

from .class_weights import UNKNOWN_POLICIES, eql_weights, federated_class_weights, sampled_classes


@MODELS.register_module()
class FederatedSigmoidLoss(nn.Module):
    """Sigmoid BCE over K foreground logits, keeping per RoI only the classes known on its image.

    With ``FedRoIHead`` + ``FedBBoxHead`` the weights come from each image's lists
    (``federated_class_weights``); without them (a stock head) every class counts, or Zhou et al.'s
    frequency-sampled set with ``unknown='sample'``. Loss = sum(w * BCE) / N over N RoIs. The head
    has K outputs (no background logit): background is "no class fires". At test time the scores
    are the same sigmoids (``get_activation``), not a softmax.

    Args:
        num_classes (int): K, the head's number of classes.
        unknown (str): classes neither positive nor verified negative on an image: 'exclude'
            (strictly federated), 'include' (every class) or 'sample' (Zhou et al.: the batch's
            positives plus classes drawn with p ~ freq ** freq_weight_power, `num_sampled` in all).
            Defaults to 'exclude'.
        num_sampled (int, optional): size of the sampled set. Defaults to ``ceil(K * 50 / 1203)``
            (CenterNet2 draws 50 of LVIS's 1,203), at least 1.
        freq_weight_power (float): Defaults to 0.5.
        bias_prob (float): prior probability that initialises the classifier bias (FedBBoxHead),
            so training starts at a small loss instead of K * ln 2 per RoI. Defaults to 0.01.
        loss_weight (float): Defaults to 1.0.
        freq_source (str): where the class frequencies of ``unknown='sample'`` come from:
            'file' (LVIS's image_count) or 'subset' (the training images); set by
            ``ClassFrequencyHook``. Defaults to 'file'.
    """
    # mmdet's BBoxHead reads these: K output channels, our activation and accuracy.
    custom_cls_channels = True
    custom_activation = True
    custom_accuracy = True

    def __init__(self, num_classes: int, unknown: str = 'exclude',
                 num_sampled: Optional[int] = None, freq_weight_power: float = 0.5,
                 bias_prob: float = 0.01, loss_weight: float = 1.0, use_sigmoid: bool = True,
                 freq_source: str = 'file'):
        super().__init__()
        if unknown not in UNKNOWN_POLICIES:
            raise ValueError(f'unknown must be one of {UNKNOWN_POLICIES}, not {unknown!r}')
        self.num_classes, self.unknown = int(num_classes), unknown
        self.num_sampled = (num_sampled if num_sampled is not None
                            else max(1, math.ceil(num_classes * 50 / 1203)))
        self.freq_weight_power, self.bias_prob = freq_weight_power, bias_prob
        self.loss_weight = loss_weight
        self.use_sigmoid = True
        self.freq_source = freq_source
        # Share of the training file's images that contain each class (ClassFrequencyHook).
        self.register_buffer('class_freq', torch.zeros(self.num_classes))
        self.register_buffer('class_freq_set', torch.zeros((), dtype=torch.bool))

    def set_class_frequency(self, freq):
        """f per class (`ClassFrequencyHook`, from datasets/frequency.py)."""
        freq = torch.as_tensor(freq, dtype=torch.float32)
        if freq.numel() != self.num_classes:
            raise ValueError(f'{type(self).__name__}: {freq.numel()} class frequencies for '
                             f'{self.num_classes} classes')
        self.class_freq.copy_(freq)
        self.class_freq_set.fill_(True)

    def get_cls_channels(self, num_classes: int) -> int:
        if num_classes != self.num_classes:
            raise ValueError(f'{type(self).__name__}(num_classes={self.num_classes}) under a head '
                             f'with num_classes={num_classes}: set both to the same K')
        return num_classes

    def get_activation(self, cls_score: torch.Tensor) -> torch.Tensor:
        # mmdet's multiclass_nms drops the last column as background: append a zero one.
        scores = cls_score.sigmoid()
        return torch.cat([scores, scores.new_zeros(len(scores), 1)], dim=1)

    def get_accuracy(self, cls_score, labels):
        with torch.no_grad():
            best, arg = cls_score.max(dim=1)
            pred = torch.where(best > 0, arg, torch.full_like(arg, self.num_classes))
            acc = (pred == labels).float().mean() * 100 if len(labels) else cls_score.sum() * 0
        return dict(acc=acc)

    def class_weights(self, labels, roi_img, pos_labels, neg_labels, ne_labels):
        """The (N, K) weights from per-image lists, with this loss's `unknown` policy."""
        sampled = None
        if self.unknown == 'sample':
            pos = torch.cat([torch.as_tensor(p, dtype=torch.long).reshape(-1)
                             for p in pos_labels]).to(labels.device)
            sampled = self._sample(pos)
        return federated_class_weights(labels, roi_img, pos_labels, neg_labels, ne_labels,
                                       self.num_classes, self.unknown, sampled)

    def _sample(self, pos):
        freq = self.class_freq if bool(self.class_freq_set) else None
        return sampled_classes(pos.unique(), self.num_classes, self.num_sampled, freq,
                               self.freq_weight_power)

    def extra_weights(self, labels):
        """Further (N, K) weights multiplied in (EQL); none here."""
        return None

    def forward(self, cls_score, labels, label_weights=None, avg_factor=None,
                reduction_override=None, class_weights=None):
        n, k = cls_score.shape
        if k != self.num_classes:
            raise ValueError(f'{type(self).__name__}: {k} logits per RoI for {self.num_classes} '
                             'classes')
        target = torch.zeros_like(cls_score)
        fg = (labels < k).nonzero().squeeze(1)
        target[fg, labels[fg].long()] = 1
        w = cls_score.new_ones(n, k) if class_weights is None else class_weights.to(cls_score)
        if class_weights is None and self.unknown == 'sample':
            w = w * self._sample(labels[fg].long()).to(cls_score).view(1, -1)
        extra = self.extra_weights(labels)
        if extra is not None:
            w = w * extra.to(cls_score)
        if label_weights is not None:
            w = w * label_weights.to(cls_score).view(-1, 1)
        bce = F.binary_cross_entropy_with_logits(cls_score, target, reduction='none')
        denom = float(avg_factor) if avg_factor is not None else max(n, 1)
        return self.loss_weight * (w * bce).sum() / denom


@MODELS.register_module()
class EQLLoss(FederatedSigmoidLoss):
    """Equalization loss (Tan et al. 2020), as sigmoid BCE with w_ij = 1 - E_i T_lambda(f_j)(1-y_ij).

    f_j is the share of the training file's images annotated with class j (its ``image_count``,
    ``freq_source='file'``); ``ClassFrequencyHook`` sets it before training. Under ``FedRoIHead``
    + ``FedBBoxHead`` the federated weights multiply in as well; alone (``unknown='include'``) it
    is the paper's loss.

    Args:
        lambda_ (float): tail threshold on f. 0.00177 is the official LVIS v1 value (about 177
            of 100k images); on a small file choose it on that file's scale (e.g. the rare
            group's largest f). Defaults to 0.00177.
        unknown (str): see ``FederatedSigmoidLoss``. Defaults to 'include'.
        **kwargs: ``FederatedSigmoidLoss``'s.
    """

    def __init__(self, num_classes: int, lambda_: float = 0.00177, unknown: str = 'include',
                 **kwargs):
        super().__init__(num_classes, unknown=unknown, **kwargs)
        self.lambda_ = lambda_

    def extra_weights(self, labels):
        if not bool(self.class_freq_set):
            raise RuntimeError('EQLLoss has no class frequencies: ClassFrequencyHook sets them before '
                               'training (default_hooks.class_frequency in '
                               'configs/_base_/default_runtime.py); outside a runner call '
                               'set_class_frequency(f) first')
        return eql_weights(labels, self.num_classes, self.class_freq, self.lambda_)
