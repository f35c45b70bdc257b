"""Hexagon map of ICBs: one equal hexagon per ICB, every ICB labelled, coloured by DfT.

A board member finds their own ICB here: each hexagon carries the ICB's code and its distance
from target, a key beside the map gives every code's name by region, and thick lines mark the
regions and the edge of England. The layout is the geography's ``hex.csv`` (shipped for the
shipped geographies; a derived, illustrative arrangement near each ICB's centroid, see
``data/geographies/README.md``) or, for a geography without one, computed from the centroids
(:mod:`alloc.outputs.plots._hexgrid`), which the subtitle then says.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import TwoSlopeNorm, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import RegularPolygon

from alloc.outputs.plots import style as s
from alloc.outputs.plots._data import aggregate_dft
from alloc.outputs.plots._hexgrid import centre, layout_for
from alloc.outputs.plots.dft import ordered_regions

# Corners of a pointy-top hexagon of circumradius 1, anticlockwise from the top-right edge's
# start; edge k joins corner k to corner k + 1 and faces the neighbour NEIGHBOUR_OF_EDGE[k].
_ANGLES = np.deg2rad([30, 90, 150, 210, 270, 330])
_CORNERS = np.column_stack([np.cos(_ANGLES), np.sin(_ANGLES)])
_NEIGHBOUR_OF_EDGE = [(1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1), (1, 0)]


class NoLayout(ValueError):
    """The result's areas have neither a hexagon layout nor centroids to compute one from."""


def hex_layout(result: xr.Dataset) -> tuple[pd.DataFrame, str]:
    """``(layout, source)``: columns ``code, q, r`` in the order of ``result["icb"]``, and
    ``"shipped"`` or ``"computed"``. Raises :class:`NoLayout` when there is none."""
    lat = result["lat"].values if "lat" in result.coords or "lat" in result else []
    lon = result["lon"].values if "lon" in result.coords or "lon" in result else []
    found = layout_for(result["icb"].values, lat, lon, result.attrs)
    if found is None:
        raise NoLayout(
            f"no hexagon layout for geography '{result.attrs.get('geography', '(unnamed)')}' "
            "and no ICB centroids to compute one from"
        )
    return found


