import json
import os

import pytest

from mmdet_lvis_fed.testing import synthetic as syn
from mmdet_lvis_fed.testing.reference import lvis_reference


def test_lvis_eval_cli_matches_lvis_api(tmp_path):
    gt = syn.make_ground_truth(30, num_cats=25, seed=5)
    cols = syn.make_detections(gt, 50, seed=6)
    results = syn.to_results(cols, syn.detection_masks(gt, cols))
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'res.json').write_text(json.dumps(results))
    names = [c['name'] for c in gt['categories']][:10]
    for iou_type in ('bbox', 'segm'):
        out = tmp_path / f'{iou_type}.json'
        done = run_cli(tmp_path / 'gt.json', tmp_path / 'res.json', '--iou-type', iou_type,
                       '--classes', *names, '--out', out)
        assert done.returncode == 0 and 'APr' in done.stdout, done.stderr
        got = json.loads(out.read_text())
        ref = lvis_reference(gt, results, iou_type,
                             cat_ids=[c['id'] for c in gt['categories']][:10])
        for key in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf'):
            assert got[key] == pytest.approx(ref.results[key], abs=1e-9), key


def test_lvis_eval_cli_bad_input_exits_with_the_field(tmp_path):
    gt = syn.make_ground_truth(3, num_cats=5, seed=5)
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'res.json').write_text(json.dumps([dict(image_id=999, category_id=1, score=0.5,
                                                        bbox=[0, 0, 1, 1])]))
    done = run_cli(tmp_path / 'gt.json', tmp_path / 'res.json')
    assert done.returncode == 2
    assert 'record 0: field "image_id": 999 is not an image of' in done.stderr


def test_plot_ap_iou_writes_a_png(tmp_path):
    import subprocess
    import sys
    from tests.conftest import ROOT
    rows = [dict(id=i, name=f'c{i}', frequency=f, num_gt=3, ap=0.5,
                 ap_per_iou=[0.9 - 0.08 * k for k in range(10)]) for i, f in enumerate('rcff')]
    rows.append(dict(id=9, name='none', frequency='c', num_gt=0, ap=None, ap_per_iou=None))
    src = tmp_path / 'run' / '20260101_000000' / 'lvis_fed_per_category.json'
    src.parent.mkdir(parents=True)
    src.write_text(json.dumps(dict(iou_thrs=[0.5 + 0.05 * k for k in range(10)], bbox=rows,
                                   segm=rows)))
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'plot_ap_iou.py'),
                    str(tmp_path / 'run')], check=True, capture_output=True)
    png = src.parent / 'ap_iou.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def run_cli(*args, env=None, shell=None):
    import os
    import subprocess
    import sys
    from tests.conftest import ROOT
    cli = os.path.join(ROOT, 'tools', 'lvis_eval.py')
    if shell:            # a bash command line, `CLI` standing for the tool
        return subprocess.run(['bash', '-c', shell.replace('CLI', f'{sys.executable} {cli}')],
                              capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, **(env or {})))
    return subprocess.run([sys.executable, cli, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, **(env or {})))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('cli')
    gt = syn.make_ground_truth(16, num_cats=10, seed=5)
    cols = syn.make_detections(gt, 60, seed=6, near_share=0.5)
    results = syn.to_results(cols, syn.detection_masks(gt, cols))
    (tmp / 'gt.json').write_text(json.dumps(gt))
    (tmp / 'res.json').write_text(json.dumps(results))
    return gt, results, tmp


def test_challenge2021_protocol_matches_the_reference(files):
    from mmdet_lvis_fed.testing.reference import challenge_eval
    gt, results, tmp = files
    out = tmp / 'challenge.json'
    done = run_cli(tmp / 'gt.json', tmp / 'res.json', '--challenge2021', '--pooled', '--out', out)
    assert done.returncode == 0, done.stderr
    printed = done.stdout
    assert 'protocol: LVIS challenge 2021 (Boundary AP, Fixed AP): Boundary IoU' in printed
    assert 'AR@10000/cat' in printed and 'AP-pool' in printed
    got = json.loads(out.read_text())
    ref = challenge_eval(gt, results, 'boundary', -1, 10000, pooled=True)
    assert got['AR@10000/cat'] == pytest.approx(ref.results['AR@-1'], abs=1e-9)
    for key in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AP-pool'):
        assert got[key] == pytest.approx(ref.results[key], abs=1e-9), key
    refused = run_cli('a', 'b', '--challenge2021', '--iou-type', 'bbox')
    assert refused.returncode == 2
    assert '--challenge2021 sets --iou-type boundary, not bbox' in refused.stderr


def test_the_table_shows_ar_under_the_cap_that_ran(files):
    gt, results, tmp = files
    done = run_cli(tmp / 'gt.json', tmp / 'res.json', '--max-dets', '100', '--out',
                   tmp / 'm100.json')
    summary = json.loads((tmp / 'm100.json').read_text())
    lines = done.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if 'AR@100' in line)
    row = lines[head + 1].split()
    assert row[0] == 'bbox' and float(row[10]) == pytest.approx(summary['AR@100'], abs=5e-4)
    assert 'protocol: custom: box IoU, at most 100 detections per image' in lines[head - 1]


