"""Needs-based weighted populations and target shares from a formula spec (``models/formula/``).

A formula spec says, for each specialised service line ``s``, how its weighted population is
built (DESIGN.md section 5; docs/methodology/formula.md)::

    WP_need[i,s,t] = N_t( A[i,s,t] * ANI[i,s] )
    A[i,s,t]       = sum_{a,x} pop[i,a,x,t] * w_s[a,x]          (age-sex populations present)
                   = pop[i,t]                                   (otherwise)
    ANI[i,s]       = NI_k[i] / AI_r[i]  renormalised to mean 1  (age-sex, age_standardise = r)
                   = NI_k[i]                                    (otherwise)
    NI_k[i]        = (WP_k[i] / pop[i]) / (sum_j WP_k[j] / sum_j pop[j])   at the need-index vintage
    WP_blend       = (1 - h_s) * WP_need + h_s * N_t( pop[i,t] * NI_HI[i] )
    WP[i,s,t]      = N_t( WP_blend[i,s,t] * MFF[i] ** m_s )
    target_share[i,s,t] = WP[i,s,t] / sum_j WP[j,s,t]

where ``N_t(x) = x / sum_j x_j * sum_j pop[j,t]`` rescales a weighted population so that it sums to
the national population (NHS England's convention: every component's weighted population sums to
the registered population), ``k`` is the service's ``need_component`` (a weighted-population
component of the dataset), ``w_s`` its age-sex cost curve, ``r`` the reference curve whose age
gradient is taken to be inside ``NI_k`` (so that age is not counted twice), ``h_s`` the
health-inequalities blend weight and ``m_s`` the MFF exponent.

With no age-sex populations, no health-inequalities weight and no MFF this is exactly the earlier
proxy ``WP = pop[i,t] * NI_k[i]``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alloc.errors import AllocError
from alloc.inputs.specs import FieldError, read_toml, validate, validation_message
from alloc.resources import resolve_named

HI_COMPONENT = "health_inequalities"


class AgeCurve(BaseModel):
    """An age-sex cost curve: relative cost per head by age band and sex [dimensionless]."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["illustrative", "derived", "sourced"] = Field(
        description="illustrative (made up by a stated method), derived or sourced"
    )
    unit: str = "relative cost per head"
    method: str = Field(min_length=1, description="how the numbers were made, or their source")
    age_from: list[int] = Field(description="first age of each band [years]; the last is open")
    male: list[float]
    female: list[float]

    @model_validator(mode="after")
    def _check(self):
        ages = self.age_from
        if not ages or ages[0] != 0:
            raise FieldError("age_from", "expected age bands starting at 0")
        if any(b <= a for a, b in zip(ages, ages[1:])):
            raise FieldError("age_from", "expected strictly increasing band starts")
        for sex in ("male", "female"):
            values = getattr(self, sex)
            if len(values) != len(ages):
                raise FieldError(
                    sex, f"expected {len(ages)} values (one per age band), found {len(values)}"
                )
            if any(not math.isfinite(v) or v < 0 for v in values):
                raise FieldError(sex, "expected finite non-negative relative costs")
        if not any(v > 0 for v in self.male + self.female):
            raise FieldError("male", "expected at least one positive relative cost")
        return self

    def weights(self) -> np.ndarray:
        """Relative cost per head as an array (band, sex) with sex order (female, male)."""
        return np.column_stack([self.female, self.male]).astype(float)


def _parse_vintage(value, keyword: str):
    if value == keyword or isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        from alloc.inputs.years import parse_year

        try:
            return parse_year(value, "", "")
        except AllocError:
            pass
    raise ValueError(
        f"expected \"{keyword}\" or a financial year like 2025 or '2025/26', found {value!r}"
    )


