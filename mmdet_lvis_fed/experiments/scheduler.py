"""Running the runs of an experiment: `jobs` at a time, each in a child process
(`experiments.child`) that holds its run folder's lock, sources before their test-time variants,
with a progress line per run started and finished (run i of n, the elapsed time and an estimate of
the time left). One scheduler at a time may work on a run (an flock on `RUN_DIR/.lock`, held by
the child); SIGTERM or SIGINT to the scheduler is passed to the runs it waits for, and ends it in
a CommandError once they have stopped. Finished runs are kept: the same command goes on.
"""
import fcntl
import os
import os.path as osp
import signal
import subprocess
import sys
import time

from ..errors import CommandError


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
        raise CommandError(f'stopped by signal {signal.Signals(signum).name}; finished runs are '
                           'kept and an interrupted one resumes: run the same command again')


def lock(run):
    """Take the run folder's lock (held by this process and its child), or refuse."""
    os.makedirs(run.dir, exist_ok=True)
    fd = os.open(osp.join(run.dir, '.lock'), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise CommandError(f'{run.dir} is being worked on by another ablate.py (its lock file '
                           '.lock is held); wait for it, or stop it first')
    return fd


def start(run, cfg_options, threads):
    """Start the run's child process (holding its lock); returns (process, log file)."""
    fd = lock(run)
    checkpoint = run.source.test_checkpoint() if run.source else '-'
    cmd = [sys.executable, '-m', 'mmdet_lvis_fed.experiments.child', run.config, str(run.seed),
           run.dir, checkpoint]
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
            raise CommandError('a test-time variant waits for a run that cannot start')
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
                raise CommandError(f'{r.name} seed {r.seed} failed (exit {proc.returncode}); see '
                                   f'{r.dir}/run.log. Finished runs are kept: run the command '
                                   'again to go on')
            durations[kind(r)].append(time.time() - t0)
            print(f'    {r.name} seed {r.seed}: done in {_minutes(time.time() - t0)}; '
                  f'{progress()}', flush=True)


def check_work_dir(work_dir):
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise CommandError(f'--work-dir {work_dir}: exists and is not a folder')
    try:
        os.makedirs(work_dir, exist_ok=True)
    except OSError as e:
        raise CommandError(f'--work-dir {work_dir}: cannot create it ({e.strerror or e})')
    if not os.access(work_dir, os.W_OK | os.X_OK):
        raise CommandError(f'--work-dir {work_dir}: not writable')
