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
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np

from .. import procfs
from ..dist_cpu import free_port
from ..io import atomic_write_text
from ..testing.lvis_v1 import TRAIN_IMAGES, VAL_IMAGES
from ..wrappers import dataset_chain, unwrap_dataset
from . import memory

DATA_VERSION = 1     # bump when the generated data changes


def say(message):
    print(message, flush=True)


# --- data ------------------------------------------------------------------------------------

OWNER_MARK = '.written-by-rehearsal'     # in every data folder this module made, first thing


class RefusedFolder(RuntimeError):
    """A folder the rehearsal would have to remove but did not make."""


def prepare_data(root, train_images, val_images, seed=0, image_size=(64, 48), pictures=15):
    """LVIS-v1-shaped annotation files and their image files under `root` (reused when a stamp
    says they were made with the same arguments). Record i's file is a hard link to picture
    i % pictures: an odd number of pictures, so that each of 2 ranks (which take every other
    image) sees all of them, and the detections the Fixed AP thresholds keep are not gathered on
    one rank by the pictures it happens to get.

    `root` is removed and written again only when this module made it: its first file is
    OWNER_MARK. An existing `root` without the mark (a user's data, say) is refused, never
    touched."""
    from ..testing.lvis_v1 import write_lvis_v1
    stamp_path = osp.join(root, 'rehearsal_data.json')
    stamp = dict(version=DATA_VERSION, train_images=train_images, val_images=val_images,
                 seed=seed, image_size=list(image_size), pictures=pictures)
    try:
        with open(stamp_path) as f:
            if json.load(f) == stamp:
                say(f'data: reused {root} ({train_images} train, {val_images} val records)')
                return root
    except (OSError, ValueError):
        pass
    if osp.lexists(root):
        check_data_folder(root)
        say(f'data: removing {root} (made by an earlier rehearsal with other arguments or not '
            'finished)')
        shutil.rmtree(root)
    import cv2
    t0 = time.perf_counter()
    os.makedirs(root)
    with open(osp.join(root, OWNER_MARK), 'w') as f:
        f.write('Made by mmdet_lvis_fed.benchmarks.rehearsal, which removes this folder when its '
                'data must be written again.\n')
    os.makedirs(osp.join(root, 'annotations'))
    rng = np.random.default_rng(seed)
    w, h = image_size
    for split, n, name in (('train', train_images, 'lvis_v1_train.json'),
                           ('val', val_images, 'lvis_v1_val.json')):
        say(f'data: writing {name} ({n} images)')
        write_lvis_v1(osp.join(root, 'annotations', name), n, seed=seed, split=split,
                      image_size=image_size)
        folder = osp.join(root, f'{split}2017')
        os.makedirs(folder)
        sources = []
        for i in range(pictures):
            path = osp.join(folder, f'picture_{i}.jpg')
            cv2.imwrite(path, rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            sources.append(path)
        for i in range(n):     # the file names of testing.lvis_v1's coco_url
            os.link(sources[i % pictures], osp.join(folder, f'{i + 1:012d}.jpg'))
    atomic_write_text(json.dumps(stamp), stamp_path)
    say(f'data: {time.perf_counter() - t0:.0f} s')
    return root


# --- configs ---------------------------------------------------------------------------------

SMALL_MODEL = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=64),
                  bbox_head=dict(in_channels=64, fc_out_channels=256),
                  mask_roi_extractor=dict(out_channels=64),
                  mask_head=dict(in_channels=64, conv_out_channels=64)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100)))


def _scaled_pipeline(pipeline, scale):
    out = []
    for t in pipeline:
        t = dict(t)
        if 'scales' in t:
            t['scales'] = [tuple(scale)]
        if 'scale' in t:
            t['scale'] = tuple(scale)
        out.append(t)
    return out


def _dataset_dict(cfg_dataset, changes):
    """`changes` for the innermost dataset of a dataloader config, as a partial dict."""
    for _ in dataset_chain(cfg_dataset)[1:]:          # one `dataset=` level per wrapper
        changes = dict(dataset=changes)
    return changes


