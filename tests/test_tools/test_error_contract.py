"""Every tool keeps the error contract: one line `error: FILE: ...`, exit status 2, no traceback,
nothing written, and no hang."""
import json
import os
import os.path as osp
import stat
import subprocess
import sys

import numpy as np
import pytest

from mmdet_lvis_fed.testing import synthetic as syn
from tests.conftest import ROOT


def tool(name, *args, timeout=120):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'tools', name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), res.stderr
    assert 'Traceback' not in res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def small(tmp_path):
    gt = syn.make_ground_truth(6, num_cats=5, seed=5)
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(gt))
    return gt, path


@pytest.fixture
def small_results(small, tmp_path):
    gt, ann = small
    path = tmp_path / 'res.json'
    path.write_text(json.dumps(syn.to_results(syn.make_detections(gt, 5, seed=1))))
    return ann, path


def test_overrunning_rle_is_refused_not_hung(small, tmp_path):
    from pycocotools import mask as mask_utils
    gt, ann = small
    im = gt['images'][0]
    cat = next(a['category_id'] for a in gt['annotations'] if a['image_id'] == im['id'])
    big = np.ones((im['height'] + 7, im['width'] + 3), np.uint8, order='F')
    counts = mask_utils.encode(big)['counts'].decode()           # runs for a larger mask
    res_path = tmp_path / 'res.json'
    res_path.write_text(json.dumps([dict(image_id=im['id'], category_id=cat, score=0.9,
                                         segmentation=dict(size=[im['height'], im['width']],
                                                           counts=counts))]))
    out = tmp_path / 'out.json'
    res = tool('lvis_eval.py', ann, res_path, '--iou-type', 'segm', '--out', out, timeout=60)
    assert_one_line_error(res, str(res_path), 'record 0', 'segmentation', 'counts')
    assert not out.exists()


def test_lvis_eval_out_folder_not_writable(small_results, tmp_path):
    ann, res_path = small_results
    blocker = tmp_path / 'afile'
    blocker.write_text('')
    res = tool('lvis_eval.py', ann, res_path, '--out', blocker / 'm.json')
    assert_one_line_error(res, str(blocker / 'm.json'), 'cannot write')


def test_written_files_keep_the_umask(small_results, tmp_path):
    ann, res_path = small_results
    out = tmp_path / 'm.json'
    out.write_text('{}')
    os.chmod(out, 0o644)
    old = os.umask(0o027)
    try:
        assert tool('lvis_eval.py', ann, res_path, '--out', out).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640
    assert json.loads(out.read_text())['AP'] >= 0


def set_field(index, key, value):
    def mutate(records):
        records[index][key] = value
    return mutate


# (mutation of the results list, what the one line must say). The records are written with
# json.dumps, which writes NaN as the bare token NaN (Python's json reads it back, lvis-api too).
BAD_RESULTS = [
    (set_field(1, 'image_id', 1.5), 'record 1: field "image_id": expected int, got float'),
    (set_field(1, 'image_id', '1'), 'record 1: field "image_id": expected int, got str'),
    (set_field(1, 'image_id', None), 'record 1: field "image_id": expected int, got null'),
    (set_field(1, 'category_id', True), 'record 1: field "category_id": expected int, got bool'),
    (set_field(1, 'bbox', [1, 2, 3, 4, 5, 6, 7, 8]),
     'record 1: field "bbox": not 4 numbers [x, y, width, height]'),
    (set_field(1, 'bbox', [1, 2, 3]), 'record 1: field "bbox": not 4 numbers'),
    (set_field(1, 'bbox', [1, 2, 'x', 4]), 'record 1: field "bbox[2]": expected float, got str'),
    (set_field(1, 'bbox', None), 'record 1: field "bbox": expected array, got null'),
    (set_field(1, 'bbox', [1, float('nan'), 3, 4]), 'record 1: field "bbox": [1.0, NaN, 3.0, '
                                                     '4.0] is not finite'),
    (set_field(1, 'score', None), 'record 1: field "score": expected float, got null'),
    (set_field(1, 'score', float('nan')), 'record 1: field "score": NaN cannot be ranked'),
    (lambda r: r[1].pop('score'), 'record 1: field "score": missing'),
    (lambda r: r[1].pop('bbox'), 'record 1: field "bbox": missing, but record 0 has one'),
    (lambda r: r.__setitem__(1, 7), 'record 1: expected object, got int'),
    (set_field(1, 'image_id', 10 ** 6), 'record 1: field "image_id": 1000000 is not an image'),
    (set_field(1, 'image_id', 2 ** 63), 'record 1: field "image_id": 9223372036854775808 does '
                                         'not fit in 64 bits'),
    (set_field(1, 'segmentation', [[0, 0, 1, 1]]),
     'record 1: field "segmentation": expected object (compressed RLE: size and counts), got '
     'array'),
]


