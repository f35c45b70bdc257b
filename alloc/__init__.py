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


def run(scenario=None, overrides=None, scenario_path=None, raw=None):
    """Run a scenario end to end and return the result (nothing is written).

    Parameters
    ----------
    scenario : str, Path or alloc.inputs.scenario.Scenario, optional
        A shipped scenario name (``alloc list scenarios``), a scenario file (``.toml`` or an
        ``.xlsx`` from ``alloc template``), or a validated Scenario; default ``"default"``.
    overrides : list of str, optional
        ``KEY=VALUE`` overrides as on the command line, e.g. ``["policy.min_growth=0.02",
        'geography="icb_2025"']``.
    scenario_path, raw : optional
        With a Scenario object: the file it came from (relative paths are read from its folder)
        and its raw dictionary (recorded in the provenance).

    Returns
    -------
    xarray.Dataset
        Dimensions ``icb`` (the scenario's geography: 36 ICBs of April 2026 by default),
        ``year`` (base year first; 2025 is 2025/26) and ``service``. Money in GBP (cash):
        ``baseline``, ``envelope``, ``target``, ``allocation``; ``dft`` = (allocation -
        target) / target [fraction, negative = below target]; ``growth`` [fraction];
        ``population`` [persons]; ``crosswalk`` (icb, predecessor) [persons]. See
        :func:`alloc.allocation.engine.run` for every variable.

    Examples
    --------
    >>> import alloc
    >>> result = alloc.run("default")
    >>> result["dft"].sel(icb="S1Y5D", year=2030)  # NHS Central East, 2030/31
    """
    from alloc.allocation.engine import run as _run

    return _run(scenario, overrides, scenario_path, raw)


_compat.install()

__all__ = ["__version__", "run"]
