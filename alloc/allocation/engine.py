"""The one pipeline: ``run(scenario) -> xr.Dataset``.

inputs -> population projection -> envelope -> needs-based targets -> pace-of-change glide path
-> labelled result with provenance, checked against the run-time invariants.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import xarray as xr

from alloc._version import __version__
from alloc.allocation.deadline import common_pace
from alloc.allocation.policy import (
    STATUS_MESSAGES,
    PolicySpec,
    bounds,
    kernel_arrays,
    load_policy,
)
from alloc.errors import AllocError
from alloc.inputs.dataset import load_inputs
from alloc.inputs.footprint import refootprint
from alloc.inputs.geography import load_practices
from alloc.inputs.scenario import (
    Scenario,
    blame_overrides,
    load_scenario,
    resolve_data_folder,
    scenario_hash,
)
from alloc.inputs.user_baseline import apply_user_baseline
from alloc.inputs.years import growth_index, year_label
from alloc.kernels import pace
from alloc.targets.formula import (
    FormulaSpec,
    distance_from_target,
    load_formula,
    project_population,
    target_shares,
)

ENVELOPE_RTOL = pace.ENVELOPE_RTOL  # run-time check: sum = envelope (the one constant, in pace)
BOUND_RTOL = 1e-9  # run-time check: floors and caps respected


def _assumption(inputs: xr.Dataset, name: str) -> float:
    return json.loads(inputs.attrs["assumptions"])[name]["value"]


def envelope_path(total_base: float, years: list[int], growth, source: str) -> np.ndarray:
    """Envelope per year [GBP]: ``E[t] = E[t-1] * (1 + g[t])`` from the base-year total.

    ``years`` starts with the base year; ``growth`` is a number or a year-keyed table.
    """
    return total_base * growth_index(growth, years, source, "envelope_growth")


def _check_years(scenario: Scenario, inputs: xr.Dataset, source: str) -> list[int]:
    data_base = int(inputs.attrs["base_year"])
    base = scenario.base_year if scenario.base_year is not None else data_base
    if base != data_base:
        raise AllocError(
            source,
            "base_year",
            f"expected the baseline's year "
            f"{year_label(data_base)} (baseline.csv), found {year_label(base)}",
        )
    if not base < scenario.end_year <= base + 30:
        raise AllocError(
            source,
            "end_year",
            f"expected a year after {year_label(base)} and at "
            f"most 30 years on, found {year_label(scenario.end_year)}",
        )
    return list(range(base, scenario.end_year + 1))


def solve_glide_paths(
    base: np.ndarray,
    targets: np.ndarray,
    envelopes: np.ndarray,
    arrays: dict,
    relax: bool,
    base_adjust: np.ndarray | None = None,
):
    """Run the glide-path kernel for a batch of independent units (ICB totals or service lines).

    ``base_adjust`` (B, Y, N) [GBP], when given, is subtracted from the allocation base of each
    projection year before the kernel solves it (savings rebased into the base, see
    :func:`alloc.pathways.spend.rebase_adjustment`): the kernel is then run one year at a time with
    ``A0 = A[t-1] - base_adjust[t]``, so every year still allocates exactly its envelope.
    """
    if base_adjust is not None and np.any(base_adjust):
        return _solve_rebased(base, targets, envelopes, arrays, relax, base_adjust)
    n_batch, n_year, n = targets.shape
    alloc = np.empty((n_batch, n_year, n))
    lam = np.empty((n_batch, n_year))
    status = np.empty((n_batch, n_year), dtype=np.int64)
    gap = np.empty((n_batch, n_year))
    pace.glide_path(
        base,
        targets,
        envelopes,
        arrays["conv"],
        arrays["w_prev"],
        arrays["w_target"],
        arrays["floor_mult"],
        arrays["cap_mult"],
        arrays["below_target"],
        relax,
        alloc,
        lam,
        status,
        gap,
    )
    return alloc, lam, status, gap


def _solve_rebased(base, targets, envelopes, arrays, relax, base_adjust):
    """Year-by-year glide path whose allocation base is reduced by ``base_adjust`` each year."""
    n_batch, n_year, n = targets.shape
    alloc = np.full((n_batch, n_year, n), np.nan)
    lam = np.full((n_batch, n_year), np.nan)
    status = np.full((n_batch, n_year), pace.STATUS_NOT_RUN, dtype=np.int64)
    gap = np.zeros((n_batch, n_year))
    prev = np.array(base, dtype=float, copy=True)
    prev = np.broadcast_to(prev, (n_batch, n)).copy()
    for y in range(n_year):
        a0 = prev - base_adjust[:, y, :]
        one = {k: np.ascontiguousarray(v[:, y : y + 1]) for k, v in arrays.items()}
        out = solve_glide_paths(
            a0,
            np.ascontiguousarray(targets[:, y : y + 1]),
            np.ascontiguousarray(envelopes[:, y : y + 1]),
            one,
            relax,
        )
        for arr, part in zip((alloc, lam, status, gap), out):
            arr[:, y] = part[:, 0]
        if (out[2][:, 0] == pace.STATUS_FLOORS_EXCEED_ENVELOPE).any() or (
            out[2][:, 0] == pace.STATUS_CAPS_BELOW_ENVELOPE
        ).any():
            break
        prev = out[0][:, 0]
    return alloc, lam, status, gap


def _raise_infeasible(status, gap, years, units, envelopes, source, policy):
    """Name the first infeasible year, the bounds the policy actually sets, and the shortfall."""
    infeasible = (status == pace.STATUS_FLOORS_EXCEED_ENVELOPE) | (
        status == pace.STATUS_CAPS_BELOW_ENVELOPE
    )
    if not infeasible.any():
        return
    b, y = map(int, np.argwhere(infeasible)[0])
    which = "floors" if status[b, y] == pace.STATUS_FLOORS_EXCEED_ENVELOPE else "caps"
    names = ("min_growth", "max_below_target") if which == "floors" else ("max_growth",)
    field = " / ".join(n for n in names if getattr(policy, n, None) is not None) or names[0]
    unit = "" if units is None else f" for service line '{units[b]}'"
    raise AllocError(
        source,
        field,
        f"policy infeasible in {year_label(years[y + 1])}{unit}: the "
        f"{which} {'exceed' if which == 'floors' else 'fall short of'} the envelope "
        f"of £{envelopes[b, y]:,.0f} by £{gap[b, y]:,.0f}; loosen the {which} or set "
        'fallback = "relax" in the policy',
    )


def check_invariants(alloc, base, targets, envelopes, arrays, status, source, base_adjust=None):
    """Run-time invariants: sum = envelope, bounds respected, no NaN, no negative money.

    With ``base_adjust`` (rebased savings) the bounds of year ``t`` are computed from the
    adjusted base ``A[t-1] - base_adjust[t]`` that the kernel was given.
    """
    n_batch, n_year, _ = alloc.shape
    if not np.isfinite(alloc).all():
        raise AllocError(source, "allocation", "internal check failed: NaN or infinite allocation")
    if (alloc < 0).any():
        raise AllocError(
            source,
            "allocation",
            "the policy produced a negative allocation; check floors, caps and the envelope",
        )
    totals = alloc.sum(axis=-1)
    if not np.allclose(totals, envelopes, rtol=ENVELOPE_RTOL, atol=0):
        raise AllocError(
            source, "allocation", "internal check failed: allocations do not sum to the envelope"
        )
    for b in range(n_batch):
        prev = base[b]
        for y in range(n_year):
            if base_adjust is not None:
                prev = prev - base_adjust[b, y]
            lower, upper = bounds(arrays, prev, targets[b, y], y, b)
            uniform = prev * envelopes[b, y] / prev.sum()
            if status[b, y] == pace.STATUS_FLOORS_RELAXED:
                lower = np.minimum(lower, uniform)
            if status[b, y] == pace.STATUS_CAPS_RELAXED:
                upper = np.maximum(upper, uniform)
            scale = BOUND_RTOL * envelopes[b, y]
            if (alloc[b, y] < lower - scale).any() or (alloc[b, y] > upper + scale).any():
                raise AllocError(
                    source,
                    "allocation",
                    f"internal check failed: a floor or cap is not respected in {y}",
                )
            prev = alloc[b, y]


@dataclass
class Prepared:
    """Everything a scenario resolves to before the pace-of-change solve (labelled + kernel arrays).

    ``kernel_base`` (B, N), ``kernel_targets`` (B, Y, N) and ``kernel_envelopes`` (B, Y) are the
    glide-path inputs: B = 1 when convergence acts on ICB totals, one row per service line
    otherwise (``units``). ``policy_arrays`` holds the per-year policy coefficients and bounds.
    """

    scenario: Scenario
    raw: dict
    source: str
    inputs: xr.Dataset
    formula: FormulaSpec
    policy: PolicySpec
    policy_source: str
    years: list[int]
    population: xr.DataArray
    envelope: np.ndarray
    share_svc: xr.DataArray
    target_svc: xr.DataArray
    policy_arrays: dict
    kernel_base: np.ndarray
    kernel_targets: np.ndarray
    kernel_envelopes: np.ndarray
    units: list[str] | None
    assumptions_used: dict = field(default_factory=dict)
    # Spend projection and left shift (alloc.pathways.spend, alloc.pathways): ``spend`` is always set;
    # ``left_shift`` (draw 0) only with levers; ``base_adjust`` (B, Y, N) only when savings are
    # rebased or shared (what the kernel's allocation base loses each year, GBP).
    spend: xr.Dataset | None = None
    left_shift: xr.Dataset | None = None
    base_adjust: np.ndarray | None = None
    rebase: xr.DataArray | None = None
    pathway_assumptions: dict = field(default_factory=dict)
    # kind "deadline": the common convergence rate found (alloc.allocation.deadline) [fraction]
    convergence_rate: float | None = None


def load_scenario_inputs(scenario: Scenario, scenario_path: Path) -> xr.Dataset:
    """The scenario's dataset on the scenario's geography (:mod:`alloc.inputs.footprint`).

    A dataset folder may hold its own ``practices.csv``; otherwise the shipped practice table
    carries the dataset between geographies. A scenario's ``baseline`` file then replaces the
    baseline (:func:`alloc.inputs.user_baseline.apply_user_baseline`), carried from its own
    footprint when that is another geography.
    """
    folder = resolve_data_folder(scenario, scenario_path)
    inputs = load_inputs(folder)
    own = folder / "practices.csv" if folder is not None else None
    practices = load_practices(own) if own is not None and own.is_file() else None
    inputs = refootprint(inputs, scenario.geography, practices, base=scenario_path.parent)
    if scenario.baseline is not None:  # the user's figures replace the dataset's baseline
        inputs = apply_user_baseline(
            inputs, scenario.baseline, scenario.geography, practices, base=scenario_path.parent
        )
    return inputs


def prepare(
    scenario: Scenario | str | Path | None = None,
    overrides: list[str] | None = None,
    scenario_path: Path | None = None,
    raw: dict | None = None,
) -> Prepared:
    """Load and validate everything a scenario needs, up to the kernel inputs."""
    if not isinstance(scenario, Scenario):
        scenario, scenario_path, raw = load_scenario(scenario, overrides)
    scenario_path = Path(scenario_path) if scenario_path else Path("<scenario>")
    raw = raw if raw is not None else scenario.model_dump(mode="json")
    source = str(scenario_path)

    inputs = load_scenario_inputs(scenario, scenario_path)
    formula, formula_path = load_formula(scenario.formula, scenario_path.parent)
    overrides_for_policy = {k: v for k, v in scenario.policy.model_dump().items() if k != "use"}
    try:
        policy, policy_path = load_policy(
            scenario.policy.use,
            overrides_for_policy,
            scenario_path.parent,
            source=f"{source} [policy]",
        )
    except AllocError as exc:  # a bad policy value given with --set policy.KEY=VALUE names it
        raise blame_overrides(exc, scenario, prefix="policy.") from None
    # Name the file the policy's numbers came from: the scenario when it overrides any of them.
    policy_source = f"{source} [policy]" if overrides_for_policy else str(policy_path)
    years = _check_years(scenario, inputs, source)

    used = {}
    for name in ("population_growth", "gdp_deflator_growth", "envelope_growth"):
        value = getattr(scenario, name)
        used[name] = _assumption(inputs, name) if value is None else value

    population = project_population(inputs["gp_pop"], years, used["population_growth"])
    baseline_svc = inputs["baseline"]
    envelope = envelope_path(float(baseline_svc.sum()), years, used["envelope_growth"], source)
    service_share = (baseline_svc.sum("icb") / baseline_svc.sum()).values  # (S,)
    env_svc = envelope[None, :] * service_share[:, None]  # (S, Y+1)
    share_svc = target_shares(inputs, formula, formula_path, population)  # (icb, service, year)
    target_svc = share_svc * xr.DataArray(
        env_svc, dims=("service", "year"), coords={"service": inputs["service"], "year": years}
    )

    arrays = kernel_arrays(
        policy,
        years[1:],
        population.transpose("year", "icb").values,
        used["gdp_deflator_growth"],
        policy_source,
    )
    tsvc = target_svc.transpose("service", "year", "icb").values  # (S, Y+1, N)
    if scenario.convergence_level == "total":
        base = baseline_svc.sum("service").values[None, :]
        targets = tsvc.sum(axis=0)[None, 1:, :]
        envs = envelope[None, 1:]
        units = None
    else:
        base = baseline_svc.transpose("service", "icb").values
        targets = tsvc[:, 1:, :]
        envs = env_svc[:, 1:]
        units = list(inputs["service"].values)
    prep = Prepared(
        scenario,
        raw,
        source,
        inputs,
        formula,
        policy,
        policy_source,
        years,
        population,
        envelope,
        share_svc,
        target_svc,
        arrays,
        base,
        targets,
        envs,
        units,
        used,
    )
    _prepare_spend(prep, scenario_path)
    if policy.kind == "deadline":  # the smallest common pace that meets the deadline
        prep.convergence_rate, prep.policy_arrays = common_pace(prep, solve_glide_paths)
    return prep


def _prepare_spend(prep: Prepared, scenario_path: Path) -> None:
    """Spend projection, pathway left shift and, for rebased savings, the kernel's base cuts."""
    from alloc.pathways import load_common
    from alloc.pathways.spend import project_spend, rebase_adjustment

    scenario, years, source = prep.scenario, prep.years, prep.source
    common, common_path = load_common()
    spend_set = scenario.spend
    growth = (
        spend_set.non_demographic_growth
        if spend_set and spend_set.non_demographic_growth is not None
        else common.non_demographic_growth.value
    )
    inflation = (
        spend_set.cost_inflation
        if spend_set and spend_set.cost_inflation is not None
        else common.cost_inflation.value
    )
    section = scenario.pathways
    discount = (
        section.discount_rate
        if section and section.discount_rate is not None
        else common.discount_rate.value
    )
    population = prep.population.sel(year=years)
    left_shift = None
    if section is not None and section.levers:
        from alloc.pathways import project_left_shift
        from alloc.pathways.drivers import need_indices

        left_shift = project_left_shift(
            section,
            prep.inputs["baseline"],
            population,
            years,
            inflation,
            source,
            scenario_path.parent,
            need_index=need_indices(prep.inputs, years[0]),  # need by ICB ([drivers])
        )
        left_shift = left_shift.isel(draw=0, drop=True)
    prep.spend = project_spend(
        prep.inputs["baseline"], population, years, growth, inflation, discount, left_shift, source
    )
    prep.left_shift = left_shift
    prep.pathway_assumptions = {
        "non_demographic_growth": growth,
        "cost_inflation": inflation,
        "discount_rate": discount,
        "common_file": str(common_path),
        "savings_policy": (scenario.savings.policy if scenario.savings else "retained"),
    }
    if left_shift is not None and scenario.savings is not None:
        adjust = rebase_adjustment(
            prep.spend["left_shift_saving_by_service"], scenario.savings, years
        ).transpose("service", "year", "icb")
        if np.any(adjust.values):
            prep.rebase = adjust
            if prep.units is None:
                prep.base_adjust = adjust.sum("service").values[None, 1:, :]
            else:
                prep.base_adjust = adjust.sel(service=prep.units).values[:, 1:, :]


