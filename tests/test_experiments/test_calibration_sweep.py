"""The calibration sweep's choice rules (experiments/calibration_sweep.py) on hand-made rows."""
from mmdet_lvis_fed.experiments import calibration_sweep


def test_choice_rules():
    def row(ap, apr, apf):
        return dict(bbox_AP=ap, bbox_APr=apr, bbox_APf=apf)
    rows = {0.0: row(0.20, 0.05, 0.30), 0.5: row(0.22, 0.10, 0.29), 1.0: row(0.21, 0.15, 0.27),
            1.5: row(0.22, 0.02, 0.10)}
    assert calibration_sweep.choose(rows, 'AP', 0.02) == 0.5            # tie at 0.22: the smaller gamma
    assert calibration_sweep.choose(rows, 'APr', 0.02) == 0.5           # 1.0 loses 0.03 APf
    assert calibration_sweep.choose(rows, 'APr', 0.05) == 1.0
    assert calibration_sweep.choose({0.0: row(0.1, 0.0, 0.3), 0.2: row(0.1, 0.0, 0.1)}, 'APr',
                              0.02) == 0.0
