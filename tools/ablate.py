#!/usr/bin/env python
"""Train and test each config per seed, then tabulate and plot AP per frequency group.

    python tools/ablate.py CONFIG [CONFIG ...] --seeds 0 1 --work-dir work_dirs/ablation
                           [--cfg-options KEY=VALUE ...] [--report-only]

Each (config, seed) runs in its own process under WORK_DIR/<config name>/seed<S>/: training with
`randomness.seed=S` (the runner the config names, LVISFedRunner for ours), then a test of the last
checkpoint; the test metrics go to metrics.json there. A run whose metrics.json exists is skipped,
and an interrupted training resumes from its last checkpoint: run the same command again after a
kill. At the end (and with --report-only, without training) it writes:

    WORK_DIR/ablation.md    box and mask AP, APr, APc, APf per config: mean +- spread over seeds
                            (spread = population standard deviation, |a - b| / 2 for two seeds),
                            and the difference of the means against the first config
    WORK_DIR/ablation.png   grouped bars per frequency group (box and mask), error bars = spread

--cfg-options apply to every run (e.g. train_cfg.max_epochs=2 for a quick look).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

GROUPS = ('AP', 'APr', 'APc', 'APf')
TASKS = ('bbox', 'segm')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('configs', nargs='*', help='config files; the first is the baseline for the '
                                              'differences')
    p.add_argument('--seeds', nargs='+', type=int, default=[0], help='default: 0')
    p.add_argument('--work-dir', default='work_dirs/ablation',
                   help='default work_dirs/ablation')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='overrides applied to every run, as in mim train')
    p.add_argument('--report-only', action='store_true',
                   help='only write ablation.md / .png from the runs already finished')
    p.add_argument('--run', nargs=3, metavar=('CONFIG', 'SEED', 'RUN_DIR'),
                   help=argparse.SUPPRESS)     # internal: one run, in a child process
    return p.parse_args(argv)


def run_name(config):
    return osp.splitext(osp.basename(config))[0]


def one_run(config, seed, run_dir, cfg_options):
    """Train, then test the last checkpoint; write metrics.json (in this process)."""
    from mmengine.config import Config, DictAction
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    import mmdet_lvis_fed  # noqa: F401  (registers the runner, datasets, models)
    from mmdet_lvis_fed.io import atomic_write_json

    def build(cfg):
        return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)

    options = {}
    if cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        options = parser.parse_args(['--o'] + cfg_options).o
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    cfg.work_dir = run_dir
    cfg.randomness = dict(seed=int(seed))
    cfg.resume = osp.exists(osp.join(run_dir, 'last_checkpoint'))
    t0 = time.time()
    build(cfg).train()
    train_s = time.time() - t0
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    cfg.work_dir, cfg.load_from = run_dir, checkpoint
    t0 = time.time()
    metrics = build(cfg).test()
    atomic_write_json(dict(config=config, seed=int(seed), checkpoint=checkpoint,
                           train_s=train_s, test_s=time.time() - t0,
                           metrics={k: float(v) for k, v in metrics.items()}),
                      osp.join(run_dir, 'metrics.json'))


def load_runs(configs, seeds, work_dir):
    runs = {}
    for config in configs:
        for seed in seeds:
            path = osp.join(work_dir, run_name(config), f'seed{seed}', 'metrics.json')
            if osp.exists(path):
                with open(path) as f:
                    runs[(config, seed)] = json.load(f)
    return runs


def summarise(configs, seeds, runs):
    """Per config: {(task, group): (mean, spread, n)} and the minutes per run."""
    import numpy as np
    out = {}
    for config in configs:
        done = [runs[(config, s)] for s in seeds if (config, s) in runs]
        if not done:
            continue
        stats = {}
        for task in TASKS:
            for g in GROUPS:
                v = np.array([r['metrics'][f'lvis_fed/{task}_{g}'] for r in done], float)
                stats[(task, g)] = (float(v.mean()), float(v.std()), len(v))
        minutes = float(np.mean([(r['train_s'] + r['test_s']) / 60 for r in done]))
        out[config] = dict(stats=stats, minutes=minutes, seeds=[r['seed'] for r in done])
    return out


def markdown(summary, configs, command):
    base = summary.get(configs[0])
    head = ['config', 'seeds'] + [f'{"box" if t == "bbox" else "mask"} {g}'
                                  for t in TASKS for g in GROUPS] + ['min/run']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for config in configs:
        if config not in summary:
            lines.append(f'| {run_name(config)} | not run yet |' + ' |' * (len(head) - 2))
            continue
        s = summary[config]
        cells = [f'[{run_name(config)}]({config})', ','.join(map(str, s['seeds']))]
        for key in ((t, g) for t in TASKS for g in GROUPS):
            mean, spread, _ = s['stats'][key]
            cell = f'{mean:.3f} ± {spread:.3f}'
            if base is not None and config != configs[0]:
                cell += f' ({mean - base["stats"][key][0]:+.3f})'
            cells.append(cell)
        cells.append(f'{s["minutes"]:.1f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return ('# Ablation\n\n' + f'`{command}`\n\n'
            'Mean ± spread over seeds (population standard deviation); in brackets the difference '
            f'of the means against `{run_name(configs[0])}`.\n\n' + '\n'.join(lines) + '\n')


def plot(summary, configs, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    done = [c for c in configs if c in summary]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    width = 0.8 / max(len(done), 1)
    x = np.arange(len(GROUPS))
    for ax, task in zip(axes, TASKS):
        for i, config in enumerate(done):
            st = summary[config]['stats']
            means = [st[(task, g)][0] for g in GROUPS]
            errs = [st[(task, g)][1] for g in GROUPS]
            ax.bar(x + (i - (len(done) - 1) / 2) * width, means, width, yerr=errs, capsize=2,
                   label=run_name(config).split('_')[-2] if '_' in run_name(config)
                   else run_name(config))
        ax.set_xticks(x, [{'AP': 'all', 'APr': 'rare', 'APc': 'common', 'APf': 'frequent'}[g]
                          for g in GROUPS])
        ax.set_title(f'{"box" if task == "bbox" else "mask"} AP per frequency group')
        ax.grid(axis='y', alpha=0.3)
    axes[0].set_ylabel('AP (mean over seeds)')
    axes[1].legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    if args.run:
        config, seed, run_dir = args.run
        one_run(config, int(seed), run_dir, args.cfg_options)
        return
    if not args.configs:
        sys.exit('error: give at least one config file')
    missing = [c for c in args.configs if not osp.isfile(c)]
    if missing:
        sys.exit(f'error: {missing[0]}: no such config file')
    os.makedirs(args.work_dir, exist_ok=True)
    todo = [(c, s) for c in args.configs for s in args.seeds]
    if not args.report_only:
        for n, (config, seed) in enumerate(todo, 1):
            run_dir = osp.join(args.work_dir, run_name(config), f'seed{seed}')
            if osp.exists(osp.join(run_dir, 'metrics.json')):
                print(f'[{n}/{len(todo)}] {run_name(config)} seed {seed}: done, skipped',
                      flush=True)
                continue
            os.makedirs(run_dir, exist_ok=True)
            print(f'[{n}/{len(todo)}] {run_name(config)} seed {seed}: training and testing '
                  f'(log: {run_dir}/run.log)', flush=True)
            t0 = time.time()
            cmd = [sys.executable, osp.abspath(__file__), '--run', config, str(seed), run_dir]
            if args.cfg_options:
                cmd += ['--cfg-options'] + args.cfg_options
            with open(osp.join(run_dir, 'run.log'), 'a') as log:
                rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
            if rc != 0:
                sys.exit(f'error: {run_name(config)} seed {seed} failed (exit {rc}); see '
                         f'{run_dir}/run.log. Finished runs are kept: run the command again to '
                         'go on.')
            print(f'    {(time.time() - t0) / 60:.1f} min', flush=True)
    runs = load_runs(args.configs, args.seeds, args.work_dir)
    if not runs:
        sys.exit(f'error: no finished run under {args.work_dir}')
    summary = summarise(args.configs, args.seeds, runs)
    command = 'python tools/ablate.py ' + ' '.join(
        args.configs + ['--seeds'] + [str(s) for s in args.seeds] + ['--work-dir', args.work_dir]
        + (['--cfg-options'] + args.cfg_options if args.cfg_options else []))
    from mmdet_lvis_fed.io import atomic_write_text
    md = markdown(summary, args.configs, command)
    atomic_write_text(md, osp.join(args.work_dir, 'ablation.md'))
    plot(summary, args.configs, osp.join(args.work_dir, 'ablation.png'))
    print(md)
    print(f'written: {args.work_dir}/ablation.md, {args.work_dir}/ablation.png')


if __name__ == '__main__':
    main()
