"""A full-scale rehearsal on one CPU machine: the full-vocabulary LVIS v1 baseline trained by 2
gloo processes on LVIS-v1-shaped data, then tested with the two-pass Fixed AP loop. What
`tools/rehearsal.py` (`make rehearsal`) runs and prints.

What is full scale and what is not:
- the data: LVIS v1's real 1,203 categories with their frequency groups and image counts
  (`testing.lvis_v1`), 100,170 train and 19,809 val records, ~1.27M train annotations, the
  federated lists on every image; the images are tiny (64 x 48) and all the files of a split are
  hard links to a handful of generated pictures (their pixels decide nothing here);
- the run: `mim train`'s path (mmdet's train.py, through tools/dist_cpu.py for gloo on a CPU) with
  2 ranks x 2 DataLoader workers, the baseline's datasets, RFS sampler (t = 0.001 on the file's
  image counts), losses, heads at K = 1,203, start-up checks and class-frequency hooks;
- scaled down, in a child config this module writes (every value a Python literal): the model
  (ResNet-18, 64-channel FPN and heads, random init: no weights can be downloaded), the image
  scale, and the schedule (`IterBasedTrainLoop` for a few dozen iterations: the switch from the
  baseline's epoch loop needs `_delete_`, which `--cfg-options` cannot express);
- the test: `mim test`'s path with the Fixed AP piece (`configs/_base_/lvis-fixed-ap_test.py`:
  `TopKTestLoop`, no per-image cap) on the first `val_images` images of the val file, with a
  per-category cap small enough to bind on them (`max_dets_per_cat`).

It prints: start-up time (launch to the first training iteration's hooks), proportional set size
(PSS, `benchmarks.memory`) of every process after start-up and at the peak, seconds per
iteration, test time per pass, collect + evaluation time and the peak memory of rank 0 (where
the metric gathers every detection).
"""
import json
import os
import os.path as osp
import time

from ..testing.lvis_v1 import TRAIN_IMAGES, VAL_IMAGES
from .rehearsal_configs import write_configs
from .rehearsal_data import DATA_FOLDER, check_data_folder, prepare_data, say
from .torchrun_job import Launch, iteration_seconds, memory_line, torchrun


def check_inputs(work_dir, baseline, fixed_ap_piece):
    """Everything that can be checked before minutes of data generation: the configs exist and
    the work dir is (or can be made) a writable folder."""
    for what, path in (('--config', baseline), ('the Fixed AP piece', fixed_ap_piece)):
        if not osp.isfile(path):
            raise ValueError(f'{what} {path}: no such config file')
    if osp.lexists(work_dir) and not osp.isdir(work_dir):
        raise ValueError(f'--work-dir {work_dir}: exists and is not a folder')
    try:
        os.makedirs(work_dir, exist_ok=True)
    except OSError as e:
        raise ValueError(f'--work-dir {work_dir}: cannot create it ({e.strerror or e})') from None
    if not os.access(work_dir, os.W_OK | os.X_OK):
        raise ValueError(f'--work-dir {work_dir}: not writable')
    check_data_folder(osp.join(work_dir, DATA_FOLDER))


