"""Effective class-margin loss (Cho and Kraehenbuehl, "Long-tail detection with effective
class-margins", ECCV 2022), written from the rule of the authors' mmdet implementation
(janghyuncho/ECM-Loss, `effective_class_margin_loss.py` and `ecm_utils.py`).

The head has K+1 class outputs, the last one background (an objectness logit). With n_j the
training image counts of the K classes and n_K = fg_bg_ratio * sum_j n_j for background (the
authors' 6.3313 is the foreground/background ratio they measured on Mask R-CNN's sampled RoIs),
N = sum of all K+1 entries and m_j = N - n_j:

    pos_w_j = log((n_j^(1/4) + m_j^(1/4)) / m_j^(1/4))     margin of channel j on its positives
    neg_w_j = log((n_j^(1/4) + m_j^(1/4)) / n_j^(1/4))     and on its negatives
    p_ij    = e^(z_ij + pos_w_j) / (e^(z_ij + pos_w_j) + e^(-z_ij + neg_w_j))
            = sigmoid(2 z_ij + pos_w_j - neg_w_j)
    a_j     = (N - n_j) / n_j,   w_j = a_j log((1 + a_j) / a_j)
    L       = loss_weight / B * sum_i sum_j w_j BCE(p_ij, y_ij)

over B RoIs, y_i one-hot over the K+1 channels (a background RoI is a positive of channel K).
Every quantity is invariant to scaling all n by one factor, so frequencies over a common
denominator (datasets/frequency.py: 'file' or 'subset') stand for the counts. At test time the
scores are the plain sigmoids of the logits, the K foreground ones times 1 - s_K (the margins are
a training device), as in the authors' `get_activation`.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet.registry import MODELS

from ..datasets.frequency import FREQ_SOURCES


def ecm_margins(freq, fg_bg_ratio):
    """(pos_w - neg_w, w) per channel, K+1 each (float64), from K class frequencies or counts."""
    n = torch.as_tensor(freq, dtype=torch.float64).reshape(-1)
    n = torch.cat([n, n.sum().reshape(1) * fg_bg_ratio])
    m = n.sum() - n
    pos_w = torch.log((n ** 0.25 + m ** 0.25) / m ** 0.25)
    neg_w = torch.log((n ** 0.25 + m ** 0.25) / n ** 0.25)
    a = m / n
    return pos_w - neg_w, a * torch.log((1 + a) / a)


@MODELS.register_module()
class ECMLoss(nn.Module):
    """Effective class-margin loss for a box head with K+1 class outputs (the last one
    background / objectness); formulas in the module docstring.

    Use it with the authors' normalised classifier on a stock ``Shared2FCBBoxHead``
    (``cls_predictor_cfg=dict(type='NormedLinear', tempearture=20)``, the piece ``ecm_loss`` of
    ``configs/_base_/longtail.py``). The class frequencies come from ``ClassFrequencyHook``
    (``set_class_frequency``) before training; they are kept in non-persistent buffers, so the
    head's state dict is a stock head's and any checkpoint of the same head shape loads into it.
    The loss has no statistics that change during training.

    Args:
        num_classes (int): K, the head's number of classes.
        fg_bg_ratio (float): n_background / sum of the K class counts. Defaults to 6.3313 (the
            authors' value, measured on Mask R-CNN).
        freq_source (str): 'file' (LVIS's image_count over the images it was counted on) or
            'subset' (the share of the training images); see datasets/frequency.py. Defaults to
            'file'.
        loss_weight (float): Defaults to 1.0.
        use_sigmoid (bool): accepted for mmdet's configs; the loss is always sigmoid-based.
    """
    # mmdet's BBoxHead reads these: K+1 output channels, our activation and accuracy.
    custom_cls_channels = True
    custom_activation = True
    custom_accuracy = True

    def __init__(self, num_classes: int, fg_bg_ratio: float = 6.3313, freq_source: str = 'file',
                 loss_weight: float = 1.0, use_sigmoid: bool = True):
        super().__init__()
        if freq_source not in FREQ_SOURCES:
            raise ValueError(f'freq_source must be one of {FREQ_SOURCES}, not {freq_source!r}')
        if not fg_bg_ratio > 0:
            raise ValueError(f'fg_bg_ratio must be > 0, not {fg_bg_ratio}')
        self.num_classes, self.fg_bg_ratio = int(num_classes), float(fg_bg_ratio)
        self.freq_source, self.loss_weight = freq_source, loss_weight
        self.use_sigmoid = True
        # Non-persistent: computed from the training data at start-up, never saved, so a
        # checkpoint of another loss with the same head loads without unexpected keys.
        for name in ('class_freq', 'margin', 'class_weight'):
            self.register_buffer(name, torch.zeros(0), persistent=False)

    def set_class_frequency(self, freq):
        """f (or counts) per class, K values > 0 (``ClassFrequencyHook``)."""
        freq = torch.as_tensor(freq, dtype=torch.float64).reshape(-1)
        if freq.numel() != self.num_classes:
            raise ValueError(f'ECMLoss: {freq.numel()} class frequencies for {self.num_classes} '
                             'classes')
        bad = [i for i, f in enumerate(freq.tolist()) if not (f > 0 and math.isfinite(f))]
        if bad:
            raise ValueError(
                f'ECMLoss: class label {bad[0]} has frequency {freq[bad[0]].item()} '
                f"(freq_source={self.freq_source!r}): its margins log(n^(1/4) + m^(1/4)) - "
                'log(n^(1/4)) are undefined for a class with no training images. Use '
                "freq_source='file', or classes that occur in the training split")
        margin, weight = ecm_margins(freq, self.fg_bg_ratio)
        device = self.class_freq.device
        self.class_freq = freq.float().to(device)
        self.margin = margin.float().to(device)
        self.class_weight = weight.float().to(device)

    def get_cls_channels(self, num_classes: int) -> int:
        if num_classes != self.num_classes:
            raise ValueError(f'ECMLoss(num_classes={self.num_classes}) under a head with '
                             f'num_classes={num_classes}: set both to the same K')
        return num_classes + 1

    def get_activation(self, cls_score: torch.Tensor) -> torch.Tensor:
        """sigmoid of every logit; the K foreground scores times 1 - s_background."""
        scores = cls_score.sigmoid()
        k = self.num_classes
        return torch.cat([scores[:, :k] * (1 - scores[:, k:]), scores[:, k:]], dim=1)

    def get_accuracy(self, cls_score, labels):
        """Objectness accuracy over all RoIs (background when its logit > 0) and class accuracy
        (argmax of the K foreground logits) over the foreground RoIs, in percent."""
        k = self.num_classes
        with torch.no_grad():
            is_bg = labels == k
            acc_obj = ((cls_score[:, k] > 0) == is_bg).float().mean() * 100
            fg = ~is_bg
            acc_cls = ((cls_score[fg, :k].argmax(dim=1) == labels[fg]).float().mean() * 100
                       if fg.any() else cls_score.sum() * 0)
        return dict(acc_objectness=acc_obj, acc_classes=acc_cls)

    def forward(self, cls_score, labels, label_weights=None, avg_factor=None,
                reduction_override=None):
        """The loss summed over RoIs and channels, divided by the number of RoIs B (the authors'
        normalisation: ``avg_factor`` and ``reduction_override`` are not used). ``label_weights``
        multiply each RoI's terms (mmdet's sampled RoIs all have weight 1)."""
        if self.margin.numel() == 0:
            raise RuntimeError(
                'ECMLoss has no class frequencies: ClassFrequencyHook sets them before training '
                '(default_hooks.class_frequency in configs/_base_/default_runtime.py); outside a '
                'runner call set_class_frequency(f) first')
        b, c = cls_score.shape
        if c != self.num_classes + 1:
            raise ValueError(f'ECMLoss: {c} logits per RoI, expected K+1 = '
                             f'{self.num_classes + 1}')
        target = F.one_hot(labels.long(), c).to(cls_score)
        # p = sigmoid(2z + pos_w - neg_w); -(y log p + (1-y) log(1-p)) computed from the logit.
        x = 2 * cls_score + self.margin.to(cls_score)
        bce = F.binary_cross_entropy_with_logits(x, target, reduction='none')
        loss = bce * self.class_weight.to(cls_score)
        if label_weights is not None:
            loss = loss * label_weights.to(cls_score).view(-1, 1)
        return self.loss_weight * loss.sum() / max(b, 1)
