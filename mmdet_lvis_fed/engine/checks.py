"""Start-up checks that stop a run whose parts disagree, before its first iteration.

A config states its classes in the datasets (`metainfo=dict(classes=...)`) and K in the heads and
class losses (`num_classes=`); a child that changes the classes must restate both. These hooks are
the safety net for a config that forgets a line, and for a checkpoint tested or resumed under
classes it was not trained on. The runtime base (`configs/_base_/default_runtime.py`) names them in
`default_hooks`, so they run in every config that inherits it.
"""
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdet.datasets.transforms import MixUp, Mosaic
from mmdet.registry import HOOKS

from ..wrappers import dataset_chain, unwrap_dataset, unwrap_model


def _classes(loader):
    classes = unwrap_dataset(loader.dataset).metainfo.get('classes')
    return None if classes is None else tuple(classes)


def _listed(classes, limit=12):
    names = ', '.join(classes[:limit])
    return f'({names}{", ..." if len(classes) > limit else ""})'


def head_class_counts(model):
    """(where, K) of every part of the model that has a number of classes: the RoI heads (a
    cascade's stages too) and their class losses."""
    roi = getattr(model, 'roi_head', None)
    out = []
    for name in ('bbox_head', 'mask_head'):
        heads = getattr(roi, name, None)
        heads = list(heads) if hasattr(heads, '__iter__') else [heads]
        for i, head in enumerate(heads):
            where = f'model.roi_head.{name}' + (f'[{i}]' if len(heads) > 1 else '')
            if getattr(head, 'num_classes', None) is not None:
                out.append((where, int(head.num_classes)))
            loss = getattr(head, 'loss_cls', None)
            if getattr(loss, 'num_classes', None) is not None:
                out.append((f'{where}.loss_cls', int(loss.num_classes)))
    return out


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Stop a run whose heads, datasets or loaded checkpoint disagree on the classes.

    * before training, validation or testing: K of every RoI head and class loss equals the number
      of classes of the dataset about to be used, and the validation classes equal the training
      ones;
    * a checkpoint loaded by ``load_from``, ``--checkpoint`` or ``--resume``: its
      ``meta.dataset_meta.classes`` (what it was trained on) equal the dataset's classes, in name,
      order and number. A checkpoint without class metadata gets a warning in the log. To start
      from a detector with other classes on purpose, use ``TransferWeightsHook``, which re-initialises
      the class-specific layers.
    """
    priority = 'VERY_HIGH'

    def __init__(self):
        self.checkpoint_classes, self.checkpoint_name = None, None

    def after_load_checkpoint(self, runner, checkpoint):
        meta = (checkpoint.get('meta') or {}).get('dataset_meta') or {}
        self.checkpoint_classes = None
        if meta.get('classes') is None:
            print_log('NumClassesCheckHook: the loaded checkpoint has no meta.dataset_meta.classes, '
                      'so its classes cannot be checked against the dataset\'s; the class layers\' '
                      'shapes are checked by mmengine only (size-mismatch lines, then random '
                      'weights)', logger='current', level=30)
            return
        self.checkpoint_classes = tuple(meta['classes'])
        self.checkpoint_name = runner.cfg.get('load_from') or 'the resumed checkpoint'

    def _check(self, runner, loader, what):
        classes = _classes(loader)
        if classes is None:
            return
        for where, k in head_class_counts(unwrap_model(runner.model)):
            if k != len(classes):
                raise ValueError(
                    f'{where}.num_classes is {k} but the {what} dataset has {len(classes)} classes '
                    f'{_listed(classes)}. Fix: state K where the classes are chosen, e.g. '
                    f'model = dict(roi_head=dict(bbox_head=dict(num_classes={len(classes)}), '
                    f'mask_head=dict(num_classes={len(classes)}))) (and loss_cls.num_classes for '
                    'a class loss that takes it)')
        if self.checkpoint_classes is not None and self.checkpoint_classes != classes:
            ckpt = self.checkpoint_classes
            raise ValueError(
                f'the checkpoint {self.checkpoint_name} was trained on {len(ckpt)} classes '
                f'{_listed(ckpt)}, but the {what} dataset has {len(classes)} classes '
                f'{_listed(classes)}: its class outputs would be read as other categories. Fix: '
                'test it with the config it was trained with (its classes in the same order), or, '
                'to start from it with other classes, load it with TransferWeightsHook instead of '
                'load_from')

    def before_train(self, runner):
        self._check(runner, runner.train_dataloader, 'training')
        val = runner.cfg.get('val_dataloader')
        if val is not None and runner.cfg.get('val_cfg') is not None:
            train, v = _classes(runner.train_dataloader), _classes(runner.val_dataloader)
            if train is not None and v is not None and train != v:
                raise ValueError(f'the training dataset has classes {_listed(train)} but the '
                                 f'validation dataset {_listed(v)}: name the same classes in '
                                 'both (metainfo=dict(classes=...))')

    def before_val(self, runner):
        self._check(runner, runner.val_dataloader, 'validation')

    def before_test(self, runner):
        self._check(runner, runner.test_dataloader, 'test')


def _mixes_without_masks(transform):
    # mmdet 3.3's Mosaic and MixUp (transforms.py) move boxes and labels but never touch gt_masks;
    # their cached variants (CachedMosaic, CachedMixUp) do move the masks. CachedMosaic subclasses
    # Mosaic, so the class itself is compared, and a subclass counts when it keeps their transform().
    for cls in (Mosaic, MixUp):
        if isinstance(transform, cls) and type(transform).transform is cls.transform:
            return cls.__name__
    return None


def _transforms(dataset):
    """The built transforms of a dataset (mmengine's Compose) or of a wrapper (a list)."""
    pipeline = getattr(dataset, 'pipeline', None)
    if isinstance(pipeline, (list, tuple)):
        return list(pipeline)
    return list(getattr(pipeline, 'transforms', None) or [])


@HOOKS.register_module()
class MaskMixingCheckHook(Hook):
    """Refuse mmdet 3.3's Mosaic and MixUp in a training pipeline that loads instance masks or
    trains a mask head: they mix boxes and labels but leave ``gt_masks`` as they were, so every
    mixed image trains on wrong masks (or fails in PackDetInputs). CachedMosaic and CachedMixUp
    move the masks and pass; ``FedCopyPaste`` keeps the federated lists true as well."""
    priority = 'VERY_HIGH'

    def before_train(self, runner):
        model = unwrap_model(runner.model)
        transforms = [t for ds in dataset_chain(runner.train_dataloader.dataset)
                      for t in _transforms(ds)]
        loads_masks = any(getattr(t, 'with_mask', False) for t in transforms)
        with_mask_head = bool(getattr(getattr(model, 'roi_head', None), 'with_mask', False))
        for t in transforms:
            name = _mixes_without_masks(t)
            if name and (loads_masks or with_mask_head):
                raise ValueError(
                    f'train_dataloader: {type(t).__name__} with instance masks: mmdet 3.3\'s '
                    f'{name} mixes boxes and labels but leaves gt_masks unchanged, so the masks no '
                    'longer match. Use CachedMosaic / CachedMixUp (they move the masks) or '
                    'FedCopyPaste, or drop the mask head and with_mask for a box-only model')


# Top-level variables that the base files read when they are parsed (`metainfo=dict(classes=
# classes)`, `data_root=data_root` inside the dataloaders): a child config, or --cfg-options, that
# sets only the variable changes the variable and nothing that uses it, so the run would train
# and test the base's classes or data and exit 0.
PARSE_TIME_VARIABLES = {
    'classes': ('metainfo.classes', 'metainfo=dict(classes=classes) in each dataloader\'s '
                'dataset, and num_classes=len(classes) in the heads'),
    'metainfo': ('metainfo', 'metainfo=metainfo in each dataloader\'s dataset'),
    'data_root': ('data_root', 'data_root=data_root in each dataloader\'s dataset (e.g. '
                  '--cfg-options train_dataloader.dataset.data_root=...)'),
}


def _datasets_of(cfg):
    """{dataloader name: innermost dataset config} of the dataloaders the config has."""
    out = {}
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        ds = loader.get('dataset') if isinstance(loader, dict) else None
        if isinstance(ds, dict):
            ds = unwrap_dataset(ds)
            out[name] = ds
    return out


def _field(ds, path):
    for part in path.split('.'):
        ds = ds.get(part) if isinstance(ds, dict) else None
    return ds


def _same(a, b):
    if isinstance(a, str) and isinstance(b, str):
        return a.rstrip('/') == b.rstrip('/')
    norm = (lambda v: tuple(v) if isinstance(v, (list, tuple)) else
            {k: norm(x) for k, x in v.items()} if isinstance(v, dict) else v)
    return norm(a) == norm(b)


def _leaf_names(filename):
    """The names the config file itself assigns at its top level (not its bases)."""
    import ast
    try:
        with open(filename) as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return set()
    return {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)}


