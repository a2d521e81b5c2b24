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
import contextlib
import copy
import json
import os.path as osp

from ..datasets.val_split import trained_on_val, val_split
from ..errors import CommandError
from ..wrappers import unwrap_dataset
from .calibrated_config import (check_writable, config_files, config_text, refuse_overwriting,
                                write_outputs)

DEFAULT_GAMMAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
GROUPS = ('AP', 'APr', 'APc', 'APf')


def first_line(e):
    text = str(e).strip()
    return f'{type(e).__name__}: {text.splitlines()[0] if text else ""}'


# --- what is read ----------------------------------------------------------------------------

def val_split_config(cfg):
    """The validation split of the training file (datasets/val_split.py, the rule
    ValidationLossHook uses too) as the test protocol sees it: test_mode=True, the test pipeline and
    the test dataloader's not_exhaustive rule, the training filter dropped; and whether the
    training dataset read the whole file (so the split was trained on)."""
    split, _ = val_split(cfg.train_dataloader.get('dataset'))
    test = unwrap_dataset(cfg.test_dataloader.get('dataset'))
    split.pop('filter_cfg', None)
    split.update(test_mode=True, pipeline=copy.deepcopy(test['pipeline']),
                 not_exhaustive=test.get('not_exhaustive', 'exclude'))
    return split, trained_on_val(cfg.train_dataloader.get('dataset'))


def calibrated_head(cfg):
    """(the box head's config overrides that turn calibration on, the head's calibration dict)."""
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
    from mmdet.registry import MODELS
    from ..models.calibration import CalibrationMixin
    head = cfg.model.get('roi_head', {}).get('bbox_head')
    if not isinstance(head, dict):
        raise CommandError(f'{cfg.filename}: model.roi_head.bbox_head is '
                           f'{type(head).__name__}, not one box head (cascade heads are not '
                           'supported)')
    kind = head.get('type')
    cls = MODELS.get(kind) if isinstance(kind, str) else kind
    if isinstance(cls, type) and issubclass(cls, CalibrationMixin):
        return {}, head.get('calibration') or {}
    if cls is Shared2FCBBoxHead:
        return dict(type='CalibratedBBoxHead'), {}
    raise CommandError(f'{cfg.filename}: the box head {kind} has no calibration: it works on '
                       'Shared2FCBBoxHead (as CalibratedBBoxHead) and FedBBoxHead')


def read_checkpoint(path):
    # The plugin's loader: mmengine's checkpoints through the allow-list, each bytes' CRC-32
    # checked, and every failure one line naming the file.
    from ..checkpoint import load_checkpoint_file
    try:
        ckpt = load_checkpoint_file(path, map_location='cpu')
    except (ValueError, OSError) as e:     # CheckpointError, FileNotFoundError
        raise CommandError(str(e).splitlines()[0])
    if not isinstance(ckpt, dict):
        raise CommandError(f'{path}: not an mmengine checkpoint (a {type(ckpt).__name__})')
    meta = (ckpt.get('meta') or {}).get('dataset_meta') or {}
    if not meta.get('classes'):
        raise CommandError(f'{path}: the checkpoint has no meta.dataset_meta.classes: its classes '
                           'and training frequencies are unknown (checkpoints saved by mmengine '
                           'training runs carry them)')
    return ckpt, meta


def metric_options(cfg):
    """The test evaluator's LVISFedMetric options (max_dets, mask_area, ...), so that the
    validation split is judged by the test protocol; what it reports and writes is the sweep's."""
    evaluators = cfg.get('test_evaluator') or {}
    for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
        if str(ev.get('type', '')).split('.')[-1] == 'LVISFedMetric':
            skip = {'type', 'metric', 'classwise', 'format_only', 'outfile_prefix', 'out_dir',
                    'ann_file', 'classes', 'prefix', 'collect_device'}
            return {k: v for k, v in ev.items() if k not in skip}
    return {}


# --- the sweep -------------------------------------------------------------------------------

