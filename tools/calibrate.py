#!/usr/bin/env python
"""Choose the test-time calibration strength gamma of a trained model on the validation split, and
write the calibrated config.

    python tools/calibrate.py CONFIG CHECKPOINT [--gammas 0 0.1 ... 1.0] [--freq-source file|subset]
                              [--metric AP|APr] [--max-apf-drop 0.02] [--masks]
                              [--out-config PATH] [--work-dir DIR] [--device cpu] [--workers N]

The sweep, its choice rule and what is written: mmdet_lvis_fed/experiments/calibration.py (its
text is this tool's --help). Errors end in one line, `error: ...`, exit status 2, and nothing
written.
"""
import argparse
import shlex
import sys

from mmdet_lvis_fed.errors import CommandError
from mmdet_lvis_fed.experiments import calibration
from mmdet_lvis_fed.experiments.calibration import DEFAULT_GAMMAS
from mmdet_lvis_fed.io import ToolParser, fail


def parse_args(argv=None):
    p = ToolParser(description=calibration.__doc__,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='the config the checkpoint was trained with')
    p.add_argument('checkpoint', help='its checkpoint (.pth saved by mmengine)')
    p.add_argument('--gammas', nargs='+', type=float, default=list(DEFAULT_GAMMAS),
                   metavar='G', help='gammas to sweep, >= 0 (0 is always added); default '
                                     + ' '.join(map(str, DEFAULT_GAMMAS)))
    p.add_argument('--freq-source', choices=['file', 'subset'],
                   help="where f(c) comes from: 'file' (image_count) or 'subset' (share of the "
                        "training images); default: the config's calibration, else 'file'")
    p.add_argument('--metric', choices=['AP', 'APr'], default='AP',
                   help='best box AP, or best box APr with box APf kept (see --max-apf-drop); '
                        'default AP')
    p.add_argument('--max-apf-drop', type=float, default=0.02,
                   help='--metric APr: largest allowed box APf loss against gamma 0 (default 0.02)')
    p.add_argument('--masks', action='store_true',
                   help='also mask AP per gamma (the mask head runs once per gamma)')
    p.add_argument('--out-config', help='the config to write (default WORK_DIR/<name>_calib.py)')
    p.add_argument('--work-dir', help='where calibration.json goes (default '
                                      'work_dirs/calibrate/<config name>)')
    p.add_argument('--force', action='store_true',
                   help='replace an existing --out-config and calibration.json (never an input '
                        'of the run: the config, its bases, the checkpoint, the annotation file)')
    p.add_argument('--device', help='default cuda:0 when available, else cpu')
    p.add_argument('--workers', type=int, default=2, help='dataloader workers (default 2)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    command = ' '.join(shlex.quote(a) for a in ['python', 'tools/calibrate.py']
                       + list(argv if argv is not None else sys.argv[1:]))
    try:
        calibration.calibrate(args.config, args.checkpoint, gammas=args.gammas,
                              freq_source=args.freq_source, metric=args.metric,
                              max_apf_drop=args.max_apf_drop, masks=args.masks,
                              out_config=args.out_config, work_dir=args.work_dir,
                              force=args.force, device=args.device, workers=args.workers,
                              command=command)
    except CommandError as e:
        fail(e)


if __name__ == '__main__':
    calibration.warnings_to_stdout()
    main()
