"""Generic machinery shared by the four pathway modules.

A pathway parameter file (:class:`alloc.inputs.pathway_spec.PathwaySpec`) is turned into plain arrays
for the cohort kernel (:func:`alloc.kernels.cohort.cohort_project`), run for a *counterfactual*
arm (no levers) and a *scenario* arm (the levers a scenario switches on), calibrated to the
baseline and priced. The labelled result is assembled in :mod:`alloc.pathways`.

Conventions
-----------
- Parameter values are held as ``{dotted path: ndarray (D,)}`` with ``D`` draws; draw 0 is the
  central value (:func:`central_values`, :func:`sample_parameters`).
- Money inside the cohort is in **base-year prices** [GBP, real base year]: each unit cost is
  moved from its price year with ``(1 + cost_inflation) ** (base_year - price_year)``.
- Need by ICB: the pathway file's ``[drivers]`` multiply each ICB's initial stocks, the population
  driving its inflows and its levers' coverage (:mod:`alloc.pathways.drivers`).
- Calibration (:func:`calibrate`, :mod:`alloc.pathways.calibration`): the base-year cost of the
  counterfactual arm that falls on the delegated specialised budget is scaled, ICB by ICB, to the
  ICB's baseline for the cohort's service line. The cohort is linear in its initial stocks and
  inflows, so scaling them by ``baseline[n] / cost[d, n]`` scales every output exactly; money is
  scaled by that factor and people and activity only by the national volume factor set from
  published activity (:func:`scale`; ``per_head`` lever costs follow the population and are not
  scaled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from alloc.errors import AllocError
from alloc.inputs.pathway_spec import (
    PAYERS,
    CohortSpec,
    LeverChoice,
    LeverSpec,
    PathwaySpec,
    Quantity,
    load_pathway_spec,
)
from alloc.inputs.specs import FieldError
from alloc.pathways.drivers import CohortNeed, cohort_need
from alloc.resources import models_dir, resolve_named

DAYS_PER_YEAR = 365.25  # converts a mean length of stay [days] to an exit rate [per year]
SPECIALISED = "ICB_delegated_specialised"
_MAX_LEAVE = 1.0 - 1e-12  # a sampled probability row whose exits reach 1 is capped here


# ---------------------------------------------------------------------------------------------
# Parameter values: central and sampled


def quantities(spec: PathwaySpec) -> dict[str, Quantity]:
    """Every quantity of a pathway file by its dotted path (e.g. ``levers.sglt2i.uptake``)."""
    out: dict[str, Quantity] = {}

    def walk(node, path):
        if isinstance(node, Quantity):
            out[path] = node
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list | tuple):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")
        elif isinstance(node, BaseModel):
            for k in type(node).model_fields:
                walk(getattr(node, k), f"{path}.{k}" if path else k)

    walk(spec, "")
    return out


def central_values(spec: PathwaySpec) -> dict[str, np.ndarray]:
    """Central value of every quantity, as arrays of one draw."""
    return {p: np.array([q.value]) for p, q in quantities(spec).items()}


def sample_parameters(
    spec: PathwaySpec, n_draws: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw every quantity of a pathway file ``n_draws`` times; draw 0 is the central value.

    Ratios (unit ``ratio``) are log-normal with median ``value`` and ``[low, high]`` read as a
    95% interval: ``sigma = ln(high / low) / (2 * 1.96)``, truncated to ``[low, high]``. Every
    other quantity is triangular on ``[low, value, high]``. A quantity with ``low == high`` is
    constant. Probability rows are made consistent where they are used (staying is the
    complement of the sampled exits; destination splits are renormalised).

    Parameters
    ----------
    spec : PathwaySpec
    n_draws : int
        Number of draws ``D`` (>= 1).
    rng : numpy.random.Generator
        Source of randomness; the caller owns seeding (e.g. one ``SeedSequence`` stream per
        chunk of draws).

    Returns
    -------
    dict
        ``{dotted path: ndarray (D,)}`` in the quantity's own unit.

    Notes
    -----
    Quantities the file correlates (``[[correlations]]``) take uniforms from ``rng`` in their
    turn instead, made correlated by the Gaussian copula (:mod:`alloc.pathways.copula`) and
    mapped by the same inverse CDFs as :func:`sample_from_uniforms`. A file without
    correlations makes exactly the calls on ``rng`` it made before correlations existed, so its
    draws are unchanged bit for bit (with correlations, later quantities see a different stream).
    """
    from alloc.pathways.copula import copula_blocks, correlate_uniforms

    qs = quantities(spec)
    blocks = copula_blocks(spec, list(qs))
    correlated = {int(j) for b in blocks for j in b.columns}
    uniforms = np.full((max(n_draws - 1, 0) if correlated else 0, len(qs)), 0.5)
    out = {}
    for j, (path, q) in enumerate(qs.items()):
        low, high = q.range
        draws = np.full(n_draws, q.value, dtype=float)
        if j in correlated:
            uniforms[:, j] = rng.random(n_draws - 1)
        elif n_draws > 1 and high > low:
            if q.unit == "ratio" and low > 0:
                sigma = math.log(high / low) / (2 * 1.96)
                draws[1:] = np.clip(
                    q.value * np.exp(sigma * rng.standard_normal(n_draws - 1)), low, high
                )
            else:
                mode = min(max(q.value, low), high)
                draws[1:] = rng.triangular(low, mode, high, n_draws - 1)
        out[path] = draws
    if correlated and n_draws > 1:
        u = correlate_uniforms(uniforms, blocks)
        for j, path in enumerate(qs):
            if j in correlated:
                out[path][1:] = _from_uniform(qs[path], u[:, j])
    return out