@contextlib.contextmanager
def box_forward_once(roi_head):
    """Within the block the box head runs once: later calls of `_bbox_forward` (one per gamma, on
    the same RoIs) get the first call's class logits and box regressions."""
    import torch
    # StandardRoIHead.predict_bbox calls _bbox_forward and then the head's predict_by_feat (the
    # calibration): sharing this one call is the smallest hook that re-scores without re-running.
    original, cache = roi_head._bbox_forward, {}

    def once(x, rois):
        if 'out' not in cache:
            cache['rois'], cache['out'] = rois, original(x, rois)
        elif not torch.equal(cache['rois'], rois):
            raise RuntimeError('box_forward_once: the RoIs changed between gammas')
        return cache['out']

    roi_head._bbox_forward = once
    try:
        yield
    finally:
        del roi_head._bbox_forward


def rescale_like_mask_head(results, metas):
    """The boxes in original-image coordinates, by the very operation FCNMaskHead's
    _predict_by_feat_single applies when a mask head runs (mmdet 3.3: boxes NMSed at the
    network's scale, then divided in place by the scale factor), so that box-only numbers equal
    `mim test`'s."""
    for res, meta in zip(results, metas):
        if res.bboxes.shape[0]:
            res.bboxes /= res.bboxes.new_tensor(meta['scale_factor']).repeat((1, 2))
    return results


def predict_all(model, batch, gammas, with_masks):
    """Yield (gamma, the batch's data samples with pred_instances) for every gamma, from one
    backbone, RPN and box head pass; the samples are overwritten by the next gamma's."""
    roi_head, head = model.roi_head, model.roi_head.bbox_head
    data = model.data_preprocessor(batch, False)
    samples = data['data_samples']
    x = model.extract_feat(data['inputs'])
    rpn_results = model.rpn_head.predict(x, samples, rescale=False)
    metas = [s.metainfo for s in samples]
    with box_forward_once(roi_head):
        for g in gammas:
            head.calibration.gamma = g
            results = roi_head.predict_bbox(x, metas, rpn_results, rcnn_test_cfg=roi_head.test_cfg,
                                            rescale=not roi_head.with_mask)
            if roi_head.with_mask and with_masks:
                results = roi_head.predict_mask(x, metas, results, rescale=True)
            elif roi_head.with_mask:
                results = rescale_like_mask_head(results, metas)
            yield g, model.add_pred_to_datasample(samples, results)


def sweep(model, loader, gammas, metric_cfg, with_masks):
    """{gamma: {'bbox_AP': .., ...}} on every image of the loader."""
    import torch
    from ..evaluation.lvis_fed_metric import LVISFedMetric
    iou_types = ['bbox', 'segm'] if with_masks else ['bbox']
    metrics = {g: LVISFedMetric(metric=iou_types, **metric_cfg) for g in gammas}
    for m in metrics.values():
        m.dataset_meta = loader.dataset.metainfo
    n = 0
    with torch.no_grad():
        for i, batch in enumerate(loader):
            for g, samples in predict_all(model, batch, gammas, with_masks):
                metrics[g].process(batch, [s.to_dict() for s in samples])
            n += len(batch['inputs'])
            if (i + 1) % 100 == 0:
                print(f'{n} / {len(loader.dataset)} images', flush=True)
    return {g: {k.split('/', 1)[-1]: float(v) for k, v in m.evaluate(n).items()}
            for g, m in metrics.items()}


def choose(rows, metric, max_apf_drop):
    """The chosen gamma (module docstring); rows: {gamma: numbers}, with gamma 0."""
    if metric == 'AP':
        candidates = list(rows)
    else:
        floor = rows[0.0]['bbox_APf'] - max_apf_drop
        candidates = [g for g in rows if rows[g]['bbox_APf'] >= floor - 1e-12]
    key = f'bbox_{metric}'
    return max(sorted(candidates), key=lambda g: (rows[g][key], -g))


# --- what is printed -------------------------------------------------------------------------

def table(rows, with_masks, chosen=None):
    tasks = ['bbox', 'segm'] if with_masks else ['bbox']
    head = ['gamma'] + [f'{"box" if t == "bbox" else "mask"} {g}' for t in tasks for g in GROUPS]
    lines = ['  '.join(f'{h:>9}' for h in head)]
    for g in sorted(rows):
        cells = [f'{g:>9g}'] + [f'{rows[g][f"{t}_{k}"]:>9.4f}' for t in tasks for k in GROUPS]
        lines.append('  '.join(cells) + ('  <- chosen' if g == chosen else ''))
    return lines