def run(
    scenario: Scenario | str | Path | None = None,
    overrides: list[str] | None = None,
    scenario_path: Path | None = None,
    raw: dict | None = None,
    on_stage: Callable[..., None] | None = None,
) -> xr.Dataset:
    """Run one scenario end to end.

    Parameters
    ----------
    scenario : Scenario, str or Path, optional
        A validated scenario, or a scenario file / shipped scenario name (default ``default``).
    overrides : list of str, optional
        ``KEY=VALUE`` overrides applied when loading from a file.
    on_stage : callable, optional
        Called as each stage starts, for progress and timings: ``on_stage(stage)`` or
        ``on_stage(stage, part)`` with the names in :data:`STAGES`.

    Returns
    -------
    xarray.Dataset
        Dimensions ``icb``, ``year`` (base year first), ``service``. Money in GBP (cash):
        ``baseline`` (icb), ``baseline_by_service`` (icb, service), ``envelope`` (year),
        ``target`` (icb, year) and ``target_by_service`` (icb, service, year) with
        ``target = target_share * envelope``, ``allocation`` (icb, year), ``dft`` (icb, year)
        = (allocation - target) / target [fraction], ``growth`` (icb, year) [fraction on the
        previous year], ``population`` [persons], ``allocation_per_head`` [GBP per person],
        ``policy_status`` (year). Provenance in the attributes.
    """
    on_stage = on_stage or _no_stage
    on_stage(*STAGES[0])
    prep = prepare(scenario, overrides, scenario_path, raw)
    on_stage(*STAGES[1])
    relax = prep.policy.fallback == "relax"
    alloc, _, status, gap = solve_glide_paths(
        prep.kernel_base,
        prep.kernel_targets,
        prep.kernel_envelopes,
        prep.policy_arrays,
        relax,
        prep.base_adjust,
    )
    try:
        _raise_infeasible(
            status,
            gap,
            prep.years,
            prep.units,
            prep.kernel_envelopes,
            prep.policy_source,
            prep.policy,
        )
    except AllocError as exc:  # a floor or cap given with --set policy.KEY=VALUE is named so
        raise blame_overrides(exc, prep.scenario, prefix="policy.") from None
    check_invariants(
        alloc,
        prep.kernel_base,
        prep.kernel_targets,
        prep.kernel_envelopes,
        prep.policy_arrays,
        status,
        prep.source,
        prep.base_adjust,
    )
    retained = None
    if prep.base_adjust is not None:  # the same policy with savings retained, for comparison
        retained, _, status_r, gap_r = solve_glide_paths(
            prep.kernel_base, prep.kernel_targets, prep.kernel_envelopes, prep.policy_arrays, relax
        )
        _raise_infeasible(
            status_r,
            gap_r,
            prep.years,
            prep.units,
            prep.kernel_envelopes,
            prep.policy_source,
            prep.policy,
        )
    on_stage(*STAGES[2])
    return assemble(prep, alloc, status, retained)


