"""Allocation waterfall for one ICB: baseline -> growth -> convergence -> left shift -> final."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from alloc.outputs.plots import style as s
from alloc.outputs.plots._data import (
    has_left_shift,
    reduce_to,
    round_steps,
    rounded_tenths,
    tenths_text,
)


def waterfall_steps(result: xr.Dataset, icb: str, year: int | None = None) -> pd.Series:
    """The steps from an ICB's baseline to its allocation in ``year`` [GBP].

    With ``A0`` the baseline, ``A`` the allocation in ``year``, ``R`` the allocation the ICB
    would have had if it retained all its savings (``allocation_if_retained``; ``R = A`` when
    the result has none, i.e. savings are retained), ``E0`` and ``E`` the national envelope in
    the base year and ``year``, and ``S`` the left-shift saving (avoided specialised spend) of
    the ICB in ``year``:

    - ``growth = A0 * (E / E0 - 1)``: what the ICB gains if it keeps its baseline share;
    - ``convergence = R - A0 * E / E0``: what the pace-of-change policy moves towards target
      (negative for an ICB above target);
    - ``left_shift = S + (A - R)``: the spend avoided, less what the savings policy takes back
      by rebasing (0 when the result has no ``left_shift_saving`` variable);
    - ``final = A + S``: the final-year allocation plus the specialised spend avoided.

    So ``baseline + growth + convergence + left_shift = final`` exactly.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run`: ``baseline`` (icb), ``allocation`` (icb, year),
        ``envelope`` (year) [GBP]; optionally ``left_shift_saving`` with dims ``icb``, ``year``
        and any others (summed; draw 0 / the median taken).
    icb : str
        ICB code, e.g. ``"QE1"``.
    year : int, optional
        Financial year by its starting calendar year; default the final year.

    Returns
    -------
    pandas.Series
        Index ``baseline, growth, convergence, left_shift, final`` [GBP].
    """
    year = int(result["year"][-1]) if year is None else int(year)
    a0 = float(result["baseline"].sel(icb=icb))
    a = float(result["allocation"].sel(icb=icb, year=year))
    ratio = float(result["envelope"].sel(year=year) / result["envelope"].isel(year=0))
    saving = 0.0
    if "left_shift_saving" in result:
        ls = reduce_to(result["left_shift_saving"], ("icb", "year"))
        saving = float(ls.sel(icb=icb, year=year))
    retained = a
    if "allocation_if_retained" in result:
        retained = float(result["allocation_if_retained"].sel(icb=icb, year=year))
    return pd.Series(
        {
            "baseline": a0,
            "growth": a0 * (ratio - 1),
            "convergence": retained - a0 * ratio,
            "left_shift": saving + a - retained,
            "final": a + saving,
        }
    )


def rounded_steps(result: xr.Dataset, icb: str, year: int | None = None) -> pd.Series:
    """The waterfall's steps in whole £0.1m, as printed: they add up exactly.

    ``baseline`` and the allocation inside ``final`` are the same rounded figures as every
    table of the board pack (:func:`alloc.outputs.plots._data.rounded_tenths`: largest
    remainder across ICBs); with left shift ``final`` adds the ICB's rounded saving. Growth,
    convergence and left shift are then rounded to add up to ``final - baseline`` exactly
    (:func:`alloc.outputs.plots._data.round_steps`).

    Returns
    -------
    pandas.Series of int
        Index ``baseline, growth, convergence, left_shift, final`` [£0.1m].
    """
    year = int(result["year"][-1]) if year is None else int(year)
    exact = waterfall_steps(result, icb, year)
    base = int(rounded_tenths(result, "baseline").sel(icb=icb))
    final = int(rounded_tenths(result, "allocation").sel(icb=icb, year=year))
    if "left_shift_saving" in result:
        final += int(rounded_tenths(result, "left_shift_saving").sel(icb=icb, year=year))
    middle = round_steps(exact[["growth", "convergence", "left_shift"]].values, final - base)
    return pd.Series(
        [base, *(int(v) for v in middle), final],
        index=["baseline", "growth", "convergence", "left_shift", "final"],
    )


def allocation_waterfall(result: xr.Dataset, icb: str, year: int | None = None) -> Figure:
    """Waterfall of one ICB's allocation from its baseline to the final year.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run` (see :func:`waterfall_steps`).
    icb : str
        ICB code, e.g. ``"QE1"``.
    year : int, optional
        Final year of the waterfall (starting calendar year); default the last year.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape. Five bars (``gid="bar:<step>"``, exact heights) with £m value labels
        (``gid="value:<step>"``) from :func:`rounded_steps`, so the labels add up to the
        total and match the board pack's tables; y axis in £m from zero. Data
        (``s.chart_data``): each step exact [GBP] and as printed [£m].
    """
    if icb not in result["icb"].values:
        raise ValueError(f"unknown ICB code {icb!r}")
    steps = waterfall_steps(result, icb, year)
    shown = rounded_steps(result, icb, year)
    year = int(result["year"][-1]) if year is None else int(year)
    first, last = s.year_labels([result["year"][0], year])
    name = s.short_name(result["icb_name"].sel(icb=icb).item())
    has_ls = has_left_shift(result)
    final_label = f"Allocation + avoided\nspend {last}" if has_ls else f"Allocation\n{last}"
    labels = [
        f"Baseline\n{first}",
        "Envelope\ngrowth",
        "Convergence\n(pace of change)",
        "Left shift\n(saving kept)" if has_ls else "Left shift\n(not modelled)",
        final_label,
    ]

    conv = int(shown["convergence"])
    verb = "adds" if conv > 0 else "takes away"
    what = "allocation plus avoided spend" if has_ls else "allocation"
    title = (
        f"{name}: {what} {'rises' if shown['final'] >= shown['baseline'] else 'falls'} "
        f"from {tenths_text(shown['baseline'])} to {tenths_text(shown['final'])} by "
        f"{last}; moving towards target {verb} {tenths_text(abs(conv))}"
    )
    dft0 = float(result["dft"].sel(icb=icb).isel(year=0))
    dft1 = float(result["dft"].sel(icb=icb, year=year))
    subtitle = (
        f"{icb} {name}, £ million (cash). Distance from target {s.fmt_pct(dft0)} in "
        f"{first}, {s.fmt_pct(dft1)} in {last}."
    )

    keys = list(steps.index)
    starts = np.zeros(5)
    heights = np.zeros(5)
    running = 0.0
    for i, key in enumerate(keys):
        if key in ("baseline", "final"):
            starts[i], heights[i] = 0.0, steps[key]
            running = steps[key]
        else:
            starts[i], heights[i] = running, steps[key]
            running += steps[key]
    colours = [
        s.NHS_DARK_BLUE
        if k in ("baseline", "final")
        else (s.NHS_LIGHT_BLUE if steps[k] >= 0 else s.NHS_MID_GREY)
        for k in keys
    ]

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        extra = (
            "Growth: the baseline grown with the national envelope. Convergence: the "
            "policy's move towards the needs-based target (grey bars take money away). "
            "Figures rounded to £0.1m so that the steps add up to the total."
        )
        if has_ls:
            extra += (
                " Left shift: specialised spend avoided by upstream investment, less any "
                "savings rebased out of the allocation."
            )
        s.add_footnote(fig, result.attrs, extra)
        ax = fig.add_axes(s.plot_area(fig, left=0.10, right=0.96, axis_room=0.85))
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        x = np.arange(5)
        for i, key in enumerate(keys):
            ax.bar(
                x[i],
                heights[i],
                bottom=starts[i],
                width=0.62,
                color=colours[i],
                gid=f"bar:{key}",
                zorder=2,
            )
        top = max(starts + np.maximum(heights, 0))
        for i, key in enumerate(keys):
            sign = key not in ("baseline", "final")
            text = tenths_text(int(shown[key]), sign=sign)
            y = max(starts[i], starts[i] + heights[i])
            ax.text(
                x[i],
                y + 0.012 * top,
                text,
                ha="center",
                va="bottom",
                fontsize=s.BASE_SIZE,
                fontweight="bold",
                color=s.NHS_BLACK,
                gid=f"value:{key}",
            )
            if i < 4:
                level = starts[i] + heights[i]
                ax.plot(
                    [x[i] + 0.31, x[i + 1] - 0.31],
                    [level, level],
                    color=s.NHS_MID_GREY,
                    linewidth=0.9,
                    linestyle=(0, (3, 2)),
                    zorder=1,
                )
        ax.set_xticks(x, labels)
        ax.tick_params(axis="x", length=0, labelsize=s.BASE_SIZE)
        ax.set_ylim(0, top * 1.1)
        ax.set_ylabel("£ million (cash)")
        s.gbp_m_axis(ax.yaxis)
    s.set_data(
        fig,
        pd.DataFrame(
            {
                "icb": icb,
                "year": last,
                "step": keys,
                "exact_gbp": [float(steps[k]) for k in keys],
                "shown_gbp_m": [int(shown[k]) / 10 for k in keys],
            }
        ),
    )
    return fig
