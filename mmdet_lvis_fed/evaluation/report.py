"""Plain-text tables of evaluation results (framework-free)."""
from .federated_eval import FREQ_GROUPS

COLUMNS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@300')


def _fmt(v):
    return '   -  ' if v is None or v < 0 else f'{v:6.3f}'


def frequency_table(results):
    """One row per iou type; groups with no evaluable category show '-' (lvis-api's -1)."""
    head = f'{"":6}' + ''.join(f'{c:>8}' for c in COLUMNS)
    lines = [head]
    for res in results:
        lines.append(f'{res.iou_type:<6}' + ''.join(f'{_fmt(res.summary.get(c)):>8}'
                                                      for c in COLUMNS))
    if results:
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
