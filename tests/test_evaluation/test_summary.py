"""The one list of summary keys (the official names), and the reports built on it."""
from types import SimpleNamespace

import pytest

from mmdet_lvis_fed.evaluation.report import frequency_table, protocol_line
from mmdet_lvis_fed.evaluation.summary import summary_keys
from tests.test_evaluation.test_federated_eval import federated_case
from tests.test_evaluation.test_limits import ours


def test_keys_are_named_as_the_official_code_names_them():
    assert summary_keys() == ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf',
                              'AR@300', 'ARs@300', 'ARm@300', 'ARl@300')
    assert summary_keys(-1, 10000)[9:] == ('AR@10000/cat', 'ARs@10000/cat', 'ARm@10000/cat',
                                           'ARl@10000/cat')
    assert summary_keys(300, 10000)[9] == 'AR@300/im,10000/cat'
    assert summary_keys(100)[9:] == ('AR@100', 'ARs@100', 'ARm@100', 'ARl@100')
    assert summary_keys(-1)[9] == 'AR@-1'
    assert summary_keys(300, pooled=True)[-4:] == ('AP-pool', 'APr-pool', 'APc-pool',
                                                   'APf-pool')


@pytest.mark.parametrize('kw', [dict(max_dets=100), dict(max_dets=-1, max_dets_per_cat=3),
                                dict(pooled=True)])
def test_evaluate_gives_exactly_those_keys_and_the_table_shows_them(kw):
    gt, dets = federated_case()
    res = ours(gt, dets, **kw)
    assert tuple(res.summary) == summary_keys(kw.get('max_dets', 300),
                                              kw.get('max_dets_per_cat', -1),
                                              kw.get('pooled', False))
    head, row = frequency_table([res]).splitlines()[1:3]
    ar = next(k for k in res.summary if k.startswith('AR@'))
    assert ar in head.split()
    values = dict(zip(head.split(), row.split()[1:]))
    assert float(values[ar]) == pytest.approx(res.summary[ar], abs=5e-4)
    if kw.get('pooled'):
        assert float(values['AP-pool']) == pytest.approx(res.summary['AP-pool'], abs=5e-4)


def test_protocol_line_names_the_protocol():
    gt, dets = federated_case()
    assert protocol_line(ours(gt, dets)) == ('protocol: lvis-api 0.5.3: box IoU, at most 300 '
                                            'detections per image')
    line = protocol_line(ours(gt, dets, max_dets=-1, max_dets_per_cat=2))
    assert line.startswith('protocol: custom: box IoU, no per-image cap, at most 2 per category')
    # a table of several IoU types names each, under the caps they share
    res = ours(gt, dets, max_dets=-1, max_dets_per_cat=10000)
    rows = [SimpleNamespace(**dict(vars(res), iou_type=t,
                                   protocol=dict(res.protocol, dilation_ratio=0.02)))
            for t in ('bbox', 'segm', 'boundary')]
    line = protocol_line(*rows)
    assert line.startswith('protocol: LVIS challenge 2021 (Boundary AP, Fixed AP): box IoU, mask '
                           'IoU, Boundary IoU (min of mask and boundary IoU, dilation ratio 0.02), '
                           'no per-image cap, at most 10000 per category')
