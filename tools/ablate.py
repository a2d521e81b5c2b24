#!/usr/bin/env python
"""Train and test each config per seed, then tabulate and plot AP per frequency group.

    python tools/ablate.py CONFIG [CONFIG ...] --seeds 0 1 --work-dir work_dirs/ablation
                           [--cfg-options KEY=VALUE ...] [--jobs N] [--report-only]
                           [--publish PATH]

A run is identified by everything that determines its numbers: the config's path, its resolved
content (the dumped config after --cfg-options: every key the runner reads), the seed, the
options, the bytes of the checkpoints it starts from (`load_from`, TransferWeightsHook) and the
bytes of the annotation files its dataloaders read (every `ann_file`, under its `data_root`: a
SHA-256 of the whole file, so re-rendered data under the same paths is trained again). It
lives in

    WORK_DIR/<config path without .py>/<run key>/seed<S>/

(run.log, the checkpoints, metrics.json). A finished run is reused only when all of these match;
any change trains it again in a folder of its own. Training resumes from its last checkpoint after
a kill: run the same command again. One ablate.py at a time may work on a run (a lock per run
folder); SIGTERM or SIGINT to ablate.py is passed to the run it is waiting for. A progress line per run
started and finished gives run i of n, the elapsed time and an estimate of the time left.

The test uses `best_val_loss.pth` when the run kept one (ValidationLossHook: the seed report's
protocol), else the last checkpoint; metrics.json names it. A config with a top-level
`fixed_ap_test = dict(test_cfg=..., model=..., test_evaluator=...)` is tested a second time with
those values (test_cfg replaced, the other two merged: the two-pass TopKTestLoop of
configs/_base_/lvis-fixed-ap_test.py), its metrics kept as `fixed/<key>` (the Fixed AP column).

A pretraining is a run like any other: with `--publish PATH` (one config, one seed) its tested
checkpoint is linked to PATH once the run is finished. Configs that start from PATH hash its
bytes into their keys, so a changed pretraining config retrains the pretraining and then them.

A test-time variant is a config with a top-level `retest_of = '<training config>'` (relative to its
own folder): it is not trained, but tests the checkpoint of that config's run with the same seed
and options (trained first if needed), e.g. a score calibration.

At the end (and with --report-only, without training) it writes:

    WORK_DIR/ablation.md    box and mask AP, APr, APc, APf, AP50 (and Fixed AP) per config:
                            mean +- spread over seeds (spread = population standard deviation,
                            |a - b| / 2 for two seeds), the difference of the means against the
                            first config, marked where it exceeds both rows' spreads together,
                            the best row of each column in bold
    WORK_DIR/ablation.png   grouped bars per frequency group (box and mask), error bars = spread

Errors end in one line, `error: ...`, exit status 2.
"""
import argparse
import fcntl
import hashlib
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmdet_lvis_fed.io import ToolParser, atomic_write_json, atomic_write_text, fail  # noqa: E402

RETEST_KEY = 'retest_of'
GROUPS = ('AP', 'APr', 'APc', 'APf')
# What mmengine's Runner reads from a config (Runner.from_cfg, and mmdet's tools): the run key
# hashes these, so an unused top-level variable (a piece of configs/_base_/longtail.py that
# this config does not pick) does not make a finished run look different.
RUNNER_KEYS = ('model', 'data_preprocessor', 'train_dataloader', 'val_dataloader',
               'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
               'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
               'default_hooks', 'custom_hooks', 'load_from', 'resume', 'env_cfg', 'randomness',
               'default_scope', 'custom_imports', 'model_wrapper_cfg', 'runner_type',
               'launcher', RETEST_KEY, 'fixed_ap_test')
TASKS = ('bbox', 'segm')
# A config's optional second test (the Fixed AP protocol): its metrics are kept under this prefix.
FIXED_KEY, FIXED_PREFIX = 'fixed_ap_test', 'fixed/'
# The table's columns per task: (metric key, header).
COLUMNS = (('AP', 'AP'), ('APr', 'APr'), ('APc', 'APc'), ('APf', 'APf'), ('AP50', 'AP50'),
           (FIXED_PREFIX + 'AP', 'Fixed AP'))


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
    p.add_argument('--run', nargs=4, metavar=('CONFIG', 'SEED', 'RUN_DIR', 'CHECKPOINT'),
                   help=argparse.SUPPRESS)     # internal: one run, in a child process
    return p.parse_args(argv)