#: What :func:`run` tells ``on_stage`` as ``(stage, part)``, in order: the scenario's inputs,
#: policy and targets up to the kernel's arrays; the pace-of-change kernel (numba) and its
#: run-time checks; the labelled result Dataset.
STAGES = (
    ("loading inputs", "inputs, targets and policy"),
    ("solving", "kernel and checks"),
    ("solving", "labelled result"),
)


def _no_stage(stage: str, part: str | None = None) -> None:
    """No progress wanted."""


def kernels_cached(scenario: Scenario) -> bool:
    """Whether numba's cache holds the kernels a run of ``scenario`` uses (else the run compiles
    them first: tens of seconds, once). Cheap: reads one small index file per kernel."""
    from alloc.kernels.cache import cached

    kernels = [pace.glide_path]
    if scenario.pathways is not None and scenario.pathways.levers:  # left shift: cohort kernel
        from alloc.kernels import cohort

        kernels.append(cohort.cohort_project)
    return cached(*kernels)


def assemble(
    prep: Prepared, alloc: np.ndarray, status: np.ndarray, retained: np.ndarray | None = None
) -> xr.Dataset:
    """Labelled result Dataset from the kernel's allocations (B, Y, N) and statuses (B, Y).

    ``retained`` (B, Y, N): the allocations the same policy gives when savings are retained
    (only when the scenario rebases or shares savings).
    """
    inputs, years, envelope = prep.inputs, prep.years, prep.envelope
    baseline_svc, target_svc, population = inputs["baseline"], prep.target_svc, prep.population
    # Base year first, then the projection; per-service allocations only at service level.
    path = np.concatenate([prep.kernel_base[:, None, :], alloc], axis=1)  # (B, Y+1, N)
    coords = {"year": years, "icb": inputs["icb"]}
    allocation = xr.DataArray(path.sum(axis=0), dims=("year", "icb"), coords=coords).T
    target = target_svc.sum("service")
    result = xr.Dataset(
        coords=inputs[["icb_name", "region", "region_code", "ons_code", "lat", "lon"]].coords
    )
    result = result.assign_coords(
        service=inputs["service"],
        year=years,
        service_name=inputs["service_name"],
        programme_of_care=inputs["programme_of_care"],
        pathway=inputs["pathway"],
    )
    money = {"units": "GBP", "price_base": "cash"}
    result["baseline"] = _labelled(
        baseline_svc.sum("service"),
        money,
        long_name=f"historic-cost baseline {year_label(years[0])}",
    )
    result["baseline_by_service"] = _labelled(baseline_svc, money)
    result["envelope"] = xr.DataArray(
        envelope,
        dims="year",
        coords={"year": years},
        attrs=dict(money, long_name="national envelope"),
    )
    result["target_share"] = _labelled(
        target / envelope_da(envelope, years), units="1", long_name="target share of the envelope"
    )
    result["target_share_by_service"] = _labelled(prep.share_svc, units="1")
    result["target"] = _labelled(target, money, long_name="needs-based target")
    result["target_by_service"] = _labelled(target_svc, money)
    result["allocation"] = _labelled(allocation, money, long_name="allocation")
    if prep.units is not None:
        by_service = xr.DataArray(
            path,
            dims=("service", "year", "icb"),
            coords={"service": inputs["service"], "year": years, "icb": inputs["icb"]},
        )
        result["allocation_by_service"] = _labelled(by_service, money)
    result["dft"] = _labelled(
        distance_from_target(allocation, target),
        units="1",
        long_name="distance from target (allocation - target) / target; negative = under target",
    )
    result["growth"] = _labelled(
        allocation / allocation.shift(year=1) - 1,
        units="1",
        long_name="cash growth on the previous year",
    )
    result["population"] = _labelled(
        population, units="persons", long_name="GP-registered population"
    )
    result["allocation_per_head"] = _labelled(
        allocation / population, units="GBP per person", price_base="cash"
    )
    _assemble_spend(result, prep, allocation, retained, coords)
    worst = np.concatenate([[pace.STATUS_OK], status.max(axis=0)])
    result["policy_status"] = xr.DataArray(
        [STATUS_MESSAGES[int(s)] for s in worst], dims="year", coords={"year": years}
    )
    if "crosswalk" in inputs:
        result["crosswalk"] = inputs["crosswalk"]
    result = result.transpose("icb", "service", "year", ...)
    result.attrs.update(
        {k: v for k, v in inputs.attrs.items() if k.startswith(("geography", "baseline_"))},
        alloc_version=__version__,
        scenario_name=prep.scenario.name,
        scenario_description=prep.scenario.description,
        scenario_file=prep.source,
        scenario_hash=scenario_hash(prep.raw),
        scenario_json=json.dumps(prep.raw, sort_keys=True),
        policy_name=prep.policy.name,
        policy_kind=prep.policy.kind,
        policy_json=prep.policy.model_dump_json(),
        formula_name=prep.formula.name,
        convergence_level=prep.scenario.convergence_level,
        input_hash=inputs.attrs["input_hash"],
        data_folder=inputs.attrs["data_folder"],
        assumptions_json=inputs.attrs["assumptions"],
        envelope_growth=json.dumps(prep.assumptions_used["envelope_growth"]),
        population_growth=prep.assumptions_used["population_growth"],
        gdp_deflator_growth=prep.assumptions_used["gdp_deflator_growth"],
        seed=0,
        price_base="cash",
        base_year=years[0],
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        spend_assumptions_json=json.dumps(prep.pathway_assumptions),
    )
    if prep.convergence_rate is not None:
        result.attrs["policy_convergence_rate"] = prep.convergence_rate
    if prep.left_shift is not None:
        result.attrs["pathway_files"] = prep.left_shift.attrs.get("pathway_files", "")
        result.attrs["pathway_warnings"] = prep.left_shift.attrs.get("warnings", "[]")  # JSON
    return result


