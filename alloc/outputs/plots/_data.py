"""Helpers shared by the charts and the workbook (no matplotlib import here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr


def central(da: xr.DataArray) -> xr.DataArray:
    """The central projection of ``da``: draw 0 if it has a ``draw`` dim, the median if it has
    a ``quantile`` dim (nearest available quantile to 0.5)."""
    if "draw" in da.dims:
        da = da.isel(draw=0) if "draw" not in da.coords else da.sel(draw=da["draw"].values[0])
    if "quantile" in da.dims:
        da = da.sel(quantile=0.5, method="nearest")
    return da


def reduce_to(da: xr.DataArray, keep: tuple[str, ...]) -> xr.DataArray:
    """Central projection of ``da`` summed over every dim not in ``keep`` (e.g. pathway, state).

    Dims in ``keep`` that ``da`` lacks are simply absent from the result.
    """
    da = central(da)
    extra = [d for d in da.dims if d not in keep]
    return da.sum(extra) if extra else da


def has_left_shift(result: xr.Dataset) -> bool:
    """Whether ``result`` models left shift: it has ``left_shift_saving`` and ``upstream_cost``
    and at least one of them is not zero (a scenario without pathway levers gives zeros)."""
    if "left_shift_saving" not in result or "upstream_cost" not in result:
        return False
    return bool((result["left_shift_saving"] != 0).any() or (result["upstream_cost"] != 0).any())


def is_illustrative(attrs: Mapping) -> bool | None:
    """Whether a result's data are illustrative (True), user-supplied (False) or unknown (None).

    The embedded dataset's baseline is generated (``data/README.md``), so any result computed
    from the embedded data folder is illustrative; a result may also say so itself with an
    ``illustrative`` attribute.
    """
    if "illustrative" in attrs:
        return bool(attrs["illustrative"])
    if attrs.get("baseline_source"):  # the user's own baseline replaced the generated one
        return False
    folder = attrs.get("data_folder")
    if folder is None:
        scenario = attrs.get("scenario_json")
        if scenario:
            return json.loads(scenario).get("data", "embedded") == "embedded"
        return None
    from alloc.resources import data_dir

    try:
        return Path(folder).resolve() == data_dir().resolve()
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------------------------
# Rounding for presentation: one rounding of each figure, shared by every chart and table
# --------------------------------------------------------------------------------------------

#: One presentation unit of money in the charts and the board pack: £0.1m [GBP].
TENTH_M = 1e5

#: Said wherever rounded figures are shown that cannot all add up.
MAY_NOT_SUM = "Figures may not sum due to rounding."


def rounded_tenths(result: xr.Dataset, name: str) -> xr.DataArray:
    """``result[name]`` [GBP] in whole £0.1m, rounded once for every chart and table.

    Each year's ICB figures are rounded together by largest remainder
    (:func:`alloc.rounding.largest_remainder`), so they sum exactly to the England total rounded
    half up, and any group of ICBs (a region) sums to the sum of its rounded figures. The ICB
    table, the region table and the waterfall all show these numbers, so one ICB-year figure is
    printed the same everywhere. Dims other than ``icb`` and ``year`` are reduced as
    :func:`reduce_to` does (central draw, summed over pathways and payers).

    Returns
    -------
    xarray.DataArray of int64
        Same ``icb`` (and ``year``) coords, in units of £0.1m.
    """
    from alloc.rounding import largest_remainder

    da = reduce_to(result[name], ("icb", "year"))
    if "year" not in da.dims:
        if name == "baseline" and "allocation" in result:
            first = result["allocation"].isel(year=0)
            if np.allclose(first.values, da.values, rtol=0, atol=1e-3):
                # the base-year allocation is the baseline: one figure, one rounding
                return rounded_tenths(result, "allocation").isel(year=0, drop=True)
        return da.copy(data=largest_remainder(da.values, unit=TENTH_M))
    da = da.transpose("icb", "year")
    out = np.column_stack(
        [largest_remainder(da.isel(year=k).values, unit=TENTH_M) for k in range(da.sizes["year"])]
    )
    return da.copy(data=out)


def tenths_text(units: int, sign: bool = False, pound: bool = True) -> str:
    """Whole £0.1m as text: ``2578 -> "£257.8m"``; ``sign`` adds + to gains (− typographic)."""
    value = abs(int(units)) / 10
    text = f"£{value:,.1f}m" if pound else f"{value:,.1f}"
    if units < 0:
        return "−" + text
    return ("+" + text) if sign and units > 0 else text


def round_steps(values, total: int, unit: float = TENTH_M):
    """Round the steps of a waterfall [GBP] to whole ``unit`` summing exactly to ``total``.

    ``total`` [units] is the rounded end minus the rounded start, as printed. Largest remainder
    (:func:`alloc.rounding.largest_remainder`) when each step can reach it by rounding up or
    down; otherwise (the start and end were rounded in other columns and differ from the sum of
    the steps by more than one unit per step) each step is rounded half up and the difference
    goes to the largest step. Every step then adds up to the total shown.
    """
    from alloc.rounding import largest_remainder, round_half_up

    values = [float(v) for v in values]
    try:
        return largest_remainder(values, unit=unit, total=int(total))
    except ValueError:
        out = np.array([round_half_up(v, unit) for v in values], dtype=np.int64)
        out[int(np.argmax(np.abs(values)))] += int(total) - int(out.sum())
        return out


def aggregate_dft(result: xr.Dataset, year: int, by: str = "region"):
    """Distance from target of groups of ICBs taken together [fraction]:
    (sum of allocations - sum of targets) / sum of targets, by ``by`` (a coord of ``icb``).

    This, not the simple average of the ICBs' distances, is a region's distance from target.
    """
    alloc = result["allocation"].sel(year=year).to_series()
    target = result["target"].sel(year=year).to_series()
    groups = result[by].to_series()
    a, t = alloc.groupby(groups).sum(), target.groupby(groups).sum()
    return (a - t) / t


def deflator_index(result: xr.Dataset):
    """GDP deflator index by year, 1 in the base year, from the result's
    ``gdp_deflator_growth`` (a number or a year-keyed table; 0 when not recorded)."""
    from alloc.inputs.years import growth_index

    raw = result.attrs.get("gdp_deflator_growth", 0.0)
    if isinstance(raw, str):
        raw = json.loads(raw)
    if isinstance(raw, np.generic):
        raw = raw.item()
    if isinstance(raw, dict):
        raw = {str(k): float(v) for k, v in raw.items()}
    years = [int(y) for y in result["year"].values]
    return growth_index(raw, years, "result", "gdp_deflator_growth")


def growth_rates(result: xr.Dataset, first, last, k0: int = 0, k1: int = -1):
    """Average annual growth from ``first`` in year ``k0`` to ``last`` in year ``k1`` (by
    position): (cash, real) [fraction a year]; real terms deflate by :func:`deflator_index`.
    ``first`` and ``last`` may be arrays (one rate per element)."""
    years = result["year"].values
    n = int(years[k1]) - int(years[k0])
    if n <= 0:
        return 0.0 * first, 0.0 * first
    ratio = last / first
    deflate = float(deflator_index(result)[k1] / deflator_index(result)[k0])
    return ratio ** (1 / n) - 1, (ratio / deflate) ** (1 / n) - 1


def real_growth(result: xr.Dataset) -> tuple[float, float]:
    """Average annual growth of the envelope over the projection: (cash, real) [fraction a
    year]. Real terms deflate cash by the result's ``gdp_deflator_growth``."""
    env = result["envelope"].values
    cash, real = growth_rates(result, float(env[0]), float(env[-1]))
    return float(cash), float(real)
