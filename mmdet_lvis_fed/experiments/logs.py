"""What a run leaves in its work dir, read back: the loss curves of its logs and the metric's
per-category file (standard library only)."""
import glob
import json
import os.path as osp
from collections import defaultdict

from ..errors import CommandError, LVISFormatError


def read_curves(work_dir):
    """(training loss, validation loss, 'epoch' or 'iteration') of a work dir: {step: loss}.

    Reads every `<timestamp>/vis_data/scalars.json` under it (mmengine's LocalVisBackend). An
    epoch-based run (its rows carry `epoch`): the training loss logged every few iterations is
    averaged per epoch, and `val_loss` is what ValidationLossHook logs once per epoch. An
    iteration-based run (IterBasedTrainLoop: rows carry `iter` only): every logged training loss
    at its iteration. Resumed runs are merged, later entries winning."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise CommandError(f'no */vis_data/scalars.json under {work_dir}: is it a work dir of '
                           '`mim train`?')
    train, val, by_iter = defaultdict(list), {}, {}
    for path in files:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise CommandError(f'{path}: line {n}: not JSON ({e})') from None
                if 'val_loss' in row:     # our hook's row has 'epoch'; the val log row's step is it
                    val[int(row.get('epoch', row.get('step')))] = row['val_loss']
                elif 'loss' in row and 'epoch' in row:
                    train[int(row['epoch'])].append(row['loss'])
                elif 'loss' in row and 'iter' in row:
                    by_iter[int(row['iter'])] = row['loss']
    if not train and by_iter:
        return dict(sorted(by_iter.items())), dict(sorted(val.items())), 'iteration'
    train = {e: sum(v) / len(v) for e, v in sorted(train.items())}
    return train, dict(sorted(val.items())), 'epoch'


def newest_per_category(folder):
    """The newest lvis_fed_per_category.json under `folder` (LVISFedMetric writes one into each
    test's log folder, work_dirs/<config>/<timestamp>/), or None."""
    found = sorted(glob.glob(osp.join(folder, '**', 'lvis_fed_per_category.json'),
                             recursive=True), key=osp.getmtime)
    return found[-1] if found else None


def per_category_json(path):
    """`path` when it is a file, else the newest lvis_fed_per_category.json under it."""
    found = path if osp.isfile(path) else newest_per_category(path)
    if found is None:
        raise CommandError(f'no lvis_fed_per_category.json under {path} (run mim test with '
                           'LVISFedMetric first)')
    return found


def read_per_category(path, iou_types=None):
    """The metric's per-category file (evaluation.per_category_file); a bad one is a
    CommandError."""
    from ..evaluation.per_category_file import read_per_category as read
    try:
        return read(path, iou_types=iou_types)
    except LVISFormatError as e:
        raise CommandError(str(e)) from None
