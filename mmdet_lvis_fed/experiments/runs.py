"""A run of an experiment: one (config, seed), identified by everything that determines its
numbers, with a folder of its own.

The key hashes the config's path, its resolved content (the dumped config after --cfg-options:
every key the runner reads), the seed's options, the bytes of the checkpoints it starts from
(`load_from`, TransferWeightsHook) and of the annotation files its dataloaders read (every
`ann_file` under its `data_root`, `io.file_digest`), so re-rendered data under the same paths is
trained again. A run lives in

    WORK_DIR/<config path without .py>/<run key>/seed<S>/

(run.log, the checkpoints, metrics.json); a finished run is reused only when all of these match.
A config with a top-level `retest_of = '<training config>'` (relative to its own folder) is a
test-time variant: not trained, it tests the checkpoint of that config's run with the same seed
and options. A config with a top-level `fixed_ap_test = dict(test_cfg=..., model=...,
test_evaluator=...)` is tested a second time with those values (`fixed_ap_config`), its metrics
kept as `fixed/<key>`.

mmengine and mmdet are imported where a config is read, not at import time.
"""
import argparse
import copy
import hashlib
import json
import os
import os.path as osp
import time

from ..io import file_digest

RETEST_KEY = 'retest_of'
# What mmengine's Runner reads from a config (Runner.from_cfg, and mmdet's tools): the run key
# hashes these, so an unused top-level variable (a piece of configs/_base_/longtail.py that
# this config does not pick) does not make a finished run look different.
RUNNER_KEYS = ('model', 'data_preprocessor', 'train_dataloader', 'val_dataloader',
               'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
               'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
               'default_hooks', 'custom_hooks', 'load_from', 'resume', 'env_cfg', 'randomness',
               'default_scope', 'custom_imports', 'model_wrapper_cfg', 'runner_type',
               'launcher', RETEST_KEY, 'fixed_ap_test')
# A config's optional second test (the Fixed AP protocol): its metrics are kept under this prefix.
FIXED_KEY, FIXED_PREFIX = 'fixed_ap_test', 'fixed/'


def _options(cfg_options):
    if not cfg_options:
        return {}
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction)
    return parser.parse_args(['--o'] + list(cfg_options)).o


def load_config(config, cfg_options, as_written=False):
    """The config with the options merged; with `as_written`, also the file as parsed before
    them (one parse: a copy, or the same object when there are no options)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    written = copy.deepcopy(cfg) if as_written and cfg_options else cfg
    cfg.merge_from_dict(_options(cfg_options))
    return (cfg, written) if as_written else cfg


def annotation_files(cfg):
    """The annotation files the dataloaders' datasets read (through wrappers: `dataset`,
    `datasets`), each joined to its dataset's data_root as mmengine does."""
    found, todo = set(), [cfg.get(k, {}).get('dataset') for k in
                          ('train_dataloader', 'val_dataloader', 'test_dataloader')
                          if isinstance(cfg.get(k), dict)]
    while todo:
        ds = todo.pop()
        if isinstance(ds, (list, tuple)):
            todo += list(ds)
        elif isinstance(ds, dict):
            ann = ds.get('ann_file')
            if isinstance(ann, str) and ann:
                root = ds.get('data_root') or ''
                found.add(ann if osp.isabs(ann) or not root else osp.join(root, ann))
            todo += [ds.get('dataset'), ds.get('datasets')]
    return sorted(found)


def start_checkpoints(cfg):
    """Checkpoint files the run starts from: load_from and every TransferWeightsHook's."""
    paths = [cfg.get('load_from')] + [h.get('checkpoint') for h in cfg.get('custom_hooks') or ()
                                      if str(h.get('type', '')).endswith('TransferWeightsHook')]
    return sorted({p for p in paths if p})


