"""Distance-from-target charts: glide paths over the years and a start-vs-end dot plot."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import numpy as np
import pandas as pd
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
    chosen = _codes(highlight)
    codes = chosen or extremes(result)
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
    why = "" if chosen else f" (furthest below and above target in {labels[0]})"
    subtitle = (
        "Distance from target by ICB, % of target (0% = on target, negative = below). "
        f"Highlighted{why}: {picked}."
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
    frame = dft.to_pandas()
    frame.columns = [f"dft_{lab.replace('/', '_')}_fraction" for lab in labels]
    frame.insert(0, "highlighted", [c in codes for c in frame.index])
    frame.insert(0, "region", result["region"].values.astype(str))
    frame.insert(0, "name", result["icb_name"].values.astype(str))
    s.set_data(fig, frame.rename_axis("code").reset_index())
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
        ICB code(s) whose row is drawn in bold, in the highlight colour.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape, two panels side by side (regions are not split between panels). Regions
        top to bottom in NHS England order, ICBs within a region sorted from furthest below
        target in the base year; hollow grey dots = base year (``gid="start"``), filled dark
        dots = final year (``gid="end"``), one tick label per ICB, one header per region
        (``gid="region:<name>"``); x axis in % of target. Data (``s.chart_data``): code, name,
        region, DfT in both years.
    """
    codes = _codes(highlight)
    _check_icbs(result, codes)
    dft = result["dft"].transpose("icb", "year")
    labels = s.year_labels(result["year"].values)
    first = dft.isel(year=0).to_series()
    last = dft.isel(year=-1).to_series()
    regions = result["region"].to_series()
    names = result["icb_name"].to_series()

    blocks = []  # per region: its ICBs sorted from furthest below target in the base year
    for region in ordered_regions(regions.values):
        members = first[regions == region].sort_values(kind="stable").index
        blocks.append((region, list(members)))
    total = sum(len(m) + 1 for _, m in blocks)
    split, acc = len(blocks), 0
    for k, (_, members) in enumerate(blocks):  # left panel: regions up to half the rows
        if k and acc + (len(members) + 1) / 2 > total / 2:
            split = k
            break
        acc += len(members) + 1
    panels = [blocks[:split], blocks[split:]] if split < len(blocks) else [blocks]

    threshold = 0.05
    x0_all, x1_all = first.values, last.values
    n0, n1 = int((x0_all < -threshold).sum()), int((x1_all < -threshold).sum())
    title = (
        f"{_count(n0)} more than 5% below target in {labels[0]}; "
        f"{_count(n1, lower=True)} in {labels[-1]}"
    )
    subtitle = (
        f"Distance from target by ICB, % of target (negative = below target): each ICB "
        f"moves from the hollow dot ({labels[0]}) to the filled dot ({labels[-1]})"
    )
    lo = min(x0_all.min(), x1_all.min(), -threshold)
    hi = max(x0_all.max(), x1_all.max(), 0.0)
    pad = 0.06 * (hi - lo)
    rows_max = max(sum(len(m) + 1 for _, m in p) for p in panels)

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(fig, result.attrs, "Shaded: more than 5% below target.")
        area = s.plot_area(fig, left=0.03, right=0.97, axis_room=0.45)
        area[3] -= 0.2 / fig.get_figheight()  # room for the legend above the panels
        size = 8.0 if rows_max <= 30 else 7.5
        label_ws = [  # room for each panel's ICB names [figure fraction]
            (
                max(
                    max(s.text_width(f"{s.short_name(names[c])} ({c})", size) for c in m)
                    for _, m in blocks_p
                )
                + 0.15
            )
            / fig.get_figwidth()
            for blocks_p in panels
        ]
        gap = 0.3 / fig.get_figwidth()
        panel_w = (area[2] - sum(label_ws) - (len(panels) - 1) * gap) / len(panels)
        starts, ends, ticks_all = [], [], []
        left = area[0]
        for p, blocks_p in enumerate(panels):
            label_w = label_ws[p]
            left += label_w
            rows: list[tuple[str, str]] = []
            for region, members in blocks_p:
                rows.append(("region", region))
                rows.extend(("icb", c) for c in members)
            y_of = {key: -i for i, key in enumerate(rows)}
            icbs = [k[1] for k in rows if k[0] == "icb"]
            ys = np.array([y_of[("icb", c)] for c in icbs], dtype=float)
            x0, x1 = first[icbs].values, last[icbs].values
            ax = fig.add_axes([left, area[1], panel_w, area[3]])
            ax.axvline(0, color=s.NHS_DARK_GREY, linewidth=1, zorder=1)
            ax.axvspan(lo - 1, -threshold, color=s.NHS_PALE_GREY, alpha=0.6, zorder=0, lw=0)
            ax.grid(axis="x")
            ax.hlines(ys, x0, x1, color=s.NHS_MID_GREY, linewidth=1.2, zorder=2, gid="moves")
            starts.append(
                ax.scatter(
                    x0,
                    ys,
                    s=30,
                    facecolor="white",
                    edgecolor=s.NHS_MID_GREY,
                    linewidth=1.5,
                    zorder=3,
                    gid="start",
                    label=labels[0],
                )
            )
            ends.append(
                ax.scatter(x1, ys, s=30, color=s.NHS_BLACK, zorder=4, gid="end", label=labels[-1])
            )
            tick_labels = [f"{s.short_name(names[c])} ({c})" for c in icbs]
            ticks_all.extend(tick_labels)
            ax.set_yticks(ys, tick_labels)
            for tick, code in zip(ax.get_yticklabels(), icbs):
                tick.set_fontsize(size)
                if code in codes:
                    tick.set_fontweight("bold")
                    tick.set_color(s.HIGHLIGHT[codes.index(code) % len(s.HIGHLIGHT)])
            for c in codes:
                if c in icbs:
                    ax.axhspan(
                        y_of[("icb", c)] - 0.5,
                        y_of[("icb", c)] + 0.5,
                        color=s.HIGHLIGHT[codes.index(c) % len(s.HIGHLIGHT)],
                        alpha=0.12,
                        lw=0,
                        zorder=0,
                    )
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(-rows_max + 0.4, 0.8)
            region_headings(fig, ax, rows, y_of, left - label_w + 0.004)
            ax.tick_params(axis="y", length=0)
            ax.spines["left"].set_visible(False)
            ax.set_xlabel("Distance from target (% of target)", fontsize=s.SMALL_SIZE)
            s.pct_axis(ax.xaxis)
            ax.xaxis.get_major_locator().set_params(nbins=max(3, int(panel_w * 11.69 / 0.6)))
            left += panel_w + gap
        fig.legend(
            handles=[starts[0], ends[0]],
            loc="lower right",
            bbox_to_anchor=(area[0] + area[2], area[1] + area[3] + 0.005),
            ncol=2,
            handletextpad=0.2,
            borderaxespad=0.0,
        )
    s.set_data(
        fig,
        pd.DataFrame(
            {
                "code": first.index.astype(str),
                "name": names[first.index].astype(str).values,
                "region": regions[first.index].astype(str).values,
                f"dft_{labels[0].replace('/', '_')}_fraction": first.values,
                f"dft_{labels[-1].replace('/', '_')}_fraction": last.values,
            }
        ),
    )
    return fig


def _count(n: int, lower: bool = False) -> str:
    if n == 0:
        return "none" if lower else "No ICB is"
    return f"{n} ICB{'s' if n != 1 else ''}" + ("" if lower else (" are" if n != 1 else " is"))


def region_headings(fig, ax, rows, y_of, x: float) -> None:
    """Region names (rows ``("region", name)``) at figure x ``x``, each over a faint rule."""
    for key in rows:
        if key[0] == "region":
            ax.text(
                x,
                y_of[key],
                key[1],
                transform=blended_transform_factory(fig.transFigure, ax.transData),
                fontsize=s.BASE_SIZE - 0.5,
                fontweight="bold",
                color=s.NHS_DARK_BLUE,
                va="center",
                ha="left",
                gid=f"region:{key[1]}",
            )
            ax.axhline(y_of[key] + 0.5, color=s.NHS_PALE_GREY, linewidth=0.8, zorder=0)
