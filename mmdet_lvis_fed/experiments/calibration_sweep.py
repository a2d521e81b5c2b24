"""The calibration sweep (experiments/calibration.py): one inference pass re-scored for every
gamma, each gamma's detections judged by its own LVISFedMetric, and the choice among them."""
import contextlib

GROUPS = ('AP', 'APr', 'APc', 'APf')


@contextlib.contextmanager
def box_forward_once(roi_head):
    """Within the block the box head runs once: later calls of `_bbox_forward` (one per gamma, on
    the same RoIs) get the first call's class logits and box regressions."""
    import torch
    # StandardRoIHead.predict_bbox calls _bbox_forward and then the head's predict_by_feat (the
    # calibration): sharing this one call is the smallest hook that re-scores without re-running.
    original, cache = roi_head._bbox_forward, {}

    def once(x, rois):
        if 'out' not in cache:
            cache['rois'], cache['out'] = rois, original(x, rois)
        elif not torch.equal(cache['rois'], rois):
            raise RuntimeError('box_forward_once: the RoIs changed between gammas')
        return cache['out']

    roi_head._bbox_forward = once
    try:
        yield
    finally:
        del roi_head._bbox_forward


def rescale_like_mask_head(results, metas):
    """The boxes in original-image coordinates, by the very operation FCNMaskHead's
    _predict_by_feat_single applies when a mask head runs (mmdet 3.3: boxes NMSed at the
    network's scale, then divided in place by the scale factor), so that box-only numbers equal
    `mim test`'s."""
    for res, meta in zip(results, metas):
        if res.bboxes.shape[0]:
            res.bboxes /= res.bboxes.new_tensor(meta['scale_factor']).repeat((1, 2))
    return results


def predict_all(model, batch, gammas, with_masks):
    """Yield (gamma, the batch's data samples with pred_instances) for every gamma, from one
    backbone, RPN and box head pass; the samples are overwritten by the next gamma's."""
    roi_head, head = model.roi_head, model.roi_head.bbox_head
    data = model.data_preprocessor(batch, False)
    samples = data['data_samples']
    x = model.extract_feat(data['inputs'])
    rpn_results = model.rpn_head.predict(x, samples, rescale=False)
    metas = [s.metainfo for s in samples]
    with box_forward_once(roi_head):
        for g in gammas:
            head.calibration.gamma = g
            results = roi_head.predict_bbox(x, metas, rpn_results, rcnn_test_cfg=roi_head.test_cfg,
                                            rescale=not roi_head.with_mask)
            if roi_head.with_mask and with_masks:
                results = roi_head.predict_mask(x, metas, results, rescale=True)
            elif roi_head.with_mask:
                results = rescale_like_mask_head(results, metas)
            yield g, model.add_pred_to_datasample(samples, results)


def sweep(model, loader, gammas, metric_cfg, with_masks):
    """{gamma: {'bbox_AP': .., ...}} on every image of the loader."""
    import torch
    from ..evaluation.lvis_fed_metric import LVISFedMetric
    iou_types = ['bbox', 'segm'] if with_masks else ['bbox']
    metrics = {g: LVISFedMetric(metric=iou_types, **metric_cfg) for g in gammas}
    for m in metrics.values():
        m.dataset_meta = loader.dataset.metainfo
    n = 0
    with torch.no_grad():
        for i, batch in enumerate(loader):
            for g, samples in predict_all(model, batch, gammas, with_masks):
                metrics[g].process(batch, [s.to_dict() for s in samples])
            n += len(batch['inputs'])
            if (i + 1) % 100 == 0:
                print(f'{n} / {len(loader.dataset)} images', flush=True)
    return {g: {k.split('/', 1)[-1]: float(v) for k, v in m.evaluate(n).items()}
            for g, m in metrics.items()}


def choose(rows, metric, max_apf_drop):
    """The chosen gamma (module docstring); rows: {gamma: numbers}, with gamma 0."""
    if metric == 'AP':
        candidates = list(rows)
    else:
        floor = rows[0.0]['bbox_APf'] - max_apf_drop
        candidates = [g for g in rows if rows[g]['bbox_APf'] >= floor - 1e-12]
    key = f'bbox_{metric}'
    return max(sorted(candidates), key=lambda g: (rows[g][key], -g))


def table(rows, with_masks, chosen=None):
    tasks = ['bbox', 'segm'] if with_masks else ['bbox']
    head = ['gamma'] + [f'{"box" if t == "bbox" else "mask"} {g}' for t in tasks for g in GROUPS]
    lines = ['  '.join(f'{h:>9}' for h in head)]
    for g in sorted(rows):
        cells = [f'{g:>9g}'] + [f'{rows[g][f"{t}_{k}"]:>9.4f}' for t in tasks for k in GROUPS]
        lines.append('  '.join(cells) + ('  <- chosen' if g == chosen else ''))
    return lines