class ServiceFormula(BaseModel):
    """How one service line's weighted population is formed."""

    model_config = ConfigDict(extra="forbid")
    need_component: str = Field(description="weighted-population component giving the need index")
    health_inequalities_weight: float = Field(
        0.0, ge=0.0, le=1.0, description="blend weight h_s [fraction]"
    )
    mff_exponent: float = Field(
        0.0, ge=0.0, le=3.0, description="exponent m_s on the market forces factor [1]"
    )
    age_curve: str | None = Field(
        None, description="age-sex cost curve (used with age-sex populations)"
    )
    age_standardise: str | None = Field(
        None,
        description="reference curve divided out of the "
        "need index when age-sex populations are used",
    )
    basis: str = ""


class FormulaSpec(BaseModel):
    """A target formula: one entry per service line, plus the age-sex curves it names."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    status: str = ""
    population_vintage: Literal["projected"] | int = Field(
        "projected",
        description="'projected': each target year's population; a year: that "
        "year's registered population (scaled to each target year's national total)",
    )
    need_index_vintage: Literal["latest"] | int = Field(
        "latest", description="year of weighted populations giving the need indices"
    )
    age_curves: str | None = Field(
        None, description="file of age-sex curves, relative to this formula file"
    )
    curves: dict[str, AgeCurve] = Field(
        default_factory=dict, description="age-sex curves (inline ones override the file's)"
    )
    services: dict[str, ServiceFormula]

    @field_validator("population_vintage", mode="before")
    @classmethod
    def _pop_vintage(cls, value):
        return _parse_vintage(value, "projected")

    @field_validator("need_index_vintage", mode="before")
    @classmethod
    def _need_vintage(cls, value):
        return _parse_vintage(value, "latest")

    @model_validator(mode="after")
    def _curves_exist(self):
        for name, svc in self.services.items():
            for key in ("age_curve", "age_standardise"):
                curve = getattr(svc, key)
                if curve is not None and curve not in self.curves:
                    have = ", ".join(sorted(self.curves)) or "none"
                    raise FieldError(
                        f"services.{name}.{key}",
                        f"unknown age-sex curve '{curve}' (curves defined: {have})",
                    )
        return self


def load_formula(name_or_path: str | Path, base: Path | None = None) -> tuple[FormulaSpec, Path]:
    """Load a formula spec by name (``models/formula/<name>.toml``) or path.

    The curves file named by ``age_curves`` (relative to the formula file) is read and merged
    under any inline ``[curves.<name>]`` tables, so the returned spec is self-contained.

    Returns
    -------
    (FormulaSpec, Path)
        The validated spec and the file it came from.

    Raises
    ------
    AllocError
        Naming the formula file (or the curves file) and the field at fault.
    """
    path = resolve_named("formula", name_or_path, base)
    data = read_toml(path)
    curves_file = data.get("age_curves")
    if isinstance(curves_file, str):
        curves_path = Path(curves_file)
        if not curves_path.is_absolute():
            curves_path = path.parent / curves_path
        table = read_toml(curves_path)
        merged = {}
        for curve_name, entry in table.items():
            if not isinstance(entry, dict):
                raise AllocError(
                    curves_path,
                    curve_name,
                    "expected a table [<curve name>] with status, method, age_from, male, female",
                )
            try:
                AgeCurve.model_validate(entry)
            except ValidationError as exc:
                field, problem = validation_message(exc, entry)
                raise AllocError(curves_path, f"{curve_name}.{field}", problem) from None
            merged[curve_name] = entry
        inline = data.get("curves", {})
        data = dict(data, curves={**merged, **(inline if isinstance(inline, dict) else {})})
    return validate(FormulaSpec, data, path), path


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


# --- building blocks --------------------------------------------------------------------------


def _check_services(inputs: xr.Dataset, formula: FormulaSpec, source) -> list[str]:
    services = [str(s) for s in inputs["service"].values]
    missing = [s for s in services if s not in formula.services]
    if missing:
        raise AllocError(
            source, f"services.{missing[0]}", "service line in the data has no entry in the formula"
        )
    return services


def _need_vintage(formula: FormulaSpec, data_years: list[int], year: int, source) -> int:
    vintage = formula.need_index_vintage
    if vintage == "latest":
        earlier = [y for y in data_years if y <= year]
        return max(earlier) if earlier else data_years[0]
    if vintage not in data_years:
        raise AllocError(
            source,
            "need_index_vintage",
            f"year {vintage} is not in the data "
            f"(weighted populations for {data_years[0]}..{data_years[-1]})",
        )
    return vintage


def component_index(
    inputs: xr.Dataset, component: str, year: int, source, field: str = "need_component"
) -> np.ndarray:
    """NHS England need index of one weighted-population component [index, England = 1].

    ``NI_k[i] = (WP_k[i] / pop[i]) / (sum_j WP_k[j] / sum_j pop[j])`` for the data ``year``.
    """
    components = [str(c) for c in inputs["component"].values]
    if component not in components:
        raise AllocError(
            source,
            field,
            f"component '{component}' is not in the data (have: {', '.join(components)})",
        )
    wp = inputs["weighted_pop"].sel(year=year, component=component).values
    pop = inputs["gp_pop"].sel(year=year).values
    return (wp / pop) / (wp.sum() / pop.sum())


def _rescale(x: np.ndarray, total: float) -> np.ndarray:
    """``N(x) = x / sum(x) * total``."""
    return x * (total / x.sum())


def _structure_year(inputs: xr.Dataset, year: int) -> int:
    years = [int(y) for y in json.loads(inputs.attrs.get("age_sex_years", "[]"))]
    earlier = [y for y in years if y <= year]
    return max(earlier) if earlier else min(years)


def age_sex_structure(inputs: xr.Dataset, year: int) -> np.ndarray:
    """Age-sex shares of each ICB's population (icb, age band, sex) for ``year`` [fraction].

    Uses the latest year of ``age_sex_pop`` at or before ``year`` (else the earliest).
    """
    p = (
        inputs["age_sex_pop"]
        .sel(year=_structure_year(inputs, year))
        .transpose("icb", "age", "sex")
        .values
    )
    return p / p.sum(axis=(1, 2), keepdims=True)


def _curve_on_bands(
    curve: AgeCurve, name: str, pop_ages: np.ndarray, sexes: list[str], source
) -> np.ndarray:
    """Curve weights on the population's age bands and sexes (age, sex)."""
    edges = np.asarray(curve.age_from)
    inside = [int(a) for a in edges[1:] if a <= pop_ages[-1] and a not in set(pop_ages)]
    if inside:
        raise AllocError(
            source,
            f"curves.{name}.age_from",
            f"band start {inside[0]} falls "
            "inside an age band of age_sex_populations.csv (population bands start "
            f"at {', '.join(str(int(a)) for a in pop_ages)}); curve bands must be "
            "unions of population bands",
        )
    band = np.searchsorted(edges, pop_ages, side="right") - 1
    w = curve.weights()  # (band, [female, male])
    col = {"F": 0, "M": 1}
    return np.stack([w[band, col[s]] for s in sexes], axis=1)


