#!/usr/bin/env python
"""Plot AP against IoU threshold, one line per category, one panel per frequency group (PNG).

    python tools/plot_ap_iou.py WORK_DIR_OR_JSON [--iou-type bbox segm] [--out ap_iou.png]

Reads `lvis_fed_per_category.json`, which LVISFedMetric writes into the run's log folder
(work_dirs/<config>/<timestamp>/); given a work dir, the newest one is used.
"""
import argparse
import os
import os.path as osp

import matplotlib

from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.experiments.logs import per_category_json, read_per_category
from mmdet_lvis_fed.io import ToolParser, fail

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

GROUPS = (('r', 'rare'), ('c', 'common'), ('f', 'frequent'))


def plot(per_cat, iou_types, out):
    thrs = per_cat['iou_thrs']
    fig, axes = plt.subplots(len(iou_types), 3, figsize=(13, 3.8 * len(iou_types)), sharey=True,
                             squeeze=False)
    for row, iou_type in enumerate(iou_types):
        rows = per_cat.get(iou_type)
        if rows is None:
            fail(f'the file has no "{iou_type}" results')
        for col, (f, label) in enumerate(GROUPS):
            ax = axes[row, col]
            cats = [r for r in rows if r['frequency'] == f and r['ap_per_iou'] is not None]
            for r in cats:
                ax.plot(thrs, r['ap_per_iou'], marker='o', ms=3, label=r['name'])
            ax.set_title(f'{iou_type}: {label} ({len(cats)} categories)')
            ax.set_xlabel('IoU threshold')
            ax.set_xlim(thrs[0] - 0.02, thrs[-1] + 0.02)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel('AP')
            if cats and len(cats) <= 12:
                ax.legend(fontsize=7)
            elif not cats:
                ax.text(0.5, 0.5, 'no category with ground truth', ha='center',
                        transform=ax.transAxes, color='grey')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None):
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('source', help='a work dir, or lvis_fed_per_category.json')
    p.add_argument('--iou-type', nargs='+', default=None, choices=['bbox', 'segm'],
                   help='default: every type in the file')
    p.add_argument('--out', help='PNG path (default: ap_iou.png beside the JSON)')
    args = p.parse_args(argv)
    try:
        path = per_category_json(args.source)
        per_cat = read_per_category(path)
    except CommandError as e:
        fail(e)
    iou_types = args.iou_type or [t for t in ('bbox', 'segm') if t in per_cat]
    out = args.out or osp.join(osp.dirname(path), 'ap_iou.png')
    try:
        plot(per_cat, iou_types, out)
    except OSError as e:
        fail(f'{out}: cannot write ({e.strerror or e})')
    print(f'{out} (from {path})')


if __name__ == '__main__':
    main()
