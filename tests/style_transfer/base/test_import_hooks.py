"""`base.import_hooks.on_import`: code around the first import of a module, whoever imports it."""

import contextlib
import importlib
import sys

from style_transfer.base.import_hooks import on_import


def test_two_hooks_on_one_module_both_run_around_its_import_nested(tmp_path, monkeypatch):
    (tmp_path / "hooked_sample_module.py").write_text(
        "import sys\nsys.hooked_seen = list(sys.hook_events)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "hook_events", [], raising=False)
    monkeypatch.delitem(sys.modules, "hooked_sample_module", raising=False)

    def recording(name):
        @contextlib.contextmanager
        def around():
            sys.hook_events.append(f"{name} in")
            yield
            sys.hook_events.append(f"{name} out")
        return around

    first, second = recording("first"), recording("second")
    on_import("hooked_sample_module", first)
    on_import("hooked_sample_module", first)  # the same hook again: no second copy
    on_import("hooked_sample_module", second)
    try:
        module = importlib.import_module("hooked_sample_module")
    finally:
        monkeypatch.delitem(sys.modules, "hooked_sample_module", raising=False)

    assert sorted(sys.hooked_seen) == ["first in", "second in"]  # both entered before it ran
    assert len(sys.hook_events) == 4 and sys.hook_events[2:] == [
        event.replace(" in", " out") for event in reversed(sys.hook_events[:2])]
    assert type(module.__loader__).__name__ == "SourceFileLoader"  # the real loader kept
    assert not [finder for finder in sys.meta_path
                if getattr(finder, "name", None) == "hooked_sample_module"]  # used once
    del sys.hooked_seen