def has_age_sex(inputs: xr.Dataset) -> bool:
    """True when the dataset holds age-sex populations (optional ``age_sex_populations.csv``)."""
    return "age_sex_pop" in inputs


def need_indices(inputs: xr.Dataset, formula: FormulaSpec, source: Path, year: int) -> xr.DataArray:
    """ICB-level need index per ICB x service line for the data ``year`` [index, England = 1].

    ``NI[i,s] = (1 - h_s) NI_k[i] + h_s NI_HI[i]`` with ``NI_k`` the NHS England index of the
    service's component (see :func:`component_index`); the population-weighted mean over ICBs is
    exactly 1. This is the index the formula uses when the dataset has no age-sex populations
    (before any MFF).
    """
    services = _check_services(inputs, formula, source)
    pop = inputs["gp_pop"].sel(year=year).values
    out = []
    for service in services:
        spec = formula.services[service]
        ni = component_index(
            inputs, spec.need_component, year, source, f"services.{service}.need_component"
        )
        h = spec.health_inequalities_weight
        if h:
            hi = component_index(
                inputs, HI_COMPONENT, year, source, f"services.{service}.health_inequalities_weight"
            )
            ni = (1 - h) * ni + h * hi
        out.append(ni / ((ni * pop).sum() / pop.sum()))
    return xr.DataArray(
        np.column_stack(out),
        dims=("icb", "service"),
        coords={"icb": inputs["icb"].values, "service": services},
        attrs={"units": "1", "long_name": "need index (England = 1)"},
    )


