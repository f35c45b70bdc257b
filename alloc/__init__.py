"""alloc: NHS England specialised services allocation modelling.

Projects the delegated specialised budgets of the integrated care boards (42 until March 2026,
36 since April 2026) from a historic-cost baseline towards needs-based targets under
pace-of-change policies, year by year.

The package is layered; imports run one way, top to bottom (docs/architecture.md)::

    cli          commands only: parse, call the layers below, print, exit status
    outputs      results files, Excel, tables, charts, PDF report (never run the model)
    uncertainty  grids, Monte Carlo ensembles, sensitivity, the draw store
    allocation   pace-of-change policies and the engine: run(scenario) -> xarray.Dataset
    pathways     left-shift pathway models and spend projection
    targets      needs formula, need-model estimation, explanation, synthetic records
    inputs       datasets, scenarios (TOML, Excel), pathway files, years, NHS England files
    kernels      numba on plain arrays
    errors, resources, rounding, _version   used by every layer
"""

from alloc import _compat
from alloc._version import __version__


def run(*args, **kwargs):
    """Run a scenario; see :func:`alloc.allocation.engine.run`."""
    from alloc.allocation.engine import run as _run

    return _run(*args, **kwargs)


_compat.install()

__all__ = ["__version__", "run"]