@pytest.mark.parametrize('mutate, message', BAD_RESULTS,
                         ids=[m.split(': ', 1)[1][:40] for _, m in BAD_RESULTS])
def test_lvis_eval_refuses_malformed_results(small_results, tmp_path, mutate, message):
    ann, res_path = small_results
    assert_lvis_eval_refuses(ann, res_path, 1, mutate, message, tmp_path)


def assert_lvis_eval_refuses(ann, res_path, which, mutate, message, tmp_path):
    """lvis_eval.py on the two files, file `which` (0: annotations, 1: results) mutated."""
    paths = [ann, res_path]
    data = json.loads(paths[which].read_text())
    mutate(data)
    paths[which] = tmp_path / f'bad{which}.json'
    paths[which].write_text(json.dumps(data))
    out = tmp_path / 'm.json'
    assert_one_line_error(tool('lvis_eval.py', *paths, '--out', out), f'{paths[which]}: {message}')
    assert not out.exists()


def test_lvis_eval_refuses_what_is_not_a_results_list(small_results, tmp_path):
    ann, _ = small_results
    bad = tmp_path / 'bad.json'
    bad.write_text('{"image_id": 1}')
    assert_one_line_error(tool('lvis_eval.py', ann, bad), f'{bad}: results must be a list')
    bad.write_text('[{"image_id": 1,')
    assert_one_line_error(tool('lvis_eval.py', ann, bad), f'{bad}: not valid JSON')
    bad.write_bytes(b'\x80\x04K\x01.')                    # a pickle of the int 1
    assert_one_line_error(tool('lvis_eval.py', ann, bad), f'{bad}: this looks like a pickle, '
                          'not JSON: it was not read')
    pkl = tmp_path / 'bad.pkl'
    pkl.write_bytes(b'\x80\x04K\x01.')
    assert_one_line_error(tool('lvis_eval.py', ann, pkl), f'{pkl}: not mmdet test results')
    assert_one_line_error(tool('lvis_eval.py', ann, bad, '--pickle'),
                          f'{bad}: not mmdet test results')
    pkl.write_bytes(b'')
    assert_one_line_error(tool('lvis_eval.py', ann, pkl), f'{pkl}: empty file, not a pickle')
    bad.write_bytes(b'(lp0\nI1\na.')                       # protocol 0: no PROTO opcode
    assert_one_line_error(tool('lvis_eval.py', ann, bad), f'{bad}: this looks like a pickle')


def test_lvis_eval_never_unpickles_a_file_not_named_as_a_pickle(small_results, tmp_path):
    ann, _ = small_results
    marker = tmp_path / 'ran'
    submission = tmp_path / 'submission.json'
    submission.write_bytes(_opens(marker))
    assert_one_line_error(tool('lvis_eval.py', ann, submission), 'looks like a pickle')
    assert not marker.exists()
    renamed = tmp_path / 'submission.pkl'            # named as a pickle, it is one
    renamed.write_bytes(_opens(marker))
    assert_one_line_error(tool('lvis_eval.py', ann, renamed), 'not mmdet test results')
    assert marker.exists()


def _opens(path):
    """A pickle whose loading calls open(path, 'w'): code run by reading a results file."""
    import pickle

    class Opens:
        def __reduce__(self):
            return open, (str(path), 'w')
    return pickle.dumps(Opens())


