"""Left-shift pathway modules: renal, adult critical care, specialised mental health, liver.

Entry points:

- :func:`load_pathway` - a validated pathway module with its parameter file;
- :func:`load_common` - the cross-cutting assumptions (``models/pathways/common.toml``:
  discount rate, cost inflation, non-demographic spend growth);
- :func:`project_left_shift` - run every pathway a scenario's levers touch, counterfactual and
  scenario arms, calibrated to the baseline, as one labelled Dataset;
- :func:`alloc.pathways.base.sample_parameters` - parameter draws from a numpy Generator.

Imports are lazy so that loading a scenario does not import numba.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict

from alloc.errors import AllocError
from alloc.inputs.pathway_spec import PATHWAY_NAMES, PAYERS, PathwaysSection, Quantity
from alloc.resources import models_dir

_MODULES = {
    "renal": ("alloc.pathways.renal", "Renal"),
    "critical_care": ("alloc.pathways.critical_care", "CriticalCare"),
    "mental_health": ("alloc.pathways.mental_health", "MentalHealth"),
    "liver": ("alloc.pathways.liver", "Liver"),
}
PEOPLE_RTOL = 1e-9  # run-time check: people conserved in every year


class CommonAssumptions(BaseModel):
    """``models/pathways/common.toml``: labelled cross-cutting assumptions."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    discount_rate: Quantity
    cost_inflation: Quantity
    non_demographic_growth: Quantity


def pathway_class(name: str):
    """The module class of a pathway (``renal``, ``critical_care``, ``mental_health``, ``liver``)."""
    module, cls = _MODULES[name]
    return getattr(importlib.import_module(module), cls)


def load_pathway(name: str, path: str | Path | None = None, base: Path | None = None):
    """Load and validate a pathway module's parameter file (default: the shipped one)."""
    return pathway_class(name).load(path, base)


def chosen_pathways(section: PathwaysSection, scenario_dir: Path | None = None) -> dict:
    """The pathways a scenario's levers use, loaded (its own files where it names them), in
    :data:`PATHWAY_NAMES` order: ``{name: pathway}``."""
    return {
        name: load_pathway(name, section.files.get(name), scenario_dir)
        for name in PATHWAY_NAMES
        if any(c.pathway == name for c in section.levers)
    }


def load_common(path: str | Path | None = None) -> tuple[CommonAssumptions, Path]:
    """Read the cross-cutting assumptions (default ``models/pathways/common.toml``)."""
    from alloc.inputs.specs import load_spec

    path = Path(path) if path is not None else models_dir() / "pathways" / "common.toml"
    return load_spec(CommonAssumptions, path), path


def _label_levers(section: PathwaysSection) -> list[str]:
    labels = [f"{c.pathway}.{c.lever}" for c in section.levers]
    return [lab if labels.count(lab) == 1 else f"{lab}#{i}" for i, lab in enumerate(labels)]


