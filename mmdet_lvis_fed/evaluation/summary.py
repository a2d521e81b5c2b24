"""The summary numbers and their names: the one list of keys, for the evaluator, the metric, the
reports, the CLI, the benchmarks and the tests.

lvis-api 0.5.3 names the recall keys after the per-image cap (`AR@300`); the LVIS challenge
branch names them after both caps: `AR@{max_dets}` without a per-category cap,
`AR@{K}/cat` with a per-category cap K and no per-image cap (the challenge's `AR@10000/cat`), and
`AR@{max_dets}/im,{K}/cat` with both. AP-pool (Dave et al. 2021) adds one key per pool.
"""
import numpy as np

from .params import FREQ_GROUPS, IOU_THRS

AP_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf')
POOL_KEYS = ('AP-pool', 'APr-pool', 'APc-pool', 'APf-pool')


def recall_suffix(max_dets=300, max_dets_per_cat=-1):
    if max_dets_per_cat < 0:
        return f'{max_dets}'
    if max_dets < 0:
        return f'{max_dets_per_cat}/cat'
    return f'{max_dets}/im,{max_dets_per_cat}/cat'


def recall_keys(max_dets=300, max_dets_per_cat=-1):
    suffix = recall_suffix(max_dets, max_dets_per_cat)
    return tuple(f'AR{a}@{suffix}' for a in ('', 's', 'm', 'l'))


def summary_keys(max_dets=300, max_dets_per_cat=-1, pooled=False):
    """Every key `summarize` gives, in its order."""
    return AP_KEYS + recall_keys(max_dets, max_dets_per_cat) + (POOL_KEYS if pooled else ())


def _mean(s):
    s = s[s > -1]
    return float(np.mean(s)) if s.size else -1.0


def summarize(precision, recall, cat_freq, max_dets=300, max_dets_per_cat=-1,
              pool_precision=None):
    """lvis-api's summary numbers from the accumulated arrays (precision: iou thresholds x
    recall points x categories x area ranges; recall: iou thresholds x categories x area
    ranges; -1 where undefined), and the AP-pool numbers from `pool_precision` (iou thresholds x
    recall points x pools all, r, c, f) when given. A mean over nothing is -1."""
    freq = np.asarray(cat_freq, dtype=object)
    values = [_mean(precision[..., 0]), _mean(precision[IOU_THRS == 0.5][..., 0]),
              _mean(precision[IOU_THRS == 0.75][..., 0])]
    values += [_mean(precision[..., a]) for a in (1, 2, 3)]
    values += [_mean(precision[:, :, freq == f, 0]) for f in FREQ_GROUPS]
    values += [_mean(recall[..., a]) for a in range(4)]
    if pool_precision is not None:
        values += [_mean(pool_precision[:, :, p]) for p in range(len(POOL_KEYS))]
    return dict(zip(summary_keys(max_dets, max_dets_per_cat, pool_precision is not None),
                    values))
