"""tools/ablate.py as users run it: its refusals, locks, reuse of finished runs, signals and the
long-tail family end to end (the package's parts: tests/test_experiments/)."""
import fcntl
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

from mmdet_lvis_fed import procfs
from tests.conftest import ROOT
from tests.test_experiments.test_runs import LT_BASE, PRETRAIN, copy_config

ABLATE = osp.join(ROOT, 'tools', 'ablate.py')


def tiny_options(demo_root):
    """Two iterations on the small demo data."""
    return [f'train_dataloader.dataset.data_root={demo_root}',
            f'test_dataloader.dataset.data_root={demo_root}',
            f'val_dataloader.dataset.data_root={demo_root}',
            'train_cfg.max_iters=2', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False']


def ablate(*args, cwd=ROOT, timeout=900):
    return subprocess.run([sys.executable, ABLATE, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=dict(os.environ, OMP_NUM_THREADS='1'))


def test_refusals_follow_the_error_contract(tmp_path):
    cfg = copy_config(tmp_path, 'a')
    for args, msg in [((cfg, '--seeds', '0', '0'), 'repeats a seed'),
                      ((cfg, cfg), 'is given twice'),
                      ((str(tmp_path / 'none.py'),), 'no such config file')]:
        out = ablate(*args, '--work-dir', str(tmp_path / 'w'))
        assert out.returncode == 2 and out.stderr.startswith('error: ') and msg in out.stderr
        assert out.stderr.count('\n') == 1 and 'Traceback' not in out.stderr
    (tmp_path / 'file').write_text('')
    out = ablate(cfg, '--work-dir', str(tmp_path / 'file'))
    assert out.returncode == 2 and 'exists and is not a folder' in out.stderr
    # A folder under a file cannot be created, whoever runs the test (root ignores permissions).
    out = ablate(cfg, '--work-dir', str(tmp_path / 'file' / 'w'))
    assert out.returncode == 2 and 'cannot create it' in out.stderr
    # --seeds decides the seed: an option that would be overridden is refused
    out = ablate(cfg, '--work-dir', str(tmp_path / 'w'), '--cfg-options', 'randomness.seed=5')
    assert out.returncode == 2 and out.stderr == (
        "error: --cfg-options randomness.seed=5: ablate.py sets each run's seed from --seeds "
        "(randomness.seed = S, the config's other randomness options kept); give the seeds "
        'there\n')
    # an option that would do nothing (the datasets read classes when the bases were parsed)
    # (refused once the config is loaded: mmengine's import warnings may come first)
    out = ablate(cfg, '--work-dir', str(tmp_path / 'w'), '--cfg-options', "classes=('a','b')")
    errors = [line for line in out.stderr.splitlines() if line.startswith('error: ')]
    assert out.returncode == 2 and 'Traceback' not in out.stderr, out.stderr
    assert len(errors) == 1 and out.stderr.strip().splitlines()[-1] == errors[0]
    assert errors[0].startswith(f'error: {cfg}: classes = (a, b) is set by --cfg-options')
    # an option error is one line too (argparse's usage is not printed before it)
    out = ablate(cfg, '--work-dir', str(tmp_path / 'w'), '--seeds', 'x')
    assert out.returncode == 2 and out.stderr.count('\n') == 1
    assert out.stderr.startswith('error: argument --seeds') and "'x'" in out.stderr
    # --report-only reads; it creates nothing
    out = ablate(cfg, '--work-dir', str(tmp_path / 'nothing'), '--report-only')
    assert out.returncode == 2 and 'no such folder' in out.stderr
    assert not (tmp_path / 'nothing').exists()


def test_a_locked_run_is_refused(tmp_path):
    from mmdet_lvis_fed.experiments.runs import Run
    cfg = copy_config(tmp_path, 'a')
    w = str(tmp_path / 'w')
    run = Run(cfg, 0, w, [])
    os.makedirs(run.dir)
    fd = os.open(osp.join(run.dir, '.lock'), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)             # another ablate.py is working on it
    try:
        out = ablate(cfg, '--work-dir', w)
    finally:
        os.close(fd)
    assert out.returncode == 2 and 'being worked on by another ablate.py' in out.stderr
    assert not osp.exists(osp.join(run.dir, 'run.log'))


def test_runs_are_reused_only_when_everything_matches(tmp_path, demo_root):
    a = copy_config(tmp_path, 'a')
    b = copy_config(tmp_path, 'b')                     # the same base name in another folder
    w = str(tmp_path / 'w')
    opts = tiny_options(demo_root)
    out = ablate(a, b, '--work-dir', w, '--jobs', '2', '--cfg-options', *opts)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count('training and testing') == 2
    runs = sorted(p for p in os.popen(f'find {w} -name metrics.json').read().split())
    assert len(runs) == 2
    m = [json.load(open(p)) for p in runs]
    assert {r['config'] for r in m} == {osp.relpath(a, ROOT), osp.relpath(b, ROOT)}
    assert all(r['options'] == opts and r['seed'] == 0 and len(r['key']) == 12 for r in m)
    md = open(osp.join(w, 'ablation.md')).read()
    assert osp.relpath(a, ROOT) in md and osp.relpath(b, ROOT) in md
    assert 'train_cfg.max_iters=2' in md                # the options are in the table
    again = ablate(a, '--work-dir', w, '--cfg-options', *opts)
    assert again.returncode == 0 and 'finished, reused' in again.stdout
    assert 'training and testing' not in again.stdout
    # Other options: not the same run, trained again in its own folder.
    other = opts[:-1] + ['val_dataloader.persistent_workers=0']
    changed = ablate(a, '--work-dir', w, '--report-only', '--cfg-options', *other)
    assert changed.returncode == 2 and 'no finished run' in changed.stderr


def gone(pid):
    return procfs.process_state(pid) in (None, 'Z')


def test_sigterm_reaches_the_training_child_and_its_workers(tmp_path, demo_root):
    cfg = copy_config(tmp_path, 'a', 'train_cfg = dict(max_iters=5000)\n')
    w = str(tmp_path / 'w')
    # one DataLoader worker: the training child forks it, and it must not outlive the child
    opts = [o for o in tiny_options(demo_root)
            if 'max_iters' not in o and not o.startswith('train_dataloader.num_workers')]
    opts.append('train_dataloader.num_workers=1')
    proc = subprocess.Popen([sys.executable, ABLATE, cfg, '--work-dir', w, '--cfg-options', *opts],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = worker = None
    for _ in range(600):
        time.sleep(0.5)
        child = (procfs.children(proc.pid) or [None])[0]
        worker = (procfs.children(child) or [None])[0] if child else None
        if worker:
            break
    assert child is not None and worker is not None
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and 'stopped by signal SIGTERM' in err
    assert gone(child)
    for _ in range(10):           # the child's exit stops its worker; allow it a moment
        if gone(worker):
            break
        time.sleep(0.2)
    assert gone(worker)
    shutil.rmtree(w, ignore_errors=True)


def fake_pretrained(tmp_path):
    """A checkpoint of the pretraining config's model (random weights, the base set's classes)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet.registry import MODELS
    import mmdet_lvis_fed.plugin  # noqa: F401
    init_default_scope('mmdet')
    cfg = Config.fromfile(PRETRAIN)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = tmp_path / 'pretrained.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=cfg.classes))), str(path))
    return str(path)


def test_the_long_tail_family_runs_end_to_end_with_fixed_ap(tmp_path, study_root):
    """The ablation's smoke test: the baseline, fine-tuned 2 iterations from a pretrained
    checkpoint with backbone and FPN frozen, tested twice (AP, then Fixed AP through the two-pass
    loop); the table has both columns, and a changed start checkpoint is another run."""
    ckpt = fake_pretrained(tmp_path)
    w = str(tmp_path / 'w')
    opts = [o for o in tiny_options(study_root)] + [f'custom_hooks.0.checkpoint={ckpt}']
    out = ablate(LT_BASE, '--work-dir', w, '--cfg-options', *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    assert '[1/1]' in out.stdout and 'elapsed' in out.stdout and 'left' in out.stdout
    (metrics_path,) = os.popen(f'find {w} -name metrics.json').read().split()
    m = json.load(open(metrics_path))
    assert {'lvis_fed/bbox_AP', 'lvis_fed/segm_APr', 'fixed/lvis_fed/bbox_AP',
            'fixed/lvis_fed/segm_AP'} <= set(m['metrics'])
    assert m['fixed_ap_test_s'] > 0 and ckpt in m['inputs']
    log = open(osp.join(osp.dirname(metrics_path), 'run.log')).read()
    assert "FreezeModulesHook: ['backbone', 'neck'] frozen" in log
    assert 'pass 1 of 2' in log                                   # the TopKTestLoop ran
    md = open(osp.join(w, 'ablation.md')).read()
    assert 'box Fixed AP' in md and 'mask AP50' in md
    from mmdet_lvis_fed.experiments.runs import Run
    key = Run(LT_BASE, 0, w, opts).key
    with open(ckpt, 'ab') as f:                       # a retrained pretraining: new bytes
        f.write(b'\0')
    assert Run(LT_BASE, 0, w, opts).key != key


def test_publish_refusals(tmp_path):
    cfg = copy_config(tmp_path, 'a')
    out = ablate(cfg, '--seeds', '0', '1', '--publish', str(tmp_path / 'p.pth'),
                 '--work-dir', str(tmp_path / 'w'))
    assert out.returncode == 2 and 'exactly one config and one seed' in out.stderr
    out = ablate(cfg, '--publish', str(tmp_path), '--work-dir', str(tmp_path / 'w'))
    assert out.returncode == 2 and 'is a folder' in out.stderr
