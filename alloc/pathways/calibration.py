"""Calibration of a cohort to published national activity and to each ICB's baseline, and the
run-time plausibility invariants of the pathway results.

Two steps, both per parameter draw:

1. **National volume** ``v`` [dimensionless]: the cohort's people and activity are scaled so that
   the national base-year activity matches the published figures of the pathway file's
   ``[calibration.<name>]`` for this cohort: ``v`` is the geometric mean over those figures of
   published / modelled rate per person (so one figure is matched exactly; with several, each
   must then lie within its stated tolerance). A cohort with no published figure takes
   ``v = sum_n baseline_n / sum_n C_n``: its volume follows national spend.
2. **Per-ICB cost factor** ``k_n = baseline_n / (v C_n)`` [dimensionless], with ``C_n`` the ICB's
   modelled base-year specialised cost at national unit costs: every cost of the ICB's cohort
   (all payers, and lever costs priced per person reached) is multiplied by ``v k_n``, so the
   ICB's base-year specialised spend equals its baseline exactly, while its activity stays at
   ``v`` times the model's (need-driven) activity. ``k_n`` absorbs what the model does not
   explain: local prices, intensity, unmodelled need and the illustrative baseline split. It is
   reported per ICB and service line and a warning is collected when it falls outside
   :data:`PLAUSIBLE_FACTOR`.

Because the cohort is linear in its initial stocks and inflows, neither step changes an ICB's
saving / baseline: that ratio is set by the need drivers (:mod:`alloc.pathways.drivers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alloc.errors import AllocError
from alloc.inputs.pathway_spec import PAYERS, CalibrationSpec, PathwaySpec
from alloc.pathways.base import DAYS_PER_YEAR, SPECIALISED, CohortModel, CohortRun, calibrate

#: Plausible range of the per-ICB cost factor k [dimensionless]. Outside it an ICB's baseline is
#: less than half or more than twice what its modelled need costs at national unit costs: far
#: more than unit costs vary between areas (the market forces factor of this dataset spans
#: 0.98-1.03) or than the drivers' need indices leave unexplained, so the baseline line, the
#: unit costs or the drivers deserve a check. A warning, not an error: the baseline is the ICB's.
PLAUSIBLE_FACTOR = (0.5, 2.0)
#: Rounding allowance of the invariants [fraction of the largest value compared].
INVARIANT_RTOL = 1e-9


@dataclass
class CalibrationRow:
    """One published figure against the central (draw 0) modelled national activity."""

    pathway: str
    service: str
    name: str
    label: str
    activity: str
    unit: str
    year: str
    area: str
    source: str
    published: float
    modelled_uncalibrated: float  # national equivalent before the volume factor
    modelled: float  # national equivalent after it
    tolerance: float

    @property
    def ratio(self) -> float:
        """Modelled / published [dimensionless]."""
        return self.modelled / self.published

    @property
    def within(self) -> bool:
        return abs(self.ratio - 1.0) <= self.tolerance + 1e-12


def base_activity(model: CohortModel, run: CohortRun, activity: str, year: int = 0) -> np.ndarray:
    """Activity (D, N) of a run in one year: an ``activity`` key or ``inflow`` (all streams)."""
    if activity == "inflow":
        return run.inflow[:, year, :]
    return run.acc[:, year, :, model.acc_names.index(f"activity:{activity}")]


def national(per_icb: np.ndarray, pop0: np.ndarray, population: np.ndarray) -> np.ndarray:
    """National equivalent (D, ...) of per-ICB values (D, ..., N) at the rate per person of the
    ICBs run [same unit]: ``sum_n x_n / sum_n pop0_n * population``."""
    return per_icb.sum(axis=-1) / pop0.sum() * population.reshape((-1,) + (1,) * (per_icb.ndim - 2))


def _published(name: str, values: dict) -> tuple[np.ndarray, np.ndarray]:
    return values[f"calibration.{name}.published"], values[f"calibration.{name}.population"]


def calibrate_cohort(
    spec: PathwaySpec,
    model: CohortModel,
    counterfactual: CohortRun,
    baseline: np.ndarray,
    pop: np.ndarray,
    values: dict[str, np.ndarray],
    source: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[CalibrationRow]]:
    """National volume factor and per-ICB cost factors of one cohort (see the module docstring).

    Parameters
    ----------
    counterfactual : CohortRun
        The unscaled counterfactual arm (:func:`alloc.pathways.base.run_arm`).
    baseline : ndarray (N,)
        The ICBs' baseline on the cohort's service line [GBP, base-year cash].
    pop : ndarray (Y, N)
        Registered population [persons]; year 0 is the base year.

    Returns
    -------
    money : ndarray (D, N)
        ``v * k`` [dimensionless]: the factor on every cost (``baseline / C``).
    volume : ndarray (D,)
        ``v`` [dimensionless]: the factor on people and activity.
    factor : ndarray (D, N)
        ``k`` [dimensionless]: the per-ICB cost factor reported.
    rows : list of CalibrationRow
        The cohort's published figures against draw 0.
    """
    money = calibrate(model, counterfactual, baseline, source)  # baseline / C, checks C > 0
    figures: dict[str, CalibrationSpec] = {
        k: f for k, f in spec.calibration.items() if f.cohort == model.cohort
    }
    raw = {}
    for name, fig in figures.items():
        published, population = _published(name, values)
        modelled = national(base_activity(model, counterfactual, fig.activity), pop[0], population)
        if not (modelled > 0).all():
            raise AllocError(
                source,
                f"calibration.{name}.activity",
                f"the model has no '{fig.activity}' activity in the base year to calibrate to "
                "the published figure",
            )
        raw[name] = modelled
    if raw:
        logs = [np.log(_published(n, values)[0] / m) for n, m in raw.items()]
        volume = np.exp(np.mean(logs, axis=0))
    else:  # no published activity: the national volume follows national spend
        cost = counterfactual.acc[:, 0, :, model.acc_names.index(f"cost:{SPECIALISED}")]
        volume = baseline.sum() / cost.sum(axis=-1)
    rows = [
        CalibrationRow(
            model.pathway,
            model.service_line,
            name,
            fig.label,
            fig.activity,
            fig.published.unit,
            fig.year,
            fig.area,
            fig.published.source or fig.published.illustrative or "",
            float(_published(name, values)[0][0]),
            float(raw[name][0]),
            float(raw[name][0] * volume[0]),
            float(values[f"calibration.{name}.tolerance"][0]),
        )
        for name, fig in figures.items()
    ]
    return money, volume, money / volume[:, None], rows


def factor_warnings(pathway: str, service: str, icbs: list[str], factor: np.ndarray) -> list[str]:
    """Warnings for central per-ICB cost factors (N,) outside :data:`PLAUSIBLE_FACTOR`."""
    low, high = PLAUSIBLE_FACTOR
    out = [
        (icb, float(k)) for icb, k in zip(icbs, factor) if not low <= k <= high and np.isfinite(k)
    ]
    if not out:
        return []
    shown = ", ".join(f"{icb} {k:.2f}" for icb, k in sorted(out, key=lambda x: x[1])[:6])
    more = f" and {len(out) - 6} more" if len(out) > 6 else ""
    return [
        f"{pathway}: calibration factor of '{service}' outside the plausible range "
        f"[{low:g}, {high:g}] in {len(out)} of {len(icbs)} ICBs ({shown}{more}): the baseline "
        "differs from the modelled need at national unit costs by more than a factor of 2"
    ]


def row_warnings(rows: list[CalibrationRow]) -> list[str]:
    """Warnings for published figures the calibrated model misses by more than the tolerance."""
    return [
        f"{r.pathway}: modelled {r.label.lower()} {r.modelled:,.0f} vs published "
        f"{r.published:,.0f} {r.unit} ({r.area}, {r.year}): ratio {r.ratio:.2f}, outside the "
        f"stated tolerance of {r.tolerance:.0%} (calibration.{r.name})"
        for r in rows
        if not r.within
    ]


# ---------------------------------------------------------------------------------------------
# Run-time plausibility invariants (raise AllocError naming the pathway file and field)


def check_nonnegative(run: CohortRun, model: CohortModel, path, arm: str) -> None:
    """No negative people, activity or cost in any draw, year and ICB of a scaled arm."""
    checks = [("cost or activity", run.acc), ("lever cost", run.lever_cost)]
    if run.states is not None:
        checks.append(("stock of people", run.states))
    for what, arr in checks:
        if arr.size == 0:
            continue
        # min and max propagate NaN, and bound |arr|: two passes instead of four.
        low, high = float(arr.min()), float(arr.max())
        tol = INVARIANT_RTOL * max(abs(low), abs(high), 1.0)
        if not (math.isfinite(low) and math.isfinite(high)) or low < -tol:
            raise AllocError(
                path,
                f"cohorts.{model.cohort}",
                f"plausibility check failed: a negative or non-finite {what} in the {arm} arm",
            )


def check_saving_below_cost(cf: CohortRun, sc: CohortRun, model: CohortModel, path) -> None:
    """Saving per patient below cost per patient, for every payer, year, ICB and draw.

    The people of the cohort are the same in both arms, so this is ``C_cf - C_sc <= C_cf``: the
    levers cannot avoid more than the counterfactual spends. A failure means a lever removes
    more cost than exists (e.g. a negative cost or an effect that creates people).
    """
    n_pay = len(PAYERS)
    cost_cf, cost_sc = cf.acc[..., :n_pay], sc.acc[..., :n_pay]
    tol = INVARIANT_RTOL * max(float(np.abs(cost_cf).max(initial=0.0)), 1.0)
    bad = (cost_cf - cost_sc) > cost_cf + tol
    if bad.any():
        d, y, n, p = (int(i[0]) for i in np.nonzero(bad))
        raise AllocError(
            path,
            f"cohorts.{model.cohort}",
            f"plausibility check failed: the levers save more than the counterfactual cost of "
            f"{PAYERS[p]} (year index {y}, ICB index {n}, draw {d}): saving per patient above "
            "cost per patient",
        )


def check_capacity(
    spec: PathwaySpec,
    model: CohortModel,
    runs: dict[str, CohortRun],
    pop: np.ndarray,
    values: dict[str, np.ndarray],
    years: list[int],
    path,
) -> list[str]:
    """National-equivalent occupied beds within each stated ``[capacity]`` of the cohort.

    ``runs`` are the scaled arms by name. Occupied beds = bed-days / 365.25, taken to the
    national population at the rate per person of the ICBs run. The central projection (draw 0)
    must stay within ``beds x (1 + headroom)`` in every year of both arms (AllocError otherwise);
    other parameter draws that exceed it are counted in a warning (returned), as one implausible
    draw should not stop an ensemble of thousands.
    """
    warnings = []
    for name, cap in spec.capacity.items():
        if cap.cohort != model.cohort:
            continue
        beds = values[f"capacity.{name}.beds"] * (1.0 + values[f"capacity.{name}.headroom"])
        population = values[f"capacity.{name}.population"]
        col = model.acc_names.index(f"activity:{cap.activity}")
        for arm, run in runs.items():
            occupied = national(run.acc[..., col], pop[0], population) / DAYS_PER_YEAR  # (D, Y)
            over = occupied > beds[:, None] * (1.0 + INVARIANT_RTOL)
            if over[0].any():
                y = int(np.nonzero(over[0])[0][0])
                raise AllocError(
                    path,
                    f"capacity.{name}",
                    f"plausibility check failed: {occupied[0, y]:,.0f} occupied beds modelled "
                    f"nationally in {years[y]}/{(years[y] + 1) % 100:02d} ({arm} arm) exceed "
                    f"the {cap.label} ({beds[0]:,.0f} = beds x (1 + headroom))",
                )
            n_over = int(over.any(axis=1).sum())
            if n_over:
                warnings.append(
                    f"{model.pathway}: {n_over} of {over.shape[0]} parameter draws exceed the "
                    f"{cap.label} x (1 + headroom) in some year ({arm} arm, capacity.{name})"
                )
    return warnings


# ---------------------------------------------------------------------------------------------
# The tables of docs/methodology/pathways.md (kept in sync by tests/test_pathway_drivers.py)


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def calibration_markdown() -> str:
    """Markdown tables of every pathway file's drivers and published figures, with the central
    modelled national base-year activity on the shipped dataset (42 ICBs of 2025/26)."""
    from alloc.inputs.dataset import load_inputs
    from alloc.inputs.pathway_spec import PATHWAY_NAMES, PathwaysSection
    from alloc.pathways import load_pathway, project_left_shift
    from alloc.pathways.drivers import need_indices

    inputs = load_inputs()
    base = int(inputs.attrs["base_year"])
    # Only the base year is compared: two years of base-year population suffice.
    pop = inputs["gp_pop"].sel(year=base, drop=True).expand_dims(year=[base, base + 1])
    pop = pop.transpose("icb", "year")
    drivers = [
        "| pathway | driver | need index | elasticity [low, high] | acts on | tag |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    figures = [
        "| pathway | published figure | area, year | published | unit | modelled | "
        "modelled / published | tolerance | source |",
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for name in PATHWAY_NAMES:
        spec = load_pathway(name).spec
        for key, d in spec.drivers.items():
            targets = [f"`{s}`" for s in d.states]
            if d.strata:
                targets.append("in " + ", ".join(d.strata))
            if d.inflows:
                targets.append("all inflows")
            targets += [f"lever `{lv}`" for lv in d.levers]
            e = d.elasticity
            drivers.append(
                f"| {name} | `{key}`: {d.label} | `{d.index}` | {e.value:g} [{e.range[0]:g}, "
                f"{e.range[1]:g}] | {', '.join(targets)} | {e.tag} |"
            )
        if not spec.calibration:
            continue
        levers = [{"pathway": name, "lever": next(iter(spec.levers))}]
        ds = project_left_shift(
            PathwaysSection(levers=levers),
            inputs["baseline"],
            pop,
            [base, base + 1],
            0.025,
            "docs",
            need_index=need_indices(inputs, base),
        ).isel(draw=0)
        for key, fig in spec.calibration.items():
            row = ds.sel(calibration=f"{name}.{key}")
            src = (fig.published.source or "").split(" ; ")[0]
            figures.append(
                f"| {name} | {fig.label} | {fig.area}, {fig.year} | "
                f"{_fmt(fig.published.value)} | {fig.published.unit} | "
                f"{_fmt(float(row['calibration_modelled']))} | "
                f"{float(row['calibration_ratio']):.3f} | {fig.tolerance.value:.0%} | {src} |"
            )
    return "\n".join(drivers) + "\n\n" + "\n".join(figures) + "\n"
