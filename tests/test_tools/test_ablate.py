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
BASE = osp.join(ROOT, 'tests', 'data', 'configs', 'mask-rcnn_r18_fpn_gn-scratch_demo.py')
LT_BASE = osp.join(ROOT, 'configs', 'demo', 'longtail',
                   'mask-rcnn_r18_fpn_base-frozen_baseline_150it_study-9cat.py')
PRETRAIN = osp.join(ROOT, 'configs', 'demo', 'study',
                    'mask-rcnn_r18_fpn_gn-scratch_base-pretrain_study.py')


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


def fake_run(name, seeds_values, source=None):
    """Runs of one config whose every metric is the given value per seed."""
    from types import SimpleNamespace

    def one(seed, value):
        metrics = {f'{p}lvis_fed/{t}_{g}': value for p in ('', 'fixed/') for t in ('bbox', 'segm')
                   for g in ('AP', 'APr', 'APc', 'APf', 'AP50')}
        m = dict(metrics=metrics, seed=seed, train_s=60.0, test_s=30.0, fixed_ap_test_s=30.0)
        return SimpleNamespace(name=name, config=f'{name}.py', options=[], source=source,
                               finished=lambda: m)
    return [one(s, v) for s, v in enumerate(seeds_values)]


def test_a_difference_is_marked_only_beyond_both_spreads():
    """base 0.10 +- 0.01; 'far' 0.13 +- 0.01 (difference 0.03 > 0.01 + 0.01: marked); 'near'
    0.11 +- 0.005 (0.01 < 0.01 + 0.005: unmarked); a row of one seed is never marked."""
    sys.path.insert(0, ROOT)
    from tools.ablate import markdown, summarise
    runs = {'base': fake_run('base', [0.09, 0.11]), 'far': fake_run('far', [0.12, 0.14]),
            'near': fake_run('near', [0.105, 0.115]), 'one': fake_run('one', [0.5])}
    configs = list(runs)
    summary = summarise(configs, runs)
    assert summary['far']['stats'][('bbox', 'AP')] == pytest.approx((0.13, 0.01, 2))
    assert summary['base']['minutes'] == 2.0                   # train + test + Fixed AP test
    md = markdown(summary, configs, runs, 'cmd')
    rows = {line.split(']')[0][3:]: [c.strip() for c in line.split('|')[1:-1]]
            for line in md.splitlines() if line.startswith('| [')}
    head = next(line for line in md.splitlines() if line.startswith('| config'))
    assert [c.strip() for c in head.split('|')[1:-1]][2:8] == [
        'box AP', 'box APr', 'box APc', 'box APf', 'box AP50', 'box Fixed AP']
    assert rows['far'][2] == '0.130 ± 0.010 (+0.030 †)'
    assert rows['near'][2] == '0.110 ± 0.005 (+0.010)'
    assert '†' not in ''.join(rows['one'])


def test_the_estimate_counts_what_is_left_of_each_kind():
    sys.path.insert(0, ROOT)
    from tools.ablate import estimate_left
    durations = {'train': [100.0, 140.0], 'test': [30.0]}
    # 3 trainings and 2 tests to start, one training running for 50 s, 2 at a time:
    # (3 x 120 + 2 x 30 + (120 - 50)) / 2
    assert estimate_left(durations, ['train'] * 3 + ['test'] * 2, [('train', 50.0)], 2) == 245.0
    assert estimate_left({'train': [100.0], 'test': []}, ['test'], [], 2) is None


def test_the_fixed_ap_test_replaces_the_loop_and_merges_the_rest():
    sys.path.insert(0, ROOT)
    from mmengine.config import Config
    from tools.ablate import fixed_ap_config
    cfg = Config.fromfile(LT_BASE)
    fixed = fixed_ap_config(cfg)
    assert fixed.test_cfg == dict(type='TopKTestLoop', max_dets_per_cat=82)
    assert fixed.model.test_cfg.rcnn.max_per_img == -1 and fixed.model.test_cfg.rcnn.score_thr == 0
    assert fixed.model.test_cfg.rpn == cfg.model.test_cfg.rpn         # merged, not replaced
    assert fixed.test_evaluator.type == 'LVISFedMetric' and fixed.test_evaluator.max_dets == -1
    assert fixed.test_evaluator.max_dets_per_cat == 82
    assert cfg.test_cfg.type == 'TestLoop'                             # the original untouched
    cfg.fixed_ap_test = dict(cfg.fixed_ap_test, test_dataloader=dict())
    with pytest.raises(ValueError, match=r"sets \['test_dataloader'\]"):
        fixed_ap_config(cfg)


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
    sys.path.insert(0, ROOT)
    from tools.ablate import Run
    key = Run(LT_BASE, 0, w, opts).key
    with open(ckpt, 'ab') as f:                       # a retrained pretraining: new bytes
        f.write(b'\0')
    assert Run(LT_BASE, 0, w, opts).key != key


def test_publish_links_the_tested_checkpoint_once(tmp_path):
    from types import SimpleNamespace
    sys.path.insert(0, ROOT)
    from tools.ablate import publish
    src = tmp_path / 'run' / 'epoch_4.pth'
    src.parent.mkdir()
    src.write_bytes(b'weights')
    run = SimpleNamespace(test_checkpoint=lambda: str(src))
    dest = tmp_path / 'pub' / 'pre.pth'
    publish(run, str(dest))
    assert dest.read_bytes() == b'weights' and osp.samefile(src, dest)
    publish(run, str(dest))                                       # already: nothing changes
    assert sorted(os.listdir(dest.parent)) == ['pre.pth']
    new = tmp_path / 'run2' / 'epoch_4.pth'
    new.parent.mkdir()
    new.write_bytes(b'retrained')
    publish(SimpleNamespace(test_checkpoint=lambda: str(new)), str(dest))
    assert dest.read_bytes() == b'retrained' and sorted(os.listdir(dest.parent)) == ['pre.pth']


def test_publish_refusals(tmp_path):
    cfg = copy_config(tmp_path, 'a')
    out = ablate(cfg, '--seeds', '0', '1', '--publish', str(tmp_path / 'p.pth'),
                 '--work-dir', str(tmp_path / 'w'))
    assert out.returncode == 2 and 'exactly one config and one seed' in out.stderr
    out = ablate(cfg, '--publish', str(tmp_path), '--work-dir', str(tmp_path / 'w'))
    assert out.returncode == 2 and 'is a folder' in out.stderr
