import json

import pytest

from mmdet_lvis_fed.testing import synthetic as syn
from tests.conftest import lvis_reference


def test_lvis_eval_cli_matches_lvis_api(tmp_path, capsys):
    from tools import lvis_eval
    gt = syn.make_ground_truth(30, num_cats=25, seed=5)
    cols = syn.make_detections(gt, 50, seed=6)
    results = syn.to_results(cols, syn.detection_masks(gt, cols))
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'res.json').write_text(json.dumps(results))
    names = [c['name'] for c in gt['categories']][:10]
    for iou_type in ('bbox', 'segm'):
        out = tmp_path / f'{iou_type}.json'
        lvis_eval.main([str(tmp_path / 'gt.json'), str(tmp_path / 'res.json'), '--iou-type',
                        iou_type, '--classes', *names, '--out', str(out)])
        got = json.loads(out.read_text())
        ref = lvis_reference(gt, results, iou_type,
                             cat_ids=[c['id'] for c in gt['categories']][:10])
        for key in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf'):
            assert got[key] == pytest.approx(ref.results[key], abs=1e-9), key
    assert 'APr' in capsys.readouterr().out


def test_lvis_eval_cli_bad_input_exits_with_the_field(tmp_path, capsys):
    from tools import lvis_eval
    gt = syn.make_ground_truth(3, num_cats=5, seed=5)
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'res.json').write_text(json.dumps([dict(image_id=999, category_id=1, score=0.5,
                                                        bbox=[0, 0, 1, 1])]))
    with pytest.raises(SystemExit) as e:
        lvis_eval.main([str(tmp_path / 'gt.json'), str(tmp_path / 'res.json')])
    assert e.value.code == 2
    assert 'record 0: field "image_id": 999 is not an image of' in capsys.readouterr().err


def test_plot_ap_iou_writes_a_png(tmp_path):
    from tools import plot_ap_iou
    rows = [dict(id=i, name=f'c{i}', frequency=f, num_gt=3, ap=0.5,
                 ap_per_iou=[0.9 - 0.08 * k for k in range(10)]) for i, f in enumerate('rcff')]
    rows.append(dict(id=9, name='none', frequency='c', num_gt=0, ap=None, ap_per_iou=None))
    src = tmp_path / 'run' / '20260101_000000' / 'lvis_fed_per_category.json'
    src.parent.mkdir(parents=True)
    src.write_text(json.dumps(dict(iou_thrs=[0.5 + 0.05 * k for k in range(10)], bbox=rows,
                                   segm=rows)))
    plot_ap_iou.main([str(tmp_path / 'run')])
    png = src.parent / 'ap_iou.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
