"""The rehearsal's data (benchmarks/rehearsal_data.py): an image file for every record, its own
stale folder replaced."""
import json
import os
import os.path as osp

from mmdet_lvis_fed.benchmarks import rehearsal_data


def test_data_has_an_image_file_for_every_record(tmp_path):
    root = str(tmp_path / 'data')
    rehearsal_data.prepare_data(root, 30, 7, pictures=4)
    for split, n in (('train', 30), ('val', 7)):
        with open(osp.join(root, 'annotations', f'lvis_v1_{split}.json')) as f:
            lvis = json.load(f)
        assert len(lvis['images']) == n and len(lvis['categories']) == 1203
        for im in lvis['images']:
            path = osp.join(root, *im['coco_url'].split('/')[-2:])
            assert osp.isfile(path)
        assert len(os.listdir(osp.join(root, f'{split}2017'))) == n + 4
    stamp = osp.getmtime(osp.join(root, 'annotations', 'lvis_v1_train.json'))
    rehearsal_data.prepare_data(root, 30, 7, pictures=4)            # same arguments: reused
    assert osp.getmtime(osp.join(root, 'annotations', 'lvis_v1_train.json')) == stamp


def test_its_own_stale_data_is_replaced_and_said(tmp_path, capsys):
    root = str(tmp_path / rehearsal_data.DATA_FOLDER)
    rehearsal_data.prepare_data(root, 5, 3, pictures=3)
    assert osp.isfile(osp.join(root, rehearsal_data.OWNER_MARK))
    rehearsal_data.prepare_data(root, 6, 3, pictures=3)        # other arguments: written again
    assert 'removing' in capsys.readouterr().out
    with open(osp.join(root, 'annotations', 'lvis_v1_train.json')) as f:
        assert len(json.load(f)['images']) == 6
