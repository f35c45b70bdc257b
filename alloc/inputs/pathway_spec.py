"""Schemas of pathway parameter files (``models/pathways/*.toml``) and of a scenario's
``[pathways]``, ``[savings]`` and ``[spend]`` sections.

Every number in a pathway file is a *quantity*: a table with ``value``, ``unit``,
``range = [low, high]``, ``price_year`` (money only), a ``tag`` from ``domain/pathways.md``
(``S`` stated by the source, ``S-weak`` stated by a weak or secondary source, ``I`` inferred by
stated arithmetic from sourced numbers, ``illustrative`` made up for the example) and either
``source`` (the address it was read from) or ``illustrative`` (how it was made). Validation turns
every problem into one :class:`alloc.errors.AllocError` naming the file and the field.

This module has no numerical dependencies beyond pydantic, so the scenario schema can import it
cheaply.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from alloc.errors import AllocError
from alloc.inputs.specs import FieldError
from alloc.inputs.years import FinancialYear, Number, YearParam, coerce_year, parse_year

PAYERS = ("ICB_delegated_specialised", "ICB_core", "NHSE_retained", "local_authority")
Payer = Literal["ICB_delegated_specialised", "ICB_core", "NHSE_retained", "local_authority"]
PATHWAY_NAMES = ("renal", "critical_care", "mental_health", "liver")
RAMPS = ("linear", "front_loaded", "back_loaded", "step")
Ramp = Literal["linear", "front_loaded", "back_loaded", "step"]
COST_BASES = ("per_person_year_treated", "per_covered_admission", "per_treated_event", "per_head")

ROW_SUM_TOL = 1e-6  # probability rows and destination splits must sum to 1 within this

# Units a quantity may carry, by what it measures.
UNITS = {
    "probability": ("probability per year",),
    "fraction": ("fraction",),
    "rate": ("per person-year",),
    "ratio": ("ratio",),
    "days": ("days",),
    "prevalence": ("persons per registered person",),
    "incidence": ("persons per registered person per year",),
    "cost_state": ("GBP per person-year",),
    "cost_entry": ("GBP per entry",),
    "lever_cost": (
        "GBP per person-year treated",
        "GBP per covered admission",
        "GBP per treated event",
        "GBP per head per year",
    ),
    "elasticity": ("dimensionless",),
    "count": ("persons", "persons per year", "bed-days per year", "beds"),
    "population": ("persons",),
}
_BOUNDED = ("probability per year", "fraction")
_COST_BASIS_UNIT = dict(zip(COST_BASES, UNITS["lever_cost"]))


def _check_provenance(entry, what: str, reason: str) -> None:
    """An illustrative ``entry`` says why in ``illustrative``; any other tag names its ``source``.

    ``what`` names the entry in the message ("value", "correlation"); ``reason`` says what an
    illustrative one must give.
    """
    if entry.tag == "illustrative":
        if not entry.illustrative:
            raise FieldError(
                "illustrative", f"an illustrative {what} needs {reason} in 'illustrative'"
            )
    elif not entry.source:
        raise FieldError(
            "source",
            f"a {what} tagged '{entry.tag}' needs its source address in 'source' "
            '(or tag = "illustrative" with a reason)',
        )


class Quantity(BaseModel):
    """One labelled number: value, unit, [low, high], price year (money), tag and source."""

    model_config = ConfigDict(extra="forbid")
    value: Number
    unit: str
    range: tuple[Number, Number] = Field(description="[low, high] for sensitivity and draws")
    price_year: str | None = None
    tag: Literal["S", "S-weak", "I", "illustrative"]
    source: str | None = None
    illustrative: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self):
        low, high = self.range
        if self.unit in _BOUNDED:
            for name, v in (("value", self.value), ("range", low), ("range", high)):
                if not 0.0 <= v <= 1.0:
                    raise FieldError(
                        name, f"expected a {self.unit.split()[0]} between 0 and 1, found {v}"
                    )
        if not low <= self.value <= high:
            raise FieldError(
                "range",
                f"expected [low, high] with low <= value <= high, found "
                f"[{low}, {high}] for value {self.value}",
            )
        if self.value < 0 or low < 0:
            raise FieldError(
                "value", f"expected a non-negative number, found {min(self.value, low)}"
            )
        if self.unit.startswith("GBP"):
            if self.price_year is None:
                raise FieldError(
                    "price_year",
                    'money needs the price year of its value, e.g. price_year = "2021/22"',
                )
            try:
                parse_year(self.price_year, "", "price_year")
            except AllocError as exc:
                raise FieldError("price_year", exc.problem) from None
        elif self.price_year is not None:
            raise FieldError("price_year", f"only money takes a price year (unit is '{self.unit}')")
        _check_provenance(self, "value", "the reason and how it was made")
        return self

    @property
    def price_year_start(self) -> int | None:
        return None if self.price_year is None else parse_year(self.price_year, "", "price_year")


def _expect_unit(q: Quantity | None, kind: str, field: str) -> None:
    if q is not None and q.unit not in UNITS[kind]:
        raise FieldError(
            f"{field}.unit",
            f"expected {' or '.join(repr(u) for u in UNITS[kind])}, found '{q.unit}'",
        )


class CostItem(BaseModel):
    """A cost of a state, borne by one payer (optionally a share of it)."""

    model_config = ConfigDict(extra="forbid")
    payer: Payer
    per: Literal["person_year", "entry"] = "person_year"
    amount: Quantity
    share_of: str | None = Field(None, description="cohort parameter giving this payer's share")
    complement: bool = Field(False, description="take 1 - share_of instead of share_of")

    @model_validator(mode="after")
    def _units(self):
        _expect_unit(
            self.amount, "cost_state" if self.per == "person_year" else "cost_entry", "amount"
        )
        if self.complement and self.share_of is None:
            raise FieldError("complement", "needs share_of")
        return self


class StateSpec(BaseModel):
    """One state of a cohort (in cascade order)."""

    model_config = ConfigDict(extra="forbid")
    label: str
    prevalence: Quantity | None = None
    costs: list[CostItem] = []

    @model_validator(mode="after")
    def _units(self):
        _expect_unit(self.prevalence, "prevalence", "prevalence")
        return self


class TransitionRow(BaseModel):
    """Exits from one state.

    ``kind = "probability"``: annual transition probabilities to every destination *including
    staying* (the row sums to 1); converted jointly to competing rates
    ``R = -ln(p_stay)``, ``r_t = R * p_t / (1 - p_stay)``.
    ``kind = "rate"``: rates per person-year to each destination (no row constraint).
    ``kind = "los"``: mean length of stay ``los`` [days] and the split of leavers over
    destinations (sums to 1): ``r_t = split_t * 365.25 / los``.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["probability", "rate", "los"]
    los: Quantity | None = None
    to: dict[str, Quantity]

    @model_validator(mode="after")
    def _rows(self):
        unit = {"probability": "probability", "rate": "rate", "los": "fraction"}[self.kind]
        for dest, q in self.to.items():
            _expect_unit(q, unit, f"to.{dest}")
        if self.kind == "los":
            if self.los is None:
                raise FieldError("los", "kind 'los' needs the mean length of stay in days")
            _expect_unit(self.los, "days", "los")
            if self.los.value <= 0 or self.los.range[0] <= 0:
                raise FieldError("los", "expected a positive length of stay")
        elif self.los is not None:
            raise FieldError("los", f"only kind 'los' takes a length of stay, not '{self.kind}'")
        if self.kind in ("probability", "los"):
            total = sum(q.value for q in self.to.values())
            if abs(total - 1.0) > ROW_SUM_TOL:
                what = (
                    "annual probabilities (including staying)"
                    if self.kind == "probability"
                    else "destination split of leavers"
                )
                raise FieldError("to", f"expected the {what} to sum to 1, found {total:.6g}")
        return self