BAD_ANNOTATIONS = [
    (lambda d: d['images'][2].update(id=d['images'][1]['id']),
     'images[2]: field "id": 2 is the id of images[1] too'),
    (lambda d: d['annotations'][5].update(id=d['annotations'][3]['id']),
     'annotations[5]: field "id": 4 is the id of annotations[3] too'),
    (lambda d: d['annotations'][5].update(id=0), 'annotations[5]: field "id": 0: annotation ids '
                                                 'start at 1'),
    (lambda d: d['annotations'][5].update(id=5.5),
     'annotations[5]: field "id": 5.5 is not an integer id'),
    (lambda d: [im.pop('neg_category_ids') for im in d['images']],
     'images[0]: field "neg_category_ids": missing: this looks like a COCO file'),
    (lambda d: d['images'][1].update(not_exhaustive_category_ids=None),
     'images[1]: field "not_exhaustive_category_ids": null is not a list of category ids'),
    (lambda d: d['images'][1].update(height='480'), 'images[1]: field "height": "480" is not an '
                                                    'integer'),
    (lambda d: d['categories'][0].pop('frequency'),
     'categories[0]: field "frequency": missing: this looks like a COCO file'),
    (lambda d: d['annotations'][2].update(bbox=[1, 2, 3]),
     'annotations[2]: field "bbox": [1, 2, 3] is not 4 numbers'),
    (lambda d: d['annotations'][2].update(bbox=None),
     'annotations[2]: field "bbox": null is not 4 numbers'),
    (lambda d: d['annotations'][2].update(bbox=[1, 2, float('inf'), 4]),
     'annotations[2]: field "bbox": [1, 2, Infinity, 4] is not finite'),
    (lambda d: d['annotations'][2].update(area=None),
     'annotations[2]: field "area": null is not a finite number'),
    (lambda d: d['annotations'][2].update(segmentation=None),
     'annotations[2]: field "segmentation": null is neither polygons nor an RLE object'),
    (lambda d: d['annotations'][2].update(image_id=None),
     'annotations[2]: field "image_id": null is not an integer id'),
    (lambda d: d['images'].__setitem__(0, None), 'images[0] is null, not an object'),
    (lambda d: d['annotations'][5].update(id=2 ** 64),
     'annotations[5]: field "id": 18446744073709551616 does not fit in 64 bits'),
    (lambda d: d['images'][2].update(id=-2 ** 63 - 1),
     'images[2]: field "id": -9223372036854775809 does not fit in 64 bits'),
]


@pytest.mark.parametrize('mutate, message', BAD_ANNOTATIONS,
                         ids=[m[:40] for _, m in BAD_ANNOTATIONS])
def test_lvis_eval_refuses_malformed_annotations(small_results, tmp_path, mutate, message):
    ann, res_path = small_results
    assert_lvis_eval_refuses(ann, res_path, 0, mutate, message, tmp_path)


def subset_args(ann, out, *extra):
    return ('make_subset.py', '--train-ann', ann, '--val-ann', ann, '--out-dir', out, *extra)


def test_make_subset_refuses_and_writes_nothing(tmp_path):
    gt = syn.make_ground_truth(40, num_cats=10, seed=2)
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps(gt))
    out = tmp_path / 'out'
    name = gt['categories'][0]['name']
    assert_one_line_error(tool(*subset_args(ann, out, '--classes', name, '--val-fraction', '2')),
                          'val_fraction must be a number from 0 to 1')
    assert_one_line_error(tool(*subset_args(ann, out, '--num-per-freq', 'f=-5')), 'f=-5')
    dup = json.loads(ann.read_text())
    dup['images'][3]['id'] = dup['images'][2]['id']
    bad = tmp_path / 'dup.json'
    bad.write_text(json.dumps(dup))
    assert_one_line_error(tool(*subset_args(bad, out, '--classes', name)), str(bad),
                          'images[3]: field "id"', 'is the id of images[2] too')
    # a category on no image: the subset would be empty
    empty = json.loads(ann.read_text())
    empty['categories'].append(dict(empty['categories'][0], id=999, name='nowhere'))
    path = tmp_path / 'empty.json'
    path.write_text(json.dumps(empty))
    assert_one_line_error(tool(*subset_args(path, out, '--classes', 'nowhere')), 'no image')
    blocker = tmp_path / 'afile'
    blocker.write_text('')
    assert_one_line_error(tool(*subset_args(ann, blocker, '--classes', name)), str(blocker))
    assert not out.exists()