def _population_used(
    inputs: xr.Dataset, formula: FormulaSpec, population: xr.DataArray, source
) -> tuple[xr.DataArray, dict[int, int]]:
    """Population per ICB x target year after the population vintage, and its data year."""
    if formula.population_vintage == "projected":
        last = int(inputs["year"].max())
        return population, {int(t): min(int(t), last) for t in population["year"].values}
    vintage = formula.population_vintage
    data_years = [int(y) for y in inputs["year"].values]
    if vintage not in data_years:
        raise AllocError(
            source,
            "population_vintage",
            f"year {vintage} is not in the data "
            f"(populations for {data_years[0]}..{data_years[-1]})",
        )
    base = inputs["gp_pop"].sel(year=vintage, drop=True)
    scale = population.sum("icb") / float(base.sum())
    used = (base * scale).transpose("icb", "year")
    return used, {int(t): vintage for t in population["year"].values}


def weighted_populations(
    inputs: xr.Dataset, formula: FormulaSpec, source: Path | str, population: xr.DataArray
) -> xr.DataArray:
    """Needs-weighted population per ICB x service line x year [weighted persons].

    Implements the formula in the module docstring; each service line's weighted population sums
    over ICBs to the national population of the year.

    Parameters
    ----------
    inputs : xarray.Dataset
        From :func:`alloc.inputs.dataset.load_inputs`: ``gp_pop`` (icb, year) [persons], ``weighted_pop``
        (icb, year, component) [weighted persons], optionally ``age_sex_pop`` (icb, year, age, sex)
        [persons] and ``mff`` (icb) [index].
    formula : FormulaSpec
        The formula (see :func:`load_formula`).
    source : path
        The formula file, named in error messages.
    population : xarray.DataArray
        Population per ICB x target year [persons], e.g. from :func:`project_population`.

    Returns
    -------
    xarray.DataArray
        Dimensions (icb, service, year). Attribute ``basis`` (JSON): per service line, ``"age_sex"``
        or ``"icb_need_index"``.
    """
    services = _check_services(inputs, formula, source)
    data_years = [int(y) for y in inputs["year"].values]
    pop_used, pop_year = _population_used(inputs, formula, population, source)
    use_age_sex = has_age_sex(inputs)
    if use_age_sex:
        pop_ages = inputs["age"].values.astype(int)
        sexes = [str(s) for s in inputs["sex"].values]
    mff = inputs["mff"].values if "mff" in inputs else None
    years = [int(y) for y in population["year"].values]
    out = np.empty((inputs.sizes["icb"], len(services), len(years)))
    basis = {}
    cache: dict = {}

    def cached(key, make):
        if key not in cache:
            cache[key] = make()
        return cache[key]

    for ti, year in enumerate(years):
        vintage = _need_vintage(formula, data_years, year, source)
        pop_t = pop_used.sel(year=year).values
        total = pop_t.sum()
        for si, service in enumerate(services):
            spec = formula.services[service]
            ni = cached(
                ("ni", spec.need_component, vintage),
                lambda: component_index(
                    inputs,
                    spec.need_component,
                    vintage,
                    source,
                    f"services.{service}.need_component",
                ),
            )
            if use_age_sex and spec.age_curve is not None:
                basis[service] = "age_sex"
                shares = cached(
                    ("struct", pop_year[year]), lambda: age_sex_structure(inputs, pop_year[year])
                )
                w = cached(
                    ("curve", spec.age_curve),
                    lambda: _curve_on_bands(
                        formula.curves[spec.age_curve], spec.age_curve, pop_ages, sexes, source
                    ),
                )
                age_cost = pop_t * (shares * w).sum(axis=(1, 2))
                if spec.age_standardise is not None:
                    ani = cached(
                        ("ani", spec.need_component, spec.age_standardise, vintage),
                        lambda: _additional_need(
                            inputs, formula, spec, ni, vintage, pop_ages, sexes, source
                        ),
                    )
                else:
                    ani = ni
                need = _rescale(age_cost * ani, total)
            else:
                basis[service] = "icb_need_index"
                need = _rescale(pop_t * ni, total)
            h = spec.health_inequalities_weight
            if h:
                hi = cached(
                    ("ni", HI_COMPONENT, vintage),
                    lambda: component_index(
                        inputs,
                        HI_COMPONENT,
                        vintage,
                        source,
                        f"services.{service}.health_inequalities_weight",
                    ),
                )
                need = (1 - h) * need + h * _rescale(pop_t * hi, total)
            m = spec.mff_exponent
            if m:
                if mff is None:
                    raise AllocError(
                        source,
                        f"services.{service}.mff_exponent",
                        "a non-zero MFF "
                        "exponent needs market forces factors: the dataset has no "
                        "mff.csv",
                    )
                need = _rescale(need * mff**m, total)
            out[:, si, ti] = need
    return xr.DataArray(
        out,
        dims=("icb", "service", "year"),
        coords={"icb": inputs["icb"].values, "service": services, "year": years},
        attrs={
            "units": "weighted persons",
            "basis": json.dumps(basis),
            "long_name": "needs-weighted population",
        },
    )


