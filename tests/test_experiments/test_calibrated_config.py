"""mmdet_lvis_fed.experiments.calibrated_config: the written config holds only literals, names its
base, source and record relative to itself; an output that is an input is refused even with
force, an existing one without it."""
import ast
import os.path as osp

import pytest
from mmengine.config import Config

from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.experiments.calibrated_config import config_text, refuse_overwriting


def test_the_config_is_literals_only_and_paths_relative_to_it(tmp_path):
    payload = "x'\nopen('ran', 'w')\n#"                     # a hostile file name
    base = tmp_path / 'configs' / f'{payload}.py'
    out = tmp_path / 'work' / 'calib.py'
    record = tmp_path / 'work' / 'calibration.json'
    text = config_text(str(base), 'APr', 0.02, Config(dict()), str(out), str(record),
                       dict(type='CalibratedBBoxHead'), 0.3, 'file', trained_on_val=True)
    tree = ast.parse(text)
    assert [type(n).__name__ for n in tree.body] == ['Assign'] * 4
    values = {n.targets[0].id: n.value for n in tree.body}
    assert ast.literal_eval(values['_base_']) == f'../configs/{payload}.py'
    assert ast.literal_eval(values['retest_of']) == f'../configs/{payload}.py'
    assert ast.literal_eval(values['calibration_record']) == './calibration.json'
    head = values['model'].keywords[0].value.keywords[0].value        # model.roi_head.bbox_head
    kw = {k.arg: k.value for k in head.keywords}
    assert ast.literal_eval(kw['type']) == 'CalibratedBBoxHead'
    assert {k.arg: ast.literal_eval(k.value) for k in kw['calibration'].keywords} == \
        dict(gamma=0.3, freq_source='file')
    assert 'box APr, with box APf at most 0.02 below' in text and 'trained on' in text


def test_an_input_is_never_an_output_and_an_existing_output_needs_force(tmp_path):
    config, ckpt = tmp_path / 'a.py', tmp_path / 'a.pth'
    config.write_text('x = 1\n')
    ckpt.write_bytes(b'')
    link = tmp_path / 'link.py'
    link.symlink_to(config)                                  # the same file by another name
    for out in (config, link):
        with pytest.raises(CommandError, match='is an input of this run'):
            refuse_overwriting([str(out)], [str(config), str(ckpt)], force=True)
    existing = tmp_path / 'out.py'
    existing.write_text('# an earlier sweep\n')
    with pytest.raises(CommandError, match='exists; give --force to replace it'):
        refuse_overwriting([str(existing), str(tmp_path / 'new.json')], [str(config)], False)
    assert refuse_overwriting([str(existing)], [str(config)], True) == [str(existing)]
    assert not osp.exists(tmp_path / 'new.json')
