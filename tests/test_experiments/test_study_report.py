"""mmdet_lvis_fed.experiments.study_report on finished runs made by hand (their metrics.json,
per-category file and loss log where a run leaves them): the table's group means and spreads,
the epochs of the best validation loss, runs not made yet, and the figures."""
import json
import os
import os.path as osp

import pytest

from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.experiments import study_report
from mmdet_lvis_fed.experiments.runs import Run
from tests.conftest import ROOT

THRS = [0.5 + 0.05 * k for k in range(10)]


def finish(run, aps, val_losses):
    """Leave in `run`'s folder what a finished run leaves: metrics.json, the metric's
    per-category file (categories with the given frequency and AP; AP at IoU 0.5 = 2 x AP,
    falling linearly) and a loss log."""
    rows = [dict(id=i, name=f'c{i}', frequency=f, num_gt=3, ap=ap,
                 ap_per_iou=None if ap is None else [2 * ap * (1 - k / 10) for k in range(10)])
            for i, (f, ap) in enumerate(aps)]
    log = osp.join(run.dir, '20260101_000000')
    for path, text in (
            (osp.join(log, 'lvis_fed_per_category.json'),
             json.dumps(dict(iou_thrs=THRS, area='all', bbox=rows, segm=rows))),
            (osp.join(log, 'vis_data', 'scalars.json'),
             '\n'.join(json.dumps(dict(epoch=e, iter=e * 10, loss=3.0 - e)) for e in (1, 2, 3))
             + '\n' + '\n'.join(json.dumps(dict(epoch=e, val_loss=v))
                                for e, v in enumerate(val_losses, 1))),
            (run.metrics_path, json.dumps(dict(config=run.config, seed=run.seed, options=[],
                                               key=run.key, metrics={}, checkpoint='x.pth',
                                               train_s=90.0, test_s=30.0)))):
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)


def test_the_table_holds_each_groups_mean_and_spread_over_the_seeds(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)                     # the study's configs, as `make experiments` runs
    work = str(tmp_path / 'experiments')
    label, config = study_report.EXPERIMENTS['Experiment 1'][0]        # Baseline
    path = osp.join(study_report.STUDY, config)
    # seed 0: f 0.2 and 0.4 (mean 0.3), c 0.1, r undefined (null AP); seed 1: f 0.5 (0.5), c 0.3
    finish(Run(path, 0, work, []), [('f', 0.2), ('f', 0.4), ('c', 0.1), ('r', None)],
           [2.0, 1.5, 1.7])
    finish(Run(path, 1, work, []), [('f', 0.5), ('c', 0.3)], [2.0, 1.9, 1.2])
    md = study_report.write_report(work, [0, 1], [])
    row = next(line for line in md.splitlines() if line.startswith(f'| [{label}]'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert cells[1] == '2'                                       # seeds
    # box mAP f, c, r: f (0.3, 0.5) -> 0.400 +- 0.100; c (0.1, 0.3) -> 0.200 +- 0.100; r none
    assert cells[2:5] == ['0.400 ± 0.100', '0.200 ± 0.100', '-']
    # box AP@0.5 = 2 x AP: f 0.800 +- 0.200, c 0.400 +- 0.200
    assert cells[5:8] == ['0.800 ± 0.200', '0.400 ± 0.200', '-']
    assert cells[8:14] == cells[2:8]                             # mask: the same rows
    assert cells[14] == '0.213 / 0.006 / 0.000'                  # the report's numbers
    assert cells[15] == '2 / 3, 3 / 3'                           # best val loss epoch / trained
    assert cells[16] == '2.0'                                    # minutes per run
    assert '| Baseline+ | not run yet |' in md
    for name in ('study.md', 'ap_iou_exp1.png', 'ap_iou_exp2.png', 'loss_curves.png'):
        assert osp.getsize(osp.join(work, name)) > 0


def test_no_finished_run_is_a_command_error(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(CommandError, match='no finished study run under'):
        study_report.write_report(str(tmp_path), [0], [])
