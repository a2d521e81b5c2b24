"""The seed report's tables and figures from the study's runs (`make experiments`).

Reads the runs that `experiments.runs` keyed, trained and tested for the configs of
configs/demo/study/ (config content, seed, options, the pretrained checkpoint's bytes), and
writes into the work dir:

    study.md                the report's two tables, mAP and AP@0.5 per frequency group for each
                            model (Experiment 1: Table 4.2.1-21; Experiment 2: Table 4.2.2.1), box
                            and mask, mean +- spread over the seeds, beside the report's numbers
    ap_iou_exp1.png         AP against IoU threshold per frequency group, one panel per model
    ap_iou_exp2.png         (Figures 4.2.1-1/2; thin lines: the categories)
    loss_curves.png         training and validation loss per epoch, one panel per model, the
                            epoch of the best validation loss (the tested checkpoint) and the
                            epoch training stopped at marked (Figure 4.2.1-3)

AP@0.5 of a group is the mean over its categories of their AP at IoU 0.5, as lvis-api averages APr
(the metric's lvis_fed_per_category.json of each test). A request it cannot carry out is a
CommandError.
"""
import os.path as osp

import numpy as np

from ..errors import CommandError
from ..io import atomic_write_text
from .logs import newest_per_category, read_curves, read_per_category
from .runs import Run

STUDY = 'configs/demo/study'
EXPERIMENTS = {
    'Experiment 1': [
        ('Baseline', 'mask-rcnn_r18_fpn_gn_base-backbone_exp1-6cat_study.py'),
        ('Baseline+', 'mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat_study.py'),
        ('Baseline++', 'mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat-3rare_study.py'),
        ('Baseline+++', 'mask-rcnn_r18_fpn_gn_base-transfer_exp1-6cat-2freq_study.py'),
    ],
    'Experiment 2': [
        ('default anchors', 'mask-rcnn_r18_fpn_gn_base-transfer_exp2-small-objects_study.py'),
        ('small anchors',
         'mask-rcnn_r18_fpn_gn_base-transfer_small-anchors_exp2-small-objects_study.py'),
    ],
}
# The report's mAP per frequency group (f, c, r), as the issue quotes it; Experiment 2 states APf.
REPORT = {'Baseline': (0.213, 0.006, 0.000), 'Baseline+': (0.370, 0.164, 0.000),
          'Baseline++': (0.384, 0.142, 0.012), 'Baseline+++': (0.441, 0.067, 0.000),
          'default anchors': (0.159, None, None), 'small anchors': (0.01, None, None)}
GROUPS = (('f', 'frequent'), ('c', 'common'), ('r', 'rare'))
TASKS = (('bbox', 'box'), ('segm', 'mask'))


def group_ap(per_cat, task, group, iou_index=None):
    """Mean over the group's categories with ground truth of their AP (or AP at one IoU)."""
    vals = [r['ap'] if iou_index is None else r['ap_per_iou'][iou_index]
            for r in per_cat[task] if r['frequency'] == group and r['ap'] is not None]
    return float(np.mean(vals)) if vals else None


def read_run(run):
    """One finished run: its metrics, per-category AP at each IoU, loss curves."""
    m = run.finished()
    if m is None:
        return None
    found = newest_per_category(run.dir)
    if found is None:
        raise CommandError(f'{run.dir}: no lvis_fed_per_category.json (was it tested with '
                           'LVISFedMetric?)')
    per_cat = read_per_category(found, iou_types=[task for task, _ in TASKS])
    train, val, _ = read_curves(run.dir)
    return dict(metrics=m['metrics'], per_cat=per_cat, train=train, val=val,
                checkpoint=m['checkpoint'], minutes=(m['train_s'] + m['test_s']) / 60)


def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    return f'{np.mean(values):.3f} ± {np.std(values):.3f}'


