"""Old import paths (before 0.2.0) keep working for one release, with a DeprecationWarning.

``import alloc.engine`` imports :mod:`alloc.allocation.engine` and registers it under the old
name as well, so ``from alloc.engine import run`` and ``alloc.engine.run`` both still work.
``alloc.inputs`` became a package: its old names are served by ``alloc/inputs/__init__.py``.
CHANGELOG.md lists the moves; remove this module in 0.3.0.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: Old module -> new module (0.2.0).
MOVED = {
    "alloc.specs": "alloc.inputs.specs",
    "alloc.scenario": "alloc.inputs.scenario",
    "alloc.io": "alloc.outputs",
    "alloc.io.excel_scenario": "alloc.inputs.scenario_workbook",
    "alloc.io.nhse": "alloc.inputs.nhse",
    "alloc.io.results": "alloc.outputs.results",
    "alloc.io.excel": "alloc.outputs.excel",
    "alloc.io.tables": "alloc.outputs.tables",
    "alloc.io.rounding": "alloc.rounding",
    "alloc.pathways.spec": "alloc.inputs.pathway_spec",
    "alloc.needs": "alloc.targets.formula",
    "alloc.estimate": "alloc.targets.estimate",
    "alloc.explain": "alloc.targets.explain",
    "alloc.synthetic": "alloc.targets.synthetic",
    "alloc.policy": "alloc.allocation.policy",
    "alloc.engine": "alloc.allocation.engine",
    "alloc.spend": "alloc.pathways.spend",
    "alloc.ensemble": "alloc.uncertainty.ensemble",
    "alloc.sensitivity": "alloc.uncertainty.sensitivity",
    "alloc.draw_store": "alloc.uncertainty.draw_store",
    "alloc.report": "alloc.outputs.report",
    "alloc.plots": "alloc.outputs.plots",
    "alloc.plots.dft": "alloc.outputs.plots.dft",
    "alloc.plots.maps": "alloc.outputs.plots.maps",
    "alloc.plots.style": "alloc.outputs.plots.style",
    "alloc.plots.waterfall": "alloc.outputs.plots.waterfall",
    "alloc.plots.left_shift": "alloc.outputs.plots.left_shift",
    "alloc.plots.uncertainty": "alloc.outputs.plots.uncertainty",
    "alloc.commands": "alloc.cli.errors",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolve an old module name to its new module, warning once per import."""

    def find_spec(self, fullname, path=None, target=None):
        if MOVED.get(fullname):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new} in alloc 0.2.0; the old path will be removed in 0.4.0",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(new)

    def exec_module(self, module):
        """Nothing to run: the module is the new one, already imported."""


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once (first: an old package such as
    ``alloc.io`` is the new package object, whose folder would otherwise load its submodules a
    second time under the old names)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())