def project_left_shift(
    section: PathwaysSection,
    baseline: xr.DataArray,
    population: xr.DataArray,
    years: list[int],
    cost_inflation: float,
    source: str,
    scenario_dir: Path | None = None,
    n_draws: int = 1,
    rng: np.random.Generator | None = None,
    sampler=None,
    need_index: xr.DataArray | None = None,
) -> xr.Dataset:
    """Run the pathways a scenario's levers touch; both arms, calibrated, by ICB and year.

    Parameters
    ----------
    section : PathwaysSection
        The scenario's ``[pathways]``: levers switched on and optional parameter files.
    baseline : DataArray (icb, service)
        Historic-cost baseline [GBP, base-year cash]; the calibration target.
    population : DataArray (icb, year)
        Registered population [persons] for ``years`` (base year first); drives prevalence at
        the start and the inflows.
    years : list of int
        Base year, then the projection years.
    cost_inflation : float
        Cost inflation [fraction per year], moving unit costs from their price years to
        base-year prices.
    source : str
        Scenario file name, for error messages.
    n_draws : int, optional
        Parameter draws ``D``; draw 0 is the central projection.
    rng : numpy.random.Generator, optional
        Needed when ``n_draws > 1`` (see :func:`alloc.pathways.base.sample_parameters`).
    sampler : callable, optional
        ``sampler(name, spec) -> {path: ndarray (n_draws,)}``: the parameter draws of pathway
        ``name`` (used by ensembles for position-addressed draws); replaces ``rng``.
    need_index : DataArray (icb, need), optional
        Need indices of the ICBs [dimensionless, registered-population-weighted mean 1 over
        England] (:func:`alloc.pathways.drivers.need_indices`) for the pathway files'
        ``[drivers]``; None = the same need in every ICB.

    Returns
    -------
    xarray.Dataset
        Dims ``draw``, ``icb``, ``year``, ``payer``, ``service`` (the pathways' service lines),
        ``lever``, ``activity``. Money in GBP, **base-year prices** (``price_base`` attr):
        ``cost_counterfactual`` / ``cost_scenario`` (draw, icb, payer, year): pathway costs
        without / with the levers; ``specialised_counterfactual`` / ``specialised_scenario``
        (draw, icb, service, year): the delegated specialised part by service line;
        ``lever_cost`` (draw, icb, lever, year): upstream investment, with coords
        ``lever_pathway``, ``lever_payer``, ``lever_service``, ``lever_label``;
        ``activity_counterfactual`` / ``activity_scenario`` (draw, icb, activity, year) with
        coords ``activity_unit``, ``activity_label``; ``calibration_factor`` (draw, icb,
        service): the per-ICB cost factor ``k`` and ``volume_factor`` (draw, service): the
        national volume factor ``v`` [dimensionless] (:mod:`alloc.pathways.calibration`);
        the calibration table (dim ``calibration``, draw 0): ``calibration_published``,
        ``calibration_modelled``, ``calibration_modelled_uncalibrated`` [unit in
        ``calibration_unit``], ``calibration_ratio``, ``calibration_tolerance``,
        ``calibration_within``; ``need_index`` (icb, need) when given. ``attrs["warnings"]``:
        a JSON list of plausibility warnings (calibration factors outside
        :data:`alloc.pathways.calibration.PLAUSIBLE_FACTOR`, figures outside their tolerance).
    """
    import json

    from alloc.pathways.base import central_values, run_arm, sample_parameters, scale
    from alloc.pathways.calibration import (
        calibrate_cohort,
        check_capacity,
        check_nonnegative,
        check_saving_below_cost,
        factor_warnings,
        row_warnings,
    )

    if n_draws > 1 and rng is None and sampler is None:
        raise ValueError("n_draws > 1 needs a numpy Generator")
    icbs = [str(c) for c in population["icb"].values]
    baseline = baseline.sel(icb=population["icb"].values)
    pop = population.sel(year=years).transpose("year", "icb").values.astype(float)
    services = [str(s) for s in baseline["service"].values]
    lever_labels = _label_levers(section)
    n_year, n_icb, n_lev = len(years), len(icbs), len(section.levers)
    cost_cf = np.zeros((n_draws, n_icb, len(PAYERS), n_year))
    cost_sc = np.zeros_like(cost_cf)
    lever_cost = np.zeros((n_draws, n_icb, n_lev, n_year))
    lever_meta = {k: [""] * n_lev for k in ("pathway", "payer", "service", "label")}
    spec_cf, spec_sc, factors, act_cf, act_sc, act_meta = {}, {}, {}, {}, {}, {}
    volumes, table, warnings = {}, [], []
    need = None
    if need_index is not None:
        missing = [c for c in icbs if c not in need_index["icb"].values]
        if missing:
            raise AllocError(source, "need_index", f"no need index for ICB '{missing[0]}'")
        need_index = need_index.sel(icb=icbs)
        need = {str(i): need_index.sel(need=i).values for i in need_index["need"].values}
    files = {}
    for name, pathway in chosen_pathways(section, scenario_dir).items():
        files[name] = str(pathway.path)
        if sampler is not None:
            values = sampler(name, pathway.spec)
        elif n_draws == 1:
            values = central_values(pathway.spec)
        else:
            values = sample_parameters(pathway.spec, n_draws, rng)
        models = pathway.models(
            values, section.levers, years, icbs, cost_inflation, source, need_index=need
        )
        for model in models:
            if model.service_line not in services:
                raise AllocError(
                    pathway.path,
                    f"cohorts.{model.cohort}.service_line",
                    f"service line '{model.service_line}' is not in the data",
                )
            target = baseline.sel(service=model.service_line).transpose("icb").values
            cf_raw = run_arm(model, pop, with_levers=False, store_states=n_draws == 1)
            sc_raw = (
                run_arm(model, pop, with_levers=True, store_states=n_draws == 1)
                if model.levers
                else cf_raw
            )
            for raw in (cf_raw, sc_raw):
                _check_people(raw, pathway.path, model.cohort)
            money, volume, k, rows = calibrate_cohort(
                pathway.spec, model, cf_raw, target, pop, values, str(pathway.path)
            )
            cf = scale(cf_raw, money, model, pop, volume)
            sc = scale(sc_raw, money, model, pop, volume) if sc_raw is not cf_raw else cf
            arms = {"counterfactual": cf, "scenario": sc}
            for arm, run in arms.items():
                check_nonnegative(run, model, pathway.path, arm)
            check_saving_below_cost(cf, sc, model, pathway.path)
            warnings += check_capacity(pathway.spec, model, arms, pop, values, years, pathway.path)
            volumes[model.service_line] = volume
            table += rows
            warnings += factor_warnings(name, model.service_line, icbs, k[0])
            warnings += row_warnings(rows)
            n_pay = len(PAYERS)
            cost_cf += cf.acc[..., :n_pay].transpose(0, 2, 3, 1)
            cost_sc += sc.acc[..., :n_pay].transpose(0, 2, 3, 1)
            s_index = PAYERS.index("ICB_delegated_specialised")
            spec_cf[model.service_line] = cf.acc[..., s_index].transpose(0, 2, 1)
            spec_sc[model.service_line] = sc.acc[..., s_index].transpose(0, 2, 1)
            factors[model.service_line] = k
            for a, (acc_name, (label, unit)) in enumerate(model.activity.items()):
                key = f"{name}.{model.cohort}.{acc_name.removeprefix('activity:')}"
                col = n_pay + a
                act_cf[key] = cf.acc[..., col].transpose(0, 2, 1)
                act_sc[key] = sc.acc[..., col].transpose(0, 2, 1)
                act_meta[key] = (label, unit, name)
            slots = [
                i
                for i, c in enumerate(section.levers)
                if c.pathway == name and pathway.spec.levers[c.lever].cohort == model.cohort
            ]
            for slot, i in enumerate(slots):
                lv = model.levers[slot]
                lever_cost[:, :, i, :] = sc.lever_cost[..., slot].transpose(0, 2, 1)
                lever_meta["pathway"][i] = name
                lever_meta["payer"][i] = lv.payer
                lever_meta["service"][i] = lv.service_line
                lever_meta["label"][i] = lv.label
    lines = list(spec_cf)
    acts = list(act_cf)
    coords = {
        "draw": np.arange(n_draws),
        "icb": icbs,
        "year": years,
        "payer": list(PAYERS),
        "service": lines,
        "lever": lever_labels,
        "activity": acts,
        "calibration": [f"{r.pathway}.{r.name}" for r in table],
    }
    money = {"units": "GBP", "price_base": f"real {years[0]}/{(years[0] + 1) % 100:02d}"}

    def stack(d, dim_name):
        if not d:
            return np.zeros((n_draws, n_icb, 0, n_year))
        return np.stack([d[k] for k in d], axis=2)

    ds = xr.Dataset(
        {
            "cost_counterfactual": (("draw", "icb", "payer", "year"), cost_cf, money),
            "cost_scenario": (("draw", "icb", "payer", "year"), cost_sc, money),
            "specialised_counterfactual": (
                ("draw", "icb", "service", "year"),
                stack(spec_cf, "service"),
                money,
            ),
            "specialised_scenario": (
                ("draw", "icb", "service", "year"),
                stack(spec_sc, "service"),
                money,
            ),
            "lever_cost": (("draw", "icb", "lever", "year"), lever_cost, money),
            "activity_counterfactual": (
                ("draw", "icb", "activity", "year"),
                stack(act_cf, "activity"),
                {},
            ),
            "activity_scenario": (
                ("draw", "icb", "activity", "year"),
                stack(act_sc, "activity"),
                {},
            ),
            "calibration_factor": (
                ("draw", "icb", "service"),
                np.stack([factors[s] for s in lines], axis=2)
                if lines
                else np.zeros((n_draws, n_icb, 0)),
                {"units": "1"},
            ),
            "volume_factor": (
                ("draw", "service"),
                np.stack([volumes[s] for s in lines], axis=1) if lines else np.zeros((n_draws, 0)),
                {"units": "1"},
            ),
            **_calibration_table(table),
        },
        coords=coords,
    )
    ds = ds.assign_coords(
        lever_pathway=("lever", lever_meta["pathway"]),
        lever_payer=("lever", lever_meta["payer"]),
        lever_service=("lever", lever_meta["service"]),
        lever_label=("lever", lever_meta["label"]),
        activity_label=("activity", [act_meta[a][0] for a in acts]),
        activity_unit=("activity", [act_meta[a][1] for a in acts]),
        activity_pathway=("activity", [act_meta[a][2] for a in acts]),
        **{
            f"calibration_{k}": ("calibration", [str(getattr(r, k)) for r in table])
            for k in ("pathway", "service", "label", "activity", "unit", "year", "area", "source")
        },
    )
    if need_index is not None:
        ds["need_index"] = need_index.drop_vars(
            [c for c in need_index.coords if c not in ("icb", "need")]
        )
    ds.attrs["warnings"] = json.dumps(warnings)
    ds.attrs["pathway_files"] = "; ".join(f"{k}={v}" for k, v in files.items())
    return ds


