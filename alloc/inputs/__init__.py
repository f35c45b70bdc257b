"""Inputs: everything read from a file, checked, and turned into labelled objects.

Datasets (:mod:`~alloc.inputs.dataset`), financial years and year-keyed parameters
(:mod:`~alloc.inputs.years`), TOML specs and their validation (:mod:`~alloc.inputs.specs`),
scenarios in TOML (:mod:`~alloc.inputs.scenario`) and Excel
(:mod:`~alloc.inputs.scenario_workbook`), pathway files (:mod:`~alloc.inputs.pathway_spec`) and
NHS England's practice files (:mod:`~alloc.inputs.nhse`). Imports only ``alloc.errors``,
``alloc.resources``, ``alloc.rounding`` and the kernels.
"""

_OLD_NAMES = {
    "load_inputs": "alloc.inputs.dataset",
    "load_assumptions": "alloc.inputs.dataset",
    "year_label": "alloc.inputs.years",
    "parse_year": "alloc.inputs.years",
    "coerce_year": "alloc.inputs.years",
}


def __getattr__(name: str):
    """``from alloc.inputs import load_inputs`` (before 0.2.0) still works, with a warning."""
    if name in _OLD_NAMES:
        import importlib
        import warnings

        warnings.warn(
            f"alloc.inputs.{name} moved to {_OLD_NAMES[name]}.{name} in alloc 0.2.0; "
            "the old path will be removed in 0.4.0",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_OLD_NAMES[name]), name)
    raise AttributeError(f"module 'alloc.inputs' has no attribute {name!r}")