# --- what identifies a run -------------------------------------------------------------------

def _options(cfg_options):
    if not cfg_options:
        return {}
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    return parser.parse_args(['--o'] + list(cfg_options)).o


def load_config(config, cfg_options, as_written=False):
    """The config with the options merged; with `as_written`, also the file as parsed before
    them (one parse: a copy, or the same object when there are no options)."""
    import copy
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    written = copy.deepcopy(cfg) if as_written and cfg_options else cfg
    cfg.merge_from_dict(_options(cfg_options))
    return (cfg, written) if as_written else cfg


def _file_hash(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


_HASHES = {}


def _file_hash_cached(path):
    """SHA-256 of a file, once per (path, size, mtime) in this process: every seed of a config
    reads the same annotation files."""
    st = os.stat(path)
    key = (osp.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = _file_hash(path)
    return _HASHES[key]


def annotation_files(cfg):
    """The annotation files the dataloaders' datasets read (through wrappers: `dataset`,
    `datasets`), each joined to its dataset's data_root as mmengine does."""
    found, todo = set(), [cfg.get(k, {}).get('dataset') for k in
                          ('train_dataloader', 'val_dataloader', 'test_dataloader')
                          if isinstance(cfg.get(k), dict)]
    while todo:
        ds = todo.pop()
        if isinstance(ds, (list, tuple)):
            todo += list(ds)
        elif isinstance(ds, dict):
            ann = ds.get('ann_file')
            if isinstance(ann, str) and ann:
                root = ds.get('data_root') or ''
                found.add(ann if osp.isabs(ann) or not root else osp.join(root, ann))
            todo += [ds.get('dataset'), ds.get('datasets')]
    return sorted(found)


def start_checkpoints(cfg):
    """Checkpoint files the run starts from: load_from and every TransferWeightsHook's."""
    paths = [cfg.get('load_from')] + [h.get('checkpoint') for h in cfg.get('custom_hooks') or ()
                                      if str(h.get('type', '')).endswith('TransferWeightsHook')]
    return sorted({p for p in paths if p})


class Run:
    """One (config, seed): its key, folder and checkpoint source."""

    def __init__(self, config, seed, work_dir, cfg_options, _seen=()):
        self.config = osp.relpath(osp.abspath(config), os.getcwd())
        self.seed, self.options = int(seed), list(cfg_options)
        if osp.abspath(config) in _seen:
            raise ValueError(f'{config}: {RETEST_KEY} leads back to itself')
        try:
            cfg, written = load_config(config, cfg_options, as_written=True)
        except Exception as e:        # a config that does not parse: name it, one line
            raise ValueError(f'{config}: cannot load the config ({type(e).__name__}: '
                             f'{str(e).splitlines()[0] if str(e) else ""})') from None
        from mmdet_lvis_fed.engine.checks import unused_variables_message
        unused = unused_variables_message(cfg, written)   # the run would stop at start-up: now
        if unused:
            raise ValueError(f'{config}: {unused}')
        self.source = None
        if cfg.get(RETEST_KEY):
            src = osp.normpath(osp.join(osp.dirname(config), cfg[RETEST_KEY]))
            if not osp.isfile(src):
                raise ValueError(f'{config}: {RETEST_KEY} names {src}, which is not a file')
            self.source = Run(src, seed, work_dir, cfg_options,
                              _seen=tuple(_seen) + (osp.abspath(config),))
        inputs = {}
        for path in start_checkpoints(cfg) + annotation_files(cfg):
            inputs[path] = _file_hash_cached(path) if osp.isfile(path) else 'missing'
        from mmengine.config import Config
        used = Config({k: cfg[k] for k in RUNNER_KEYS if k in cfg}).pretty_text
        ident = dict(config=self.config, content=used, options=self.options,
                     inputs=inputs, retest_of=self.source.key if self.source else None)
        self.key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]
        self.inputs = inputs
        where = '/'.join(p for p in osp.splitext(self.config)[0].split(os.sep) if p not in ('.', '..'))
        self.dir = osp.join(work_dir, where, self.key, f'seed{self.seed}')
        self.metrics_path = osp.join(self.dir, 'metrics.json')

    @property
    def name(self):
        return osp.splitext(osp.basename(self.config))[0]

    def finished(self):
        if not osp.exists(self.metrics_path):
            return None
        try:
            with open(self.metrics_path) as f:
                m = json.load(f)
        except ValueError:
            return None
        same = (m.get('key') == self.key and m.get('seed') == self.seed
                and m.get('config') == self.config and m.get('options') == self.options)
        return m if same else None

    def test_checkpoint(self):
        """The checkpoint a finished training run is tested with (for a test-time variant, its
        source's: a variant of a variant tests the training run at the end of the chain)."""
        if self.source is not None:
            return self.source.test_checkpoint()
        best = osp.join(self.dir, 'best_val_loss.pth')
        if osp.exists(best):
            return best
        with open(osp.join(self.dir, 'last_checkpoint')) as f:
            return f.read().strip()


# --- one run, in a child process -------------------------------------------------------------

def seeded(cfg, seed):
    """The config's `randomness` with the run's seed: every other option of it (deterministic,
    diff_rank_seed) kept as the config or --cfg-options set it."""
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=int(seed))
    return cfg


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