def unused_variables(cfg, as_written=None):
    """The parse-time variables that the leaf config or the command line set but no dataset uses:
    [(name, how it was set, what the datasets have, the fix)].

    Args:
        cfg: the run's config (after --cfg-options).
        as_written: the same file parsed without --cfg-options (None: parsed here from
            cfg.filename; a config without a file is checked against nothing).
    """
    filename = getattr(cfg, 'filename', None)
    if as_written is None and filename:
        from mmengine.config import Config
        try:
            as_written = Config.fromfile(filename)
        except Exception:      # the file changed or moved since the run parsed it
            as_written = None
    leaf = _leaf_names(filename) if filename else set()
    datasets = _datasets_of(cfg)
    problems = []
    for name, (path, fix) in PARSE_TIME_VARIABLES.items():
        if name not in cfg or not datasets:
            continue
        value = cfg[name]
        by_option = as_written is not None and not _same(value, as_written.get(name))
        if not (by_option or name in leaf):
            continue
        have = {loader: _field(ds, path) for loader, ds in datasets.items()}
        if any(v is not None and _same(value, v) for v in have.values()):
            continue
        how = '--cfg-options' if by_option else f'the config file {filename}'
        problems.append((name, how, have, fix))
    return problems


@HOOKS.register_module()
class UnusedVariablesCheckHook(Hook):
    """Stop a run that a top-level `classes`, `metainfo` or `data_root` was meant to change but
    does not: set by the leaf config or by --cfg-options, used by none of the dataloaders'
    datasets (they read the variable when the base files were parsed). The error names the
    variable, what the datasets have instead, and the line that applies it."""
    priority = 'VERY_HIGH'

    def before_run(self, runner):
        # mmengine keeps no copy of the config before --cfg-options: the file is parsed again
        # (0.16-0.25 s for this project's configs, once per process at start-up)
        message = unused_variables_message(runner.cfg)
        if message:
            raise ValueError(message)


def unused_variables_message(cfg, as_written=None):
    """The error for the first of `unused_variables(cfg, as_written)`, or None."""
    problems = unused_variables(cfg, as_written)
    if not problems:
        return None
    name, how, have, fix = problems[0]
    value = cfg[name]
    shown = _listed(tuple(value)) if name == 'classes' else repr(value)
    seen = '; '.join(f'{loader}: {"(none: every category of the file)" if v is None else v!r}'
                     for loader, v in have.items())
    return (f'{name} = {shown} is set by {how} but no dataset uses it ({seen}): a top-level '
            'variable is read by the base files when they are parsed, so setting only it changes '
            f'nothing. Fix: set {fix}')
