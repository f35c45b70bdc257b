"""Map of England's ICBs as bubbles at their population-weighted centroids (no boundary files)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.transforms import Bbox

from alloc.outputs.plots import style as s

#: Bubble area per pound [points^2 / GBP]: a £1bn allocation is drawn with area 1,600 pt^2.
AREA_PER_GBP = 1600 / 1e9
#: Reference bubbles in the size key [GBP].
SIZE_KEY = (2.5e8, 5e8, 1e9)
#: Map extent [degrees]: longitude and latitude limits of the main map.
EXTENT = (-6.0, 2.4, 49.2, 55.5)
#: Where the London inset and the colour bar sit on the map [axes fraction: x, y, w, h]
#: (the North Sea and the Irish Sea, clear of every ICB centroid).
LONDON_INSET = (0.71, 0.70, 0.28, 0.29)
COLORBAR = (0.03, 0.62, 0.025, 0.33)
#: Mean latitude used to scale longitude [degrees].
MID_LAT = 52.5


def icb_map(
    result: xr.Dataset,
    year: int | None = None,
    label: int = 4,
    highlight: str | Iterable[str] | None = None,
) -> Figure:
    """ICBs at their population-weighted centroids: bubble area = allocation, colour = DfT.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run`: ``allocation`` (icb, year) [GBP], ``dft`` (icb, year)
        [fraction], coords ``lat``, ``lon`` [degrees, WGS84], ``icb_name`` and ``region``.
    year : int, optional
        Financial year shown (starting calendar year); default the base year, where the
        distances from target are largest.
    label : int, default 4
        Name this many ICBs furthest below and this many furthest above target (ICBs in the
        London inset are always named there).
    highlight : str or list of str, optional
        ICB code(s) to outline in black and name.

    Returns
    -------
    matplotlib.figure.Figure
        A4 portrait. Every ICB is one bubble of the collection ``gid="icbs"`` (area
        proportional to the allocation, colour = DfT on a diverging scale centred on zero:
        orange below target, blue above); London's ICBs are repeated in an inset
        (``gid="london"``). A colour bar (% of target) and a size key (£m). Longitude is scaled
        by cos(52.5°) so distances look right.
    """
    year = int(result["year"][0]) if year is None else int(year)
    label_year = s.year_labels([year])[0]
    alloc = result["allocation"].sel(year=year).values
    dft = result["dft"].sel(year=year).values
    lat, lon = result["lat"].values, result["lon"].values
    codes = list(result["icb"].values)
    names = [s.short_name(n) for n in result["icb_name"].values]
    marked = [highlight] if isinstance(highlight, str) else list(highlight or [])
    unknown = [c for c in marked if c not in codes]
    if unknown:
        raise ValueError(f"unknown ICB code(s) {', '.join(unknown)}")

    regions = result["region"].values
    means = {r: float(dft[regions == r].mean()) for r in dict.fromkeys(regions)}
    low_region = min(means, key=means.get)
    n_below = int((dft < 0).sum())
    title = (
        f"In {label_year}, {n_below} of {len(codes)} ICBs are below target; on average "
        f"those in {low_region} are furthest below ({s.fmt_pct(means[low_region])})"
    )
    subtitle = (
        "Bubble area = allocation (£m, cash); colour = distance from target "
        "(% of target): orange below target, blue above. Bubbles at population-weighted "
        "ICB centroids; no boundaries drawn."
    )
    london = regions == "London"
    box = _london_box(lon[london], lat[london])
    span = max(abs(float(dft.min())), abs(float(dft.max())), 1e-4)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
    order = np.argsort(-alloc)  # big bubbles underneath

    with s.house_style():
        fig = s.new_figure(s.A4_PORTRAIT)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(
            fig,
            result.attrs,
            "Centroids: population-weighted means of GP practice "
            "locations (NHS England 2025/26 practice file; data/practices.csv).",
        )
        ax = fig.add_axes(s.plot_area(fig, left=0.03, right=0.97, axis_room=0.1))
        ax.set_aspect(1 / np.cos(np.deg2rad(MID_LAT)))
        ax.set_xlim(EXTENT[0], EXTENT[1])
        ax.set_ylim(EXTENT[2], EXTENT[3])
        ax.set_axis_off()
        ax.apply_aspect()  # final axes box now, so label positions can be measured
        sc = ax.scatter(
            lon[order],
            lat[order],
            s=alloc[order] * AREA_PER_GBP,
            c=dft[order],
            cmap=s.DFT_CMAP,
            norm=norm,
            alpha=0.92,
            edgecolor=s.NHS_DARK_GREY,
            linewidth=0.6,
            zorder=2,
            gid="icbs",
        )
        if marked:
            idx = [codes.index(c) for c in marked]
            ax.scatter(
                lon[idx],
                lat[idx],
                s=alloc[idx] * AREA_PER_GBP,
                facecolor="none",
                edgecolor=s.NHS_BLACK,
                linewidth=2,
                zorder=3,
                gid="highlight",
            )
        if london.any():
            ax.add_patch(
                Rectangle(
                    (box[0], box[2]),
                    box[1] - box[0],
                    box[3] - box[2],
                    fill=False,
                    edgecolor=s.NHS_DARK_GREY,
                    linewidth=0.8,
                    linestyle="--",
                    zorder=4,
                )
            )

        ranked = [i for i in np.argsort(dft) if not london[i]]
        chosen = (
            ranked[:label]
            + ranked[::-1][:label]
            + [codes.index(c) for c in marked if not london[codes.index(c)]]
        )
        reserved = [
            ax.transAxes.transform_bbox(Bbox.from_bounds(*r))
            for r in (LONDON_INSET, (0.0, 0.58, 0.2, 0.4), (0.55, 0.0, 0.45, 0.13))
        ]
        _place_labels(
            fig, ax, list(dict.fromkeys(chosen)), lon, lat, alloc, names, codes, dft, reserved
        )

        inset = ax.inset_axes(LONDON_INSET)
        inset.set_gid("london")
        inset.set_aspect(1 / np.cos(np.deg2rad(MID_LAT)), adjustable="box")
        inset.set_xlim(box[0], box[1])
        inset.set_ylim(box[2], box[3])
        inset.set_xticks([])
        inset.set_yticks([])
        for spine in inset.spines.values():
            spine.set_visible(True)
            spine.set_edgecolor(s.NHS_DARK_GREY)
            spine.set_linestyle("--")
        inset.set_title("London", fontsize=s.SMALL_SIZE, color=s.NHS_DARK_GREY, loc="left")
        li = np.flatnonzero(london)
        inset.scatter(
            lon[li],
            lat[li],
            s=alloc[li] * AREA_PER_GBP,
            c=dft[li],
            cmap=s.DFT_CMAP,
            norm=norm,
            alpha=0.92,
            edgecolor=s.NHS_DARK_GREY,
            linewidth=0.6,
        )
        for i in li:
            radius = np.sqrt(alloc[i] * AREA_PER_GBP / np.pi)  # points
            below = lat[i] < np.median(lat[li])
            inset.annotate(
                f"{names[i].replace(' London', '')}\n{s.fmt_pct(float(dft[i]))}",
                (lon[i], lat[i]),
                fontsize=7.5,
                ha="center",
                va="top" if below else "bottom",
                color=s.NHS_BLACK,
                gid=f"label:{codes[i]}",
                textcoords="offset points",
                xytext=(0, -(radius + 2) if below else radius + 2),
            )

        cax = ax.inset_axes(COLORBAR)
        bar = fig.colorbar(sc, cax=cax)
        bar.set_label(f"Distance from target {label_year} (% of target)")
        s.pct_axis(bar.ax.yaxis)
        _size_key(ax, label_year)
    return fig


def _london_box(lon, lat, pad: float = 0.12) -> tuple[float, float, float, float]:
    """Longitude and latitude limits around London's centroids [degrees]."""
    if lon.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (lon.min() - pad * 1.6, lon.max() + pad * 1.6, lat.min() - pad, lat.max() + pad)


def _size_key(ax, label_year: str) -> None:
    """Reference bubbles for £250m, £500m and £1bn in the sea south-east of England."""
    x0, y = 0.60, 0.05
    ax.text(
        x0,
        y + 0.05,
        f"Allocation {label_year}",
        transform=ax.transAxes,
        fontsize=s.SMALL_SIZE,
        color=s.NHS_BLACK,
        ha="left",
        va="bottom",
        gid="size-key",
    )
    for k, value in enumerate(SIZE_KEY):
        x = x0 + 0.02 + (0.11, 0.24, 0.40)[k] - 0.11
        ax.scatter(
            [x],
            [y],
            s=value * AREA_PER_GBP,
            transform=ax.transAxes,
            facecolor="white",
            edgecolor=s.NHS_DARK_GREY,
            clip_on=False,
        )
        radius = np.sqrt(value * AREA_PER_GBP / np.pi)
        ax.annotate(
            s.fmt_gbp_m(value),
            (x, y),
            xycoords="axes fraction",
            xytext=(radius + 3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=s.NHS_BLACK,
        )


def _place_labels(fig, ax, indices, lon, lat, alloc, names, codes, dft, reserved) -> None:
    """Name ICBs beside their bubbles, trying positions until a label covers no other label,
    no other bubble and no reserved area (inset, colour bar, size key)."""
    renderer = fig.canvas.get_renderer()
    centres = ax.transData.transform(np.column_stack([lon, lat]))
    radii = np.sqrt(alloc * AREA_PER_GBP / np.pi) * fig.dpi / 72  # pixels
    bubbles = [
        Bbox.from_extents(cx - 0.8 * r, cy - 0.8 * r, cx + 0.8 * r, cy + 0.8 * r)
        for (cx, cy), r in zip(centres, radii)
    ]
    taken = list(reserved)
    directions = (
        (1, 0, "left", "center"),
        (-1, 0, "right", "center"),
        (0, 1, "center", "bottom"),
        (0, -1, "center", "top"),
        (1, 1, "left", "bottom"),
        (-1, -1, "right", "top"),
        (1, -1, "left", "top"),
        (-1, 1, "right", "bottom"),
    )
    for i in indices:
        others = taken + [b for j, b in enumerate(bubbles) if j != i]
        radius = np.sqrt(alloc[i] * AREA_PER_GBP / np.pi)  # points
        text = f"{names[i]}\n{s.fmt_pct(float(dft[i]))}"
        best = None
        for gap in (3, 16, 30):
            for dx, dy, ha, va in directions:
                scale = 0.75 if dx and dy else 1.0  # diagonals: keep the corner near the bubble
                ann = ax.annotate(
                    text,
                    (lon[i], lat[i]),
                    xytext=(dx * scale * (radius + gap), dy * scale * (radius + gap)),
                    textcoords="offset points",
                    fontsize=8,
                    ha=ha,
                    va=va,
                    color=s.NHS_BLACK,
                    gid=f"label:{codes[i]}",
                    zorder=5,
                    arrowprops=dict(
                        arrowstyle="-",
                        color=s.NHS_DARK_GREY,
                        linewidth=0.7,
                        shrinkA=0,
                        shrinkB=radius,
                    ),
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", alpha=0.8, linewidth=0),
                )
                box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
                clash = sum(_overlap(box, other) for other in others)
                if best is None or clash < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (clash, ann, box)
                else:
                    ann.remove()
                if clash == 0:
                    break
            if best[0] == 0:
                break
        taken.append(best[2])


def _overlap(a: Bbox, b: Bbox) -> float:
    """Area shared by two boxes [pixels^2]."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)
