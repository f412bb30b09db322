"""Running code around the import of a module, whenever that import happens.

    on_import("keras", then(register))   # after keras is imported, by anyone
    on_import("tensorflow", quiet)       # TensorFlow's import inside a context manager

A finder placed first on `sys.meta_path` finds the module through the other
finders and wraps its loader, so the import runs inside the context manager;
it is used once and removes itself. If the module is already imported, the
context manager runs around nothing, at once. Several hooks (different `around`) may
wait for one module: their context managers nest. Light: the standard library only.
"""

import contextlib
import importlib.abc
import importlib.util
import sys


def on_import(name, around):
    """Runs the first import of the top-level module `name` inside `around()`.

    Args:
        name: A top-level module ("keras").
        around: A function returning a context manager (`contextlib.contextmanager`).
    """
    if name in sys.modules:
        with around():
            pass
        return
    if not any(isinstance(finder, _Hook) and (finder.name, finder.around) == (name, around)
               for finder in sys.meta_path):
        sys.meta_path.insert(0, _Hook(name, around))


def then(callback):
    """A context manager (factory) that calls `callback()` when its block ends without error."""

    @contextlib.contextmanager
    def after():
        yield
        callback()

    return after


class _Hook(importlib.abc.MetaPathFinder):
    def __init__(self, name, around):
        self.name = name
        self.around = around
        self._finding = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name or self._finding:
            return None
        self._finding = True  # importlib.util.find_spec asks every finder, this one too
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._finding = False
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, hook):
        self.loader = loader
        self.hook = hook

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module keeps the real loader (importlib.resources and friends ask it).
        module.__loader__ = module.__spec__.loader = self.loader
        if self.hook in sys.meta_path:
            sys.meta_path.remove(self.hook)
        with self.hook.around():
            self.loader.exec_module(module)