def sample_from_uniforms(
    spec: PathwaySpec, u: np.ndarray, central_rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Like :func:`sample_parameters`, but from given uniforms: position-addressed draws.

    Parameters
    ----------
    spec : PathwaySpec
    u : ndarray (D, Q)
        Uniform(0, 1) numbers, one column per quantity in :func:`quantities` order.
    central_rows : ndarray of bool (D,)
        Rows that take every quantity's central value (draw 0 of an ensemble).

    Returns
    -------
    dict
        ``{dotted path: ndarray (D,)}``; the same distributions as :func:`sample_parameters`
        (truncated log-normal for ratios, triangular otherwise) by their inverse CDFs.

    Notes
    -----
    When the file states ``[[correlations]]``, the columns of correlated quantities first go
    through the Gaussian copula (:func:`alloc.pathways.copula.correlate_uniforms`), row by row;
    other columns are used as given, so files without correlations draw exactly as before.
    """
    from alloc.pathways.copula import copula_blocks, correlate_uniforms

    qs = quantities(spec)
    u = correlate_uniforms(u, copula_blocks(spec, list(qs)))
    out = {}
    for j, (path, q) in enumerate(qs.items()):
        draws = _from_uniform(q, u[:, j])
        draws[central_rows] = q.value
        out[path] = draws
    return out


def _from_uniform(q: Quantity, u: np.ndarray) -> np.ndarray:
    """Values of ``q`` at uniforms ``u`` by its inverse CDF (a new array; constant if low == high)."""
    from scipy import stats

    low, high = q.range
    draws = np.full(u.shape[0], q.value, dtype=float)
    if high > low:
        if q.unit == "ratio" and low > 0:
            sigma = math.log(high / low) / (2 * 1.96)
            draws = np.clip(q.value * np.exp(sigma * stats.norm.ppf(u)), low, high)
        else:
            mode = min(max(q.value, low), high)
            draws = stats.triang.ppf(u, c=(mode - low) / (high - low), loc=low, scale=high - low)
    return draws


# ---------------------------------------------------------------------------------------------
# Ramp-up and discounting


def ramp_fraction(profile: str, ramp_years: int, years_since_start: np.ndarray) -> np.ndarray:
    """Share of full uptake reached in each year [fraction].

    With ``k`` the years since the lever starts (0 in its first year) and
    ``u = min(1, (k + 1) / ramp_years)``: ``linear`` = u, ``front_loaded`` = 1 - (1 - u)^2,
    ``back_loaded`` = u^2, ``step`` = 1; 0 before the start. Full uptake is reached in year
    ``ramp_years - 1`` for every profile.
    """
    k = np.asarray(years_since_start, dtype=float)
    u = np.clip((k + 1.0) / ramp_years, 0.0, 1.0)
    shape = {
        "linear": u,
        "front_loaded": 1.0 - (1.0 - u) ** 2,
        "back_loaded": u**2,
        "step": np.ones_like(u),
    }[profile]
    return np.where(k >= 0, shape, 0.0)


def discount_factors(years: list[int], base_year: int, rate: float) -> np.ndarray:
    """``1 / (1 + rate) ** (year - base_year)`` [dimensionless]."""
    return 1.0 / (1.0 + rate) ** (np.asarray(years) - base_year)


# ---------------------------------------------------------------------------------------------
# Kernel arrays for one cohort


@dataclass
class LeverModel:
    """A lever resolved for one cohort: who pays, how it is priced, coverage per year and ICB."""

    key: str
    pathway: str
    cohort: str
    service_line: str
    label: str
    payer: str
    cost_basis: str
    unit_cost: np.ndarray  # (D,) [GBP per basis unit, base-year prices]
    coverage: np.ndarray  # (D, Y, N|1) [fraction]


@dataclass
class CohortModel:
    """One cohort as plain arrays (see :func:`alloc.kernels.cohort.cohort_project`)."""

    pathway: str
    cohort: str
    service_line: str
    states: list[str]
    substeps: int
    prevalence: np.ndarray  # (D, S) [persons per registered person]
    rates: np.ndarray  # (D, S, S) [per person-year]
    inflow_state: np.ndarray  # (J,)
    inflow_rate: np.ndarray  # (D, J) [persons per registered person per year]
    acc_names: list[str]
    acc_pt: np.ndarray  # (D, K, S)
    acc_entry: np.ndarray  # (D, K, S)
    activity: dict[str, tuple[str, str]]  # acc name -> (label, unit)
    levers: list[LeverModel] = field(default_factory=list)
    lev_rr: np.ndarray | None = None  # (D, L, S, S)
    lev_irr: np.ndarray | None = None  # (D, L, J)
    need: CohortNeed | None = None  # per-ICB multipliers of the drivers (None = uniform need)
    from_inflow: tuple[str, ...] = ()  # activity accumulators measured by the external inflow


def _expand(cohort: CohortSpec) -> list[tuple[str | None, str]]:
    """(stratum, state) pairs in cascade order: stratum-major when the cohort is stratified."""
    strata = list(cohort.strata) if cohort.strata else [None]
    return [(st, s) for st in strata for s in cohort.states]


def _name(stratum, state):
    return state if stratum is None else f"{stratum}/{state}"


def _inflation(q: Quantity, base_year: int, cost_inflation: float) -> float:
    """Factor moving money from the quantity's price year to base-year prices."""
    return (1.0 + cost_inflation) ** (base_year - q.price_year_start)


def build_cohort(
    pathway: str,
    spec: PathwaySpec,
    cohort_key: str,
    values: dict[str, np.ndarray],
    base_year: int,
    cost_inflation: float,
) -> CohortModel:
    """Kernel arrays of one cohort (no levers) from parameter values with D draws."""
    cohort = spec.cohorts[cohort_key]
    root = f"cohorts.{cohort_key}"
    n_draw = len(next(iter(values.values())))
    pairs = _expand(cohort)
    names = [_name(st, s) for st, s in pairs]
    index = {n: i for i, n in enumerate(names)}
    n_state = len(names)

    def v(path):
        return values[f"{root}.{path}"]

    share = {
        st: (v(f"strata.{st}") if st is not None else np.ones(n_draw))
        for st in (cohort.strata or [None])
    }
    # Initial stocks per registered person.
    prevalence = np.zeros((n_draw, n_state))
    for (st, s), i in zip(pairs, range(n_state)):
        if cohort.states[s].prevalence is not None:
            prevalence[:, i] = v(f"states.{s}.prevalence") * share[st]
    # Rates.
    rates = np.zeros((n_draw, n_state, n_state))
    for src, row in cohort.transitions.items():
        base = f"transitions.{src}"
        exits = {d: v(f"{base}.to.{d}") for d in row.to if d != src}
        if row.kind == "probability":
            total = sum(exits.values()) if exits else np.zeros(n_draw)
            capped = np.minimum(total, _MAX_LEAVE)
            big_r = -np.log1p(-capped)
            per = {
                d: np.where(total > 0, big_r * p / np.where(total > 0, total, 1.0), 0.0)
                for d, p in exits.items()
            }
        elif row.kind == "rate":
            per = exits
        else:
            split_total = sum(exits.values())
            big_r = DAYS_PER_YEAR / v(f"{base}.los")
            per = {d: big_r * p / split_total for d, p in exits.items()}
        for st in cohort.strata or [None]:
            for d, r in per.items():
                rates[:, index[_name(st, src)], index[_name(st, d)]] = r
    # Inflows.
    inflow_state, inflow_rate = [], []
    for key, inflow in cohort.inflows.items():
        for st in cohort.strata or [None]:
            inflow_state.append(index[_name(st, inflow.state)])
            inflow_rate.append(v(f"inflows.{key}.rate") * share[st])
    inflow_rate = np.stack(inflow_rate, axis=1) if inflow_rate else np.zeros((n_draw, 0))
    # Accumulators: cost by payer [GBP base-year prices], then activity.
    acc_names = [f"cost:{p}" for p in PAYERS] + [f"activity:{k}" for k in cohort.activity]
    acc_pt = np.zeros((n_draw, len(acc_names), n_state))
    acc_entry = np.zeros_like(acc_pt)
    for (_st, s), i in zip(pairs, range(n_state)):
        for c, item in enumerate(cohort.states[s].costs):
            amount = v(f"states.{s}.costs.{c}.amount") * _inflation(
                item.amount, base_year, cost_inflation
            )
            if item.share_of is not None:
                frac = v(f"parameters.{item.share_of}")
                amount = amount * ((1.0 - frac) if item.complement else frac)
            target = acc_pt if item.per == "person_year" else acc_entry
            target[:, PAYERS.index(item.payer), i] += amount
    activity, from_inflow = {}, []
    for a, (key, act) in enumerate(cohort.activity.items()):
        k = len(PAYERS) + a
        unit = {
            "patients": "patient-years",
            "bed_days": "bed-days",
            "entries": "persons",
            "inflow": "persons",
        }[act.measure]
        activity[f"activity:{key}"] = (act.label, unit)
        if act.measure == "inflow":  # read from the kernel's inflow output (no weights)
            from_inflow.append(f"activity:{key}")
        for st in cohort.strata or [None]:
            for s in act.states:
                i = index[_name(st, s)]
                if act.measure == "patients":
                    acc_pt[:, k, i] = 1.0
                elif act.measure == "bed_days":
                    acc_pt[:, k, i] = DAYS_PER_YEAR
                else:
                    acc_entry[:, k, i] = 1.0
    return CohortModel(
        pathway,
        cohort_key,
        cohort.service_line,
        names,
        cohort.substeps,
        prevalence,
        rates,
        np.array(inflow_state, dtype=np.int64),
        inflow_rate,
        acc_names,
        acc_pt,
        acc_entry,
        activity,
        from_inflow=tuple(from_inflow),
    )


def add_levers(
    model: CohortModel,
    spec: PathwaySpec,
    choices: list[LeverChoice],
    values: dict[str, np.ndarray],
    years: list[int],
    icbs: list[str],
    cost_inflation: float,
    source: str,
) -> CohortModel:
    """Attach the chosen levers acting on this cohort: rate ratios, inflow ratios, coverage."""
    cohort = spec.cohorts[model.cohort]
    pairs = _expand(cohort)
    index = {n: i for i, n in enumerate(model.states)}
    n_draw, n_state = model.rates.shape[:2]
    inflow_keys = [(key, st) for key in cohort.inflows for st in (cohort.strata or [None])]
    mine = [
        (i, c)
        for i, c in enumerate(choices)
        if c.pathway == model.pathway and spec.levers[c.lever].cohort == model.cohort
    ]
    n_lev = len(mine)
    lev_rr = np.ones((n_draw, n_lev, n_state, n_state))
    lev_irr = np.ones((n_draw, n_lev, len(inflow_keys)))
    levers = []
    years_arr = np.array(years)
    for slot, (i, choice) in enumerate(mine):
        lever: LeverSpec = spec.levers[choice.lever]
        where = f"pathways.levers.{i}"
        base = f"levers.{choice.lever}"
        strata = lever.strata or list(cohort.strata or [None])
        if choice.effect is not None and len(lever.effects) != 1:
            raise AllocError(
                source,
                f"{where}.effect",
                f"lever '{choice.lever}' has "
                f"{len(lever.effects)} effects; set them in a pathway file instead",
            )
        for e, eff in enumerate(lever.effects):
            val = (
                np.full(n_draw, choice.effect)
                if choice.effect is not None
                else values[f"{base}.effects.{e}.value"]
            )
            for st in strata:
                if eff.type in ("rate_ratio", "hazard_ratio"):
                    for src, dest in eff.transitions:
                        lev_rr[:, slot, index[_name(st, src)], index[_name(st, dest)]] *= val
                elif eff.type == "los_multiplier":
                    for s in eff.states:
                        i_s = index[_name(st, s)]
                        for t in range(n_state):
                            if t != i_s:
                                lev_rr[:, slot, i_s, t] /= val
                else:
                    for key in eff.inflows:
                        lev_irr[:, slot, inflow_keys.index((key, st))] *= val
        eligible = (
            np.full(n_draw, choice.eligible)
            if choice.eligible is not None
            else values[f"{base}.eligible"]
        )
        uptake = (
            np.full(n_draw, choice.uptake)
            if choice.uptake is not None
            else values[f"{base}.uptake"]
        )
        start = choice.start_year if choice.start_year is not None else years[0] + 1
        if start <= years[0]:
            raise AllocError(
                source,
                f"{where}.start_year",
                f"expected a year after the base year "
                f"{years[0]}/{(years[0] + 1) % 100:02d}, found {start}",
            )
        ramp = ramp_fraction(
            choice.ramp or lever.ramp, choice.ramp_years or lever.ramp_years, years_arr - start
        )
        mask = np.ones(len(icbs))
        if choice.icbs is not None:
            unknown = [c for c in choice.icbs if c not in icbs]
            if unknown:
                raise AllocError(source, f"{where}.icbs", f"unknown ICB code '{unknown[0]}'")
            mask = np.isin(icbs, choice.icbs).astype(float)
        reach = (eligible * uptake)[:, None]  # (D, 1)
        if model.need is not None and choice.lever in model.need.lever:
            # Drivers widen or narrow the lever's room by ICB; coverage stays a fraction.
            reach = np.minimum(reach * model.need.lever[choice.lever], 1.0)  # (D, N)
        coverage = reach[:, None, :] * ramp[None, :, None] * mask[None, None, :]
        if choice.unit_cost is not None:
            price = Quantity(
                value=choice.unit_cost.value,
                unit=lever.unit_cost.unit,
                range=(choice.unit_cost.value, choice.unit_cost.value),
                price_year=choice.unit_cost.price_year,
                tag="illustrative",
                illustrative="scenario override",
            )
            unit_cost = np.full(n_draw, price.value) * _inflation(price, years[0], cost_inflation)
        else:
            unit_cost = values[f"{base}.unit_cost"] * _inflation(
                lever.unit_cost, years[0], cost_inflation
            )
        levers.append(
            LeverModel(
                choice.lever,
                model.pathway,
                model.cohort,
                model.service_line,
                lever.label,
                choice.payer or lever.payer,
                lever.cost_basis,
                unit_cost,
                coverage,
            )
        )
    model.levers, model.lev_rr, model.lev_irr = levers, lev_rr, lev_irr
    del pairs
    return model


# ---------------------------------------------------------------------------------------------
# Running, calibrating and pricing


@dataclass
class CohortRun:
    """Outputs of one arm, scaled by the calibration factors (D, Y, N, ...)."""

    acc: np.ndarray  # (D, Y, N, K)
    lever_cost: np.ndarray  # (D, Y, N, L) [GBP base-year prices]
    lever_pt: np.ndarray
    lever_inflow: np.ndarray
    lever_events: np.ndarray
    inflow: np.ndarray  # (D, Y, N)
    states: np.ndarray | None  # (D, Y + 1, N, S)


def run_arm(
    model: CohortModel, pop: np.ndarray, with_levers: bool, store_states: bool = False
) -> CohortRun:
    """Run one arm of a cohort through the kernel (unscaled: prevalence x base-year population).

    The need drivers (``model.need``) multiply each ICB's initial stock of the states they act
    on and the population driving its inflows (the kernel's per-ICB inputs ``x0`` and ``pop``).

    Parameters
    ----------
    pop : ndarray (Y, N)
        Registered population of each year and ICB [persons]; year 0 is the base year.
    """
    from alloc.kernels.cohort import allocate_outputs, cohort_project

    n_year, n_icb = pop.shape
    n_draw, n_state = model.prevalence.shape
    x0 = model.prevalence[:, None, :] * pop[0][None, :, None]
    if model.need is not None:
        x0 = x0 * model.need.stock
        pop = pop * model.need.inflow[None, :]
    n_lev = len(model.levers) if with_levers else 0
    if n_lev:
        rr, irr = model.lev_rr, model.lev_irr
        cov = np.stack([lv.coverage for lv in model.levers], axis=-1)  # (D, Y, N|1, L)
    else:
        rr = np.ones((1, 0, n_state, n_state))
        irr = np.ones((1, 0, model.inflow_state.size))
        cov = np.zeros((1, n_year, 1, 0))
    out = allocate_outputs(
        n_draw, n_year, n_icb, n_state, len(model.acc_names), n_lev, store_states
    )
    cohort_project(
        np.ascontiguousarray(x0),
        model.rates,
        model.inflow_state,
        model.inflow_rate,
        np.ascontiguousarray(pop, dtype=float),
        np.ascontiguousarray(rr),
        np.ascontiguousarray(irr),
        np.ascontiguousarray(cov),
        model.acc_pt,
        model.acc_entry,
        model.substeps,
        store_states,
        **out,
    )
    for name in model.from_inflow:  # activity measured by the external inflow (admissions)
        out["acc_out"][..., model.acc_names.index(name)] = out["inflow_out"]
    lever_cost = np.zeros_like(out["lever_pt_out"])
    for slot, lv in enumerate(model.levers[:n_lev]):
        basis = {
            "per_person_year_treated": out["lever_pt_out"],
            "per_covered_admission": out["lever_inflow_out"],
            "per_treated_event": out["lever_events_out"],
        }.get(lv.cost_basis)
        if basis is not None:
            lever_cost[..., slot] = lv.unit_cost[:, None, None] * basis[..., slot]
    return CohortRun(
        out["acc_out"],
        lever_cost,
        out["lever_pt_out"],
        out["lever_inflow_out"],
        out["lever_events_out"],
        out["inflow_out"],
        out["states_out"] if store_states else None,
    )


def calibrate(
    model: CohortModel, counterfactual: CohortRun, baseline: np.ndarray, source: str
) -> np.ndarray:
    """Calibration factor per draw and ICB [dimensionless].

    ``k[d, n] = baseline[n] / C[d, n]`` with ``C`` the base-year cost of the counterfactual arm
    on the delegated specialised budget [GBP, base-year prices] and ``baseline`` the ICB's
    baseline for the cohort's service line [GBP, base-year cash].
    """
    cost = counterfactual.acc[:, 0, :, model.acc_names.index(f"cost:{SPECIALISED}")]
    if not (cost > 0).all():
        raise AllocError(
            source,
            f"cohorts.{model.cohort}",
            "the cohort has no base-year cost on "
            "the delegated specialised budget, so it cannot be calibrated to the "
            f"'{model.service_line}' baseline",
        )
    return baseline[None, :] / cost


def scale(
    run: CohortRun,
    factor: np.ndarray,
    model: CohortModel,
    pop: np.ndarray,
    volume: np.ndarray | None = None,
) -> CohortRun:
    """Apply calibration to an arm **in place** and return it; price ``per_head`` levers on the
    population.

    The raw arm is not needed after calibration, and multiplying its arrays in place spares
    fresh arrays of the outputs' size (their page faults cost more than the products).

    Parameters
    ----------
    factor : ndarray (D, N)
        Money factor [dimensionless]: every cost (all payers, and levers priced per person
        reached) is multiplied by it; ``baseline / base-year specialised cost`` per ICB.
    volume : ndarray (D,), optional
        National volume factor [dimensionless] on people and activity (states, inflow, activity
        accumulators, people reached by levers); default ``factor`` (volume and money scaled
        alike). ``factor / volume`` is the per-ICB cost factor of
        :func:`alloc.pathways.calibration.calibrate_cohort`.
    """
    k = factor[:, None, :]
    v = k if volume is None else np.broadcast_to(volume[:, None, None], k.shape)
    n_pay = len(PAYERS)
    # One multiply by a (D, 1, N, K) factor: money columns by k, activity columns by v.
    acc_factor = np.empty((*k.shape, run.acc.shape[-1]))
    acc_factor[..., :n_pay] = k[..., None]
    acc_factor[..., n_pay:] = v[..., None]
    run.acc *= acc_factor
    run.lever_cost *= k[..., None]
    for slot, lv in enumerate(model.levers[: run.lever_cost.shape[-1]]):
        if lv.cost_basis == "per_head":
            run.lever_cost[..., slot] = lv.unit_cost[:, None, None] * lv.coverage * pop[None, :, :]
    if run.states is not None:
        run.states *= v[:, :1, :, None]
    for people in (run.lever_pt, run.lever_inflow, run.lever_events):
        people *= v[..., None]
    run.inflow *= v
    return run


# ---------------------------------------------------------------------------------------------
# Pathway modules


class Pathway:
    """Base class of a pathway module: which file, which service lines, what structure.

    Subclasses set ``name``, ``service_lines`` (the baseline lines its cohorts calibrate to) and
    ``required_states`` (cohort -> states the module's structure needs), and may extend
    :meth:`check`.
    """

    name: str = ""
    title: str = ""
    service_lines: tuple[str, ...] = ()
    required_states: dict[str, tuple[str, ...]] = {}
    required_parameters: dict[str, tuple[str, ...]] = {}

    def __init__(self, spec: PathwaySpec, path: Path):
        self.spec = spec
        self.path = Path(path)
        try:
            self.check(spec)
        except FieldError as exc:
            raise AllocError(self.path, exc.field, str(exc)) from None

    @classmethod
    def load(cls, path: str | Path | None = None, base: Path | None = None) -> Pathway:
        """Load and validate the module's parameter file (default ``models/pathways/<name>``)."""
        path = (
            resolve_named("pathways", path, base)
            if path is not None
            else models_dir() / "pathways" / f"{cls.name}.toml"
        )
        spec = load_pathway_spec(path)
        return cls(spec, path)

    def check(self, spec: PathwaySpec) -> None:
        """Structure this module relies on; raises FieldError naming the field."""
        if spec.pathway != self.name:
            raise FieldError("pathway", f"expected '{self.name}', found '{spec.pathway}'")
        lines = sorted(c.service_line for c in spec.cohorts.values())
        if lines != sorted(self.service_lines):
            raise FieldError(
                "cohorts",
                f"expected cohorts calibrated to the service lines "
                f"{', '.join(sorted(self.service_lines))}; found {', '.join(lines)}",
            )
        for cohort, states in self.required_states.items():
            if cohort not in spec.cohorts:
                raise FieldError("cohorts", f"expected a cohort '{cohort}'")
            missing = [s for s in states if s not in spec.cohorts[cohort].states]
            if missing:
                raise FieldError(f"cohorts.{cohort}.states", f"expected a state '{missing[0]}'")
        for cohort, params in self.required_parameters.items():
            missing = [p for p in params if p not in spec.cohorts[cohort].parameters]
            if missing:
                raise FieldError(
                    f"cohorts.{cohort}.parameters", f"expected the parameter '{missing[0]}'"
                )

    def models(
        self,
        values: dict[str, np.ndarray],
        choices: list[LeverChoice],
        years: list[int],
        icbs: list[str],
        cost_inflation: float,
        source: str,
        need_index: dict[str, np.ndarray] | None = None,
    ) -> list[CohortModel]:
        """Kernel arrays of every cohort, with the need drivers and the chosen levers attached.

        ``need_index``: ``{index name: ndarray (N,)}`` need indices of ``icbs``
        (:func:`alloc.pathways.drivers.need_indices`); None = the same need in every ICB.
        """
        for i, choice in enumerate(choices):
            if choice.pathway == self.name and choice.lever not in self.spec.levers:
                raise AllocError(
                    source,
                    f"pathways.levers.{i}.lever",
                    f"unknown lever "
                    f"'{choice.lever}' for pathway '{self.name}' (levers: "
                    f"{', '.join(self.spec.levers)})",
                )
        out = []
        for key in self.spec.cohorts:
            model = build_cohort(self.name, self.spec, key, values, years[0], cost_inflation)
            model.need = cohort_need(
                self.spec,
                key,
                _expand(self.spec.cohorts[key]),
                values,
                need_index,
                len(icbs),
                str(self.path),
            )
            out.append(
                add_levers(model, self.spec, choices, values, years, icbs, cost_inflation, source)
            )
        return out
