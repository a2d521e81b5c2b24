"""Test-time score calibration by class frequency (NorCal, Pan et al., NeurIPS 2021).

One rule for every box head: before the head's own activation, subtract gamma * log(f_c) from each
of the K foreground logits, leaving the background / objectness logits alone. f_c is class c's
training frequency (datasets/frequency.py, 'file' or 'subset').

* Softmax head (K+1 logits, the last one background): this is NorCal's p_c / f_c^gamma,
  renormalised, background untouched. Proof: with z'_c = z_c - gamma log f_c for c < K and
  z'_bg = z_bg,

      softmax(z')_c = e^(z_c) f_c^-gamma / (sum_(j<K) e^(z_j) f_j^-gamma + e^(z_bg))

  and dividing numerator and denominator by Z = sum_j e^(z_j) + e^(z_bg) gives, with
  p = softmax(z),

      softmax(z')_c = (p_c / f_c^gamma) / (sum_(j<K) p_j / f_j^gamma + p_bg),

  i.e. each foreground probability divided by f^gamma, the background probability kept, all
  renormalised to sum to 1.
* Sigmoid classes, K logits (the federated loss, EQL): the score becomes sigmoid(z_c - gamma log
  f_c), the class's odds divided by f_c^gamma (the prior correction of logit adjustment). Sigmoid
  classes do not compete, so there is nothing to renormalise, and a class's detections keep their
  order, within an image and across images (NMS is per class): calibration moves a class's AP only
  through what is decided across classes, the per-image detection cap (``max_per_img`` over all
  classes, and the evaluator's 300 per image) and the score threshold (``score_thr``), which is
  exactly where a rare class's low scores are cut.
* Sigmoid classes with an objectness (EQLv2, ECM: K+1 logits, scored sigmoid(z_c) (1 - s_obj)):
  sigmoid(z_c - gamma log f_c) (1 - s_obj), the same odds correction with the objectness
  unchanged. Here a class's detections of different objectness can change order.
* Seesaw (K class logits under a softmax, then two objectness logits): p_c / f_c^gamma
  renormalised over the K classes, times the unchanged objectness.

gamma = 0 returns the logits untouched: the predictions are the uncalibrated model's, bit for bit.

``CalibratedBBoxHead`` is mmdet's ``Shared2FCBBoxHead`` with ``calibration=dict(gamma=...,
freq_source=...)``; ``FedBBoxHead`` takes the same argument. Both only override
``predict_by_feat`` (the per-image class logits are shifted, then mmdet's own activation and NMS
run). The frequencies come from ``ClassFrequencyHook``: from the training dataset in training, and
from the checkpoint's ``meta.dataset_meta`` (the data it was trained on) when ``mim test`` or
``load_from`` loads it. They sit in a non-persistent buffer, so the head's state dict is the stock
head's: a checkpoint trained with ``Shared2FCBBoxHead`` loads with no missing or unexpected keys.
"""
import math
from typing import Optional

import torch
import torch.nn as nn

from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS

from ..datasets.frequency import FREQ_SOURCES