class InflowSpec(BaseModel):
    """External inflow (incidence, admissions) into one state, per registered person."""

    model_config = ConfigDict(extra="forbid")
    label: str = ""
    state: str
    rate: Quantity

    @model_validator(mode="after")
    def _units(self):
        _expect_unit(self.rate, "incidence", "rate")
        return self


class ActivitySpec(BaseModel):
    """An activity measure reported per ICB x year: person-years, bed-days or entries into
    ``states``, or (``measure = "inflow"``, no states) the cohort's external inflow: every
    inflow stream, e.g. admissions from outside the unit without transfers between its states."""

    model_config = ConfigDict(extra="forbid")
    label: str
    measure: Literal["patients", "bed_days", "entries", "inflow"]
    states: list[str] = []

    @model_validator(mode="after")
    def _states(self):
        if self.measure == "inflow" and self.states:
            raise FieldError(
                "states", "measure 'inflow' counts every inflow stream of the cohort: no states"
            )
        if self.measure != "inflow" and not self.states:
            raise FieldError("states", f"measure '{self.measure}' needs the states it counts")
        return self


class CohortSpec(BaseModel):
    """One cohort model, calibrated to one service line of the baseline."""

    model_config = ConfigDict(extra="forbid")
    label: str
    service_line: str
    substeps: int = Field(1, ge=1, le=400, description="steps per year")
    strata: dict[str, Quantity] | None = None
    parameters: dict[str, Quantity] = {}
    states: dict[str, StateSpec]
    transitions: dict[str, TransitionRow] = {}
    inflows: dict[str, InflowSpec] = {}
    activity: dict[str, ActivitySpec] = {}

    @model_validator(mode="after")
    def _references(self):
        names = list(self.states)
        for src, row in self.transitions.items():
            if src not in self.states:
                raise FieldError(
                    f"transitions.{src}", f"unknown state '{src}' (states: {', '.join(names)})"
                )
            for dest in row.to:
                if dest not in self.states:
                    raise FieldError(f"transitions.{src}.to.{dest}", f"unknown state '{dest}'")
            if row.kind == "probability" and src not in row.to:
                raise FieldError(
                    f"transitions.{src}.to",
                    f"a probability row needs the "
                    f"probability of staying in '{src}' so that it sums to 1",
                )
        for key, inflow in self.inflows.items():
            if inflow.state not in self.states:
                raise FieldError(f"inflows.{key}.state", f"unknown state '{inflow.state}'")
        for key, act in self.activity.items():
            for s in act.states:
                if s not in self.states:
                    raise FieldError(f"activity.{key}.states", f"unknown state '{s}'")
        for name, state in self.states.items():
            for i, item in enumerate(state.costs):
                if item.share_of is not None:
                    if item.share_of not in self.parameters:
                        raise FieldError(
                            f"states.{name}.costs.{i}.share_of",
                            f"unknown cohort parameter '{item.share_of}'",
                        )
                    _expect_unit(
                        self.parameters[item.share_of], "fraction", f"parameters.{item.share_of}"
                    )
        if self.strata is not None:
            for key, q in self.strata.items():
                _expect_unit(q, "fraction", f"strata.{key}")
            total = sum(q.value for q in self.strata.values())
            if abs(total - 1.0) > ROW_SUM_TOL:
                raise FieldError(
                    "strata", f"expected the stratum shares to sum to 1, found {total:.6g}"
                )
        return self