def icb_hexmap(
    result: xr.Dataset, year: int | None = None, highlight: str | Iterable[str] | None = None
) -> Figure:
    """Every ICB as one labelled hexagon, coloured by distance from target.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run`: ``dft``, ``allocation``, ``target`` (icb, year), coords
        ``icb_name``, ``region`` and (for a geography without a shipped layout) ``lat``,
        ``lon``.
    year : int, optional
        Financial year shown (starting calendar year); default the base year.
    highlight : str or list of str, optional
        ICB code(s) outlined in the highlight colour and bold in the key.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape. One hexagon per ICB (``gid="hex:<code>"``) labelled with its code and DfT
        (``gid="hexlabel:<code>"``), region and coast lines (``gid="borders"``), a colour bar
        and a key of names by region (``gid="key:<region>"``). Data (``s.chart_data``): code,
        name, region, q, r, DfT.

    Raises
    ------
    NoLayout
        When the geography has no layout and the result no centroids.
    """
    layout, source = hex_layout(result)
    year = int(result["year"][0]) if year is None else int(year)
    label_year = s.year_labels([year])[0]
    codes = [str(c) for c in result["icb"].values]
    marked = [highlight] if isinstance(highlight, str) else list(highlight or [])
    unknown = [c for c in marked if c not in codes]
    if unknown:
        raise ValueError(f"unknown ICB code(s) {', '.join(unknown)}")
    dft = result["dft"].sel(year=year).values
    names = [s.short_name(n) for n in result["icb_name"].values]
    regions = [str(r) for r in result["region"].values]
    q, r = layout["q"].to_numpy(), layout["r"].to_numpy()
    x, y = centre(q, r)

    by_region = aggregate_dft(result, year)
    low_region = str(by_region.idxmin())
    n_below = int((dft < 0).sum())
    title = (
        f"In {label_year}, {n_below} of {len(codes)} ICBs are below target; {low_region} "
        f"is furthest below ({s.fmt_pct(float(by_region[low_region]))} taken together)"
    )
    where = (
        "Layout: one equal hexagon per ICB near its centroid (derived, illustrative; not to scale)"
        if source == "shipped"
        else "Layout COMPUTED from the ICB centroids: geography "
        f"'{result.attrs.get('geography', '')}' ships no hexagon layout"
    )
    subtitle = (
        f"Distance from target {label_year} (% of target; orange below target, blue above), "
        f"with each ICB's code. {where}; thick lines: regions."
    )
    span = max(abs(float(dft.min())), abs(float(dft.max())), 1e-4)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
    cells = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(q, r))}

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(
            fig,
            result.attrs,
            "Region DfT: the region's allocations against its targets, taken together.",
        )
        area = s.plot_area(fig, left=0.03, right=0.97, axis_room=0.15)
        ax = fig.add_axes([area[0], area[1], 0.48, area[3]])
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_xlim(x.min() - 1.0, x.max() + 1.0)
        ax.set_ylim(y.min() - 1.15, y.max() + 1.15)
        ax.apply_aspect()
        radius_in = ax.get_window_extent().height / fig.dpi / (np.ptp(y) + 2.3)
        code_size = float(np.clip(radius_in * 21, 6.5, 9.5))
        pct_size = float(np.clip(radius_in * 18, 6.0, 8.0))
        for k, code in enumerate(codes):
            face = s.DFT_CMAP(norm(dft[k]))
            ax.add_patch(
                RegularPolygon(
                    (x[k], y[k]),
                    numVertices=6,
                    radius=0.97,
                    orientation=0.0,
                    facecolor=face,
                    edgecolor="white",
                    linewidth=0.8,
                    gid=f"hex:{code}",
                )
            )
            ink = "white" if _luminance(face) < 0.45 else s.NHS_BLACK
            ax.text(
                x[k],
                y[k] + 0.18,
                code,
                ha="center",
                va="center",
                fontsize=code_size,
                fontweight="bold",
                color=ink,
                gid=f"hexlabel:{code}",
            )
            ax.text(
                x[k],
                y[k] - 0.36,
                s.fmt_pct(float(dft[k])),
                ha="center",
                va="center",
                fontsize=pct_size,
                color=ink,
            )
        _borders(ax, q, r, x, y, regions, cells)
        for i, code in enumerate(marked):
            k = codes.index(code)
            colour = s.HIGHLIGHT[i % len(s.HIGHLIGHT)]
            ax.add_patch(
                RegularPolygon(
                    (x[k], y[k]),
                    6,
                    radius=0.9,
                    orientation=0.0,
                    fill=False,
                    edgecolor=colour,
                    linewidth=3,
                    zorder=5,
                    gid=f"highlight:{code}",
                )
            )
        bottoms = _key(fig, result, codes, names, regions, by_region, marked, area)
        col = int(np.argmax(bottoms))  # under the shorter column of the key
        left = area[0] + 0.51 + col * (2.3 / fig.get_figwidth() + 0.012)
        room = 0.85 / fig.get_figheight()  # colour bar with its label and ticks
        if bottoms[col] - area[1] >= room:
            rect = [left, area[1] + 0.4 / fig.get_figheight(), 0.17, 0.018]
        else:  # a key too long for the bar below it: the bar goes in the map's top left corner
            rect = [area[0], area[1] + area[3] - 0.04, 0.16, 0.018]
        cax = fig.add_axes(rect)
        bar = fig.colorbar(_mappable(norm), cax=cax, orientation="horizontal")
        bar.set_label(f"Distance from target {label_year} (%)", fontsize=s.SMALL_SIZE - 0.5)
        bar.ax.xaxis.set_label_position("top")
        s.pct_axis(bar.ax.xaxis)
        bar.ax.tick_params(labelsize=s.FOOTNOTE_SIZE + 0.5)

    s.set_data(
        fig,
        pd.DataFrame(
            {
                "code": codes,
                "name": [str(n) for n in result["icb_name"].values],
                "region": regions,
                "q": q,
                "r": r,
                f"dft_{label_year.replace('/', '_')}_fraction": dft,
                "layout": source,
            }
        ),
    )
    return fig