def test_results_through_a_pipe_and_the_out_file_before_a_closed_stdout(files):
    gt, results, tmp = files
    piped = run_cli(shell=f'CLI {tmp}/gt.json <(cat {tmp}/res.json) --out {tmp}/piped.json')
    assert piped.returncode == 0, piped.stderr
    direct = run_cli(tmp / 'gt.json', tmp / 'res.json', '--out', tmp / 'direct.json')
    assert json.loads((tmp / 'piped.json').read_text()) == \
        json.loads((tmp / 'direct.json').read_text())
    # `true` exits without reading: the table meets a closed pipe (as with `| head -c 10` and
    # a long table)
    closed = run_cli(shell=f'set -o pipefail; CLI {tmp}/gt.json {tmp}/res.json --per-category '
                           f'--out {tmp}/closed.json | true')
    assert closed.returncode == 2
    assert closed.stderr.strip().splitlines() == [
        'error: standard output was closed before the table was printed (broken pipe); the '
        f'summary is in {tmp}/closed.json']
    assert json.loads((tmp / 'closed.json').read_text()) == \
        json.loads((tmp / 'direct.json').read_text())


def test_names_print_whatever_the_terminal_encoding(files, tmp_path):
    gt, results, tmp = files
    gt = json.loads(json.dumps(gt))
    gt['categories'][0]['name'] = 'crème_brûlée'
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    res = run_cli(tmp_path / 'gt.json', tmp / 'res.json', '--per-category',
                  env=dict(PYTHONIOENCODING='ascii'))
    assert res.returncode == 0, res.stderr
    assert 'cr\\xe8me_br\\xfbl\\xe9e' in res.stdout


def test_help_says_what_is_unpickled():
    res = run_cli('--help')
    assert res.returncode == 0
    text = ' '.join(res.stdout.split())
    assert 'Only a file whose name ends in .pkl or .pickle is unpickled' in text
    assert '--challenge2021' in text and '--pooled' in text and '--max-dets-per-cat' in text


# --- options: ranges, names, one-line errors -------------------------------------------------

def assert_option_error(res, message):
    assert res.returncode == 2 and res.stderr.strip() == f'error: {message}', res.stderr


@pytest.mark.parametrize('option, message', [
    (['--max-dets-per-cat', '-5'], '--max-dets-per-cat: -5 is neither -1 (no cap) nor a number >= 0'),
    (['--max-dets', '-2'], '--max-dets: -2 is neither -1 (no cap) nor a number >= 0'),
    (['--dilation-ratio', '1e9'], '--dilation-ratio: 1000000000.0 is not a number from 0 to 1 '
                                  '(official 0.02)'),
    (['--iou-type', 'nope'], "argument --iou-type: invalid choice: 'nope' (choose from 'bbox', "
                             "'segm', 'boundary')"),
])
def test_option_errors_are_one_line_and_ranges_are_checked(files, option, message):
    _, _, tmp = files
    assert_option_error(run_cli(tmp / 'gt.json', tmp / 'res.json', *option), message)


def test_classes_are_checked_even_beside_subset(files):
    gt, _, tmp = files
    name = gt['categories'][0]['name']
    res = run_cli(tmp / 'gt.json', tmp / 'res.json', '--classes', 'nope', '--subset', name)
    assert res.returncode == 2
    assert res.stderr.strip() == (f'error: {tmp / "gt.json"}: field "categories" has no category '
                                  "named 'nope'")


def test_a_name_two_categories_share_is_refused(files, tmp_path):
    gt, _, tmp = files
    gt = json.loads(json.dumps(gt))
    gt['categories'][1]['name'] = gt['categories'][0]['name']
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    name, ids = gt['categories'][0]['name'], [gt['categories'][0]['id'], gt['categories'][1]['id']]
    res = run_cli(tmp_path / 'gt.json', tmp / 'res.json', '--classes', name)
    assert res.returncode == 2
    assert res.stderr.strip() == (f'error: {tmp_path / "gt.json"}: field "categories": 2 '
                                  f"categories are named {name!r} (ids {ids}): the name cannot "
                                  'choose between them')


def test_a_dump_scored_without_its_classes_is_warned_about(files, tmp_path):
    """mmdet's dump holds labels 0..K-1, not names: without --classes the tool says what it
    assumed; with them, nothing."""
    import pickle
    import numpy as np
    gt, _, tmp = files
    dump = tmp_path / 'results.pkl'
    img = gt['images'][0]
    dump.write_bytes(pickle.dumps([dict(img_id=img['id'], ori_shape=(img['height'], img['width']),
                                        pred_instances=dict(bboxes=np.array([[0., 0., 5., 5.]]),
                                                            scores=np.array([0.5]),
                                                            labels=np.array([0])))]))
    res = run_cli(tmp / 'gt.json', dump)
    assert res.returncode == 0, res.stderr
    assert (f'warning: {dump}: an mmdet dump carries labels 0..K-1 but not their class names; '
            f'without --classes label i is taken as the i-th of the {len(gt["categories"])} '
            f'categories of {tmp / "gt.json"} by id') in res.stdout
    names = [c['name'] for c in gt['categories'][:3]]
    res = run_cli(tmp / 'gt.json', dump, '--classes', *names)
    assert res.returncode == 0 and 'warning' not in res.stdout, res.stderr
