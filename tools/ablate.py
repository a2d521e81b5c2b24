#!/usr/bin/env python
"""Train and test each config per seed, then tabulate and plot AP per frequency group.

    python tools/ablate.py CONFIG [CONFIG ...] --seeds 0 1 --work-dir work_dirs/ablation
                           [--cfg-options KEY=VALUE ...] [--jobs N] [--report-only]
                           [--publish PATH]

A run (config, seed) is keyed on everything that determines its numbers: the config's path and
resolved content, the seed, the options, and the bytes of the checkpoints it starts from and of
the annotation files it reads (mmdet_lvis_fed/experiments/runs.py). It lives in
WORK_DIR/<config path without .py>/<run key>/seed<S>/ (run.log, checkpoints, metrics.json); a
finished run is reused only when all of these match, and an interrupted one resumes when the same
command runs again. One ablate.py at a time may work on a run (a lock per run folder); SIGTERM or
SIGINT is passed to the runs it waits for. Progress: run i of n, elapsed time, estimate left.

The test uses best_val_loss.pth when the run kept one, else the last checkpoint. A config with a
top-level `fixed_ap_test` is tested a second time with it (the Fixed AP column); one with
`retest_of = '<training config>'` is a test-time variant that tests that config's checkpoint.
With --publish PATH (one config, one seed: a pretraining) the tested checkpoint is linked to PATH;
configs that start from PATH key their runs on its bytes.

At the end (and with --report-only, without training) it writes WORK_DIR/ablation.md (mean +-
spread over seeds, the difference against the first config, † where it exceeds both spreads, the
best of each column in bold) and WORK_DIR/ablation.png (grouped bars per frequency group).

Errors end in one line, `error: ...`, exit status 2.
"""
import argparse
import os.path as osp

from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.experiments.ablation_report import markdown, plot, summarise
from mmdet_lvis_fed.experiments.runs import Run, publish
from mmdet_lvis_fed.experiments.scheduler import check_work_dir, run_all
from mmdet_lvis_fed.io import ToolParser, atomic_write_text, fail


def parse_args(argv=None):
    p = ToolParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('configs', nargs='*', help='config files; the first is the baseline for the '
                                              'differences')
    p.add_argument('--seeds', nargs='+', type=int, default=[0], help='default: 0')
    p.add_argument('--work-dir', default='work_dirs/ablation',
                   help='default work_dirs/ablation')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='overrides applied to every run, as in mim train (part of the run key)')
    p.add_argument('--jobs', type=int, default=1,
                   help='runs at a time, each with its share of the CPU threads (default 1)')
    p.add_argument('--publish', metavar='PATH',
                   help='with one config and one seed (a pretraining): make PATH its tested '
                        'checkpoint when the run is finished (hard link or copy). Configs that '
                        'start from PATH then key their runs on its bytes, so a retrained '
                        'pretraining trains them again')
    p.add_argument('--report-only', action='store_true',
                   help='only write ablation.md / .png from the runs already finished')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        ablate(args)
    except CommandError as e:
        fail(e)


def check_args(args):
    """The command line's own mistakes, each refused in one line before any run starts."""
    if not args.configs:
        fail('give at least one config file')
    missing = [c for c in args.configs if not osp.isfile(c)]
    if missing:
        fail(f'{missing[0]}: no such config file')
    paths = [osp.abspath(c) for c in args.configs]
    if len(set(paths)) != len(paths):
        twice = next(c for c, p in zip(args.configs, paths) if paths.count(p) > 1)
        fail(f'{twice} is given twice: each config is one row')
    if len(set(args.seeds)) != len(args.seeds):
        fail(f'--seeds {" ".join(map(str, args.seeds))} repeats a seed: each seed is one run')
    if args.jobs < 1:
        fail(f'--jobs must be at least 1, not {args.jobs}')
    # The seed comes from --seeds; the other randomness options (deterministic, diff_rank_seed)
    # pass through to every run.
    seed_options = [o for o in args.cfg_options
                    if o.split('=', 1)[0].strip() in ('randomness', 'randomness.seed')]
    if seed_options:
        fail(f'--cfg-options {seed_options[0]}: ablate.py sets each run\'s seed from --seeds '
             '(randomness.seed = S, the config\'s other randomness options kept); give the '
             'seeds there')
    if args.publish and (len(args.configs) != 1 or len(args.seeds) != 1):
        fail(f'--publish {args.publish}: give exactly one config and one seed (the run whose '
             'checkpoint is published)')
    if args.publish and osp.isdir(args.publish):
        fail(f'--publish {args.publish}: is a folder; give the checkpoint file to write')
    if args.report_only:
        if not osp.isdir(args.work_dir):
            fail(f'--work-dir {args.work_dir}: no such folder, so no finished run to report')
    else:
        check_work_dir(args.work_dir)           # CommandError, as the runs' failures


def ablate(args):
    check_args(args)
    try:
        runs = {c: [Run(c, s, args.work_dir, args.cfg_options) for s in args.seeds]
                for c in args.configs}
    except (ValueError, OSError) as e:
        fail(e)
    if not args.report_only:
        run_all([r for rs in runs.values() for r in rs], args.cfg_options, args.jobs)
    summary = summarise(args.configs, runs)
    if not summary:
        fail(f'no finished run of these configs under {args.work_dir} (with these seeds and '
             'options)')
    command = 'python tools/ablate.py ' + ' '.join(
        args.configs + ['--seeds'] + [str(s) for s in args.seeds] + ['--work-dir', args.work_dir]
        + (['--cfg-options'] + args.cfg_options if args.cfg_options else []))
    md = markdown(summary, args.configs, runs, command)
    try:
        atomic_write_text(md, osp.join(args.work_dir, 'ablation.md'))
        plot(summary, args.configs, runs, osp.join(args.work_dir, 'ablation.png'))
    except OSError as e:
        fail(f'{args.work_dir}: cannot write the report ({e.strerror or e})')
    print(md)
    print(f'written: {args.work_dir}/ablation.md, {args.work_dir}/ablation.png')
    if args.publish:
        run = runs[args.configs[0]][0]
        if run.source is not None:
            fail(f'--publish: {run.config} is a test-time variant; publish a trained run')
        if not run.finished():
            fail(f'--publish {args.publish}: {run.name} seed {run.seed} has not finished')
        try:
            publish(run, args.publish)
        except OSError as e:
            fail(f'--publish {args.publish}: cannot write it ({e.strerror or e})')


if __name__ == '__main__':
    main()