def _mappable(norm):
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=norm, cmap=s.DFT_CMAP)


def _luminance(rgba) -> float:
    red, green, blue = to_rgb(rgba)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _borders(ax, q, r, x, y, regions, cells) -> None:
    """Thick lines on hexagon edges between regions and along the edge of the map."""
    from matplotlib.collections import LineCollection

    segments = []
    for k in range(len(q)):
        for e, (dq, dr) in enumerate(_NEIGHBOUR_OF_EDGE):
            other = cells.get((int(q[k]) + dq, int(r[k]) + dr))
            if other is not None and (regions[other] == regions[k] or other < k):
                continue  # same region, or an edge between regions drawn from the other side
            a = _CORNERS[e] * 0.97 + (x[k], y[k])
            b = _CORNERS[(e + 1) % 6] * 0.97 + (x[k], y[k])
            segments.append([a, b])
    ax.add_collection(
        LineCollection(
            segments, colors=s.NHS_DARK_GREY, linewidths=1.8, capstyle="round", gid="borders"
        )
    )


def _key(fig, result, codes, names, regions, by_region, marked, area) -> list[float]:
    """Every ICB's code and name by region, in two columns to the right of the map.

    Returns the bottom of each column (figure fraction)."""
    size = s.FOOTNOTE_SIZE + 0.5
    line = size * 1.32 / 72 / fig.get_figheight()
    width_in = 2.3
    code_w = max(s.text_width(c, size, "bold") for c in codes) + 0.08
    blocks = []
    for region in ordered_regions(regions):
        members = sorted(c for c in codes if regions[codes.index(c)] == region)
        rows = []
        for c in members:
            weight = "bold" if c in marked else "normal"
            wrapped = s.wrap_to_width(names[codes.index(c)], width_in - code_w - 0.1, size, weight)
            rows.append((c, wrapped))
        n_lines = 1.35 + sum(w.count("\n") + 1 for _, w in rows) + 0.5
        blocks.append((region, rows, n_lines))
    total = sum(b[2] for b in blocks)
    split, acc = len(blocks), 0.0
    for i, b in enumerate(blocks):  # first column takes regions up to half the lines
        if acc + b[2] / 2 > total / 2:
            split = i
            break
        acc += b[2]
    split = max(split, 1)
    left0 = area[0] + 0.51
    col_w = width_in / fig.get_figwidth()
    top = area[1] + area[3]
    bottoms = []
    for col, part in enumerate((blocks[:split], blocks[split:])):
        xk = left0 + col * (col_w + 0.012)
        yk = top
        for region, rows, _ in part:
            fig.text(
                xk,
                yk,
                f"{region} ({s.fmt_pct(float(by_region[region]))})",
                fontsize=size + 0.5,
                fontweight="bold",
                color=s.NHS_DARK_BLUE,
                va="top",
                ha="left",
                gid=f"key:{region}",
            )
            yk -= line * 1.35
            for c, wrapped in rows:
                bold = c in marked
                colour = s.HIGHLIGHT[marked.index(c) % len(s.HIGHLIGHT)] if bold else s.NHS_BLACK
                fig.text(
                    xk,
                    yk,
                    c,
                    fontsize=size,
                    fontweight="bold",
                    color=colour,
                    va="top",
                    ha="left",
                )
                fig.text(
                    xk + code_w / fig.get_figwidth(),
                    yk,
                    wrapped,
                    fontsize=size,
                    fontweight="bold" if bold else "normal",
                    color=colour,
                    va="top",
                    ha="left",
                    linespacing=1.1,
                )
                yk -= line * (wrapped.count("\n") + 1)
            yk -= line * 0.5
        bottoms.append(yk)
    return bottoms