# --- main ------------------------------------------------------------------------------------

def load_model(cfg, override, calibration, ckpt, ckpt_path, device):
    from mmengine.runner import load_state_dict
    from mmdet.registry import MODELS
    head = cfg.model.roi_head.bbox_head
    head.update(override)
    head['calibration'] = calibration
    if 'init_cfg' in cfg.model.get('backbone', {}):
        cfg.model.backbone.init_cfg = None          # the weights come from the checkpoint
    model = MODELS.build(cfg.model)
    try:
        load_state_dict(model, ckpt.get('state_dict', ckpt), strict=True)
    except RuntimeError as e:
        raise CommandError(f'{ckpt_path}: does not fit the model of {cfg.filename} '
                           f'({" ".join(str(e).split())[:300]})')
    return model.to(device).eval()


def warnings_to_stdout():
    """Python warnings (mmengine's imports raise some) go to stdout: stderr carries only the one
    error line of the error contract."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        print(warnings.formatwarning(message, category, filename, lineno, line).rstrip())
    warnings.showwarning = show


def prepare(config, checkpoint, freq_source, outputs, force):
    """Everything the sweep needs, checked before any inference: the config and its calibrated
    box head, the checkpoint and its classes against the validation split's, the class
    frequencies, the outputs against the inputs. Returns a dict (cfg, override, freq_source,
    ckpt, freq, dataset, trained_on_val, replaced: the outputs --force replaces)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    try:
        cfg = Config.fromfile(config)
    except Exception as e:
        raise CommandError(f'{config}: cannot load the config ({first_line(e)})') from None
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    override, calibration = calibrated_head(cfg)
    freq_source = freq_source or calibration.get('freq_source', 'file')
    if freq_source not in ('file', 'subset'):
        raise CommandError(f"{config}: model.roi_head.bbox_head.calibration.freq_source is "
                           f"{freq_source!r}, not 'file' or 'subset'")
    ckpt, meta = read_checkpoint(checkpoint)

    from mmdet.registry import DATASETS
    from ..datasets.frequency import class_frequency
    from ..engine.checks import _listed
    ds_cfg, on_val = val_split_config(cfg)
    inputs = config_files(config) + [checkpoint]
    if cfg.get('retest_of'):
        inputs.append(osp.join(osp.dirname(osp.abspath(config)), cfg.retest_of))
    if isinstance(ds_cfg.get('ann_file'), str):
        inputs.append(osp.join(ds_cfg.get('data_root') or '', ds_cfg['ann_file']))
    replaced = refuse_overwriting(outputs, inputs, force)
    try:
        dataset = DATASETS.build(ds_cfg)
    except Exception as e:
        raise CommandError(f'{config}: cannot build the validation split ({first_line(e)})') \
            from None
    classes, ckpt_classes = tuple(dataset.metainfo['classes']), tuple(meta['classes'])
    if classes != ckpt_classes:
        raise CommandError(f'{checkpoint} was trained on {len(ckpt_classes)} classes '
                           f'{_listed(ckpt_classes, 8)}, but {config} names {len(classes)} '
                           f'{_listed(classes, 8)}: give the config it was trained with')
    try:
        freq = class_frequency(meta, freq_source)
    except ValueError as e:
        raise CommandError(f'{checkpoint}: no class frequencies from its meta.dataset_meta ({e})') \
            from None
    return dict(cfg=cfg, override=override, freq_source=freq_source, ckpt=ckpt, freq=freq,
                dataset=dataset, trained_on_val=on_val, replaced=replaced)


def calibrate(config, checkpoint, gammas=DEFAULT_GAMMAS, freq_source=None, metric='AP',
              max_apf_drop=0.02, masks=False, out_config=None, work_dir=None, force=False,
              device=None, workers=2, command=''):
    """The whole of tools/calibrate.py (its options as arguments, `command` the line recorded):
    sweep, choose, print the table and write the pair. A request it cannot carry out raises
    CommandError before anything is written."""
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