def _assemble_spend(
    result: xr.Dataset,
    prep: Prepared,
    allocation: xr.DataArray,
    retained: np.ndarray | None,
    coords: dict,
) -> None:
    """Add spend, net position, left shift and the savings policy's effect to a result.

    Always: ``spend``, ``spend_by_service``, ``spend_without_left_shift``, ``left_shift_saving``
    (icb, year), ``upstream_cost`` (icb, payer, year), ``net_position`` = allocation - spend
    (icb, year). With levers: the pathway detail of :func:`alloc.pathways.spend.project_spend`; with
    rebased or shared savings also ``allocation_if_retained``, ``savings_policy_effect``
    (= allocation - allocation_if_retained) and ``rebase_adjustment`` (icb, year).
    """
    money = {"units": "GBP", "price_base": "cash"}
    for name, da in prep.spend.data_vars.items():
        result[name] = _labelled(da, da.attrs)
    result["net_position"] = _labelled(
        allocation - result["spend"],
        money,
        long_name="net position = allocation - spend; positive = allocation above projected spend",
    )
    if retained is not None:
        path = np.concatenate([prep.kernel_base[:, None, :], retained], axis=1).sum(axis=0)
        kept = xr.DataArray(path, dims=("year", "icb"), coords=coords).T
        result["allocation_if_retained"] = _labelled(
            kept,
            money,
            long_name=("allocation under the same policy had the ICB retained its savings"),
        )
        result["savings_policy_effect"] = _labelled(
            allocation - kept,
            money,
            long_name=(
                "allocation - allocation_if_retained: what the savings policy takes from (or gives "
                "to) each ICB"
            ),
        )
        result["rebase_adjustment"] = _labelled(
            prep.rebase.sum("service").transpose("icb", "year"),
            money,
            long_name="reduction of the allocation base in each year",
        )


def _labelled(da: xr.DataArray, *bases: dict, **attrs) -> xr.DataArray:
    """A copy of ``da`` whose attributes are exactly ``bases`` + ``attrs`` (none inherited)."""
    out = da.copy()
    out.attrs = {k: v for base in bases for k, v in base.items()} | attrs
    return out


def envelope_da(envelope: np.ndarray, years: list[int]) -> xr.DataArray:
    """Envelope as a labelled array over ``year`` [GBP]."""
    return xr.DataArray(envelope, dims="year", coords={"year": years})
