"""Names a package exports but imports only when first used (PEP 562), so that importing the
package's numpy core never pulls in torch, mmengine or mmdet."""
from importlib import import_module


def lazy_exports(package: str, where: dict):
    """A module `__getattr__` for `package`: name -> the submodule (relative) that defines it."""
    def __getattr__(name):
        if name in where:
            return getattr(import_module(f'{package}.{where[name]}'), name)
        raise AttributeError(f'module {package!r} has no attribute {name!r}')
    return __getattr__