def rehearse(work_dir, baseline, fixed_ap_piece, train_images=TRAIN_IMAGES,
             val_images_file=VAL_IMAGES, iters=40, test_images=100, max_dets_per_cat=20,
             scale=(64, 48), nproc=2, timeout=1500):
    """Run the rehearsal (module docstring); returns its figures as a dict and prints them."""
    t_all = time.perf_counter()
    check_inputs(work_dir, baseline, fixed_ap_piece)
    data_root = osp.join(work_dir, DATA_FOLDER)
    try:                # before the data: a config that does not load costs no minutes
        train_cfg, test_cfg = write_configs(osp.join(work_dir, 'configs'), baseline, data_root,
                                            iters, scale, test_images, max_dets_per_cat,
                                            fixed_ap_piece)
    except (OSError, SyntaxError, KeyError, AttributeError, TypeError, ValueError) as e:
        raise ValueError(f'--config {baseline}: cannot write the rehearsal\'s configs from it '
                         f'({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""})'
                         ) from None
    say(f'configs: {train_cfg}, {test_cfg}')
    prepare_data(data_root, train_images, val_images_file, image_size=scale)
    threads = max(1, (os.cpu_count() or 2) // nproc)
    train, checkpoint = _train(work_dir, train_cfg, nproc, threads, iters, timeout)
    test = _test(work_dir, test_cfg, checkpoint, nproc, threads, test_images, max_dets_per_cat,
                 timeout)
    figures = _figures(train, test, t_all)
    _say_figures(figures, train, test, iters)
    last_test_iter = max((i for i, line in enumerate(test.lines) if 'Iter(test)' in line),
                         default=None)
    if last_test_iter is not None:
        figures['metric_lines'] = ''.join(test.lines[last_test_iter:])[-3000:]
    with open(osp.join(work_dir, 'rehearsal.json'), 'w') as f:
        json.dump({k: v for k, v in figures.items() if k != 'metric_lines'}, f, indent=1,
                  default=str)
    return figures


def _train(work_dir, train_cfg, nproc, threads, iters, timeout):
    """`mim train`'s path under torchrun; (the launch, its last checkpoint)."""
    train_dir = osp.join(work_dir, 'train')
    cmd, env = torchrun(['train', train_cfg, '--work-dir', train_dir], nproc, threads)
    say(f'train: {nproc} gloo processes x 2 workers, {iters} iterations: ' + ' '.join(cmd[3:]))
    train = Launch(cmd, osp.join(work_dir, 'train.log'), dict(
        started=r'Checkpoints will be saved to', first_iter=r'Iter\(train\) \[\s*\d+/'),
        env).run(timeout)
    if train.returncode != 0 or train.timed_out:
        raise train.failure('training', timeout)
    with open(osp.join(train_dir, 'last_checkpoint')) as f:
        return train, f.read().strip()


def _test(work_dir, test_cfg, checkpoint, nproc, threads, test_images, max_dets_per_cat,
          timeout):
    """`mim test`'s path under torchrun with the two-pass Fixed AP loop; the launch."""
    cmd, env = torchrun(['test', test_cfg, checkpoint, '--work-dir',
                         osp.join(work_dir, 'test')], nproc, threads)
    say(f'test: {nproc} gloo processes, {test_images} val images, two-pass Fixed AP with '
        f'max_dets_per_cat={max_dets_per_cat}: ' + ' '.join(cmd[3:]))
    test = Launch(cmd, osp.join(work_dir, 'test.log'), dict(
        started=r'TopKTestLoop pass 1 of 2', pass2=r'TopKTestLoop pass 2 of 2',
        evaluated=r'LVIS federated evaluation'), env).run(timeout)
    if test.returncode != 0 or test.timed_out:
        raise test.failure('test', timeout)
    return test


def _figures(train, test, t_all):
    return dict(
        train_startup_s=train.times.get('started'), train_wall_s=train.wall,
        s_per_iter=iteration_seconds(train.lines), train_pss_after_startup=train.after_start,
        train_pss_peak=train.peak, test_wall_s=test.wall,
        pass1_s=_between(test.times, 'started', 'pass2'),
        pass2_and_eval_s=_between(test.times, 'pass2', 'evaluated'),
        test_pss_peak=test.peak, rank0_peak_rss_gib=test.rank0_hwm,
        total_s=time.perf_counter() - t_all)


def _say_figures(figures, train, test, iters):
    say('')
    say('rehearsal figures')
    say(f'  train start-up (launch to the first iteration\'s hooks): '
        f'{figures["train_startup_s"]:.1f} s; {iters} iterations: {train.wall:.1f} s in all, '
        f'{figures["s_per_iter"]:.2f} s per iteration (batch 2 per process)')
    say(f'  train PSS after start-up: {memory_line(train.after_start)}')
    say(f'  train PSS at the peak:    {memory_line(train.peak)}')
    say(f'  test: {test.wall:.1f} s in all; pass 1 (boxes only) {figures["pass1_s"]:.1f} s; '
        f'pass 2 + collect + evaluation {figures["pass2_and_eval_s"]:.1f} s')
    say(f'  test PSS at the peak:     {memory_line(test.peak)}; rank 0 peak RSS '
        f'{test.rank0_hwm:.2f} GiB')
    say(f'  total {figures["total_s"] / 60:.1f} min (logs: {train.log_path}, {test.log_path})')


def _between(times, a, b):
    return times[b] - times[a] if a in times and b in times else float('nan')