def fixed_ap_config(cfg):
    """The config of the second test: `fixed_ap_test`'s test_cfg (the loop) replacing the
    config's, its model.test_cfg and test_evaluator merged into the config's."""
    import copy
    fixed = cfg[FIXED_KEY]
    unknown = set(fixed) - {'test_cfg', 'model', 'test_evaluator'}
    if unknown:
        raise ValueError(f'{FIXED_KEY} sets {sorted(unknown)}: it takes test_cfg, model and '
                         'test_evaluator')
    out = copy.deepcopy(cfg)
    if 'test_cfg' in fixed:
        out.test_cfg = copy.deepcopy(fixed['test_cfg'])
    out.merge_from_dict({k: fixed[k] for k in ('model', 'test_evaluator') if k in fixed})
    # a name of its own: mmengine keys its logger and visualizer instances by the experiment name
    out.experiment_name = time.strftime('%Y%m%d_%H%M%S') + '_fixed_ap'
    return out


class _Child:
    """A run's process; SIGTERM / SIGINT to this process are passed on to it."""
    current = []

    @classmethod
    def forward(cls, signum, frame):
        for proc in cls.current:
            if proc.poll() is None:
                proc.send_signal(signum)
        for proc in cls.current:
            proc.wait()
        fail(f'stopped by signal {signal.Signals(signum).name}; finished runs are kept and an '
             'interrupted one resumes: run the same command again')


def lock(run):
    """Take the run folder's lock (held by this process and its child), or refuse."""
    os.makedirs(run.dir, exist_ok=True)
    fd = os.open(osp.join(run.dir, '.lock'), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        fail(f'{run.dir} is being worked on by another ablate.py (its lock file .lock is held); '
             'wait for it, or stop it first')
    return fd


def start(run, cfg_options, threads):
    """Start the run's child process (holding its lock); returns (process, log file)."""
    fd = lock(run)
    checkpoint = run.source.test_checkpoint() if run.source else '-'
    cmd = [sys.executable, osp.abspath(__file__), '--run', run.config, str(run.seed), run.dir,
           checkpoint]
    if cfg_options:
        cmd += ['--cfg-options'] + list(cfg_options)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    log = open(osp.join(run.dir, 'run.log'), 'a')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, pass_fds=(fd,), env=env)
    os.close(fd)      # the child's copy keeps the lock while it runs
    return proc, log


def _minutes(seconds):
    return f'{seconds / 60:.1f} min'


def estimate_left(durations, pending, running, jobs):
    """Seconds left: the mean duration of each kind finished so far ('train', 'test') times the
    runs of that kind still to start, plus the rest of the running ones, over `jobs`; None until
    one run of each kind needed has finished."""
    mean = {k: sum(v) / len(v) for k, v in durations.items() if v}
    need = [k for k in pending] + [k for k, _ in running]
    if any(k not in mean for k in need):
        return None
    left = sum(mean[k] for k in pending)
    left += sum(max(0.0, mean[k] - elapsed) for k, elapsed in running)
    return left / jobs