class ScoreCalibration(nn.Module):
    """Subtract gamma * log(f_c) from the first K class logits (module docstring).

    A submodule of the calibrated box head, so that ``ClassFrequencyHook`` finds it (it has
    ``set_class_frequency`` and ``freq_source``) only when calibration is on.

    Args:
        gamma (float): strength; 0 leaves every score as it is. Defaults to 0.5.
        freq_source (str): 'file' (LVIS's image_count over the images it was counted on) or
            'subset' (the share of the training images holding the class). Defaults to 'file'.
    """

    def __init__(self, gamma: float = 0.5, freq_source: str = 'file'):
        super().__init__()
        if freq_source not in FREQ_SOURCES:
            raise ValueError(f'calibration freq_source must be one of {FREQ_SOURCES}, not '
                             f'{freq_source!r}')
        gamma = float(gamma)
        if not math.isfinite(gamma) or gamma < 0:
            raise ValueError(f'calibration gamma must be a finite number >= 0, not {gamma}')
        self.gamma, self.freq_source = gamma, freq_source
        self.register_buffer('log_freq', torch.zeros(0), persistent=False)

    def extra_repr(self):
        return f'gamma={self.gamma}, freq_source={self.freq_source!r}'

    def set_class_frequency(self, freq):
        """f per class label, K values > 0 (``ClassFrequencyHook``)."""
        freq = torch.as_tensor(freq, dtype=torch.float64).reshape(-1)
        bad = [i for i, f in enumerate(freq.tolist()) if not (f > 0 and math.isfinite(f))]
        if bad:
            raise ValueError(
                f'calibration: class label {bad[0]} has frequency {freq[bad[0]].item()} '
                f'(freq_source={self.freq_source!r}): dividing by f^gamma needs f > 0. Use '
                "freq_source='file', or classes that occur in the training split")
        self.log_freq = torch.log(freq).float().to(self.log_freq.device)

    def forward(self, cls_score: torch.Tensor, num_classes: int) -> torch.Tensor:
        """The logits with the first ``num_classes`` columns shifted by -gamma log f."""
        if self.gamma == 0:
            return cls_score
        if self.log_freq.numel() == 0:
            raise RuntimeError(
                f'calibration (gamma={self.gamma}) has no class frequencies. They come from the '
                "training data: ClassFrequencyHook (default_hooks.class_frequency in "
                'configs/_base_/default_runtime.py) reads them from the checkpoint\'s '
                'meta.dataset_meta when mim test / load_from loads it. Outside a runner '
                '(init_detector, DetInferencer) call roi_head.bbox_head.calibration.'
                'set_class_frequency(class_frequency(model.dataset_meta, freq_source)) '
                '(mmdet_lvis_fed.datasets.frequency)')
        if self.log_freq.numel() != num_classes:
            raise ValueError(f'calibration: {self.log_freq.numel()} class frequencies for a head '
                             f'with {num_classes} classes')
        shift = self.gamma * self.log_freq.to(cls_score)
        return torch.cat([cls_score[:, :num_classes] - shift, cls_score[:, num_classes:]], dim=1)


class CalibrationMixin:
    """Adds ``calibration=dict(gamma=..., freq_source=...)`` (None = off) to a ``BBoxHead``:
    ``predict_by_feat`` shifts the first K logits of each image's RoIs (``ScoreCalibration``),
    then runs the head's own activation and NMS."""

    def __init__(self, *args, calibration: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.calibration = None if calibration is None else ScoreCalibration(**calibration)

    def cls_channels(self) -> int:
        """Class outputs per RoI: K+1 for mmdet's softmax, else what the class loss asks for
        (K: federated / EQL; K+1: EQLv2, ECM; K+2: Seesaw). The first K are always the classes."""
        if self.custom_cls_channels:
            return self.loss_cls.get_cls_channels(self.num_classes)
        return self.num_classes + 1

    def calibrate(self, cls_score: torch.Tensor) -> torch.Tensor:
        if self.calibration is None or cls_score is None:
            return cls_score
        if cls_score.dim() != 2 or cls_score.size(1) != self.cls_channels():
            raise ValueError(f'calibration: class logits of shape {tuple(cls_score.shape)}, '
                             f'expected (RoIs, {self.cls_channels()})')
        return self.calibration(cls_score, self.num_classes)

    def predict_by_feat(self, rois, cls_scores, bbox_preds, batch_img_metas,
                        rcnn_test_cfg=None, rescale=False):
        cls_scores = tuple(self.calibrate(s) for s in cls_scores)
        return super().predict_by_feat(rois, cls_scores, bbox_preds, batch_img_metas,
                                       rcnn_test_cfg=rcnn_test_cfg, rescale=rescale)


@MODELS.register_module()
class CalibratedBBoxHead(CalibrationMixin, Shared2FCBBoxHead):
    """mmdet's ``Shared2FCBBoxHead`` with test-time calibration by class frequency (module
    docstring); same state dict.

    Args:
        calibration (dict, optional): ``dict(gamma=..., freq_source='file' | 'subset')``; None
            is the plain head. Defaults to None.
        *args, **kwargs: ``Shared2FCBBoxHead``'s.
    """
