"""The package ``matcher.whatif``: every export resolves to its module's object, and the
deprecated modules ``matcher.scenarios`` and ``matcher.sweep`` (one release) still give the
same objects under the old names, with a warning."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import matcher
import matcher.whatif as whatif


def test_every_export_resolves_to_its_module_object() -> None:
    assert sorted(whatif.__all__) == sorted(whatif._EXPORTS)
    for name, module in whatif._EXPORTS.items():
        assert getattr(whatif, name) is getattr(importlib.import_module(module), name), name


def test_the_top_level_exports_are_the_packages() -> None:
    for name in ("Scenario", "diff", "ResultDiff", "replan", "apply_overrides", "solve_many",
                 "ScenarioFailure", "weight_sensitivity", "InlineExecutor"):
        assert getattr(matcher, name) is getattr(whatif, name), name


def test_no_module_shares_a_name_with_an_export() -> None:
    # A submodule named like a function it exports would replace it as the package's
    # attribute once imported (the matcher.solve problem).
    modules = {m.name for m in pkgutil.iter_modules(whatif.__path__)}
    assert modules >= {"overrides", "apply", "scenario", "diffing", "replanning", "sweep"}
    assert not modules & set(whatif.__all__)


def test_the_pin_and_ban_operations_keep_their_ops() -> None:
    ops = {cls.__name__: op for op, cls in whatif.OVERRIDE_MODELS.items()}
    assert {k: ops[k] for k in ("AddPin", "RemovePin", "AddBan", "RemoveBan")} == {
        "AddPin": "pin", "RemovePin": "unpin", "AddBan": "ban", "RemoveBan": "unban"}
    pin = whatif.parse_overrides([{"op": "pin", "pharmacist": "PH-1", "period": "R1",
                                   "placement": "GP-1"}])[0]
    assert isinstance(pin, whatif.AddPin)
    assert pin.to_dict() == {"op": "pin", "pharmacist": "PH-1", "period": "R1",
                             "placement": "GP-1"}


def _fresh_import(name: str, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.deprecated_call(match="matcher.whatif"):
        return importlib.import_module(name)


def test_matcher_scenarios_is_a_deprecated_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    old = _fresh_import("matcher.scenarios", monkeypatch)
    renamed = {"Pin": "AddPin", "Unpin": "RemovePin", "Ban": "AddBan", "Unban": "RemoveBan"}
    for name in old.__all__:  # type: ignore[attr-defined]
        assert getattr(old, name) is getattr(whatif, renamed.get(name, name)), name
    assert set(renamed) <= set(old.__all__)  # type: ignore[attr-defined]


def test_matcher_sweep_is_a_deprecated_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    old = _fresh_import("matcher.sweep", monkeypatch)
    for name in old.__all__:  # type: ignore[attr-defined]
        assert getattr(old, name) is getattr(whatif, name), name


def test_the_overrides_do_not_load_the_solver() -> None:
    # The service's routes import the overrides at start-up; the solver loads on first use.
    code = ("import sys\nfrom matcher.whatif import Override, Scenario, diff\n"
            "print(sorted(m for m in sys.modules\n"
            "             if m.startswith(('matcher.solving.dispatch', 'ortools'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.strip() == "[]"