def run_all(runs, cfg_options, jobs):
    """Train and test what is not finished, `jobs` at a time; sources before their variants.
    A progress line per run started and finished: run i of n, elapsed time, estimate left."""
    todo = [r for r in runs if not r.finished()]
    for r in runs:
        if r.finished():
            print(f'{r.name} seed {r.seed}: finished, reused ({r.dir})', flush=True)
    sources = {r.source.dir: r.source for r in todo if r.source and not r.source.finished()}
    queue = [s for s in sources.values() if s.dir not in {r.dir for r in todo}] + todo
    threads = max(1, (os.cpu_count() or 1) // jobs)
    active, n, total = [], 0, len(queue)
    durations = {'train': [], 'test': []}
    start_time = time.time()

    def kind(r):
        return 'test' if r.source else 'train'

    def progress():
        now = time.time()
        left = estimate_left(durations, [kind(r) for r in queue],
                             [(kind(r), now - t0) for r, _, _, t0 in active], jobs)
        return (f'elapsed {_minutes(now - start_time)}, '
                + (f'about {_minutes(left)} left' if left is not None else
                   'estimate after the first run of each kind'))

    signal.signal(signal.SIGTERM, _Child.forward)
    signal.signal(signal.SIGINT, _Child.forward)
    while queue or active:
        ready = [r for r in queue if not r.source or r.source.finished()]
        while ready and len(active) < jobs:
            r = ready.pop(0)
            queue.remove(r)
            n += 1
            what = 'testing' if r.source else 'training and testing'
            proc, log = start(r, cfg_options, threads)
            active.append((r, proc, log, time.time()))
            _Child.current = [p for _, p, _, _ in active]
            print(f'[{n}/{total}] {r.name} seed {r.seed}: {what} (log: {r.dir}/run.log); '
                  f'{progress()}', flush=True)
        if not active:
            fail('a test-time variant waits for a run that cannot start')
        time.sleep(1)
        for item in list(active):
            r, proc, log, t0 = item
            if proc.poll() is None:
                continue
            active.remove(item)
            log.close()
            _Child.current = [p for _, p, _, _ in active]
            if proc.returncode != 0 or not r.finished():
                for _, p, _, _ in active:
                    p.wait()
                fail(f'{r.name} seed {r.seed} failed (exit {proc.returncode}); see {r.dir}/run.log. '
                     'Finished runs are kept: run the command again to go on')
            durations[kind(r)].append(time.time() - t0)
            print(f'    {r.name} seed {r.seed}: done in {_minutes(time.time() - t0)}; '
                  f'{progress()}', flush=True)


def publish(run, dest):
    """Make `dest` the checkpoint `run` is tested with (a hard link, else a copy; replaced in
    one rename, so a reader never sees half a file). Nothing happens when it already is."""
    import shutil
    src = run.test_checkpoint()
    if osp.exists(dest) and osp.samefile(src, dest):
        print(f'published: {dest} is already {src}', flush=True)
        return
    os.makedirs(osp.dirname(osp.abspath(dest)), exist_ok=True)
    tmp = f'{dest}.tmp-{os.getpid()}'
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        if osp.exists(tmp):
            os.unlink(tmp)
    print(f'published: {dest} = {src}', flush=True)


# --- the report ------------------------------------------------------------------------------

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


def check_work_dir(work_dir):
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        fail(f'--work-dir {work_dir}: exists and is not a folder')
    try:
        os.makedirs(work_dir, exist_ok=True)
    except OSError as e:
        fail(f'--work-dir {work_dir}: cannot create it ({e.strerror or e})')
    if not os.access(work_dir, os.W_OK | os.X_OK):
        fail(f'--work-dir {work_dir}: not writable')


def main(argv=None):
    args = parse_args(argv)
    if args.run:
        # SIGTERM (passed on by the parent) ends this run as SystemExit rather than the default
        # kill, so the interpreter exits normally and stops the DataLoader workers it forked
        # instead of orphaning them.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        config, seed, run_dir, checkpoint = args.run
        one_run(config, int(seed), run_dir, checkpoint, args.cfg_options)
        return
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
        check_work_dir(args.work_dir)
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