class EffectSpec(BaseModel):
    """What a lever does to the people it covers."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["rate_ratio", "hazard_ratio", "los_multiplier", "admission_rate_multiplier"]
    value: Quantity
    transitions: list[tuple[str, str]] = Field([], description="[from, to] (rate/hazard ratio)")
    states: list[str] = Field([], description="states whose stay is scaled (los_multiplier)")
    inflows: list[str] = Field([], description="inflow streams (admission_rate_multiplier)")

    @model_validator(mode="after")
    def _targets(self):
        _expect_unit(self.value, "ratio", "value")
        if self.value.value <= 0 or self.value.range[0] <= 0:
            raise FieldError("value", "expected a positive ratio")
        need = {
            "rate_ratio": "transitions",
            "hazard_ratio": "transitions",
            "los_multiplier": "states",
            "admission_rate_multiplier": "inflows",
        }[self.type]
        for other in ("transitions", "states", "inflows"):
            given = bool(getattr(self, other))
            if other == need and not given:
                raise FieldError(other, f"effect type '{self.type}' needs '{other}'")
            if other != need and given:
                raise FieldError(other, f"effect type '{self.type}' takes '{need}', not '{other}'")
        return self


class LeverSpec(BaseModel):
    """An upstream intervention: effects, who is eligible, uptake, ramp-up, unit cost, payer."""

    model_config = ConfigDict(extra="forbid")
    label: str
    description: str = ""
    cohort: str
    strata: list[str] | None = None
    eligible_population: str = Field(description="who is eligible, in words")
    eligible: Quantity = Field(description="eligible fraction of the covered states / population")
    uptake: Quantity = Field(description="fraction of the eligible reached at full ramp-up")
    ramp: Ramp = "linear"
    ramp_years: int = Field(3, ge=1, le=30)
    effects: list[EffectSpec]
    unit_cost: Quantity
    cost_basis: Literal[
        "per_person_year_treated", "per_covered_admission", "per_treated_event", "per_head"
    ]
    payer: Payer

    @model_validator(mode="after")
    def _units(self):
        _expect_unit(self.eligible, "fraction", "eligible")
        _expect_unit(self.uptake, "fraction", "uptake")
        if self.unit_cost.unit != _COST_BASIS_UNIT[self.cost_basis]:
            raise FieldError(
                "unit_cost.unit",
                f"cost_basis '{self.cost_basis}' needs unit "
                f"'{_COST_BASIS_UNIT[self.cost_basis]}', found "
                f"'{self.unit_cost.unit}'",
            )
        if not self.effects:
            raise FieldError("effects", "a lever needs at least one effect")
        return self


#: Need indices a driver may use: ``<component>`` weighted population per registered person of
#: each area, over the same ratio for England (registered-population-weighted mean 1). Computed
#: from the run's dataset by :func:`alloc.pathways.drivers.need_indices`.
NEED_INDICES = ("health_inequalities", "general_acute", "mental_health", "prescribing")


class DriverSpec(BaseModel):
    """``[drivers.<name>]``: need that differs by ICB, through a need index.

    In ICB ``n`` the driver multiplies each target by ``index_n ** elasticity``
    [dimensionless]: the initial stock of ``states`` (in ``strata``, default all), every inflow
    stream of the cohort (``inflows = true``; the kernel takes one population per ICB, so all
    streams of the cohort move together and the central elasticity is used in every draw) and
    the coverage (eligible x uptake, capped at 1) of ``levers``. Drivers on the same target
    multiply.
    """

    model_config = ConfigDict(extra="forbid")
    label: str
    index: Literal["health_inequalities", "general_acute", "mental_health", "prescribing"]
    cohort: str
    elasticity: Quantity
    states: list[str] = []
    strata: list[str] | None = None
    inflows: bool = False
    levers: list[str] = []
    mechanism: str = Field(description="why the targets move with the index, in words")

    @model_validator(mode="after")
    def _targets(self):
        _expect_unit(self.elasticity, "elasticity", "elasticity")
        if not (self.states or self.inflows or self.levers):
            raise FieldError("states", "a driver needs states, inflows = true or levers to act on")
        if self.inflows and self.strata is not None:
            raise FieldError(
                "strata",
                "a driver that scales inflows acts on every stratum (the kernel takes one "
                "population per ICB); put stratum-specific need on 'states' in another driver",
            )
        return self


class NationalFigure(BaseModel):
    """A published national figure a cohort's modelled activity is compared with.

    ``activity`` is a key of the cohort's ``activity`` table or ``inflow`` (all its external
    inflow streams, e.g. admissions from outside the unit). ``population`` is the population the
    figure counts [persons]; modelled and published are compared per person of that population,
    so a run on some ICBs only is compared at the national rate.
    """

    model_config = ConfigDict(extra="forbid")
    label: str
    cohort: str
    activity: str
    area: Literal["England", "UK", "Great Britain", "England and Wales"]
    year: str = Field(description="the year the figure describes, e.g. 2019/20 or 2012")
    population: Quantity

    @model_validator(mode="after")
    def _population(self):
        _expect_unit(self.population, "population", "population")
        if self.population.value <= 0:
            raise FieldError("population.value", "expected a positive population")
        return self


class CalibrationSpec(NationalFigure):
    """``[calibration.<name>]``: published activity the cohort's volume is calibrated to.

    ``published`` is in ``persons`` (mean people in the activity's states, for ``patients``),
    ``persons per year`` (``entries``, ``inflow``) or ``bed-days per year`` (``bed_days``).
    The cohort's national volume factor is the geometric mean over its figures of
    published / modelled rate; each figure must then be within ``tolerance`` [fraction].
    """

    published: Quantity
    tolerance: Quantity = Field(description="largest accepted |modelled / published - 1|")

    @model_validator(mode="after")
    def _units(self):
        _expect_unit(self.published, "count", "published")
        _expect_unit(self.tolerance, "fraction", "tolerance")
        if self.published.unit == "beds":
            raise FieldError("published.unit", "beds are a capacity: put them in [capacity]")
        return self


class CapacitySpec(NationalFigure):
    """``[capacity.<name>]``: a national bed capacity that modelled bed-days must stay within.

    Checked in every year and draw of both arms, on the national-equivalent occupied beds
    (bed-days / 365.25 per person x ``population``) against ``beds`` x (1 + ``headroom``): the
    headroom [fraction] allows the stated growth in beds over the projection.
    """

    beds: Quantity
    headroom: Quantity

    @model_validator(mode="after")
    def _units(self):
        if self.beds.unit != "beds":
            raise FieldError("beds.unit", f"expected 'beds', found '{self.beds.unit}'")
        _expect_unit(self.headroom, "fraction", "headroom")
        return self


_MEASURE_UNIT = {
    "patients": "persons",
    "entries": "persons per year",
    "inflow": "persons per year",
    "bed_days": "bed-days per year",
}


def _check_national(spec: PathwaySpec) -> None:
    """Drivers, calibration and capacity refer to cohorts, states, strata, levers, activity."""
    for name, drv in spec.drivers.items():
        where = f"drivers.{name}"
        cohort = spec.cohorts.get(drv.cohort)
        if cohort is None:
            raise FieldError(f"{where}.cohort", f"unknown cohort '{drv.cohort}'")
        for s in drv.states:
            if s not in cohort.states:
                raise FieldError(f"{where}.states", f"unknown state '{s}'")
            if cohort.states[s].prevalence is None:
                raise FieldError(
                    f"{where}.states",
                    f"state '{s}' has no prevalence (initial stock) for the driver to scale",
                )
        for st in drv.strata or []:
            if cohort.strata is None or st not in cohort.strata:
                raise FieldError(f"{where}.strata", f"unknown stratum '{st}'")
        if drv.inflows and not cohort.inflows:
            raise FieldError(f"{where}.inflows", f"cohort '{drv.cohort}' has no inflows")
        for lv in drv.levers:
            if lv not in spec.levers or spec.levers[lv].cohort != drv.cohort:
                raise FieldError(
                    f"{where}.levers", f"no lever '{lv}' acting on cohort '{drv.cohort}'"
                )
    for section in ("calibration", "capacity"):
        for name, fig in getattr(spec, section).items():
            where = f"{section}.{name}"
            cohort = spec.cohorts.get(fig.cohort)
            if cohort is None:
                raise FieldError(f"{where}.cohort", f"unknown cohort '{fig.cohort}'")
            if fig.activity == "inflow":
                measure = "inflow"
                if not cohort.inflows:
                    raise FieldError(f"{where}.activity", "the cohort has no inflows")
            elif fig.activity in cohort.activity:
                measure = cohort.activity[fig.activity].measure
            else:
                raise FieldError(
                    f"{where}.activity",
                    f"expected 'inflow' or an activity of cohort '{fig.cohort}' "
                    f"({', '.join(cohort.activity)}), found '{fig.activity}'",
                )
            if section == "calibration" and fig.published.unit != _MEASURE_UNIT[measure]:
                raise FieldError(
                    f"{where}.published.unit",
                    f"activity '{fig.activity}' ({measure}) is measured in "
                    f"'{_MEASURE_UNIT[measure]}', found '{fig.published.unit}'",
                )
            if section == "capacity" and measure != "bed_days":
                raise FieldError(
                    f"{where}.activity", f"a bed capacity needs a bed_days activity, not {measure}"
                )


class CorrelationSpec(BaseModel):
    """A correlation between two uncertain quantities of the file (``[[correlations]]``).

    ``a`` and ``b`` are dotted paths as :func:`alloc.pathways.base.quantities` names them (e.g.
    ``levers.sglt2i.uptake``, ``levers.sglt2i.effects.0.value``). ``rho`` is a Spearman rank
    correlation (``measure = "spearman"``, what experts usually state) or the correlation of the
    Gaussian copula itself (``measure = "gaussian"``); draws use :attr:`gaussian_rho`.
    """

    model_config = ConfigDict(extra="forbid")
    a: str
    b: str
    rho: Number
    measure: Literal["spearman", "gaussian"]
    tag: Literal["S", "S-weak", "I", "illustrative"]
    source: str | None = None
    illustrative: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self):
        if not -1.0 < self.rho < 1.0:
            raise FieldError(
                "rho", f"expected a correlation strictly between -1 and 1, found {self.rho}"
            )
        if self.a == self.b:
            raise FieldError("b", f"expected a quantity other than a ('{self.a}')")
        _check_provenance(self, "correlation", "the reason")
        return self

    @property
    def gaussian_rho(self) -> float:
        """Correlation of the Gaussian copula [dimensionless].

        A Gaussian copula with correlation ``r`` has Spearman correlation
        ``(6 / pi) asin(r / 2)``, so a stated Spearman ``rho_s`` needs ``r = 2 sin(pi rho_s / 6)``.
        """
        if self.measure == "gaussian":
            return float(self.rho)
        return 2.0 * math.sin(math.pi * self.rho / 6.0)


class PathwaySpec(BaseModel):
    """A pathway parameter file.

    ``cohorts`` and ``levers`` define the model; ``correlations`` the joint uncertainty;
    ``drivers`` the need that differs by ICB (:class:`DriverSpec`); ``calibration`` the published
    national activity the volume is set to (:class:`CalibrationSpec`); ``capacity`` the national
    bed capacity checked at run time (:class:`CapacitySpec`).
    """

    model_config = ConfigDict(extra="forbid")
    pathway: Literal["renal", "critical_care", "mental_health", "liver"]
    title: str
    description: str = ""
    status: str = ""
    cohorts: dict[str, CohortSpec]
    levers: dict[str, LeverSpec] = {}
    correlations: list[CorrelationSpec] = []
    drivers: dict[str, DriverSpec] = {}
    calibration: dict[str, CalibrationSpec] = {}
    capacity: dict[str, CapacitySpec] = {}

    @model_validator(mode="after")
    def _national(self):
        _check_national(self)
        return self

    @model_validator(mode="after")
    def _correlated(self):
        check_correlations(self)
        return self

    @model_validator(mode="after")
    def _levers(self):
        for key, lever in self.levers.items():
            where = f"levers.{key}"
            if lever.cohort not in self.cohorts:
                raise FieldError(
                    f"{where}.cohort",
                    f"unknown cohort '{lever.cohort}' (cohorts: {', '.join(self.cohorts)})",
                )
            cohort = self.cohorts[lever.cohort]
            if lever.strata is not None:
                for s in lever.strata:
                    if cohort.strata is None or s not in cohort.strata:
                        raise FieldError(f"{where}.strata", f"unknown stratum '{s}'")
            for i, eff in enumerate(lever.effects):
                for src, dest in eff.transitions:
                    row = cohort.transitions.get(src)
                    if row is None or dest not in row.to or dest == src:
                        raise FieldError(
                            f"{where}.effects.{i}.transitions",
                            f"no transition {src} -> {dest} in cohort '{lever.cohort}'",
                        )
                for s in eff.states:
                    if s not in cohort.transitions:
                        raise FieldError(
                            f"{where}.effects.{i}.states", f"state '{s}' has no exits to scale"
                        )
                for j in eff.inflows:
                    if j not in cohort.inflows:
                        raise FieldError(
                            f"{where}.effects.{i}.inflows", f"unknown inflow stream '{j}'"
                        )
        return self


def quantity_at(spec: BaseModel, path: str) -> Quantity | None:
    """The quantity at a dotted path (``levers.sglt2i.effects.0.value``), or None if there is none.

    Paths are those :func:`alloc.pathways.base.quantities` gives: model fields, mapping keys and
    list positions joined by dots.
    """
    node = spec
    for part in path.split("."):
        if isinstance(node, BaseModel) and part in type(node).model_fields:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node if isinstance(node, Quantity) else None


#: Smallest eigenvalue a correlation matrix may have: below it the Cholesky factor is unreliable.
MIN_EIGENVALUE = 1e-9


def check_correlations(spec: PathwaySpec) -> None:
    """``[[correlations]]``: known uncertain quantities, each pair once, a valid matrix.

    The matrix checked is that of the Gaussian copula (:attr:`CorrelationSpec.gaussian_rho`), over
    every quantity named, with 1 on the diagonal and 0 for pairs not stated. If it is not
    positive definite, the correlation named is the one contributing most to ``v' R v < 0`` for
    the eigenvector ``v`` of the smallest eigenvalue.

    Raises
    ------
    FieldError
        Naming ``correlations.<i>`` (and ``.a`` / ``.b`` for a bad path).
    """
    if not spec.correlations:
        return
    import numpy as np  # only files with correlations pay for it

    index: dict[str, int] = {}
    seen: dict[frozenset, int] = {}
    for i, corr in enumerate(spec.correlations):
        for side in ("a", "b"):
            path = getattr(corr, side)
            q = quantity_at(spec, path)
            if q is None:
                raise FieldError(
                    f"correlations.{i}.{side}",
                    f"no quantity '{path}' in this file (expected a dotted path such as "
                    "'levers.<lever>.uptake' or 'levers.<lever>.effects.0.value')",
                )
            if not q.range[0] < q.range[1]:
                raise FieldError(
                    f"correlations.{i}.{side}",
                    f"'{path}' is not uncertain (range [{q.range[0]}, {q.range[1]}]); only "
                    "quantities with low < high can be correlated",
                )
            index.setdefault(path, len(index))
        pair = frozenset((corr.a, corr.b))
        if pair in seen:
            raise FieldError(
                f"correlations.{i}",
                f"the pair '{corr.a}' / '{corr.b}' is already correlated in correlations.{seen[pair]}",
            )
        seen[pair] = i
    matrix = np.eye(len(index))
    pairs = [(index[c.a], index[c.b], c.gaussian_rho) for c in spec.correlations]
    for ja, jb, r in pairs:
        matrix[ja, jb] = matrix[jb, ja] = r
    eigenvalues, vectors = np.linalg.eigh(matrix)
    if eigenvalues[0] < MIN_EIGENVALUE:
        # Name the correlation adding most to v' R v < 0 along the offending direction v
        # (on ties the last stated, the one that completed the inconsistent set).
        v = vectors[:, 0]
        share = [r * v[ja] * v[jb] for ja, jb, r in pairs]
        worst = max(i for i, x in enumerate(share) if x <= min(share) + 1e-12)
        raise FieldError(
            f"correlations.{worst}",
            "the correlation matrix is not positive definite (smallest eigenvalue "
            f"{eigenvalues[0]:.3g} of the Gaussian-copula matrix): the correlations stated are "
            "inconsistent with each other; this one weighs most in the inconsistency (weaken "
            "it, or state the missing pairs)",
        )


# ---------------------------------------------------------------------------------------------
# Scenario sections


class Money(BaseModel):
    """An amount of money with its price year."""

    model_config = ConfigDict(extra="forbid")
    value: Number = Field(ge=0)
    price_year: str

    @field_validator("price_year")
    @classmethod
    def _fy(cls, value):
        try:
            parse_year(value, "", "price_year")
        except AllocError as exc:
            raise ValueError(exc.problem) from None
        return value


class LeverChoice(BaseModel):
    """A lever a scenario switches on, with optional overrides of the pathway file's values."""

    model_config = ConfigDict(extra="forbid")
    pathway: Literal["renal", "critical_care", "mental_health", "liver"]
    lever: str
    uptake: Number | None = Field(None, ge=0.0, le=1.0)
    eligible: Number | None = Field(None, ge=0.0, le=1.0)
    effect: Number | None = Field(
        None, gt=0.0, description="replaces the central effect (one-effect levers only)"
    )
    start_year: FinancialYear | None = None
    ramp: Ramp | None = None
    ramp_years: int | None = Field(None, ge=1, le=30)
    unit_cost: Money | None = None
    payer: Payer | None = None
    icbs: list[str] | None = None

    @field_validator("start_year", mode="before")
    @classmethod
    def _fy(cls, value):
        return coerce_year(value, "2026/27")


class PathwaysSection(BaseModel):
    """Scenario ``[pathways]``: the levers switched on and optional parameter files."""

    model_config = ConfigDict(extra="forbid")
    files: dict[str, str] = Field({}, description="pathway name -> parameter file path")
    discount_rate: Number | None = Field(None, ge=0.0, lt=1.0)
    levers: list[LeverChoice] = []

    @field_validator("files")
    @classmethod
    def _names(cls, value):
        for key in value:
            if key not in PATHWAY_NAMES:
                raise ValueError(
                    f"unknown pathway '{key}' (expected one of {', '.join(PATHWAY_NAMES)})"
                )
        return value


class SavingsPolicy(BaseModel):
    """Scenario ``[savings]``: what happens to specialised spend an ICB avoids.

    ``retained``: the ICB keeps it (allocation unchanged). ``rebased``: ``lag`` years later the
    ICB's allocation base is reduced by it. ``shared``: the ICB keeps ``retained_fraction`` and
    the rest is rebased after ``lag`` years.
    """

    model_config = ConfigDict(extra="forbid")
    policy: Literal["retained", "rebased", "shared"] = "retained"
    lag: int = Field(1, ge=0, le=10, description="years between a saving and the rebasing")
    retained_fraction: Number | None = Field(None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _fraction(self):
        if self.policy == "shared" and self.retained_fraction is None:
            raise FieldError(
                "retained_fraction",
                "policy 'shared' needs the fraction of each saving the ICB keeps (0..1)",
            )
        if self.policy != "shared" and self.retained_fraction is not None:
            raise FieldError(
                "retained_fraction", f"applies only to policy 'shared', not '{self.policy}'"
            )
        return self

    @property
    def rebased_fraction(self) -> float:
        """Fraction of each saving taken out of the ICB's allocation base [0..1]."""
        if self.policy == "retained":
            return 0.0
        if self.policy == "rebased":
            return 1.0
        return 1.0 - float(self.retained_fraction)


class SpendAssumptions(BaseModel):
    """Scenario ``[spend]``: overrides of the spend-projection assumptions."""

    model_config = ConfigDict(extra="forbid")
    non_demographic_growth: YearParam | None = None
    cost_inflation: Number | None = Field(None, gt=-0.5, lt=1.0)

    @field_validator("non_demographic_growth")
    @classmethod
    def _growth(cls, value):
        values = value.values() if isinstance(value, dict) else [] if value is None else [value]
        if isinstance(value, dict):
            if not value:
                raise ValueError("expected a number or a table of year = value")
            for key in value:
                try:
                    parse_year(key, "", "year key")
                except AllocError as exc:
                    raise ValueError(exc.problem) from None
        for v in values:
            if not -0.5 < v < 1.0:
                raise ValueError(f"expected a growth rate between -0.5 and 1, found {v}")
        return value


def _error_path(err: dict, data) -> list[str]:
    """Keys and list positions of an error location that exist in the input, in order."""
    parts, node = [], data
    for i, part in enumerate(err["loc"]):
        if isinstance(node, dict) and part in node:
            parts.append(str(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            parts.append(str(part))
            node = node[part]
        elif err["type"] == "missing" and i == len(err["loc"]) - 1:
            parts.append(str(part))
    return parts


def load_pathway_spec(path: str | Path) -> PathwaySpec:
    """Read and validate a pathway parameter file; AllocError names the file and field.

    The field is the dotted path into the file (list positions included), e.g.
    ``cohorts.renal.states.HD_home.costs.0.amount.price_year``.
    """
    from pydantic import ValidationError

    from alloc.inputs.specs import read_toml, validation_message

    path = Path(path)
    data = read_toml(path)
    try:
        return PathwaySpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field, problem = validation_message(exc, data)
        parts = _error_path(err, data)
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, FieldError):
            parts.append(cause.field)
        raise AllocError(path, ".".join(parts) or field or "(top level)", problem) from None
