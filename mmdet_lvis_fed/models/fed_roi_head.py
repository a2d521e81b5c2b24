"""Hand each RoI's image lists (positives, verified negatives, not-exhaustive) to the class loss.

mmdet's `StandardRoIHead.loss` drops the image metadata before `bbox_loss`, and `SamplingResult`
carries none. `FedRoIHead.loss` puts the batch's lists on the bbox head for the duration of one
call; `FedBBoxHead.loss` finds each RoI's image in `rois[:, 0]` and turns the lists into the
loss's (N, K) class weights. Neither copies mmdet's methods.
"""
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS
from mmengine.model.weight_init import bias_init_with_prob, constant_init

from .calibration import CalibrationMixin


def image_lists(data_samples):
    """(positives, negatives, not-exhaustive) label lists per image of a batch."""
    pos, neg, ne = [], [], []
    for ds in data_samples:
        meta = ds.metainfo
        if 'neg_labels' not in meta or 'not_exhaustive_labels' not in meta:
            raise KeyError('FedRoIHead needs neg_labels and not_exhaustive_labels in each '
                           "sample's metainfo: add them to PackDetInputs' meta_keys in the train "
                           'pipeline (mmdet_lvis_fed.datasets.FED_META_KEYS)')
        pos.append(ds.gt_instances.labels)
        neg.append(meta['neg_labels'])
        ne.append(meta['not_exhaustive_labels'])
    return pos, neg, ne


@MODELS.register_module()
class FedRoIHead(StandardRoIHead):
    """``StandardRoIHead`` whose bbox head sees each image's federated lists during ``loss``."""

    def loss(self, x, rpn_results_list, batch_data_samples):
        self.bbox_head.federated_lists = image_lists(batch_data_samples)
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self.bbox_head.federated_lists = None


@MODELS.register_module()
class FedBBoxHead(CalibrationMixin, Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` for sigmoid class losses (``FederatedSigmoidLoss``, ``EQLLoss``).

    The classifier bias starts at the loss's ``bias_prob`` prior. Under ``FedRoIHead`` the loss gets
    the federated class weights of each RoI's image; otherwise it weighs every class.

    Args:
        calibration (dict, optional): test-time calibration by class frequency,
            ``dict(gamma=..., freq_source='file' | 'subset')`` (models/calibration.py); None is
            off. Defaults to None.
        *args, **kwargs: ``Shared2FCBBoxHead``'s.
    """
    federated_lists = None

    def init_weights(self):
        super().init_weights()
        prob = getattr(self.loss_cls, 'bias_prob', None)
        if prob and self.with_cls:
            constant_init(self.fc_cls, val=0, bias=bias_init_with_prob(prob))
            self.fc_cls.weight.data.normal_(0, 0.01)

    def loss(self, cls_score, bbox_pred, rois, labels, label_weights, bbox_targets, bbox_weights,
             reduction_override=None):
        losses = super().loss(None, bbox_pred, rois, labels, label_weights, bbox_targets,
                              bbox_weights, reduction_override)
        if cls_score is None or cls_score.numel() == 0:
            return losses
        weights = None
        if self.federated_lists is not None:
            if not hasattr(self.loss_cls, 'class_weights'):
                raise TypeError(f'{type(self.loss_cls).__name__} takes no per-image class '
                                'weights: use FederatedSigmoidLoss or EQLLoss under FedRoIHead')
            weights = self.loss_cls.class_weights(labels, rois[:, 0].long(),
                                                  *self.federated_lists)
        avg_factor = max(float((label_weights > 0).sum()), 1.)
        losses['loss_cls'] = self.loss_cls(cls_score, labels, label_weights,
                                           avg_factor=avg_factor,
                                           reduction_override=reduction_override,
                                           class_weights=weights)
        losses.update(self.loss_cls.get_accuracy(cls_score, labels))
        return losses
