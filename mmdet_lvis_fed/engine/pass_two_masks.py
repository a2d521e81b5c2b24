"""How `TopKTestLoop`'s pass 2 makes masks: for which detections, and in which form.

Pass 2's cost is the masks of the kept detections (hundreds per image), and most of it is the
mask head's convolutions, not the pasting. Two savings, each exact for what reads the masks:

* RLE from the box (`roi_head_filters.rle_masks`): when `LVISFedMetric` is the only reader, each
  mask is pasted inside its box and encoded there, as the metric keeps it, never as an
  image-sized array.
* Masks where the metric compares them (`masks='evaluated'`, `roi_head_filters.evaluated_masks`):
  the mask head runs only on detections of a class annotated on their image
  (`LVISFedMetric.annotated_labels`); the others get an empty mask. Their boxes, scores and
  labels are untouched, so the per-class thresholds, the metric's per-category cut and its
  false positives are the same, and the numbers too. On LVIS, with a few classes annotated per
  image out of 1,203, that is a small share of the kept detections.

Anything else that reads masks gets mmdet's full-image masks for every detection: a dump
(`--out`), another metric, a hook that draws (`--show-dir`); and `mask_area=True` or
`format_only` make the metric read every mask. The log says which case ran and why. The
annotated classes come from the metric's annotation file, which every rank reads once at the
start of pass 2 (the metric caches it for its evaluation).
"""
from contextlib import ExitStack

from ..evaluation.lvis_fed_metric import LVISFedMetric
from .roi_head_filters import evaluated_masks, rle_masks

MASKS = ('evaluated', 'all')


def plan(evaluator, hooks, masks):
    """(rle, annotated, why): whether masks go to the metric as RLE, the per-image labels that
    need one ({img_id: labels}, or None for every detection), and a line for the log."""
    others = [type(m).__name__ for m in evaluator.metrics if not isinstance(m, LVISFedMetric)]
    drawing = [type(h).__name__ for h in hooks if getattr(h, 'draw', False)]
    if others or drawing:
        return False, None, (f'full-image masks for every kept detection: '
                             f'{", ".join(others + drawing)} reads them')
    readers = [m for m in evaluator.metrics if m.with_masks]
    if masks == 'all':
        return True, None, 'masks for every kept detection (masks=\'all\')'
    if not readers:
        return True, {}, 'no masks: no metric reads them (box AP only)'
    every = [m for m in readers if m.mask_area or m.format_only]
    if every:
        return True, None, ('masks for every kept detection: LVISFedMetric reads every mask '
                            '(mask_area=True or format_only=True)')
    annotated = {}
    for metric in readers:
        for img_id, labels in metric.annotated_labels().items():
            annotated[img_id] = labels if img_id not in annotated else \
                sorted(set(annotated[img_id]) | set(labels))
    return True, annotated, ('masks only for kept detections of a class annotated on their '
                             'image (masks=\'evaluated\'): the metric compares no other mask')


def enter(stack: ExitStack, roi_head, rle, annotated, computed):
    """Apply the plan to the RoI head for the life of `stack` (after `chunked_masks`, so that
    the detections are chosen before they are cut into chunks). `computed` (a one-element
    int64 array) counts the masks computed where only some are."""
    if not getattr(roi_head, 'with_mask', False):
        return
    if annotated is not None:
        empty = []
        stack.enter_context(evaluated_masks(
            roi_head, lambda meta: annotated.get(meta['img_id'], empty), computed))
    if rle:
        stack.enter_context(rle_masks(roi_head))
