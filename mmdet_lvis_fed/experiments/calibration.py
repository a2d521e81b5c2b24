"""Choose the test-time calibration strength gamma of a trained model on the validation split, and
write the calibrated config.

    python tools/calibrate.py CONFIG CHECKPOINT [--gammas 0 0.1 ... 1.0] [--freq-source file|subset]
                              [--metric AP|APr] [--max-apf-drop 0.02] [--masks]
                              [--out-config PATH] [--work-dir DIR] [--device cpu] [--workers N]

(the command line of `calibrate` here; `calibrate(config, checkpoint, ...)` takes the same
options as arguments)

Calibration (NorCal, mmdet_lvis_fed/models/calibration.py): the K foreground logits minus
gamma * log f(c) before the head's activation (softmax: p_c / f_c^gamma renormalised, background
untouched; sigmoid: the class's odds / f_c^gamma). f(c) is the class frequency of the data the
checkpoint was trained on (its meta.dataset_meta; --freq-source 'file': the train file's
image_count, 'subset': the share of the training images), as ClassFrequencyHook gives it in
`mim test`.

Validation split: the training dataset of CONFIG with split='val' (its val_fraction and
split_seed: the 9:1 split of the training file), test_mode=True, the test pipeline and the test
dataloader's not_exhaustive rule; never the test set. When the training dataset reads the whole
file (split=None, as the demo configs do) those images were trained on, and a warning says so.
The split is judged by LVISFedMetric with the test evaluator's options (max_dets, mask_area, ...).

One inference pass serves the whole sweep: per image the backbone, RPN and box head run once; the
raw class logits and box regressions of its RoIs are then re-scored, NMSed and capped for every
gamma by the head's own predict_by_feat (so each gamma's detections are exactly the calibrated
model's), and only the detections are kept. Box AP is measured for every gamma. With --masks the
mask head also runs for every gamma's detections (on the features of the image at hand: no second
backbone pass) and mask AP is printed too; without it the sweep is box-only, and the masks of the
written config follow its calibrated boxes.

The choice (gamma 0, the uncalibrated model, is always swept):
  --metric AP   the gamma with the best box AP (default);
  --metric APr  the best box APr among the gammas whose box APf is at most --max-apf-drop (default
                0.02) below gamma 0's: rare classes up, frequent ones kept.
Ties go to the smaller gamma.

Writes, as a pair (both new or both as they were, also after Ctrl-C or a kill; only a SIGKILL in
the microseconds between the two renames can leave a new record beside the old config, and the
temporary files it leaves are removed by the next run), --out-config
(default WORK_DIR/<config name>_calib.py): a config that inherits CONFIG, sets the calibrated box
head with the chosen gamma, names CONFIG in `retest_of` (tools/ablate.py tests it with CONFIG's
checkpoints, without training) and its record in `calibration_record`; run it with

    mim test mmdet OUT_CONFIG --checkpoint CHECKPOINT

and WORK_DIR/calibration.json (default work_dirs/calibrate/<config name>/): the command and the
numbers per gamma. Nothing from the command line or a file reaches the written config except as
a quoted Python literal. When gamma 0 is chosen (calibration changes nothing) no config is
written. An output that exists is replaced only with --force; one that is an input of the run
(CONFIG or a file it inherits, CHECKPOINT, the annotation file) never is.

Errors (a missing or unreadable file, a checkpoint trained on other classes, frequencies that
cannot be computed, a box head that cannot be calibrated, an output that is an input or exists
without --force) raise CommandError before anything is written; the tool prints it as one line,
`error: ...`, exit status 2.
"""
import json
import os.path as osp

from ..errors import CommandError
from .calibrated_config import check_writable, config_text, write_outputs
from .calibration_inputs import load_model, metric_options, prepare
from .calibration_sweep import choose, sweep, table

