"""tools/ablate.py: a run is identified by what determines its numbers, and its tables can only
show the numbers of the runs they name."""
import fcntl
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

ABLATE = osp.join(ROOT, 'tools', 'ablate.py')
BASE = osp.join(ROOT, 'configs', 'demo', 'longtail', 'mask-rcnn_r18_fpn_gn-scratch_baseline_demo-lt.py')


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


def copy_config(tmp_path, folder, body=''):
    """A config in its own folder that inherits the baseline (same base name in each folder)."""
    path = tmp_path / folder / 'x.py'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'_base_ = {BASE!r}\n{body}')
    return str(path)


def test_run_key_follows_path_content_seed_options_and_start_checkpoint(tmp_path):
    sys.path.insert(0, ROOT)
    from tools.ablate import Run
    a = copy_config(tmp_path, 'a')
    b = copy_config(tmp_path, 'b')
    w = str(tmp_path / 'w')
    ra, rb = Run(a, 0, w, []), Run(b, 0, w, [])
    assert ra.key != rb.key and ra.dir != rb.dir                 # same base name, other path
    assert Run(a, 0, w, []).key == ra.key                        # deterministic
    assert Run(a, 1, w, []).key == ra.key and Run(a, 1, w, []).dir != ra.dir   # seed: folder
    assert Run(a, 0, w, ['train_cfg.max_iters=9']).key != ra.key
    # content: the same path with what the runner reads changed (or a base changed under it) is
    # another run; a top-level variable the runner does not read (an unused piece) is not
    c = copy_config(tmp_path, 'c')
    k = Run(c, 0, w, []).key
    copy_config(tmp_path, 'c', 'unused_piece = dict(type="EQLLoss")\n')
    assert Run(c, 0, w, []).key == k
    copy_config(tmp_path, 'c', 'train_cfg = dict(max_iters=2)\n')
    assert Run(c, 0, w, []).key != k
    ckpt = tmp_path / 'start.pth'
    ckpt.write_bytes(b'one')
    d = copy_config(tmp_path, 'd', f'load_from = {str(ckpt)!r}\n')
    k1 = Run(d, 0, w, []).key
    ckpt.write_bytes(b'two')                                     # re-pretrained
    assert Run(d, 0, w, []).key != k1


def test_run_key_follows_the_annotation_files(tmp_path):
    """Data re-rendered under the same paths is another run; the key hashes the bytes of every
    annotation file the dataloaders read (joined to their data_root)."""
    sys.path.insert(0, ROOT)
    from tools.ablate import Run
    root = tmp_path / 'data'
    (root / 'annotations').mkdir(parents=True)
    for name in ('lvis_v1_train.json', 'lvis_v1_val.json'):
        (root / 'annotations' / name).write_text('{"one": 1}')
    cfg = copy_config(tmp_path, 'a')
    w, opts = str(tmp_path / 'w'), [f'{k}.dataset.data_root={root}/' for k in
                                    ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    run = Run(cfg, 0, w, opts)
    assert sorted(run.inputs) == [f'{root}/annotations/lvis_v1_train.json',
                                  f'{root}/annotations/lvis_v1_val.json']
    import hashlib
    assert set(run.inputs.values()) == {hashlib.sha256(b'{"one": 1}').hexdigest()}
    (root / 'annotations' / 'lvis_v1_val.json').write_text('{"one": 2}')    # same size
    assert Run(cfg, 0, w, opts).key != run.key


def test_a_variant_of_a_variant_tests_the_training_runs_checkpoint(tmp_path):
    sys.path.insert(0, ROOT)
    from tools.ablate import Run
    base = copy_config(tmp_path, 'a')
    v1 = tmp_path / 'a' / 'v1.py'
    v1.write_text("_base_ = './x.py'\nretest_of = './x.py'\n")
    v2 = tmp_path / 'a' / 'v2.py'
    v2.write_text("_base_ = './v1.py'\nretest_of = './v1.py'\n")
    w = str(tmp_path / 'w')
    trained = Run(base, 0, w, [])
    os.makedirs(trained.dir)
    with open(osp.join(trained.dir, 'last_checkpoint'), 'w') as f:
        f.write('/x/iter_300.pth')
    assert Run(str(v2), 0, w, []).test_checkpoint() == '/x/iter_300.pth'


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


def test_randomness_options_other_than_the_seed_reach_the_run(tmp_path):
    sys.path.insert(0, ROOT)
    from tools.ablate import load_config, seeded
    cfg = copy_config(tmp_path, 'a', 'randomness = dict(seed=3, deterministic=True)\n')
    run_cfg = seeded(load_config(cfg, ['randomness.diff_rank_seed=True']), 7)
    assert run_cfg.randomness == dict(seed=7, deterministic=True, diff_rank_seed=True)
    assert seeded(load_config(copy_config(tmp_path, 'b'), []), 1).randomness == dict(seed=1)


def test_a_locked_run_is_refused(tmp_path):
    sys.path.insert(0, ROOT)
    from tools.ablate import Run
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


def children(pid):
    try:
        return [int(p) for p in open(f'/proc/{pid}/task/{pid}/children').read().split()]
    except OSError:
        return []


def gone(pid):
    try:
        return open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


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
        child = (children(proc.pid) or [None])[0]
        worker = (children(child) or [None])[0] if child else None
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


def test_an_undefined_group_is_na_not_a_bold_minus_one(tmp_path):
    from types import SimpleNamespace
    sys.path.insert(0, ROOT)
    from tools.ablate import markdown, plot, summarise

    def run(name, seed, apr):
        metrics = {f'lvis_fed/{t}_{g}': 0.1 * (seed + 1) for t in ('bbox', 'segm')
                   for g in ('AP', 'APr', 'APc', 'APf')}
        metrics['lvis_fed/bbox_APr'] = metrics['lvis_fed/segm_APr'] = apr
        m = dict(metrics=metrics, seed=seed, train_s=60.0, test_s=60.0)
        return SimpleNamespace(name=name, config=f'{name}.py', options=[], source=None,
                               finished=lambda: m)
    runs = {c: [run(c, s, -1.0) for s in (0, 1)] for c in ('base', 'other')}
    summary = summarise(['base', 'other'], runs)
    assert summary['base']['stats'][('bbox', 'APr')] is None
    md = markdown(summary, ['base', 'other'], runs, 'cmd')
    assert '-1.000' not in md and '**n/a' not in md
    row = next(line for line in md.splitlines() if line.startswith('| [other]'))
    cells = [c.strip() for c in row.split('|')[1:-1]]
    assert cells[3] == 'n/a' and cells[7] == 'n/a'               # box APr, mask APr
    assert cells[2] == '**0.150 ± 0.050** (+0.000)' or cells[2].startswith('**0.150')
    plot(summary, ['base', 'other'], runs, str(tmp_path / 'a.png'))
    assert (tmp_path / 'a.png').stat().st_size > 0