def write_configs(folder, baseline, data_root, iters, scale, val_images, max_dets_per_cat,
                  fixed_ap_piece):
    """(training config, test config) in `folder`: children of `baseline`, every value written
    with repr() (nothing from outside is pasted into Python)."""
    from mmengine.config import Config
    base = Config.fromfile(baseline)
    os.makedirs(folder, exist_ok=True)
    root = data_root.rstrip('/') + '/'
    train_ds = _dataset_dict(base.train_dataloader.dataset, dict(
        data_root=root, pipeline=_scaled_pipeline(
            unwrap_dataset(base.train_dataloader.dataset)['pipeline'], scale)))
    test_ds = _dataset_dict(base.test_dataloader.dataset, dict(
        data_root=root, indices=int(val_images), pipeline=_scaled_pipeline(
            unwrap_dataset(base.test_dataloader.dataset)['pipeline'], scale)))
    train = osp.join(folder, 'rehearsal_train.py')
    lines = [
        '# Written by mmdet_lvis_fed.benchmarks.rehearsal: the full-vocabulary baseline (K = 1203 as',
        '# it states), scaled down for a 2-core CPU: a small model, small images, a few iterations.',
        f'_base_ = {osp.abspath(baseline)!r}',
        f'model = {SMALL_MODEL!r}',
        f'train_dataloader = dict(batch_size=2, num_workers=2, dataset={train_ds!r})',
        f'train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters={int(iters)!r}, '
        'val_interval=10**9)',
        'param_scheduler = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, '
        'end=10)]',
        '# no validation during the rehearsal: the val file is the test set',
        'val_dataloader = None',
        'val_cfg = None',
        'val_evaluator = None',
        f'default_hooks = dict(logger=dict(interval=5), checkpoint=dict(by_epoch=False, '
        f'interval={int(iters)!r}))',
        'log_processor = dict(by_epoch=False)',
        f'test_dataloader = dict(num_workers=2, dataset={test_ds!r})',
        '',
    ]
    atomic_write_text('\n'.join(lines), train)
    test = osp.join(folder, 'rehearsal_fixed-ap_test.py')
    cap = int(max_dets_per_cat)
    lines = [
        '# The rehearsal\'s test: the Fixed AP piece (two-pass TopKTestLoop) with a cap that binds',
        '# on the rehearsal\'s val images.',
        f'_base_ = [{osp.abspath(train)!r}, {osp.abspath(fixed_ap_piece)!r}]',
        f'test_cfg = dict(_base_.fixed_ap_test_loop, max_dets_per_cat={cap!r})',
        'model = dict(test_cfg=_base_.fixed_ap_test_cfg)',
        f'test_evaluator = dict(_base_.fixed_ap_evaluator, max_dets_per_cat={cap!r})',
        '',
    ]
    atomic_write_text('\n'.join(lines), test)
    return train, test


# --- launching -------------------------------------------------------------------------------

class Launch:
    """One torchrun job: its output (to `log_path`, with the time of the first line matching each
    of `marks`), the PSS of its process tree after the first mark and at the peak, and rank 0's
    peak RSS (VmHWM)."""

    def __init__(self, cmd, log_path, marks, env=None):
        self.cmd, self.log_path, self.marks = cmd, log_path, marks
        self.env = env or os.environ
        self.times, self.lines = {}, []
        self.after_start = {}
        self.rank0_hwm = 0.0

    def _read(self, proc, sampler):
        with open(self.log_path, 'w', buffering=1) as log:     # line by line: tail -f works
            for line in proc.stdout:
                now = time.perf_counter() - self.t0
                log.write(line)
                self.lines.append(line)
                for name, pattern in self.marks.items():
                    if name not in self.times and re.search(pattern, line):
                        self.times[name] = now
                        if name == 'started':
                            self.after_start = self.roles(sampler.snapshot())

    @staticmethod
    def roles(parts):
        """{pid: (role, GiB)} from the sampler's {pid: (depth, GiB)}: the launcher, its ranks
        (children), and their children: DataLoader workers, or during start-up the short-lived
        child that builds the data list (LVISFedDataset.full_init)."""
        names = {0: 'launcher', 1: 'rank'}
        return {pid: (names.get(depth, 'worker/builder'), gib)
                for pid, (depth, gib) in parts.items()}

    def _watch_rank0(self, stop):
        while not stop.is_set():
            ranks = [p for p, depth in procfs.tree_depths(self.pid).items() if depth == 1]
            if ranks:
                hwm = procfs.peak_rss_gib(min(ranks))
                if hwm:
                    self.rank0_hwm = max(self.rank0_hwm, hwm)
            stop.wait(0.5)

    def run(self, timeout):
        """Run the command in a process group of its own, for at most `timeout` seconds. On the
        timeout, or when this process is interrupted, the whole group (torchrun, its ranks and
        their DataLoader workers) is stopped: SIGTERM, then SIGKILL after `grace` seconds."""
        self.t0 = time.perf_counter()
        self.timed_out = False
        proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=self.env, start_new_session=True)
        self.pid = proc.pid
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch_rank0, args=(stop,), daemon=True)
        try:
            with memory.TreeSampler(proc.pid) as sampler:
                watcher.start()
                reader = threading.Thread(target=self._read, args=(proc, sampler), daemon=True)
                reader.start()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.timed_out = True
                if self.timed_out:
                    stop_group(proc)
                reader.join(timeout=10)
        finally:
            stop_group(proc)        # also on Ctrl-C / SIGTERM, and for strays of a finished run
            stop.set()
        watcher.join()
        self.wall = time.perf_counter() - self.t0
        self.returncode = proc.returncode
        self.peak = self.roles(sampler.peak_parts)
        self.peak_total = sampler.peak_total
        return self

    def failure(self, what, timeout):
        """The error of a failed launch: its first line says why (the timeout, or the exit
        status), then the log's last lines."""
        if self.timed_out:
            why = (f'{what} timed out after {timeout} s (--timeout): its process group '
                   '(launcher, ranks, DataLoader workers) was stopped')
        else:
            why = f'{what} failed (exit {self.returncode})'
        return RuntimeError(f'{why}; see {self.log_path}:\n' + ''.join(self.lines[-15:]))


