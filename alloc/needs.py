"""Needs-based target shares and targets from a formula spec (``models/formula/*.toml``).

The default spec is a documented proxy for NHS England's ACRA specialised formula::

    weighted_pop[i,s,t] = pop[i,t] * need_index[i,s]
    need_index[i,s]     = (WP_k[i] / pop[i]) / (sum_j WP_k[j] / sum_j pop[j])
    WP_k                = (1 - h_s) * WP_component(s) + h_s * WP_health_inequalities
    target_share[i,s,t] = weighted_pop[i,s,t] / sum_j weighted_pop[j,s,t]
    target[i,s,t]       = target_share[i,s,t] * envelope[s,t]
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from alloc.errors import AllocError
from alloc.resources import resolve_named
from alloc.specs import load_spec


class ServiceFormula(BaseModel):
    """How one service line's need index is formed."""

    model_config = ConfigDict(extra="forbid")
    need_component: str = Field(description="weighted-population component giving the need index")
    health_inequalities_weight: float = Field(0.0, ge=0.0, le=1.0,
                                              description="blend weight h_s [fraction]")
    basis: str = ""


class FormulaSpec(BaseModel):
    """A target formula: one entry per service line."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    status: str = ""
    need_index_vintage: Literal["latest"] | int = "latest"
    services: dict[str, ServiceFormula]


def load_formula(name_or_path: str | Path, base: Path | None = None) -> tuple[FormulaSpec, Path]:
    """Load a formula spec by name (``models/formula/<name>.toml``) or path."""
    path = resolve_named("formula", name_or_path, base)
    return load_spec(FormulaSpec, path), path


def project_population(gp_pop: xr.DataArray, years: list[int], growth: float) -> xr.DataArray:
    """GP-registered population for ``years`` [persons].

    Years in the data are taken as they are; later years grow from the last data year at
    ``growth`` per year: ``pop[t] = pop[t_last] * (1 + growth) ** (t - t_last)``.
    """
    last = int(gp_pop["year"].max())
    known = gp_pop.sel(year=[y for y in years if y <= last])
    later = [y for y in years if y > last]
    if not later:
        return known
    factor = xr.DataArray((1.0 + growth) ** (np.array(later) - last), coords={"year": later})
    return xr.concat([known, gp_pop.sel(year=last) * factor], dim="year").transpose("icb", "year")


def need_indices(inputs: xr.Dataset, formula: FormulaSpec, source: Path, year: int) -> xr.DataArray:
    """Need index per ICB x service line from the weighted populations of ``year`` [index, 1 = England]."""
    components = list(inputs["component"].values)
    missing = [s for s in inputs["service"].values if s not in formula.services]
    if missing:
        raise AllocError(source, f"services.{missing[0]}", "service line in the data has no "
                         "entry in the formula")
    wp = inputs["weighted_pop"].sel(year=year)
    pop = inputs["gp_pop"].sel(year=year)
    indices = []
    for service in inputs["service"].values:
        spec = formula.services[service]
        for comp in (spec.need_component, "health_inequalities"):
            if comp == "health_inequalities" and spec.health_inequalities_weight == 0:
                continue
            if comp not in components:
                raise AllocError(source, f"services.{service}.need_component",
                                 f"component '{comp}' is not in the data (have: "
                                 f"{', '.join(components)})")
        h = spec.health_inequalities_weight
        blended = (1 - h) * wp.sel(component=spec.need_component)
        if h:
            blended = blended + h * wp.sel(component="health_inequalities")
        indices.append((blended / pop) / (blended.sum() / pop.sum()))
    out = xr.concat(indices, dim=inputs["service"]).transpose("icb", "service")
    return out.drop_vars(["component", "year"], errors="ignore").assign_attrs(units="1")


def target_shares(inputs: xr.Dataset, formula: FormulaSpec, source: Path,
                  population: xr.DataArray) -> xr.DataArray:
    """Target share per ICB x service line x year (sums to 1 over ICBs) [fraction].

    Need indices come from the latest weighted-population year at or before each target year
    (``need_index_vintage = "latest"``) or from the year the spec names.
    """
    data_years = [int(y) for y in inputs["year"].values]
    shares = []
    for year in population["year"].values:
        vintage = formula.need_index_vintage
        if vintage == "latest":
            vintage = max(y for y in data_years if y <= year) if year >= data_years[0] else data_years[0]
        elif vintage not in data_years:
            raise AllocError(source, "need_index_vintage", f"year {vintage} is not in the data")
        weighted = population.sel(year=year, drop=True) * need_indices(inputs, formula, source, vintage)
        shares.append(weighted / weighted.sum("icb"))
    return xr.concat(shares, dim=population["year"]).transpose("icb", "service", "year")


def targets_from_weighted_population(weighted_pop, gbp_per_weighted_head):
    """Target allocation [GBP] = weighted population [weighted persons] x national GBP per weighted head."""
    return weighted_pop * gbp_per_weighted_head


def distance_from_target(allocation, target):
    """Distance from target [fraction]: ``(allocation - target) / target``; negative = under target."""
    return (allocation - target) / target
