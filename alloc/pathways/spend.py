"""Expenditure projection: what ICBs are expected to spend on delegated specialised services.

For ICB ``i``, service line ``s`` and year ``t`` (base year ``b``), all money in cash GBP::

    spend_without_left_shift[i,s,t] = baseline[i,s] * (pop[i,t] / pop[i,b]) * G[t]
    G[t]                            = prod_{tau = b+1..t} (1 + g_nd[tau])
    spend[i,s,t] = spend_without_left_shift[i,s,t] - left_shift_saving[i,s,t]
                   + upstream_specialised[i,s,t]
    net_position[i,t] = allocation[i,t] - sum_s spend[i,s,t]

``pop / pop_b`` is **demographic growth** (the scenario's registered-population projection, a
labelled assumption of the data); ``g_nd`` is **non-demographic growth** (prices and intensity,
cash per head; ``models/pathways/common.toml``, illustrative, overridable in a scenario's
``[spend]``). ``left_shift_saving`` is the delegated specialised spend the scenario's levers
avoid, and ``upstream_specialised`` the part of the levers' investment that itself falls on the
delegated specialised budget (e.g. a home-dialysis programme): nothing else enters spend.

Pathway results come in base-year prices and are turned into cash with the cost-inflation
assumption ``pi``: ``cash[t] = real[t] * (1 + pi) ** (t - b)``. Return on investment discounts
real flows at the discount rate ``rho`` (3.5%, the NICE reference case) to the base year::

    PV(x) = sum_t real_x[t] / (1 + rho) ** (t - b)
    roi[i,p] = (PV(saving[i,p]) - PV(upstream[i,p])) / PV(sum_p upstream[i,p])

so ``roi`` summed over payers is the ICB's net return per pound invested, and each payer's entry
says who gains and who pays.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alloc.errors import AllocError
from alloc.inputs.pathway_spec import PAYERS, SavingsPolicy
from alloc.inputs.years import growth_index, year_label

SPECIALISED = "ICB_delegated_specialised"


def _da(values, like: xr.DataArray, **attrs) -> xr.DataArray:
    out = xr.DataArray(values, dims=like.dims, coords=like.coords)
    out.attrs = attrs
    return out


def project_spend(
    baseline: xr.DataArray,
    population: xr.DataArray,
    years: list[int],
    non_demographic_growth,
    cost_inflation: float,
    discount_rate: float,
    left_shift: xr.Dataset | None = None,
    source: str = "spend",
) -> xr.Dataset:
    """Project delegated specialised spend per ICB and year, with the left shift if any.

    Parameters
    ----------
    baseline : DataArray (icb, service)
        Historic-cost baseline [GBP, base-year cash].
    population : DataArray (icb, year)
        Registered population [persons], base year first.
    years : list of int
        Base year, then the projection years.
    non_demographic_growth : float or dict
        ``g_nd`` [fraction per year, cash], a number or a year-keyed table.
    cost_inflation : float
        ``pi`` [fraction per year]: base-year prices -> cash.
    discount_rate : float
        ``rho`` [fraction per year] for present values and ROI.
    left_shift : Dataset, optional
        One draw of :func:`alloc.pathways.project_left_shift` (no ``draw`` dim).

    Returns
    -------
    xarray.Dataset
        Cash GBP unless stated: ``spend_without_left_shift`` (icb, year),
        ``spend_by_service`` (icb, service, year), ``spend`` (icb, year),
        ``left_shift_saving_by_service`` (icb, service, year), ``left_shift_saving`` (icb, year),
        ``upstream_cost`` (icb, payer, year); with levers also ``downstream_saving`` (icb, payer,
        year), ``upstream_cost_by_lever`` (icb, lever, year), ``activity`` and
        ``activity_avoided`` (icb, activity, year) [units in ``activity_unit``],
        ``pv_saving`` and ``pv_upstream_cost`` (icb, payer) [GBP, real base year, discounted],
        ``roi`` (icb, payer) and ``roi_total`` (icb) [GBP per GBP invested],
        ``calibration_factor`` (icb, service) [dimensionless].
    """
    base = years[0]
    pop = population.sel(year=years).transpose("icb", "year")
    demographic = pop / pop.sel(year=base)
    nd = xr.DataArray(
        growth_index(non_demographic_growth, years, source, "non_demographic_growth"),
        dims="year",
        coords={"year": years},
    )
    cash = xr.DataArray(
        (1.0 + cost_inflation) ** (np.array(years) - base), dims="year", coords={"year": years}
    )
    money = {"units": "GBP", "price_base": "cash"}
    without = (baseline * demographic * nd).transpose("icb", "service", "year")
    zeros_sy = xr.zeros_like(without)
    saving_svc = zeros_sy.copy()
    upstream_spec_svc = zeros_sy.copy()
    payer_like = xr.DataArray(
        np.zeros((baseline.sizes["icb"], len(PAYERS), len(years))),
        dims=("icb", "payer", "year"),
        coords={"icb": baseline["icb"], "payer": list(PAYERS), "year": years},
    )
    upstream = payer_like.copy()
    out = xr.Dataset()
    if left_shift is not None:
        lines = [str(s) for s in left_shift["service"].values]
        real_saving = left_shift["specialised_counterfactual"] - left_shift["specialised_scenario"]
        saving_svc.loc[{"service": lines}] = (
            (real_saving * cash).transpose("icb", "service", "year").values
        )
        lever_cash = (left_shift["lever_cost"] * cash).transpose("icb", "lever", "year")
        for lever in lever_cash["lever"].values:
            one = lever_cash.sel(lever=lever)
            payer = str(one["lever_payer"].values)
            upstream.loc[{"payer": payer}] += one.values
            if payer == SPECIALISED:
                svc = str(one["lever_service"].values)
                upstream_spec_svc.loc[{"service": svc}] += one.values
        downstream = (
            (left_shift["cost_counterfactual"] - left_shift["cost_scenario"]) * cash
        ).transpose("icb", "payer", "year")
        out["downstream_saving"] = _da(
            downstream.values,
            payer_like,
            **money,
            long_name=(
                "pathway cost avoided by the levers, by payer (negative = extra cost, e.g. people "
                "living longer in an earlier state)"
            ),
        )
        out["upstream_cost_by_lever"] = lever_cash.assign_attrs(
            **money, long_name="upstream investment by lever"
        )
        act_cf = left_shift["activity_counterfactual"].transpose("icb", "activity", "year")
        act_sc = left_shift["activity_scenario"].transpose("icb", "activity", "year")
        out["activity"] = act_sc.assign_attrs(
            long_name="pathway activity with the levers; unit in activity_unit"
        )
        out["activity_avoided"] = (act_cf - act_sc).assign_attrs(
            long_name="activity avoided by the levers (counterfactual - scenario); unit in "
            "activity_unit"
        )
        disc = xr.DataArray(
            1.0 / (1.0 + discount_rate) ** (np.array(years) - base),
            dims="year",
            coords={"year": years},
        )
        real = {
            "units": "GBP",
            "price_base": f"real {year_label(base)}, discounted at "
            f"{discount_rate:.1%} a year to {year_label(base)}",
        }
        pv_saving = ((downstream / cash) * disc).sum("year")
        pv_upstream = ((upstream / cash) * disc).sum("year")
        invested = pv_upstream.sum("payer")
        safe = xr.where(invested > 0, invested, np.nan)
        out["pv_saving"] = pv_saving.assign_attrs(
            **real, long_name="present value of pathway costs avoided, by payer"
        )
        out["pv_upstream_cost"] = pv_upstream.assign_attrs(
            **real, long_name="present value of upstream investment, by payer"
        )
        out["roi"] = ((pv_saving - pv_upstream) / safe).assign_attrs(
            units="GBP per GBP invested",
            long_name="net return to each payer per pound of "
            "total upstream investment (PV); sums over payers to roi_total; NaN = no investment",
        )
        out["roi_total"] = ((pv_saving - pv_upstream).sum("payer") / safe).assign_attrs(
            units="GBP per GBP invested",
            long_name="net return to all payers per pound invested (PV)",
        )
        factor = (
            left_shift["calibration_factor"]
            .transpose("icb", "service")
            .reindex(service=baseline["service"])
        )  # NaN for service lines without a pathway
        out["calibration_factor"] = factor.assign_attrs(
            units="1",
            long_name="per-ICB cost factor k = baseline / (national volume factor x modelled "
            "base-year specialised cost at national unit costs); base-year pathway specialised "
            "cost then equals the service line's baseline (alloc.pathways.calibration)",
        )
        out["calibration_volume_factor"] = (
            left_shift["volume_factor"]
            .reindex(service=baseline["service"])
            .assign_attrs(
                units="1",
                long_name="national volume factor v on the pathway's people and activity, from "
                "published activity (calibration table) or, without a figure, national spend",
            )
        )
        table = [v for v in left_shift.data_vars if "calibration" in left_shift[v].dims]
        for name in table:
            out[name] = left_shift[name]  # the calibration table (dim calibration)
        if "need_index" in left_shift:
            out["need_index"] = left_shift["need_index"]
    spend_svc = without - saving_svc + upstream_spec_svc
    out["spend_without_left_shift"] = _da(
        without.sum("service").values,
        without.sum("service"),
        **money,
        long_name="projected spend before left shift: "
        "baseline x demographic x non-demographic growth",
    )
    out["left_shift_saving_by_service"] = _da(
        saving_svc.values, saving_svc, **money, long_name="delegated specialised spend avoided"
    )
    out["left_shift_saving"] = _da(
        saving_svc.sum("service").values,
        saving_svc.sum("service"),
        **money,
        long_name="delegated specialised spend avoided by the left-shift levers",
    )
    out["upstream_cost"] = _da(
        upstream.values, payer_like, **money, long_name="upstream (left-shift) investment by payer"
    )
    out["spend_by_service"] = _da(
        spend_svc.values, spend_svc, **money, long_name="projected delegated specialised spend"
    )
    out["spend"] = _da(
        spend_svc.sum("service").values,
        spend_svc.sum("service"),
        **money,
        long_name="projected delegated specialised spend = spend_without_left_"
        "shift - left_shift_saving + upstream_cost[ICB_delegated_specialised]",
    )
    if (spend_svc < 0).any():
        bad = spend_svc.where(spend_svc < 0, drop=True)
        raise AllocError(
            source,
            "pathways",
            f"projected spend on "
            f"'{str(bad['service'].values[0])}' turns negative: the levers save "
            "more than the projected spend; check the lever effects and uptake",
        )
    return out


def rebase_adjustment(
    saving_by_service: xr.DataArray, savings: SavingsPolicy | None, years: list[int]
) -> xr.DataArray:
    """Reduction of each ICB's allocation base per service line and year [GBP, cash].

    With rebased fraction ``phi`` (0 retained, 1 rebased, ``1 - retained_fraction`` shared),
    lag ``L`` and saving ``S[t]`` (0 before the first projection year)::

        adjust[t] = phi * (S[t - L] - S[t - L - 1])

    The kernel carries the base forward, so the cumulative reduction of the base in year ``t``
    is ``phi * S[t - L]``: after the lag the allocation base follows the ICB's lower outturn.
    The base year is never adjusted.
    """
    adjust = xr.zeros_like(saving_by_service)
    if savings is None or savings.rebased_fraction == 0.0:
        return adjust
    out = rebase_steps(
        saving_by_service.transpose(..., "year").values, savings.rebased_fraction, savings.lag
    )
    adjust.values = np.moveaxis(out, -1, list(saving_by_service.dims).index("year"))
    return adjust.assign_attrs(units="GBP", price_base="cash")


def rebase_steps(saving: np.ndarray, rebased_fraction: float, lag: int) -> np.ndarray:
    """``adjust[..., t] = phi * (S[..., t - L] - S[..., t - L - 1])`` on plain arrays.

    ``saving`` [GBP] has the year last, base year first; terms before the first projection
    year are 0. See :func:`rebase_adjustment`.
    """
    out = np.zeros_like(saving)
    for y in range(1, saving.shape[-1]):
        cur = saving[..., y - lag] if y - lag >= 1 else 0.0
        prev = saving[..., y - lag - 1] if y - lag - 1 >= 1 else 0.0
        out[..., y] = rebased_fraction * (cur - prev)
    return out