def table(name, models, runs):
    head = ['model', 'seeds']
    for _, t in TASKS:
        head += [f'{t} mAP {g}' for g, _ in GROUPS] + [f'{t} AP@0.5 {g}' for g, _ in GROUPS]
    head += ['report mAP f / c / r', 'epochs (best val loss / trained)', 'min/run']
    lines = [f'### {name}', '', '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for label, config in models:
        done = [r for r in runs[config] if r]
        if not done:
            lines.append(f'| {label} | not run yet |' + ' |' * (len(head) - 2))
            continue
        cells = [f'[{label}]({STUDY}/{config})', str(len(done))]
        for task, _ in TASKS:
            cells += [fmt([group_ap(r['per_cat'], task, g) for r in done]) for g, _ in GROUPS]
            cells += [fmt([group_ap(r['per_cat'], task, g, 0) for r in done]) for g, _ in GROUPS]
        rep = REPORT.get(label)
        cells.append(' / '.join('-' if v is None else f'{v:.3f}' for v in rep) if rep else '-')
        cells.append(', '.join(f'{min(r["val"], key=r["val"].get) if r["val"] else "-"} / '
                               f'{max(r["train"]) if r["train"] else "-"}' for r in done))
        cells.append(f'{np.mean([r["minutes"] for r in done]):.1f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot_ap_iou(models, runs, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(TASKS), len(models), figsize=(3.6 * len(models), 6.4),
                             sharey=True, squeeze=False)
    colours = dict(f='tab:blue', c='tab:orange', r='tab:red')
    for col, (label, config) in enumerate(models):
        done = [r for r in runs[config] if r]
        for row, (task, tname) in enumerate(TASKS):
            ax = axes[row, col]
            ax.set_title(f'{label} ({tname})', fontsize=9)
            if not done:
                continue
            thrs = done[0]['per_cat']['iou_thrs']
            for g, gname in GROUPS:
                curves = []
                for r in done:
                    cats = [c for c in r['per_cat'][task]
                            if c['frequency'] == g and c['ap_per_iou']]
                    for c in cats:
                        ax.plot(thrs, c['ap_per_iou'], color=colours[g], lw=0.5, alpha=0.35)
                    if cats:
                        curves.append(np.mean([c['ap_per_iou'] for c in cats], axis=0))
                if curves:
                    ax.plot(thrs, np.mean(curves, axis=0), color=colours[g], lw=2, marker='o',
                            ms=3, label=gname)
            ax.set_xlabel('IoU threshold')
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel('AP')
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_losses(models, runs, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.4), squeeze=False)
    for ax, (label, config) in zip(axes[0], models):
        ax.set_title(label, fontsize=9)
        for seed, r in enumerate(runs[config]):
            if not r:
                continue
            style = '-' if seed == 0 else '--'
            if r['train']:
                ax.plot(list(r['train']), list(r['train'].values()), style, color='tab:blue',
                        label='training' if seed == 0 else None)
            if r['val']:
                ax.plot(list(r['val']), list(r['val'].values()), style, color='tab:orange',
                        label='validation' if seed == 0 else None)
                best = min(r['val'], key=r['val'].get)
                ax.axvline(best, color='grey', ls=':', lw=1)
                ax.plot([best], [r['val'][best]], 'k*', ms=8,
                        label='best (tested)' if seed == 0 else None)
                ax.axvline(max(r['val']), color='tab:red', ls=':', lw=1,
                           label='stopped' if seed == 0 else None)
        ax.set_xlabel('epoch')
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel('loss (sum of terms)')
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def write_report(work_dir, seeds, cfg_options):
    """Read the study's runs under `work_dir` and write study.md and the figures; returns the
    markdown."""
    runs = {}
    for models in EXPERIMENTS.values():
        for _, config in models:
            path = osp.join(STUDY, config)
            try:
                runs[config] = [read_run(Run(path, s, work_dir, cfg_options))
                                for s in seeds]
            except (ValueError, OSError) as e:
                raise CommandError(str(e)) from None
    if not any(r for rs in runs.values() for r in rs):
        raise CommandError(f'no finished study run under {work_dir}: run `make experiments` first')
    parts = ['# The seed report\'s experiments on the embedded study data\n',
             f'`python tools/report_study.py --work-dir {work_dir} --seeds '
             f'{" ".join(map(str, seeds))}`; mean ± spread (population standard deviation) '
             'over the seeds; the report\'s numbers are its mAP per group.\n']
    try:
        for i, (name, models) in enumerate(EXPERIMENTS.items(), 1):
            parts.append(table(name, models, runs))
            plot_ap_iou(models, runs, osp.join(work_dir, f'ap_iou_exp{i}.png'))
        plot_losses([m for ms in EXPERIMENTS.values() for m in ms], runs,
                    osp.join(work_dir, 'loss_curves.png'))
        md = '\n'.join(parts)
        atomic_write_text(md, osp.join(work_dir, 'study.md'))
    except OSError as e:
        raise CommandError(f'{work_dir}: cannot write the report ({e.strerror or e})') \
            from None
    return md