def stop_group(proc, grace=10):
    """End the process group led by `proc` (started with start_new_session): SIGTERM to every
    member, SIGKILL to what is left after `grace` seconds. Only that group: the processes this
    module started and their children."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:      # nothing left in the group
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(proc):
            time.sleep(0.1)
    proc.wait()


def _group_alive(proc):
    proc.poll()                          # reap the leader: a zombie still counts as a member
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _by_role(parts):
    out = {}
    for role, gib in parts.values():
        out.setdefault(role, []).append(gib)
    return out


def memory_line(parts):
    roles = _by_role(parts)
    cells = [f'{role} ' + ' + '.join(f'{g:.2f}' for g in roles[role])
             for role in ('launcher', 'rank', 'worker/builder') if role in roles]
    return f'{sum(g for _, g in parts.values()):.2f} GiB ({"; ".join(cells)})'


def iteration_seconds(lines):
    """The last `time: X` of the training log lines (mmengine's mean over its window)."""
    times = [float(m.group(1)) for line in lines if 'Iter(train)' in line
             for m in [re.search(r'\btime: ([\d.]+)', line)] if m]
    return times[-1] if times else float('nan')


def torchrun(script_args, nproc, threads):
    exe = osp.join(osp.dirname(sys.executable), 'torchrun')
    return [exe, '--nproc-per-node', str(nproc), '--master-port', str(free_port()),
            '-m', 'mmdet_lvis_fed.dist_cpu'] + list(script_args), dict(
                os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


# --- the rehearsal ---------------------------------------------------------------------------

DATA_FOLDER = 'rehearsal_data'


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


def check_data_folder(root):
    """Refuse a `root` that this module did not make (no OWNER_MARK in it): it is never removed
    or written into."""
    if osp.lexists(root) and (not osp.isdir(root) or not osp.isfile(osp.join(root, OWNER_MARK))):
        raise RefusedFolder(
            f'{root}: exists and was not made by the rehearsal (no {OWNER_MARK} in it), so it is '
            'left as it is; choose another --work-dir, or move it away yourself')


def rehearse(work_dir, baseline, fixed_ap_piece, train_images=TRAIN_IMAGES,
             val_images_file=VAL_IMAGES, iters=40, test_images=100, max_dets_per_cat=20, scale=(64, 48), nproc=2,
             timeout=1500):
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
    train_dir = osp.join(work_dir, 'train')
    cmd, env = torchrun(['train', train_cfg, '--work-dir', train_dir], nproc, threads)
    say(f'train: {nproc} gloo processes x 2 workers, {iters} iterations: ' + ' '.join(cmd[3:]))
    train = Launch(cmd, osp.join(work_dir, 'train.log'), dict(
        started=r'Checkpoints will be saved to', first_iter=r'Iter\(train\) \[\s*\d+/'),
        env).run(timeout)
    if train.returncode != 0 or train.timed_out:
        raise train.failure('training', timeout)
    with open(osp.join(train_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    test_dir = osp.join(work_dir, 'test')
    cmd, env = torchrun(['test', test_cfg, checkpoint, '--work-dir', test_dir], nproc, threads)
    say(f'test: {nproc} gloo processes, {test_images} val images, two-pass Fixed AP with '
        f'max_dets_per_cat={max_dets_per_cat}: ' + ' '.join(cmd[3:]))
    test = Launch(cmd, osp.join(work_dir, 'test.log'), dict(
        started=r'TopKTestLoop pass 1 of 2', pass2=r'TopKTestLoop pass 2 of 2',
        evaluated=r'LVIS federated evaluation'), env).run(timeout)
    if test.returncode != 0 or test.timed_out:
        raise test.failure('test', timeout)
    last_test_iter = max((i for i, line in enumerate(test.lines) if 'Iter(test)' in line),
                         default=None)
    figures = dict(
        train_startup_s=train.times.get('started'), train_wall_s=train.wall,
        s_per_iter=iteration_seconds(train.lines), train_pss_after_startup=train.after_start,
        train_pss_peak=train.peak, test_wall_s=test.wall,
        pass1_s=_between(test.times, 'started', 'pass2'),
        pass2_and_eval_s=_between(test.times, 'pass2', 'evaluated'),
        test_pss_peak=test.peak, rank0_peak_rss_gib=test.rank0_hwm,
        total_s=time.perf_counter() - t_all)
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
    if last_test_iter is not None:
        figures['metric_lines'] = ''.join(test.lines[last_test_iter:])[-3000:]
    with open(osp.join(work_dir, 'rehearsal.json'), 'w') as f:
        json.dump({k: v for k, v in figures.items() if k != 'metric_lines'}, f, indent=1,
                  default=str)
    return figures


def _between(times, a, b):
    return times[b] - times[a] if a in times and b in times else float('nan')
