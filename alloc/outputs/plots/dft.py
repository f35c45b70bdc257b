"""Distance-from-target charts: glide paths over the years and a start-vs-end dot plot."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from alloc.outputs.plots import style as s

#: NHS England regions in their usual north-to-south order (others follow alphabetically).
REGION_ORDER = [
    "North East and Yorkshire",
    "North West",
    "Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
]


def _codes(highlight: str | Iterable[str] | None) -> list[str]:
    if highlight is None:
        return []
    return [highlight] if isinstance(highlight, str) else list(highlight)


def _check_icbs(result: xr.Dataset, codes: list[str]) -> None:
    known = set(result["icb"].values.tolist())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(
            f"unknown ICB code(s) {', '.join(unknown)}; expected codes such as "
            f"{', '.join(sorted(known)[:3])}"
        )


def extremes(result: xr.Dataset) -> list[str]:
    """Codes of the ICBs furthest below and furthest above target in the base year."""
    start = result["dft"].isel(year=0)
    return [str(start.idxmin("icb").item()), str(start.idxmax("icb").item())]


def ordered_regions(regions: Iterable[str]) -> list[str]:
    """Distinct regions in :data:`REGION_ORDER`, unknown regions after them alphabetically."""
    present = set(regions)
    return [r for r in REGION_ORDER if r in present] + sorted(present - set(REGION_ORDER))


def glide_paths(result: xr.Dataset, highlight: str | Iterable[str] | None = None) -> Figure:
    """Distance from target of every ICB over the projection, selected ICBs highlighted.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run`: ``dft`` (icb, year) [fraction, (allocation - target) /
        target], coords ``icb_name``; attrs carry the provenance for the footnote.
    highlight : str or list of str, optional
        ICB code(s) to draw in colour and label. Default: the ICBs furthest below and above
        target in the base year.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape. One line per ICB (``gid="icb:<code>"``), highlighted lines labelled at the
        right (``gid="label:<code>"``); y axis in % of target.
    """
    codes = _codes(highlight) or extremes(result)
    _check_icbs(result, codes)
    dft = result["dft"].transpose("icb", "year")
    years = result["year"].values
    labels = s.year_labels(years)
    first, last = dft.isel(year=0), dft.isel(year=-1)
    spread0 = float(first.max() - first.min())
    spread1 = float(last.max() - last.min())
    verb = (
        "narrows" if spread1 < spread0 - 1e-9 else "widens" if spread1 > spread0 + 1e-9 else "stays"
    )
    title = (
        f"The spread of distance from target {verb} from {100 * spread0:.1f} to "
        f"{100 * spread1:.1f} percentage points between {labels[0]} and {labels[-1]}"
    )
    picked = ", ".join(
        f"{s.short_name(result['icb_name'].sel(icb=c).item())} "
        f"({s.fmt_pct(float(first.sel(icb=c)))} → {s.fmt_pct(float(last.sel(icb=c)))})"
        for c in codes
    )
    subtitle = (
        "Distance from target by ICB, % of target (0% = on target, negative = below). "
        f"Highlighted: {picked}."
    )
    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(
            fig,
            result.attrs,
            "Grey lines: the other ICBs. Each year's allocations sum to the envelope.",
        )
        ax = fig.add_axes(s.plot_area(fig, left=0.08, right=0.78))
        ax.axhline(0, color=s.NHS_DARK_GREY, linewidth=1, zorder=1, gid="zero")
        ax.grid(axis="y")
        for code in dft["icb"].values:
            if code in codes:
                continue
            ax.plot(
                years,
                dft.sel(icb=code).values,
                color=s.NHS_MID_GREY,
                alpha=0.45,
                linewidth=1,
                zorder=2,
                gid=f"icb:{code}",
            )
        for i, code in enumerate(codes):
            colour = s.HIGHLIGHT[i % len(s.HIGHLIGHT)]
            series = dft.sel(icb=code).values
            name = s.short_name(result["icb_name"].sel(icb=code).item())
            ax.plot(
                years,
                series,
                color=colour,
                linewidth=2.6,
                marker="o",
                markersize=4,
                zorder=3,
                gid=f"icb:{code}",
                label=f"{code} {name}",
            )
        _label_line_ends(ax, result, codes, years, dft)
        ax.set_xticks(years, labels)
        ax.set_xlim(years[0] - 0.2, years[-1] + 0.2)
        ax.set_xlabel("Financial year")
        ax.set_ylabel("Distance from target (% of target)")
        s.pct_axis(ax.yaxis)
    return fig


def _label_line_ends(ax, result, codes, years, dft) -> None:
    """Label highlighted lines at the right edge, nudged apart so labels never overlap."""
    ends = [float(dft.sel(icb=c).isel(year=-1)) for c in codes]
    lo, hi = float(dft.min()), float(dft.max())
    gap = 0.085 * (hi - lo if hi > lo else 1.0)
    order = np.argsort(ends)
    placed: list[float] = []
    positions = {}
    for k in order:
        y = ends[k] if not placed else max(ends[k], placed[-1] + gap)
        placed.append(y)
        positions[k] = y
    for k, code in enumerate(codes):
        name = s.short_name(result["icb_name"].sel(icb=code).item())
        colour = s.HIGHLIGHT[k % len(s.HIGHLIGHT)]
        wrapped = textwrap.fill(f"{code} {name}", 24)
        ax.annotate(
            f"{wrapped}\n{s.fmt_pct(ends[k])}",
            xy=(years[-1], ends[k]),
            xytext=(years[-1] + 0.25, positions[k]),
            textcoords="data",
            fontsize=s.SMALL_SIZE,
            color=colour,
            fontweight="bold",
            va="center",
            ha="left",
            annotation_clip=False,
            gid=f"label:{code}",
            arrowprops=dict(arrowstyle="-", color=colour, linewidth=0.8),
        )


def dft_dot_plot(result: xr.Dataset, highlight: str | Iterable[str] | None = None) -> Figure:
    """Distance from target of every ICB in the first and final year, grouped by region.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run`: ``dft`` (icb, year) [fraction], coords ``icb_name`` and
        ``region``.
    highlight : str or list of str, optional
        ICB code(s) whose row is drawn in bold.

    Returns
    -------
    matplotlib.figure.Figure
        A4 portrait. Regions top to bottom in NHS England order, ICBs within a region sorted
        from furthest below target in the base year; hollow dots = base year
        (``gid="start"``), filled dots = final year (``gid="end"``), one tick label per ICB,
        one header per region (``gid="region:<name>"``); x axis in % of target.
    """
    codes = _codes(highlight)
    _check_icbs(result, codes)
    dft = result["dft"].transpose("icb", "year")
    labels = s.year_labels(result["year"].values)
    first = dft.isel(year=0).to_series()
    last = dft.isel(year=-1).to_series()
    regions = result["region"].to_series()
    names = result["icb_name"].to_series()

    rows: list[tuple[str, str]] = []  # ("region", name) headers and ("icb", code) rows
    for region in ordered_regions(regions.values):
        rows.append(("region", region))
        members = first[regions == region].sort_values(kind="stable").index
        rows.extend(("icb", code) for code in members)
    y_of = {key: -i for i, key in enumerate(rows)}
    icb_rows = [key for key in rows if key[0] == "icb"]
    ys = np.array([y_of[k] for k in icb_rows], dtype=float)
    icbs = [k[1] for k in icb_rows]
    x0, x1 = first[icbs].values, last[icbs].values

    threshold = 0.05
    n0, n1 = int((x0 < -threshold).sum()), int((x1 < -threshold).sum())
    title = (
        f"{_count(n0)} more than 5% below target in {labels[0]}; "
        f"{_count(n1, lower=True)} in {labels[-1]}"
    )
    subtitle = (
        f"Distance from target by ICB, % of target (negative = below target): each ICB "
        f"moves from the hollow dot ({labels[0]}) to the filled dot ({labels[-1]})"
    )

    with s.house_style():
        fig = s.new_figure(s.A4_PORTRAIT)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(fig, result.attrs)
        tick_labels = [f"{s.short_name(names[c])} ({c})" for c in icbs]
        widest = max(s.text_width(t, 8) for t in tick_labels)
        left = (widest + 0.45) / fig.get_figwidth()
        ax = fig.add_axes(s.plot_area(fig, left=left, right=0.96))
        ax.axvline(0, color=s.NHS_DARK_GREY, linewidth=1, zorder=1)
        ax.axvspan(
            min(x0.min(), x1.min(), -threshold) - 1,
            -threshold,
            color=s.NHS_PALE_GREY,
            alpha=0.6,
            zorder=0,
            linewidth=0,
        )
        ax.grid(axis="x")
        ax.hlines(ys, x0, x1, color=s.NHS_MID_GREY, linewidth=1.2, zorder=2, gid="moves")
        ax.scatter(
            x0,
            ys,
            s=34,
            facecolor="white",
            edgecolor=s.NHS_ORANGE,
            linewidth=1.6,
            zorder=3,
            gid="start",
            label=labels[0],
        )
        ax.scatter(x1, ys, s=34, color=s.NHS_BLUE, zorder=4, gid="end", label=labels[-1])
        ax.set_yticks(ys, tick_labels)
        for tick, code in zip(ax.get_yticklabels(), icbs):
            tick.set_fontsize(8)
            if code in codes:
                tick.set_fontweight("bold")
                tick.set_color(s.NHS_BLUE)
        lo = min(x0.min(), x1.min())
        hi = max(x0.max(), x1.max())
        pad = 0.06 * (hi - lo)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(-len(rows) + 0.4, 0.8)
        for key in rows:
            if key[0] == "region":
                ax.text(
                    0.03,
                    y_of[key],
                    key[1],
                    transform=blended_transform_factory(fig.transFigure, ax.transData),
                    fontsize=s.BASE_SIZE,
                    fontweight="bold",
                    color=s.NHS_DARK_BLUE,
                    va="center",
                    ha="left",
                    gid=f"region:{key[1]}",
                )
                ax.axhline(y_of[key] + 0.5, color=s.NHS_PALE_GREY, linewidth=0.8, zorder=0)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_xlabel("Distance from target (% of target)")
        s.pct_axis(ax.xaxis)
        ax.text(
            -threshold,
            0.8,
            " more than 5% below target ",
            ha="right",
            va="top",
            fontsize=8,
            color=s.NHS_DARK_GREY,
        )
        ax.legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=2,
            handletextpad=0.2,
            borderaxespad=0.2,
        )
    return fig


def _count(n: int, lower: bool = False) -> str:
    if n == 0:
        return "none" if lower else "No ICB is"
    return f"{n} ICB{'s' if n != 1 else ''}" + ("" if lower else (" are" if n != 1 else " is"))
