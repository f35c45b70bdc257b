"""Need that differs by ICB: need indices from the weighted populations, and the multipliers a
pathway file's ``[drivers.<name>]`` put on the cohort kernel's per-ICB inputs.

A need index is an area's weighted population of one component of NHS England's core allocation
formula per registered person, over the same ratio for England::

    index[n, c] = (wp[n, c] / gp_pop[n]) / (sum_m wp[m, c] / sum_m gp_pop[m])

so its registered-population-weighted mean over the areas of the dataset is exactly 1. The
components are those of ``data/practices.csv`` (NHS England's 2025/26 practice file), summed to
the run's geography by :mod:`alloc.inputs.footprint`: ``health_inequalities`` (deprivation and
unmet need), ``general_acute`` (mostly age and morbidity), ``mental_health`` and
``prescribing``.

A driver multiplies its targets in ICB ``n`` by ``index[n] ** elasticity`` (see
:class:`alloc.inputs.pathway_spec.DriverSpec`). The kernel (:func:`alloc.kernels.cohort.
cohort_project`) already takes per-ICB initial stocks ``x0`` (D|1, N, S), a per-ICB population
``pop`` (Y, N) driving every inflow stream and per-ICB lever coverage (D|1, Y, N|1, L); drivers
act only through those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from alloc.errors import AllocError
from alloc.inputs.pathway_spec import NEED_INDICES, PathwaySpec


def need_indices(inputs: xr.Dataset, year: int | None = None) -> xr.DataArray:
    """Need indices (icb, index) of a dataset's areas [dimensionless, population-weighted mean 1].

    Parameters
    ----------
    inputs : xarray.Dataset
        A dataset (:func:`alloc.inputs.dataset.load_inputs`, carried to the run's geography)
        with ``gp_pop`` (icb, year) [persons] and ``weighted_pop`` (icb, year, component)
        [weighted persons].
    year : int, optional
        Financial year (starting calendar year) of the populations; default the dataset's
        base year.

    Returns
    -------
    xarray.DataArray
        Dims ``icb``, ``need`` with the labels of
        :data:`alloc.inputs.pathway_spec.NEED_INDICES`.
    """
    year = int(inputs.attrs.get("base_year", inputs["year"].values[-1])) if year is None else year
    gp = inputs["gp_pop"].sel(year=year)
    wp = inputs["weighted_pop"].sel(year=year, component=list(NEED_INDICES))
    per_head = wp / gp
    england = wp.sum("icb") / gp.sum("icb")
    out = (per_head / england).rename(component="need").transpose("icb", "need")
    out.attrs = {
        "units": "1",
        "long_name": "need index: component weighted population per registered person / "
        "England's (registered-population-weighted mean 1)",
        "year": year,
    }
    return out


@dataclass
class CohortNeed:
    """Per-ICB multipliers of one cohort's kernel inputs [dimensionless]."""

    stock: np.ndarray  # (D, N, S) on the initial stock of each state
    inflow: np.ndarray  # (N,) on the population driving every inflow stream (central values)
    lever: dict[str, np.ndarray]  # lever key -> (D, N) on its coverage


def cohort_need(
    spec: PathwaySpec,
    cohort_key: str,
    state_names: list[tuple[str | None, str]],
    values: dict[str, np.ndarray],
    index: dict[str, np.ndarray] | None,
    n_icb: int,
    source: str = "",
) -> CohortNeed:
    """Multipliers of the drivers acting on one cohort.

    Parameters
    ----------
    state_names : list of (stratum, state)
        The cohort's expanded states in kernel order.
    values : dict
        Parameter values ``{dotted path: ndarray (D,)}``; elasticities are read from here.
    index : dict, optional
        ``{index name: ndarray (N,)}`` need indices of the ICBs run; None = every ICB at 1
        (need the same everywhere).
    """
    n_draw = len(next(iter(values.values())))
    stock = np.ones((n_draw, n_icb, len(state_names)))
    inflow = np.ones(n_icb)
    lever: dict[str, np.ndarray] = {}
    for name, drv in spec.drivers.items():
        if drv.cohort != cohort_key or index is None:
            continue
        if drv.index not in index:
            raise AllocError(
                source or "pathways", f"drivers.{name}.index", f"no need index '{drv.index}'"
            )
        idx = np.asarray(index[drv.index], dtype=float)
        if idx.shape != (n_icb,) or not (np.isfinite(idx).all() and (idx > 0).all()):
            raise AllocError(
                source or "pathways",
                f"drivers.{name}.index",
                f"expected a positive need index '{drv.index}' for each of the {n_icb} ICBs",
            )
        e = values[f"drivers.{name}.elasticity"]  # (D,)
        # One row per draw: numpy's vectorised power can differ in the last bit with an
        # element's position in the array, so a (D, N) power would make a draw's values depend
        # on how many draws share its chunk (ensembles must not depend on chunking).
        mult = np.stack([idx**ed for ed in e.tolist()])  # (D, N)
        for i, (st, s) in enumerate(state_names):
            if s in drv.states and (drv.strata is None or st in drv.strata):
                stock[:, :, i] *= mult
        if drv.inflows:
            inflow = inflow * idx ** float(drv.elasticity.value)
        for key in drv.levers:
            lever[key] = lever.get(key, np.ones((n_draw, n_icb))) * mult
    return CohortNeed(stock, inflow, lever)
