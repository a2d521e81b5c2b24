"""What a calibration sweep reads, checked before any inference (experiments/calibration.py):
the config's validation split and box head, the checkpoint and its classes, the metric's options,
the class frequencies, the outputs against the inputs; and the model built from them."""
import copy
import os.path as osp

from ..datasets.val_split import trained_on_val, val_split
from ..errors import CommandError
from ..wrappers import unwrap_dataset
from .calibrated_config import config_files, refuse_overwriting


def first_line(e):
    text = str(e).strip()
    return f'{type(e).__name__}: {text.splitlines()[0] if text else ""}'


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