def _additional_need(inputs, formula, spec, ni, vintage, pop_ages, sexes, source) -> np.ndarray:
    """``ANI = NI_k / AI_r`` renormalised to a population-weighted mean of 1 at the vintage."""
    ref = formula.curves[spec.age_standardise]
    w = _curve_on_bands(ref, spec.age_standardise, pop_ages, sexes, source)
    shares = age_sex_structure(inputs, vintage)
    pop_v = inputs["gp_pop"].sel(year=vintage).values
    per_head = (shares * w).sum(axis=(1, 2))
    age_index = per_head / ((per_head * pop_v).sum() / pop_v.sum())
    if (age_index <= 0).any():
        raise AllocError(
            source,
            f"curves.{spec.age_standardise}",
            "reference curve gives an ICB "
            "zero expected cost, so the need index cannot be age-standardised",
        )
    ani = ni / age_index
    return ani / ((ani * pop_v).sum() / pop_v.sum())


def target_shares(
    inputs: xr.Dataset, formula: FormulaSpec, source: Path, population: xr.DataArray
) -> xr.DataArray:
    """Target share per ICB x service line x year (sums to 1 over ICBs) [fraction].

    ``target_share[i,s,t] = WP[i,s,t] / sum_j WP[j,s,t]`` with ``WP`` from
    :func:`weighted_populations`. Need indices come from the latest weighted-population year at
    or before each target year (``need_index_vintage = "latest"``) or from the year the spec names.
    """
    wp = weighted_populations(inputs, formula, source, population)
    shares = wp / wp.sum("icb")
    shares.attrs = {"units": "1", "basis": wp.attrs["basis"]}
    return shares.transpose("icb", "service", "year")


def targets_from_weighted_population(weighted_pop, gbp_per_weighted_head):
    """Target allocation [GBP] = weighted population [weighted persons] x national GBP per weighted head."""
    return weighted_pop * gbp_per_weighted_head


def distance_from_target(allocation, target):
    """Distance from target [fraction]: ``(allocation - target) / target``; negative = under target."""
    return (allocation - target) / target