def test_make_subset_replaces_the_whole_set_and_cleans_leftovers(tmp_path):
    gt = syn.make_ground_truth(60, num_cats=10, seed=2)
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps(gt))
    out = tmp_path / 'out'
    names = [c['name'] for c in gt['categories']]
    assert tool(*subset_args(ann, out, '--classes', names[0])).returncode == 0
    first = {f: (out / f).read_text() for f in os.listdir(out)}
    leftover = tmp_path / '.out.tmp-killed'          # what a killed run leaves
    leftover.mkdir()
    (leftover / 'train.json').write_text('{}')
    assert tool(*subset_args(ann, out, '--classes', names[1])).returncode == 0
    assert not leftover.exists()
    assert sorted(os.listdir(out)) == sorted(first)
    for f in ('train.json', 'val.json', 'test.json'):
        data = json.loads((out / f).read_text())
        assert [c['name'] for c in data['categories']] == [names[1]]
    (out / 'mine.txt').write_text('user file')
    assert_one_line_error(tool(*subset_args(ann, out, '--classes', names[2])), 'mine.txt')
    assert (out / 'mine.txt').exists()


@pytest.fixture
def subset_source(tmp_path):
    """A small generated LVIS file and its category names."""
    gt = syn.make_ground_truth(60, num_cats=10, seed=2)
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps(gt))
    return ann, [c['name'] for c in gt['categories']]


def test_make_subset_writes_through_a_symlinked_out_dir(tmp_path, subset_source):
    ann, names = subset_source
    target = tmp_path / 'real' / 'sets'
    target.mkdir(parents=True)
    link = tmp_path / 'link'
    link.symlink_to(target, target_is_directory=True)
    name = names[0]
    for run in range(2):                     # a new folder, then a replacement of the set
        res = tool(*subset_args(ann, link, '--classes', name))
        assert res.returncode == 0, res.stderr
        assert link.is_symlink() and os.readlink(link) == str(target)
        assert sorted(os.listdir(target)) == ['summary.json', 'summary.txt', 'test.json',
                                              'train.json', 'val.json']
        assert f'-> {target}' in res.stdout and 'nothing written' not in res.stdout
    assert f"classes = ('{name}',)" in res.stdout and f"classes = ('{name}',)" in (
        target / 'summary.txt').read_text()


def test_make_subset_puts_back_a_set_a_killed_run_moved_aside(tmp_path, subset_source):
    ann, names = subset_source
    out = tmp_path / 'out'
    assert tool(*subset_args(ann, out, '--classes', names[0])).returncode == 0
    # A kill between "old set aside" and "new set in": out/ is gone, the old set sits aside.
    os.rename(out, tmp_path / '.out.old-killed')
    (tmp_path / '.out.tmp-killed').mkdir()
    bad = tool(*subset_args(ann, out, '--classes', 'no_such_class'))
    assert bad.returncode == 2
    # a refused run writes nothing and leaves the leftovers to the next run that writes
    res = tool(*subset_args(ann, out, '--classes', names[1]))
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / '.out.old-killed').exists() and not (tmp_path / '.out.tmp-killed').exists()
    data = json.loads((out / 'train.json').read_text())
    assert [c['name'] for c in data['categories']] == [names[1]]


def test_make_demo_data_checks_its_writes(tmp_path):
    blocker = tmp_path / 'afile'
    blocker.write_text('')
    assert_one_line_error(tool('make_demo_data.py', '--out', blocker, '--train-images', '2',
                               '--val-images', '2'), str(blocker))
    if os.geteuid() != 0:                 # root writes anywhere: the read-only case needs a user
        ro = tmp_path / 'ro'
        ro.mkdir()
        os.chmod(ro, 0o555)
        assert_one_line_error(tool('make_demo_data.py', '--out', ro, '--train-images', '2'))
    res = tool('make_demo_data.py', '--out', tmp_path / 'x', '--train-images', '-5')
    assert res.returncode == 2 and 'below 1' in res.stderr and 'Traceback' not in res.stderr
    # the smallest size its help names works
    res = tool('make_demo_data.py', '--out', tmp_path / 'small', '--size', '64',
               '--train-images', '30', '--val-images', '4')
    assert res.returncode == 0, res.stderr
    train = json.loads((tmp_path / 'small' / 'annotations' / 'lvis_v1_train.json').read_text())
    assert train['images'][0]['width'] == 64 and train['annotations']