class Run:
    """One (config, seed): its key, folder and checkpoint source."""

    def __init__(self, config, seed, work_dir, cfg_options, _seen=()):
        self.config = osp.relpath(osp.abspath(config), os.getcwd())
        self.seed, self.options = int(seed), list(cfg_options)
        if osp.abspath(config) in _seen:
            raise ValueError(f'{config}: {RETEST_KEY} leads back to itself')
        try:
            cfg, written = load_config(config, cfg_options, as_written=True)
        except Exception as e:        # a config that does not parse: name it, one line
            raise ValueError(f'{config}: cannot load the config ({type(e).__name__}: '
                             f'{str(e).splitlines()[0] if str(e) else ""})') from None
        from ..engine.checks import unused_variables_message
        unused = unused_variables_message(cfg, written)   # the run would stop at start-up: now
        if unused:
            raise ValueError(f'{config}: {unused}')
        self.source = None
        if cfg.get(RETEST_KEY):
            src = osp.normpath(osp.join(osp.dirname(config), cfg[RETEST_KEY]))
            if not osp.isfile(src):
                raise ValueError(f'{config}: {RETEST_KEY} names {src}, which is not a file')
            self.source = Run(src, seed, work_dir, cfg_options,
                              _seen=tuple(_seen) + (osp.abspath(config),))
        inputs = {}
        for path in start_checkpoints(cfg) + annotation_files(cfg):
            inputs[path] = file_digest(path) if osp.isfile(path) else 'missing'
        from mmengine.config import Config
        used = Config({k: cfg[k] for k in RUNNER_KEYS if k in cfg}).pretty_text
        ident = dict(config=self.config, content=used, options=self.options,
                     inputs=inputs, retest_of=self.source.key if self.source else None)
        self.key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]
        self.inputs = inputs
        where = '/'.join(p for p in osp.splitext(self.config)[0].split(os.sep)
                         if p not in ('.', '..'))
        self.dir = osp.join(work_dir, where, self.key, f'seed{self.seed}')
        self.metrics_path = osp.join(self.dir, 'metrics.json')

    @property
    def name(self):
        return osp.splitext(osp.basename(self.config))[0]

    def finished(self):
        if not osp.exists(self.metrics_path):
            return None
        try:
            with open(self.metrics_path) as f:
                m = json.load(f)
        except ValueError:
            return None
        same = (m.get('key') == self.key and m.get('seed') == self.seed
                and m.get('config') == self.config and m.get('options') == self.options)
        return m if same else None

    def test_checkpoint(self):
        """The checkpoint a finished training run is tested with (for a test-time variant, its
        source's: a variant of a variant tests the training run at the end of the chain)."""
        if self.source is not None:
            return self.source.test_checkpoint()
        best = osp.join(self.dir, 'best_val_loss.pth')
        if osp.exists(best):
            return best
        with open(osp.join(self.dir, 'last_checkpoint')) as f:
            return f.read().strip()


def seeded(cfg, seed):
    """The config's `randomness` with the run's seed: every other option of it (deterministic,
    diff_rank_seed) kept as the config or --cfg-options set it."""
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=int(seed))
    return cfg


def fixed_ap_config(cfg):
    """The config of the second test: `fixed_ap_test`'s test_cfg (the loop) replacing the
    config's, its model.test_cfg and test_evaluator merged into the config's."""
    fixed = cfg[FIXED_KEY]
    unknown = set(fixed) - {'test_cfg', 'model', 'test_evaluator'}
    if unknown:
        raise ValueError(f'{FIXED_KEY} sets {sorted(unknown)}: it takes test_cfg, model and '
                         'test_evaluator')
    out = copy.deepcopy(cfg)
    if 'test_cfg' in fixed:
        out.test_cfg = copy.deepcopy(fixed['test_cfg'])
    out.merge_from_dict({k: fixed[k] for k in ('model', 'test_evaluator') if k in fixed})
    # a name of its own: mmengine keys its logger and visualizer instances by the experiment name
    out.experiment_name = time.strftime('%Y%m%d_%H%M%S') + '_fixed_ap'
    return out


def publish(run, dest):
    """Make `dest` the checkpoint `run` is tested with (a hard link, else a copy; replaced in
    one rename, so a reader never sees half a file). Nothing happens when it already is."""
    import shutil
    src = run.test_checkpoint()
    if osp.exists(dest) and osp.samefile(src, dest):
        print(f'published: {dest} is already {src}', flush=True)
        return
    os.makedirs(osp.dirname(osp.abspath(dest)), exist_ok=True)
    tmp = f'{dest}.tmp-{os.getpid()}'
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        if osp.exists(tmp):
            os.unlink(tmp)
    print(f'published: {dest} = {src}', flush=True)