DEFAULT_GAMMAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def warnings_to_stdout():
    """Python warnings (mmengine's imports raise some) go to stdout: stderr carries only the one
    error line of the error contract."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(warnings.formatwarning(message, category, filename, lineno, line).rstrip())
    warnings.showwarning = show


def calibrate(config, checkpoint, gammas=DEFAULT_GAMMAS, freq_source=None, metric='AP',
              max_apf_drop=0.02, masks=False, out_config=None, work_dir=None, force=False,
              device=None, workers=2, command=''):
    """The whole of tools/calibrate.py (its options as arguments, `command` the line recorded):
    sweep, choose, print the table and write the pair. A request it cannot carry out raises
    CommandError before anything is written."""
    gammas, out_path, json_path = _checked_request(config, checkpoint, gammas, max_apf_drop,
                                                   out_config, work_dir)
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.logging import MMLogger
    MMLogger.get_instance('calibrate', log_level='WARNING')     # the metric's tables stay quiet
    run = prepare(config, checkpoint, freq_source, [out_path, json_path], force)
    cfg, dataset, freq_source = run['cfg'], run['dataset'], run['freq_source']
    if run['trained_on_val']:
        print(f'warning: the training dataset of {config} reads the whole file (split=None): '
              'its validation split was trained on')
    device = device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    model = load_model(cfg, run['override'], dict(gamma=0.0, freq_source=freq_source),
                       run['ckpt'], checkpoint, device)
    try:
        model.roi_head.bbox_head.calibration.set_class_frequency(run['freq'])
    except ValueError as e:
        raise CommandError(f'{checkpoint}: {e}') from None
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False,
                                         num_workers=max(workers, 0),
                                         collate_fn=pseudo_collate)
    if masks and not model.roi_head.with_mask:
        raise CommandError(f'--masks: the model of {config} has no mask head')
    print(f'{len(dataset)} validation images, {len(gammas)} gammas, f from {freq_source!r}',
          flush=True)
    rows = sweep(model, loader, gammas, metric_options(cfg), masks)
    chosen = choose(rows, metric, max_apf_drop)
    for line in table(rows, masks, chosen):
        print(line)

    _write(config, checkpoint, metric, max_apf_drop, masks, command, run, rows, chosen,
           gammas, out_path, json_path)


def _checked_request(config, checkpoint, gammas, max_apf_drop, out_config, work_dir):
    """The options checked, before anything is read: (gammas with 0, sorted; the config's path;
    the record's path)."""
    import math
    for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise CommandError(f'{path}: no such {what} file')
    bad = [g for g in gammas if not (math.isfinite(g) and g >= 0)]
    if bad:
        raise CommandError(f'--gammas: {bad[0]} is not a number >= 0')
    if not max_apf_drop >= 0:
        raise CommandError(f'--max-apf-drop: {max_apf_drop} is not a number >= 0')
    gammas = sorted({0.0, *map(float, gammas)})
    name = osp.splitext(osp.basename(config))[0]
    work_dir = work_dir or osp.join('work_dirs', 'calibrate', name)
    out_path = out_config or osp.join(work_dir, f'{name}_calib.py')
    if not out_path.endswith('.py'):
        raise CommandError(f'--out-config {out_path}: a config file name ends in .py')
    json_path = osp.join(work_dir, 'calibration.json')
    for path in (json_path, out_path):     # before the sweep, not after it
        check_writable(path)
    return gammas, out_path, json_path


def _write(config, checkpoint, metric, max_apf_drop, masks, command, run, rows, chosen, gammas,
           out_path, json_path):
    """The pair (the calibrated config and its record), and what was written said."""
    cfg, freq_source, dataset = run['cfg'], run['freq_source'], run['dataset']
    # gamma 0 is the uncalibrated model: a config that sets it would be a row that changes
    # nothing, so none is written (and one left by an earlier sweep goes with its record).
    text = (None if chosen == 0 else
            config_text(config, metric, max_apf_drop, cfg, out_path, json_path,
                        run['override'], chosen, freq_source, run['trained_on_val']))
    result = dict(config=config, checkpoint=checkpoint, freq_source=freq_source,
                  split='val', images=len(dataset), metric=metric,
                  max_apf_drop=max_apf_drop, masks=masks, gammas=gammas,
                  chosen=chosen, out_config=None if text is None else out_path, command=command,
                  rows=[dict(gamma=g, **rows[g]) for g in gammas])
    write_outputs({json_path: json.dumps(result), out_path: text})
    for path in run['replaced']:
        if path == json_path or text is not None:
            print(f'replaced {path} (--force)')
    rule = 'box AP' if metric == 'AP' else 'box APr'
    if text is None:
        print(f'gamma = 0 (best {rule}): calibration changes nothing, no config written'
              + (f' ({out_path} removed)' if out_path in run['replaced'] else '')
              + f'; the sweep is in {json_path}')
    else:
        print(f'gamma = {chosen:g} (best {rule}); wrote {out_path} and {json_path}\n'
              f'    mim test mmdet {out_path} --checkpoint {checkpoint}')
