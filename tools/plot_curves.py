#!/usr/bin/env python
"""Plot training and validation loss from a work dir's logs (PNG), per epoch or per iteration.

    python tools/plot_curves.py WORK_DIR [--out curves.png]

Reads every `<timestamp>/vis_data/scalars.json` under WORK_DIR (mmengine's LocalVisBackend). An
epoch-based run (its rows carry `epoch`): the training loss logged every few iterations is
averaged per epoch, and `val_loss` is what ValidationLossHook logs once per epoch. An
iteration-based run (IterBasedTrainLoop: rows carry `iter` only): every logged training loss at
its iteration. Resumed runs are merged, later entries winning.
"""
import argparse
import glob
import json
import os.path as osp
from collections import defaultdict

import sys

import matplotlib

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mmdet_lvis_fed.io import ToolParser, fail  # noqa: E402

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def read_curves(work_dir):
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        fail(f'no */vis_data/scalars.json under {work_dir}: is it a work dir of `mim train`?')
    train, val, by_iter = defaultdict(list), {}, {}
    for path in files:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                except ValueError as e:
                    fail(f'{path}: line {n}: not JSON ({e})')
                if 'val_loss' in row:     # our hook's row has 'epoch'; the val log row's step is it
                    val[int(row.get('epoch', row.get('step')))] = row['val_loss']
                elif 'loss' in row and 'epoch' in row:
                    train[int(row['epoch'])].append(row['loss'])
                elif 'loss' in row and 'iter' in row:
                    by_iter[int(row['iter'])] = row['loss']
    if not train and by_iter:
        return dict(sorted(by_iter.items())), dict(sorted(val.items())), 'iteration'
    train = {e: sum(v) / len(v) for e, v in sorted(train.items())}
    return train, dict(sorted(val.items())), 'epoch'





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
    train, val, unit = read_curves(args.work_dir)
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
