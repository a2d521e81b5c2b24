#!/usr/bin/env python
"""Plot training and validation loss from a work dir's logs (PNG), per epoch or per iteration.

    python tools/plot_curves.py WORK_DIR [--out curves.png]

Reads every `<timestamp>/vis_data/scalars.json` under WORK_DIR (mmengine's LocalVisBackend) with
mmdet_lvis_fed/experiments/logs.py: per epoch the mean training loss and ValidationLossHook's
`val_loss`; for an iteration-based run every logged training loss at its iteration.
"""
import argparse
import os.path as osp

import matplotlib

from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.experiments.logs import read_curves
from mmdet_lvis_fed.io import ToolParser, fail

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def plot(train, val, out, title, unit='epoch'):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    if train:
        ax.plot(list(train), list(train.values()), marker='o' if unit == 'epoch' else None,
                label='training loss')
    if val:
        ax.plot(list(val), list(val.values()), marker='s', label='validation loss')
        best = min(val, key=val.get)
        ax.axvline(best, color='grey', ls=':', lw=1)
        ax.annotate(f'best val {val[best]:.3f}', (best, val[best]), textcoords='offset points',
                    xytext=(5, 8), fontsize=8)
    ax.set_xlabel(unit)
    ax.set_ylabel('loss (sum of terms)')
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None):
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('work_dir')
    p.add_argument('--out', help='PNG path (default WORK_DIR/loss_curves.png)')
    args = p.parse_args(argv)
    try:
        train, val, unit = read_curves(args.work_dir)
    except CommandError as e:
        fail(e)
    if not train and not val:
        fail(f'no loss values in {args.work_dir} logs')
    out = args.out or osp.join(args.work_dir, 'loss_curves.png')
    try:
        plot(train, val, out, osp.basename(osp.normpath(args.work_dir)), unit)
    except OSError as e:
        fail(f'{out}: cannot write ({e.strerror or e})')
    if unit == 'epoch':
        print(f'{out}: {len(train)} epochs of training loss, {len(val)} of validation loss')
    else:
        print(f'{out}: training loss at {len(train)} logged iterations (up to iteration '
              f'{max(train)}), {len(val)} validation losses')
    return train, val


if __name__ == '__main__':
    main()
