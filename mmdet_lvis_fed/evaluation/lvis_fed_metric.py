"""`LVISFedMetric`: the federated evaluator as an mmengine metric (gathering and formatting only)."""
import logging
import os
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_local_path
from mmengine.logging import MMLogger, print_log

from mmdet.registry import METRICS

from ..errors import LVISFormatError
from ..io import atomic_write_json
from .columns import index_of
from .federated_eval import IOU_TYPES, evaluate
from .ground_truth import LVISGroundTruth
from .masks import RLEColumn
from .params import AREA_LABELS, IOU_THRS
from .report import frequency_table, per_category_table
from .detections import detections_from_predictions
from .results_writer import write_results_json


@METRICS.register_module()
class LVISFedMetric(BaseMetric):
    """Box, mask and Boundary AP per frequency group under the federated LVIS rules.

    Reports ``lvis_fed/bbox_AP``, ``lvis_fed/bbox_APr``, ..., ``lvis_fed/segm_...`` and
    ``lvis_fed/boundary_...`` with the official numbers (AP, AP50, AP75, APs, APm, APl, APr, APc,
    APf, AR@300, ...; the keys of `summary.summary_keys`). Only the images that were processed
    are evaluated, so a split or a filtered subset is judged on itself. The LVIS challenge 2021
    protocol is ``metric='boundary', max_dets=-1, max_dets_per_cat=10000``; mmdet caps
    detections per image in the model's ``test_cfg`` before they reach the metric
    (``configs/_base_/lvis-fixed-ap_test.py`` removes that cap and tests with the two-pass
    ``TopKTestLoop``, which hands the metric each class's top detections with masks).

    Args:
        ann_file (str, optional): LVIS annotation file. Defaults to the dataset's (its metainfo
            carries ``ann_file`` when it is an ``LVISFedDataset``).
        metric (str | list[str]): 'bbox', 'segm', 'boundary' (Boundary AP: min(mask IoU,
            boundary IoU)), or several. Defaults to ('bbox', 'segm').
        classes (list[str], optional): category names of labels 0..K-1 when the dataset's metainfo
            has no ``lvis_cat_ids``; with neither, label i is the file's i-th category by id.
        classwise (bool): also print a per-category table. Defaults to False.
        format_only (bool): only write LVIS results JSON (the official server's format) to
            ``outfile_prefix``.bbox.json / .segm.json, without evaluating. Defaults to False.
        outfile_prefix (str, optional): where results JSON goes. Defaults to None.
        out_dir (str, optional): where ``lvis_fed_per_category.json`` goes (AP at each IoU per
            category, for tools/plot_ap_iou.py). Defaults to the run's log folder in the work dir.
        mask_area (bool): segm: judge small / medium / large (and the area > 0 rule) by each
            mask's own area, as detectron2 does. Defaults to False: lvis-api's rule, the box area
            (so the numbers are the ones the LVIS server gives). ``tools/lvis_eval.py --mask-area``
            is the same option.
        max_dets (int): detections kept per image; -1 keeps all. Defaults to 300 (the LVIS
            rule).
        max_dets_per_cat (int): detections kept per category over all processed images (after
            the per-image cap); -1 keeps all. Defaults to -1. Fixed AP: 10000 with max_dets=-1.
        pooled (bool): also report AP-pool (``AP-pool``, ``APr-pool``, ...). Defaults to False.
        dilation_ratio (float): boundary: d = max(1, round(ratio x image diagonal)). Defaults
            to 0.02 (the official value).
        collect_device, prefix, backend_args: as in mmengine/mmdet metrics.
    """
    default_prefix: Optional[str] = 'lvis_fed'

    def __init__(self, ann_file: Optional[str] = None,
                 metric: Union[str, Sequence[str]] = ('bbox', 'segm'),
                 classes: Optional[Sequence[str]] = None, classwise: bool = False,
                 format_only: bool = False, outfile_prefix: Optional[str] = None,
                 out_dir: Optional[str] = None, mask_area: bool = False, max_dets: int = 300,
                 max_dets_per_cat: int = -1, pooled: bool = False, dilation_ratio: float = 0.02,
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = [metric] if isinstance(metric, str) else list(metric)
        bad = [m for m in self.metrics if m not in IOU_TYPES]
        if bad or not self.metrics:
            raise KeyError(f'metric must be among {IOU_TYPES}, got {self.metrics}')
        if format_only and not outfile_prefix:
            raise ValueError('format_only=True needs outfile_prefix to write the results to')
        self.ann_file, self.classes, self.classwise = ann_file, classes, classwise
        self.format_only, self.outfile_prefix, self.out_dir = format_only, outfile_prefix, out_dir
        self.mask_area, self.max_dets = mask_area, max_dets
        self.max_dets_per_cat, self.pooled = max_dets_per_cat, pooled
        self.dilation_ratio = dilation_ratio
        self.with_masks = any(m in ('segm', 'boundary') for m in self.metrics)
        self.backend_args = backend_args
        self._gt, self._gt_key = None, None

    def process(self, data_batch, data_samples):
        """Keep each image's predictions as arrays, in the dtypes the model gave (they are taken
        to float64 as mmdet's own metric does, see `detections_from_predictions`), and masks as
        packed RLE."""
        for sample in data_samples:
            pred = sample['pred_instances']
            boxes = _numpy(pred['bboxes']).reshape(-1, 4)
            entry = dict(img_id=int(sample['img_id']), bboxes=boxes,
                         scores=_numpy(pred['scores']).reshape(-1),
                         labels=_numpy(pred['labels']).astype(np.int64).reshape(-1))
            if self.with_masks:
                entry['masks'] = _encode_masks(pred.get('masks'), sample['ori_shape'], len(boxes),
                                               sample.get('img_id'))
            self.results.append(entry)

    def compute_metrics(self, results: list) -> dict:
        logger = MMLogger.get_current_instance()
        if not results:
            raise LVISFormatError('LVISFedMetric: no predictions to evaluate (the loop processed '
                                  'no images: is the dataset empty?)')
        gt = self._ground_truth()
        cat_ids = self._label_to_cat_id(gt)
        img_ids = np.array([r['img_id'] for r in results], np.int64)
        dets = detections_from_predictions(results, cat_ids, 'predictions', self.with_masks)
        if self.format_only:
            # one file per kind: boxes, and boxes with masks (what segm and boundary read)
            kinds = dict.fromkeys('segm' if m == 'boundary' else m for m in self.metrics)
            for iou_type in kinds:
                path = write_results_json(dets, iou_type, f'{self.outfile_prefix}.{iou_type}.json')
                print_log(f'results written to {path}', logger)
            return {}

        metrics, per_cat, tables = {}, {}, []
        for iou_type in self.metrics:
            res = evaluate(gt, dets, iou_type, cat_ids=cat_ids, img_ids=img_ids,
                           max_dets=self.max_dets, mask_area=self.mask_area,
                           max_dets_per_cat=self.max_dets_per_cat, pooled=self.pooled,
                           dilation_ratio=self.dilation_ratio)
            for key, value in res.summary.items():
                metrics[f'{iou_type}_{key}'] = round(float(value), 4)
            per_cat[iou_type] = res.per_category()
            tables.append(res)
            if self.classwise:
                print_log(f'\n{iou_type} AP per category:\n' + per_category_table(res), logger)
        print_log(f'\nLVIS federated evaluation ({len(img_ids)} images, {len(cat_ids)} '
                  'categories):\n' + frequency_table(tables), logger)
        self._write_per_category(per_cat, logger)
        return metrics

    def _ground_truth(self):
        meta = self.dataset_meta or {}
        ann_file = self.ann_file or meta.get('ann_file')
        if not ann_file:
            raise ValueError('LVISFedMetric needs ann_file, or a dataset whose metainfo has it '
                             '(LVISFedDataset)')
        # With the subset known, only its categories' annotations are read (and cached).
        cat_ids = tuple(meta['lvis_cat_ids']) if meta.get('lvis_cat_ids') else None
        if self._gt is None or self._gt_key != (ann_file, cat_ids):
            with get_local_path(ann_file, backend_args=self.backend_args) as path:
                self._gt = LVISGroundTruth.from_file(path, cat_ids)
            self._gt.source, self._gt_key = ann_file, (ann_file, cat_ids)
        return self._gt

    def annotated_labels(self):
        """{img_id: the labels (0..K-1) annotated on that image}. Only these detections are
        compared with a mask of the ground truth: under the federated rules any other detection
        is dropped (its class was not checked on the image) or a false positive (checked absent)
        whatever its mask, its area being its box's (`mask_area=False`). `TopKTestLoop`
        computes masks for these alone."""
        gt = self._ground_truth()
        cat_ids = self._label_to_cat_id(gt)
        label_of = np.full(gt.num_cats, -1, np.int64)
        label_of[index_of(cat_ids, gt.cat_ids, lambda i: LVISFormatError(
            f'{gt.source}: no category has the id {cat_ids[i]} of label {i}'))] = \
            np.arange(len(cat_ids))
        labels, imgs = label_of[gt.ann_cat], gt.img_ids[gt.ann_img]
        pairs = np.unique(np.stack([imgs, labels], 1)[labels >= 0], axis=0)
        cuts = np.flatnonzero(np.diff(pairs[:, 0])) + 1
        return {int(p[0, 0]): p[:, 1] for p in np.split(pairs, cuts) if len(p)}

    def _label_to_cat_id(self, gt):
        meta = self.dataset_meta or {}
        if meta.get('lvis_cat_ids'):
            return np.asarray(meta['lvis_cat_ids'], np.int64)
        return gt.cat_ids_of(self.classes)

    def _write_per_category(self, per_cat, logger):
        out_dir = self.out_dir or _log_dir(logger)
        if out_dir is None:
            return
        os.makedirs(out_dir, exist_ok=True)
        path = osp.join(out_dir, 'lvis_fed_per_category.json')
        atomic_write_json(dict(iou_thrs=[float(t) for t in IOU_THRS], area=AREA_LABELS[0],
                               **per_cat), path)
        print_log(f'per-category AP at each IoU written to {path}', logger)


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def _encode_masks(masks, ori_shape, n, img_id=None):
    h, w = int(ori_shape[0]), int(ori_shape[1])
    if masks is None:
        raise ValueError('segm evaluation needs pred_instances.masks (a mask head in the model)')
    if isinstance(masks, RLEColumn):       # TopKTestLoop's pass 2 encodes them itself
        if len(masks) != n or (masks.heights != h).any() or (masks.widths != w).any():
            raise ValueError(f'LVISFedMetric: image {img_id}: pred_instances.masks holds '
                             f'{len(masks)} RLE masks, not {n} of {h} x {w}')
        return masks
    masks = _numpy(masks)
    if n == 0:
        return RLEColumn.from_rles([])
    # mmdet pastes each mask onto the whole original image (rescale=True): (n, h, w). Anything
    # else (masks at the resized scale, a model run with rescale=False) would be compared with
    # ground truth at another size.
    if masks.shape != (n, h, w):
        raise ValueError(
            f'LVISFedMetric: image {img_id}: pred_instances.masks has shape {tuple(masks.shape)}, '
            f'not ({n}, {h}, {w}): one mask per detection at the original image size (ori_shape '
            f'{h} x {w}). Predict with rescale=True, as mmdet\'s test loops do')
    return RLEColumn.from_masks(masks)


def _log_dir(logger):
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            return osp.dirname(handler.baseFilename)
    return None
