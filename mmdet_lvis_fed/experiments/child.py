"""One run of an experiment, in a child process of the scheduler (`scheduler.start`):

    python -m mmdet_lvis_fed.experiments.child CONFIG SEED RUN_DIR CHECKPOINT [--cfg-options ...]

Trains (unless CHECKPOINT names one: a test-time variant; '-' trains), tests, and writes
RUN_DIR/metrics.json. The test uses `best_val_loss.pth` when the run kept one (ValidationLossHook:
the seed report's protocol), else the last checkpoint; metrics.json names it. SIGTERM (passed on by
the scheduler) ends the run as SystemExit rather than the default kill, so the interpreter exits
normally and stops the DataLoader workers it forked instead of orphaning them.
"""
import argparse
import os.path as osp
import signal
import sys
import time

from ..io import atomic_write_json
from .runs import FIXED_KEY, FIXED_PREFIX, Run, fixed_ap_config, load_config, seeded


def one_run(config, seed, run_dir, checkpoint, cfg_options):
    """Train (unless `checkpoint` is given: a test-time variant), then test; write metrics.json."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    def build(cfg):
        return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)

    run = Run(config, seed, '', cfg_options)
    run.dir = run_dir
    if osp.basename(osp.dirname(run_dir)) != run.key:
        raise RuntimeError(f'{config} changed since ablate.py queued this run (its key is now '
                           f'{run.key}, not {osp.basename(osp.dirname(run_dir))}): run it again')
    train_s = 0.0
    if checkpoint == '-':
        cfg = load_config(config, cfg_options)
        cfg.work_dir = run_dir
        seeded(cfg, seed)
        cfg.resume = osp.exists(osp.join(run_dir, 'last_checkpoint'))
        t0 = time.time()
        build(cfg).train()
        train_s = time.time() - t0
        checkpoint = run.test_checkpoint()
    cfg = load_config(config, cfg_options)
    cfg.work_dir, cfg.load_from = run_dir, checkpoint
    seeded(cfg, seed)
    t0 = time.time()
    metrics = {k: float(v) for k, v in build(cfg).test().items()}
    test_s = time.time() - t0
    fixed_s = 0.0
    if cfg.get(FIXED_KEY):
        t0 = time.time()
        metrics.update({FIXED_PREFIX + k: float(v)
                        for k, v in build(fixed_ap_config(cfg)).test().items()})
        fixed_s = time.time() - t0
    atomic_write_json(dict(config=run.config, seed=int(seed), options=run.options, key=run.key,
                           inputs=run.inputs, checkpoint=checkpoint, train_s=train_s,
                           test_s=test_s, fixed_ap_test_s=fixed_s, metrics=metrics),
                      osp.join(run_dir, 'metrics.json'))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('seed', type=int)
    p.add_argument('run_dir')
    p.add_argument('checkpoint')
    p.add_argument('--cfg-options', nargs='+', default=[])
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    one_run(args.config, args.seed, args.run_dir, args.checkpoint, args.cfg_options)


if __name__ == '__main__':
    main()
