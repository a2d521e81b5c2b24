"""Plain-text tables of evaluation results (framework-free)."""
from .params import FREQ_GROUPS
from .summary import AP_KEYS, POOL_KEYS, recall_keys

IOU_NAMES = dict(bbox='box IoU', segm='mask IoU', boundary='Boundary IoU')


def _fmt(v):
    return '   -  ' if v is None or v < 0 else f'{v:6.3f}'


def table_keys(res):
    """The summary keys a table shows: the APs, AR under the run's caps, and AP-pool if run."""
    p = res.protocol
    return (AP_KEYS + recall_keys(p['max_dets'], p['max_dets_per_cat'])[:1]
            + (POOL_KEYS if p['pooled'] else ()))


def protocol_line(res, *more):
    """Which protocol produced the numbers, in words: `res` and the `more` results of the same
    table (one per IoU type, under the same caps)."""
    p = res.protocol
    max_dets, per_cat = p['max_dets'], p['max_dets_per_cat']
    rows = (res,) + more
    boundary = [r.protocol['dilation_ratio'] for r in rows if r.iou_type == 'boundary']
    challenge = (boundary == [0.02] and per_cat == 10000 and max_dets < 0 and not p['mask_area'])
    plain = not boundary and max_dets == 300 and per_cat < 0 and not p['mask_area']
    name = ('LVIS challenge 2021 (Boundary AP, Fixed AP)' if challenge else
            'lvis-api 0.5.3' if plain else 'custom')
    parts = [', '.join(IOU_NAMES[r.iou_type] + (
        f' (min of mask and boundary IoU, dilation ratio {r.protocol["dilation_ratio"]})'
        if r.iou_type == 'boundary' else '') for r in rows)]
    parts.append(f'at most {max_dets} detections per image' if max_dets >= 0 else
                 'no per-image cap')
    if per_cat >= 0:
        parts.append(f'at most {per_cat} per category' + (
            f' ({res.short_categories} of {len(res.cat_ids)} categories have fewer)'
            if res.short_categories else ''))
    if p['mask_area']:
        parts.append('areas of the masks')
    if p['pooled']:
        parts.append('AP-pool over all, r, c, f')
    return f'protocol: {name}: ' + ', '.join(parts)


def frequency_table(results):
    """One row per iou type; groups with no evaluable category show '-' (lvis-api's -1)."""
    if not results:
        return ''
    keys = table_keys(results[0])
    widths = [max(8, len(k) + 2) for k in keys]
    lines = [protocol_line(*results),
             f'{"":8}' + ''.join(f'{k:>{w}}' for k, w in zip(keys, widths))]
    for res in results:
        lines.append(f'{res.iou_type:<8}' + ''.join(f'{_fmt(res.summary.get(k)):>{w}}'
                                                      for k, w in zip(keys, widths)))
    counts = {f: sum(1 for k, q in enumerate(results[0].cat_freq)
                     if q == f and results[0].num_gt[k] > 0) for f in FREQ_GROUPS}
    lines.append('categories with ground truth: ' +
                 ', '.join(f'{f}={counts[f]}' for f in FREQ_GROUPS) +
                 f' of {len(results[0].cat_ids)}')
    return '\n'.join(lines)


def per_category_table(res):
    width = max([len(n) for n in res.cat_names] + [8])
    lines = [f'{"category":<{width}}  freq  {"#gt":>5}  {"AP":>6}  {"AP50":>6}  {"AP75":>6}']
    for row in res.per_category():
        api = row['ap_per_iou']
        lines.append(f'{row["name"]:<{width}}  {row["frequency"]:^4}  {row["num_gt"]:>5}  '
                     f'{_fmt(row["ap"])}  {_fmt(api[0] if api else None)}  '
                     f'{_fmt(api[5] if api else None)}')
    return '\n'.join(lines)
