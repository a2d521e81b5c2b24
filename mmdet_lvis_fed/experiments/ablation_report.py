"""The ablation report: per config, box and mask AP, APr, APc, APf, AP50 (and Fixed AP) as the
mean and spread over seeds, the difference of the means against the first config, marked † where
it exceeds both rows' spreads together; as markdown (`markdown`) and as grouped bars (`plot`).

    spread = population standard deviation over the seeds (|a - b| / 2 for two)
"""
from .runs import FIXED_PREFIX

GROUPS = ('AP', 'APr', 'APc', 'APf')
TASKS = ('bbox', 'segm')
# The table's columns per task: (metric key, header).
COLUMNS = (('AP', 'AP'), ('APr', 'APr'), ('APc', 'APc'), ('APf', 'APf'), ('AP50', 'AP50'),
           (FIXED_PREFIX + 'AP', 'Fixed AP'))


def metric_key(task, column):
    """The metrics.json key of a column: 'AP' -> lvis_fed/bbox_AP, 'fixed/AP' ->
    fixed/lvis_fed/bbox_AP (the second test's)."""
    prefix, _, group = column.rpartition('/')
    return (prefix + '/' if prefix else '') + f'lvis_fed/{task}_{group}'


def summarise(configs, runs):
    """Per config: {(task, column): (mean, spread, n) or None}, minutes per run, seeds."""
    import numpy as np
    out = {}
    for config in configs:
        done = [m for r in runs[config] for m in [r.finished()] if m]
        if not done:
            continue
        stats = {}
        for task in TASKS:
            for column, _ in COLUMNS:
                key = metric_key(task, column)
                if any(key not in m['metrics'] for m in done):
                    continue                         # not measured (no fixed_ap_test)
                v = np.array([m['metrics'][key] for m in done], float)
                # -1: the group is undefined (no category of it in the test data, lvis-api's
                # convention): not a number to average, compare or put in bold
                stats[(task, column)] = ((float(v.mean()), float(v.std()), len(v))
                                         if (v >= 0).all() else None)
        minutes = float(np.mean([(m['train_s'] + m['test_s'] + m.get('fixed_ap_test_s', 0.0))
                                 / 60 for m in done]))
        out[config] = dict(stats=stats, minutes=minutes, seeds=[m['seed'] for m in done],
                           retest=bool(runs[config][0].source))
    return out


def beyond_spread(row, base):
    """Whether a difference of means is larger than the two seeds' spreads together (the rows'
    mean +- spread intervals do not overlap), with at least two seeds on each side."""
    return (row[2] > 1 and base[2] > 1
            and abs(row[0] - base[0]) > row[1] + base[1])


def markdown(summary, configs, runs, command):
    base = summary.get(configs[0])
    keys = [(t, c) for t in TASKS for c, _ in COLUMNS
            if any((t, c) in s['stats'] for s in summary.values())]
    best = {k: max((s['stats'][k][0] for s in summary.values() if s['stats'].get(k)),
                   default=None) for k in keys}
    header = dict(COLUMNS)
    head = ['config', 'seeds'] + [f'{"box" if t == "bbox" else "mask"} {header[c]}'
                                  for t, c in keys] + ['min/run']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for config in configs:
        name = runs[config][0].name
        if config not in summary:
            lines.append(f'| {name} | not run yet |' + ' |' * (len(head) - 2))
            continue
        s = summary[config]
        label = f'[{name}]({runs[config][0].config})' + (' (test-time)' if s['retest'] else '')
        cells = [label, ','.join(map(str, s['seeds']))]
        for key in keys:
            if s['stats'].get(key) is None:
                cells.append('n/a')
                continue
            mean, spread, _ = s['stats'][key]
            cell = f'{mean:.3f} ± {spread:.3f}'
            if base is not None and config != configs[0] and base['stats'].get(key) is not None:
                cell += f' ({mean - base["stats"][key][0]:+.3f}'
                cell += (' †)' if beyond_spread(s['stats'][key], base['stats'][key]) else ')')
            if len(summary) > 1 and f'{mean:.3f}' == f'{best[key]:.3f}':
                cell = f'**{cell}**'
            cells.append(cell)
        cells.append(f'{s["minutes"]:.1f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    opts = runs[configs[0]][0].options
    return ('# Ablation\n\n' + f'`{command}`\n\n'
            + (f'Options of every run: `{" ".join(opts)}`\n\n' if opts else '')
            + 'Mean ± spread over seeds (population standard deviation); in brackets the '
            f'difference of the means against `{runs[configs[0]][0].name}`, marked † where it '
            'exceeds the two rows\' spreads together (their mean ± spread intervals do not '
            'overlap); in bold the best mean of each column; n/a where the test data has no '
            'category of the group. Fixed AP: the config\'s `fixed_ap_test` (no per-image '
            'cap, a cap per category over the test set). Test-time variants reuse the '
            'checkpoint of the config they name (min/run: test only).\n\n'
            + '\n'.join(lines) + '\n')


def short_label(name):
    """The remedy field of a config name: the 5th of mmdet's 7 fields
    ({algorithm}_{backbone}_{neck}_{init}_{remedy}_{schedule}_{data}), else the one before the
    data field."""
    parts = name.split('_')
    return parts[4] if len(parts) == 7 else parts[-2] if len(parts) > 2 else name


def plot(summary, configs, runs, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    done = [c for c in configs if c in summary]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), sharey=True)
    width = 0.8 / max(len(done), 1)
    x = np.arange(len(GROUPS))
    colours = plt.cm.tab20(np.linspace(0, 1, max(len(done), 2)))
    for ax, task in zip(axes, TASKS):
        for i, config in enumerate(done):
            st = summary[config]['stats']
            means = [st[(task, g)][0] if st.get((task, g)) else np.nan for g in GROUPS]
            errs = [st[(task, g)][1] if st.get((task, g)) else 0.0 for g in GROUPS]
            ax.bar(x + (i - (len(done) - 1) / 2) * width, means, width, yerr=errs, capsize=2,
                   color=colours[i], label=short_label(runs[config][0].name),
                   hatch='//' if summary[config]['retest'] else None)
        ax.set_xticks(x, [{'AP': 'all', 'APr': 'rare', 'APc': 'common', 'APf': 'frequent'}[g]
                          for g in GROUPS])
        ax.set_title(f'{"box" if task == "bbox" else "mask"} AP per frequency group')
        ax.grid(axis='y', alpha=0.3)
    axes[0].set_ylabel('AP (mean over seeds, bars: spread)')
    axes[1].legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
