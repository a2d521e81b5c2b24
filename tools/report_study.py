#!/usr/bin/env python
"""The seed report's tables and figures from the study's runs (`make experiments`).

    python tools/report_study.py [--work-dir work_dirs/experiments] [--seeds 0 1]
                                 [--cfg-options KEY=VALUE ...]

Reads the runs that `tools/ablate.py` trained and tested for the configs of configs/demo/study/
(the same run keys) and writes into WORK_DIR study.md (the report's two tables beside its
numbers), ap_iou_exp1.png, ap_iou_exp2.png and loss_curves.png: what each holds is said in
mmdet_lvis_fed/experiments/study_report.py. Errors end in one line, exit status 2.
"""
import argparse

from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.experiments.study_report import write_report
from mmdet_lvis_fed.io import ToolParser, fail


def main(argv=None):
    p = ToolParser(description=__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/experiments')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='the options the runs were made with (part of their key)')
    args = p.parse_args(argv)
    try:
        md = write_report(args.work_dir, args.seeds, args.cfg_options)
    except CommandError as e:
        fail(e)
    print(md)
    print(f'written: {args.work_dir}/study.md, ap_iou_exp1.png, ap_iou_exp2.png, loss_curves.png')


if __name__ == '__main__':
    main()