def _calibration_table(rows) -> dict:
    """Data variables of the calibration table (dim ``calibration``), central draw."""

    def col(f):
        return np.array([f(r) for r in rows], dtype=float)

    return {
        "calibration_published": ("calibration", col(lambda r: r.published), {}),
        "calibration_modelled": ("calibration", col(lambda r: r.modelled), {}),
        "calibration_modelled_uncalibrated": (
            "calibration",
            col(lambda r: r.modelled_uncalibrated),
            {},
        ),
        "calibration_ratio": ("calibration", col(lambda r: r.ratio), {"units": "1"}),
        "calibration_tolerance": ("calibration", col(lambda r: r.tolerance), {"units": "1"}),
        "calibration_within": (
            "calibration",
            np.array([r.within for r in rows], dtype=bool),
            {},
        ),
    }


def _check_people(run, path, cohort) -> None:
    """Run-time invariant: people at the end of each year = at its start + external inflow."""
    if run.states is None:
        return
    totals = run.states.sum(axis=-1)  # (D, Y + 1, N)
    change = totals[:, 1:] - totals[:, :-1]
    scale = np.maximum(totals[:, 1:], 1.0)
    if (np.abs(change - run.inflow) > PEOPLE_RTOL * scale).any() or not np.isfinite(totals).all():
        raise AllocError(
            path,
            f"cohorts.{cohort}",
            "internal check failed: people are not conserved by the cohort kernel",
        )
    if (run.states < -PEOPLE_RTOL * scale[:, :1, :, None]).any():
        raise AllocError(
            path, f"cohorts.{cohort}", "internal check failed: a negative number of people"
        )


__all__ = [
    "CommonAssumptions",
    "load_common",
    "load_pathway",
    "pathway_class",
    "project_left_shift",
    "PAYERS",
    "PATHWAY_NAMES",
]