def test_make_demo_data_unwritable_image_is_an_error(tmp_path):
    # cv2.imwrite reports a failure (a full disk) by returning False: the script run as users run
    # it, with cv2.imwrite replaced first
    script = osp.join(ROOT, 'tools', 'make_demo_data.py')
    code = ('import cv2, runpy, sys\n'
            'cv2.imwrite = lambda *a, **k: False\n'
            f'sys.argv = [{script!r}, "--out", {str(tmp_path / "d")!r}, "--train-images", "2", '
            '"--val-images", "2"]\n'
            f'runpy.run_path({script!r}, run_name="__main__")\n')
    res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1].startswith('error: ')
    assert not (tmp_path / 'd' / 'annotations' / 'lvis_v1_train.json').exists()


def test_plot_tools_refuse_the_wrong_json(tmp_path):
    wrong = tmp_path / 'lvis_fed_per_category.json'
    wrong.write_text(json.dumps([dict(image_id=1, category_id=1, score=0.5, bbox=[0, 0, 1, 1])]))
    assert_one_line_error(tool('plot_ap_iou.py', wrong), str(wrong), 'iou_thrs')
    wrong.write_text(json.dumps(dict(iou_thrs=[0.5], bbox=[dict(name='a')])))
    assert_one_line_error(tool('plot_ap_iou.py', wrong), 'bbox[0]')
    wrong.write_text(json.dumps(dict(iou_thrs=[0.5], bbox=[dict(name='a', frequency='r', ap=0.5,
                                                               ap_per_iou=[0.5])])))
    blocker = tmp_path / 'afile'
    blocker.write_text('')
    assert_one_line_error(tool('plot_ap_iou.py', wrong, '--out', blocker / 'x.png'),
                          'cannot write')
    assert_one_line_error(tool('plot_curves.py', tmp_path), 'no */vis_data/scalars.json')


def test_plot_curves_reads_an_iteration_based_run(tmp_path):
    """IterBasedTrainLoop logs rows with `iter` and no `epoch` (every long-tail run)."""
    log = tmp_path / '20260101_000000' / 'vis_data' / 'scalars.json'
    log.parent.mkdir(parents=True)
    log.write_text(''.join(json.dumps(dict(lr=0.01, loss=loss, iter=it, step=it)) + '\n'
                           for it, loss in ((50, 3.0), (100, 2.5), (150, 2.0))))
    res = tool('plot_curves.py', tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith('training loss at 3 logged iterations (up to iteration '
                                       '150), 0 validation losses')
    assert (tmp_path / 'loss_curves.png').read_bytes()[:4] == b'\x89PNG'


def test_dist_cpu_usage_errors_are_one_line(tmp_path):
    assert_one_line_error(tool('dist_cpu.py', 'bogus'), "'bogus' is not train or test")
    env_less = {k: v for k, v in os.environ.items()
                if k not in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'LOCAL_RANK')}
    res = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'dist_cpu.py'), 'train',
                          'x.py'], capture_output=True, text=True, timeout=120, env=env_less)
    assert_one_line_error(res, 'RANK', 'torchrun --nproc-per-node')


@pytest.mark.parametrize('name, args, needle', [
    ('ablate.py', ('--seeds', 'x'), 'argument --seeds'),
    ('make_subset.py', ('--train-ann', 'a', '--val-ann', 'b', '--out-dir', 'c', '--classes', 'x',
                        '--bogus'),
     'unrecognized arguments: --bogus'),
    ('report_study.py', ('--seeds', 'x'), 'argument --seeds'),
    ('benchmark_memory.py', ('--ranks', 'x'), 'argument --ranks'),
    ('plot_curves.py', ('somewhere', '--bogus'), 'unrecognized arguments: --bogus'),
])
def test_option_errors_are_one_line(name, args, needle):
    assert_one_line_error(tool(name, *args), needle)
