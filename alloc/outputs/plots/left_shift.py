"""Left-shift chart: specialised spend avoided against upstream cost, by year and payer.

Interface (the pathway variables of a result, DESIGN.md section 6)
-------------------------------------------------------------------
``saving`` and ``upstream_cost`` are :class:`xarray.DataArray` in pounds (cash):

- ``year`` (required): financial year by its starting calendar year (``2026`` = 2026/27);
- ``payer`` (optional): who spends less / who pays, one of :data:`PAYERS` (other labels are
  shown as given); without it a saving is taken to fall on the delegated specialised budget
  (as the engine's ``left_shift_saving`` (icb, year) does) and a cost is one series;
- ``icb`` (optional): one ICB is chosen with ``icb=``, otherwise ICBs are summed (England);
- ``draw`` / ``quantile`` (optional): draw 0 (the central projection) / the median is shown;
- any other dims (``pathway``, ``service``, ``lever``, ``state``...) are summed.

``saving`` is positive when spend is avoided; ``upstream_cost`` is positive when money is spent.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from alloc.outputs.plots import style as s
from alloc.outputs.plots._data import MAY_NOT_SUM, TENTH_M, reduce_to, tenths_text
from alloc.rounding import round_half_up

#: Payers of the pathway modules (DESIGN.md section 6) with their chart labels and colours.
PAYERS = {
    "ICB_delegated_specialised": ("ICB delegated specialised", s.NHS_DARK_BLUE),
    "ICB_core": ("ICB core", s.NHS_LIGHT_BLUE),
    "NHSE_retained": ("NHS England retained", s.NHS_AQUA_GREEN),
    "local_authority": ("Local authority", s.NHS_WARM_YELLOW),
}
_SPARE = [s.NHS_LIGHT_PURPLE, s.NHS_MID_GREY, s.NHS_PURPLE]


def _by_payer(da: xr.DataArray, icb: str | None, what: str, default: str = "all") -> xr.DataArray:
    """``da`` reduced to (payer, year) [GBP]; the single payer ``default`` when it has none."""
    if "year" not in da.dims:
        raise ValueError(f"{what}: expected a 'year' dimension, found dims {da.dims}")
    if icb is not None:
        if "icb" not in da.dims:
            raise ValueError(f"{what}: icb={icb!r} given but the array has no 'icb' dimension")
        da = da.sel(icb=icb)
    da = reduce_to(da, ("payer", "year"))
    if "payer" not in da.dims:
        da = da.expand_dims(payer=[default])
    return da.transpose("payer", "year")


def _payer_style(payer: str, k: int) -> tuple[str, str]:
    if payer == "all":
        return "all payers", s.NHS_DARK_BLUE
    return PAYERS.get(payer, (payer.replace("_", " "), _SPARE[k % len(_SPARE)]))


def left_shift_chart(
    saving: xr.DataArray,
    upstream_cost: xr.DataArray,
    icb: str | None = None,
    provenance: Mapping | None = None,
    name: str | None = None,
) -> Figure:
    """Specialised spend avoided (above zero) against upstream cost (below zero), by year.

    Parameters
    ----------
    saving : xarray.DataArray
        Left-shift saving, ``left_shift_saving`` [GBP, cash; positive = spend avoided], dims as
        in the module docstring (``year`` required; ``payer``, ``icb``, ``draw`` optional).
    upstream_cost : xarray.DataArray
        Upstream investment cost, ``upstream_cost`` [GBP, cash; positive = spent], same dims.
    icb : str, optional
        ICB code to show; default the sum over ICBs (or the arrays as given without ``icb``).
    provenance : mapping, optional
        Provenance attributes for the footnote (a result's ``attrs``); default
        ``saving.attrs``.
    name : str, optional
        Whose figures these are, for the title (default the ICB code or "England").

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape. One bar segment per payer and year above zero (``gid="saving:<payer>"``)
        and below zero (``gid="cost:<payer>"``), and the net line ``saving - cost``
        (``gid="net"``); y axis in £m.
    """
    sav = _by_payer(saving, icb, "saving", default="ICB_delegated_specialised")
    cost = _by_payer(upstream_cost, icb, "upstream_cost")
    years = np.union1d(sav["year"].values, cost["year"].values)
    sav = sav.reindex(year=years, fill_value=0.0)
    cost = cost.reindex(year=years, fill_value=0.0)
    net = sav.sum("payer") - cost.sum("payer")
    labels = s.year_labels(years)
    who = name or (icb if icb else "England")

    total_s, total_c = float(sav.sum()), float(cost.sum())
    last_s, last_c = float(sav.isel(year=-1).sum()), float(cost.isel(year=-1).sum())
    spent = np.cumsum(cost.sum("payer").values) > 0
    payback = np.flatnonzero(spent & (np.cumsum(net.values) >= 0))
    when = ""
    if spent.any():
        when = (
            f"; cumulative savings cover the cost by {labels[payback[0]]}"
            if payback.size
            else f"; cumulative savings do not cover the cost by {labels[-1]}"
        )
    title = (
        f"{who}: left shift avoids {s.fmt_gbp_m(last_s, 1)} of specialised spend in "
        f"{labels[-1]} for {s.fmt_gbp_m(last_c, 1)} of upstream cost{when}"
    )
    avoided, spent = round_half_up(total_s, TENTH_M), round_half_up(total_c, TENTH_M)
    subtitle = (
        f"Spend avoided (above zero) and upstream cost (below zero) by payer, £ million "
        f"(cash) a year; line = net saving. Over {labels[0]}–{labels[-1]}: "
        f"{tenths_text(avoided)} avoided, {tenths_text(spent)} spent, net "
        f"{tenths_text(avoided - spent, sign=True)}."
    )
    attrs = provenance if provenance is not None else saving.attrs

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(
            fig,
            attrs,
            "Pathway parameters are mostly illustrative (models/pathways/*.toml). " + MAY_NOT_SUM,
        )
        ax = fig.add_axes(s.plot_area(fig, left=0.09, right=0.72))
        ax.axhline(0, color=s.NHS_DARK_GREY, linewidth=1, zorder=3)
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        width = 0.6
        payers = list(dict.fromkeys([*sav["payer"].values, *cost["payer"].values]))
        up = np.zeros(len(years))
        down = np.zeros(len(years))
        for k, payer in enumerate(payers):
            label, colour = _payer_style(str(payer), k)
            if payer in sav["payer"].values:
                v = sav.sel(payer=payer).values
                if np.any(v != 0):
                    ax.bar(
                        years,
                        v,
                        width,
                        bottom=up,
                        color=colour,
                        gid=f"saving:{payer}",
                        label=f"Avoided – {label}",
                        zorder=2,
                    )
                    up += v
            if payer in cost["payer"].values:
                v = cost.sel(payer=payer).values
                if np.any(v != 0):
                    ax.bar(
                        years,
                        -v,
                        width,
                        bottom=-down,
                        color=colour,
                        hatch="//",
                        edgecolor="white",
                        linewidth=0,
                        gid=f"cost:{payer}",
                        label=f"Cost – {label}",
                        zorder=2,
                    )
                    down += v
        ax.plot(
            years,
            net.values,
            color=s.NHS_BLACK,
            marker="o",
            linewidth=2,
            zorder=4,
            gid="net",
            label="Net saving (avoided − cost)",
        )
        for x, v in zip(years, net.values):
            ax.annotate(
                s.fmt_gbp_m(v, 1, sign=True),
                (x, v),
                xytext=(0, 8),
                textcoords="offset points",
                ha="center",
                fontsize=s.SMALL_SIZE,
                fontweight="bold",
                gid="net-value",
                zorder=5,
                bbox=dict(boxstyle="round,pad=0.2", facecolor="white", alpha=0.85, linewidth=0),
            )
        ax.set_xticks(years, labels)
        ax.set_xlabel("Financial year")
        ax.set_ylabel("£ million a year (cash)")
        s.gbp_m_axis(ax.yaxis, 1 if max(up.max(initial=0), down.max(initial=0)) < 5e6 else 0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    rows = []
    for measure, da in (("spend avoided", sav), ("upstream cost", cost)):
        for payer in da["payer"].values:
            for k in range(len(years)):
                rows.append(
                    {
                        "who": who,
                        "year": labels[k],
                        "measure": measure,
                        "payer": str(payer),
                        "gbp": float(da.sel(payer=payer).values[k]),
                    }
                )
    for k in range(len(years)):
        rows.append(
            {
                "who": who,
                "year": labels[k],
                "measure": "net saving",
                "payer": "all",
                "gbp": float(net.values[k]),
            }
        )
    s.set_data(fig, pd.DataFrame(rows))
    return fig
