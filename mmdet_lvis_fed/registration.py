"""When the package's classes enter mmdet's and mmengine's registries.

Every class registers itself with a decorator when its module is imported; `REGISTERING` lists
those modules (and `checkpoint`, which lets torch >= 2.6 load what mmengine saved). What is left to
decide is when to import them: they need torch, mmengine and mmdet (2-3 s), while the evaluator
core and the file readers need numpy only.

`import mmdet_lvis_fed` calls `register_on_import()`:
* mmengine already loaded (a config's `custom_imports`, `mim train` / `mim test`, any script that
  imported mmengine or mmdet first): every module is imported now.
* otherwise (`import mmdet_lvis_fed.evaluation.federated_eval` from a plain script, or a notebook
  that imports this package first): nothing heavy is imported. Once mmengine's root registries
  and mmdet's are loaded, `mmdet_lvis_fed.registered` is added to their lazy-import `locations`,
  which mmengine imports on the first lookup in them, before any dataset, model or runner is
  built.
"""
import sys
from importlib import import_module
from importlib.abc import MetaPathFinder
from importlib.util import find_spec

REGISTERING = (
    'mmdet_lvis_fed.checkpoint',
    'mmdet_lvis_fed.datasets.lvis_fed', 'mmdet_lvis_fed.datasets.samplers',
    'mmdet_lvis_fed.datasets.transforms',
    'mmdet_lvis_fed.engine.runner', 'mmdet_lvis_fed.engine.transfer',
    'mmdet_lvis_fed.engine.validation_loss',
    'mmdet_lvis_fed.evaluation.lvis_fed_metric',
    'mmdet_lvis_fed.models.fed_roi_head', 'mmdet_lvis_fed.models.federated_loss',
    'mmdet_lvis_fed.models.mmdet_losses',
)
_LOCATION = 'mmdet_lvis_fed.registered'    # its import calls register_all()


def register_all():
    """Import every registering module (idempotent)."""
    for name in REGISTERING:
        import_module(name)


def register_on_import():
    if find_spec('mmdet') is None:        # the numpy core works without mmdet
        return
    if 'mmengine' in sys.modules:
        register_all()
        return
    watched = {f.name for f in sys.meta_path if isinstance(f, _AfterImport)}
    for name, then in _AFTER.items():
        if name not in watched and name not in sys.modules:
            sys.meta_path.insert(0, _AfterImport(name, then))


def _add_location(registry_module):
    # Only an attribute is touched here: mmengine and mmdet may be half-initialised at this point
    # (mmdet.datasets imports mmdet.registry), so importing anything else now could fail.
    from mmengine.registry.registry import Registry
    for registry in vars(registry_module).values():
        if isinstance(registry, Registry) and _LOCATION not in registry._locations:
            registry._locations.append(_LOCATION)


def _allow_checkpoint_globals(history_buffer_module):
    import_module('mmdet_lvis_fed.checkpoint')     # needs torch and this very module only


# What to do once a module has been executed: mmengine's root registries (the runner registers
# there) and mmdet's (everything else) get the location; mmengine's checkpoints become loadable.
_AFTER = {'mmengine.registry.root': _add_location, 'mmdet.registry': _add_location,
          'mmengine.logging.history_buffer': _allow_checkpoint_globals}


class _AfterImport(MetaPathFinder):
    """Calls `then(module)` right after module `name` has been executed, once."""

    def __init__(self, name, then):
        self.name, self.then = name, then

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module, then = spec.loader.exec_module, self.then

        def exec_then(module):
            exec_module(module)
            then(module)
        spec.loader.exec_module = exec_then
        return spec
