"""Map of England's ICBs as bubbles at their population-weighted centroids (no boundary files:
GP practices drawn as faint dots give the outline of England)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from alloc.outputs.plots import style as s
from alloc.outputs.plots._data import aggregate_dft

#: Bubble area per pound [points^2 / GBP]: a £1bn allocation is drawn with area 1,300 pt^2.
AREA_PER_GBP = 1300 / 1e9
#: Reference bubbles in the size key [GBP].
SIZE_KEY = (2.5e8, 5e8, 1e9)
#: Map extent [degrees]: longitude and latitude limits of the main map (every GP practice).
EXTENT = (-6.5, 1.95, 49.8, 55.9)
#: The column to the right of the map holding, top to bottom, the colour bar, the London inset
#: and the size key [figure fraction: left edge and width].
SIDE = (0.58, 0.38)
#: Mean latitude used to scale longitude [degrees].
MID_LAT = 52.5


def practice_points():
    """Longitude and latitude of every GP practice (``data/practices.csv``) [degrees], drawn
    as faint dots so that the map shows the shape of England without boundary files; None when
    the file cannot be read."""
    import pandas as pd

    from alloc.resources import data_dir

    try:
        frame = pd.read_csv(data_dir() / "practices.csv", usecols=["lat", "lon"])
    except (OSError, ValueError):
        return None
    return frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float)


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
        London inset are always named there). :func:`alloc.outputs.plots.icb_hexmap` names
        every ICB.
    highlight : str or list of str, optional
        ICB code(s) to outline in the highlight colour and name.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape. Every ICB is one bubble of the collection ``gid="icbs"`` (area
        proportional to the allocation, colour = DfT on a diverging scale centred on zero:
        orange below target, blue above); every GP practice a faint dot (``gid="practices"``)
        that draws the outline of England; London's ICBs are repeated in an inset
        (``gid="london"``) to the right of the map, with a colour bar (% of target) and a size
        key (£m). Longitude is scaled by cos(52.5°) so distances look right. The title's region
        figure is the region's allocations against its targets taken together.
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
    by_region = aggregate_dft(result, year)
    low_region = str(by_region.idxmin())
    n_below = int((dft < 0).sum())
    title = (
        f"In {label_year}, {n_below} of {len(codes)} ICBs are below target; {low_region} is "
        f"furthest below ({s.fmt_pct(float(by_region[low_region]))}, its ICBs taken together)"
    )
    subtitle = (
        "Bubble area = allocation (£m, cash); colour = distance from target "
        "(% of target): orange below target, blue above. Bubbles at population-weighted "
        "ICB centroids; grey dots: GP practices. Every ICB is named on the hexagon map."
    )
    london = regions == "London"
    box = _london_box(lon[london], lat[london])
    span = max(abs(float(dft.min())), abs(float(dft.max())), 1e-4)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
    order = np.argsort(-alloc)  # big bubbles underneath
    practices = practice_points()

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(
            fig,
            result.attrs,
            "Centroids: population-weighted means of GP practice "
            "locations (NHS England 2025/26 practice file; data/practices.csv). Region "
            "figures: the region's allocations against its targets, taken together.",
        )
        area = s.plot_area(fig, left=0.03, right=0.97, axis_room=0.1)
        ax = fig.add_axes([area[0], area[1], 0.54, area[3]])
        ax.set_aspect(1 / np.cos(np.deg2rad(MID_LAT)))
        ax.set_xlim(EXTENT[0], EXTENT[1])
        ax.set_ylim(EXTENT[2], EXTENT[3])
        ax.set_axis_off()
        ax.apply_aspect()  # final axes box now, so label positions can be measured
        if practices is not None:
            ax.scatter(
                *practices,
                s=1.2,
                color=s.NHS_MID_GREY,
                alpha=0.6,
                linewidths=0,
                zorder=1,
                gid="practices",
                rasterized=True,
            )
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
        for i, code in enumerate(marked):
            k = codes.index(code)
            ax.scatter(
                [lon[k]],
                [lat[k]],
                s=alloc[k] * AREA_PER_GBP,
                facecolor="none",
                edgecolor=s.HIGHLIGHT[i % len(s.HIGHLIGHT)],
                linewidth=2.5,
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

        top = area[1] + area[3]
        cax = fig.add_axes([SIDE[0], top - 0.06, SIDE[1] * 0.8, 0.022])
        key_box = Bbox.from_bounds(SIDE[0], area[1], SIDE[1], 0.17)
        inset = fig.add_axes([SIDE[0], area[1] + 0.24, SIDE[1] * 0.8, top - 0.16 - area[1] - 0.24])
        ranked = [i for i in np.argsort(dft) if not london[i]]
        chosen = (
            ranked[:label]
            + ranked[::-1][:label]
            + [codes.index(c) for c in marked if not london[codes.index(c)]]
        )
        renderer = fig.canvas.get_renderer()
        w, h = fig.bbox.width, fig.bbox.height
        margin = 0.2 * fig.dpi
        reserved = [
            inset.get_window_extent(renderer).expanded(1.0, 1.15),
            cax.get_window_extent(renderer).expanded(1.1, 3.0),
            fig.transFigure.transform_bbox(key_box),
            Bbox.from_extents(-w, -h, margin, 2 * h),  # the page's margins
            Bbox.from_extents(w - margin, -h, 2 * w, 2 * h),
            Bbox.from_extents(-w, -h, 2 * w, ax.get_window_extent(renderer).y0),
            Bbox.from_extents(-w, ax.get_window_extent(renderer).y1, 2 * w, 2 * h),
        ]
        _place_labels(
            fig, ax, list(dict.fromkeys(chosen)), lon, lat, alloc, names, codes, dft, reserved
        )

        inset.set_gid("london")
        inset.set_aspect(1 / np.cos(np.deg2rad(MID_LAT)), adjustable="box")
        if london.any():
            inset.set_xlim(box[0], box[1])
            inset.set_ylim(box[2], box[3])
        inset.set_xticks([])
        inset.set_yticks([])
        for spine in inset.spines.values():
            spine.set_visible(True)
            spine.set_edgecolor(s.NHS_DARK_GREY)
            spine.set_linestyle("--")
        inset.set_title(
            f"London ({s.fmt_pct(float(by_region['London']))} taken together)"
            if "London" in by_region
            else "London",
            fontsize=s.SMALL_SIZE,
            color=s.NHS_DARK_GREY,
            loc="left",
        )
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
        for i, code in enumerate(marked):
            k = codes.index(code)
            if london[k]:
                inset.scatter(
                    [lon[k]],
                    [lat[k]],
                    s=alloc[k] * AREA_PER_GBP,
                    facecolor="none",
                    edgecolor=s.HIGHLIGHT[i % len(s.HIGHLIGHT)],
                    linewidth=2.5,
                )
        if li.size:
            inset.apply_aspect()
            box_px = inset.get_window_extent(renderer)
            outside = [
                Bbox.from_extents(-w, -h, box_px.x0, 2 * h),
                Bbox.from_extents(box_px.x1, -h, 2 * w, 2 * h),
                Bbox.from_extents(-w, -h, 2 * w, box_px.y0),
                Bbox.from_extents(-w, box_px.y1, 2 * w, 2 * h),
            ]
            short = [f"{c} {n.replace(' London', '')}" for c, n in zip(codes, names)]
            _place_labels(
                fig, inset, list(li), lon, lat, alloc, short, codes, dft, outside, size=7.5
            )
        if not london.any():
            inset.set_visible(False)

        bar = fig.colorbar(sc, cax=cax, orientation="horizontal")
        bar.set_label(f"Distance from target {label_year} (% of target)", fontsize=s.SMALL_SIZE)
        bar.ax.xaxis.set_label_position("top")
        s.pct_axis(bar.ax.xaxis)
        _size_key(fig, key_box, label_year)

    s.set_data(
        fig,
        pd.DataFrame(
            {
                "code": codes,
                "name": result["icb_name"].values.astype(str),
                "region": regions.astype(str),
                "lat": lat,
                "lon": lon,
                f"allocation_{label_year.replace('/', '_')}_gbp": alloc,
                f"dft_{label_year.replace('/', '_')}_fraction": dft,
            }
        ),
    )
    return fig


def _london_box(lon, lat, pad: float = 0.07) -> tuple[float, float, float, float]:
    """Longitude and latitude limits around London's centroids [degrees]: a box as wide as it
    is tall on the map, with room above and below the bubbles for their labels."""
    if lon.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    scale = np.cos(np.deg2rad(MID_LAT))
    half = max((lon.max() - lon.min()) * scale / 2 + pad, (lat.max() - lat.min()) / 2 + 2 * pad)
    x, y = (lon.max() + lon.min()) / 2, (lat.max() + lat.min()) / 2
    return (x - half / scale, x + half / scale, y - half, y + half)


def _size_key(fig, box: Bbox, label_year: str) -> None:
    """Reference bubbles for £250m, £500m and £1bn in ``box`` (figure fraction)."""
    fig.text(
        box.x0,
        box.y0 + box.height * 0.75,
        f"Allocation {label_year}",
        fontsize=s.SMALL_SIZE,
        color=s.NHS_BLACK,
        ha="left",
        va="bottom",
        gid="size-key",
    )
    ax = fig.add_axes([box.x0, box.y0, box.width, box.height * 0.7])
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    for k, value in enumerate(SIZE_KEY):
        x = (0.05, 0.3, 0.6)[k]
        ax.scatter([x], [0.5], s=value * AREA_PER_GBP, facecolor="white", edgecolor=s.NHS_DARK_GREY)
        radius = np.sqrt(value * AREA_PER_GBP / np.pi)
        ax.annotate(
            s.fmt_gbp_m(value),
            (x, 0.5),
            xytext=(radius + 3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=s.NHS_BLACK,
        )


def _place_labels(
    fig, ax, indices, lon, lat, alloc, names, codes, dft, reserved, size: float = 8
) -> None:
    """Name ICBs beside their bubbles, trying positions until a label covers no other label,
    no other bubble and no reserved area (inset, colour bar, size key)."""
    renderer = fig.canvas.get_renderer()
    centres = ax.transData.transform(np.column_stack([lon, lat]))
    radii = np.sqrt(alloc * AREA_PER_GBP / np.pi) * fig.dpi / 72  # pixels
    bubbles = [
        Bbox.from_extents(cx - 0.8 * r, cy - 0.8 * r, cx + 0.8 * r, cy + 0.8 * r)
        for (cx, cy), r in zip(centres, radii)
    ]
    taken = list(reserved)  # labels and areas kept clear: covering one costs 1000x a bubble
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
        others = [(b, 1000.0) for b in taken] + [(b, 1.0) for j, b in enumerate(bubbles) if j != i]
        radius = np.sqrt(alloc[i] * AREA_PER_GBP / np.pi)  # points
        text = f"{names[i]}\n{s.fmt_pct(float(dft[i]))}"
        best = None
        for gap in (3, 16, 30, 48):
            for dx, dy, ha, va in directions:
                scale = 0.75 if dx and dy else 1.0  # diagonals: keep the corner near the bubble
                ann = ax.annotate(
                    text,
                    (lon[i], lat[i]),
                    xytext=(dx * scale * (radius + gap), dy * scale * (radius + gap)),
                    textcoords="offset points",
                    fontsize=size,
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
                ann.update_positions(renderer)
                # The text's own box: Annotation.get_window_extent would add the leader line,
                # which always crosses the bubbles and labels between the text and its bubble.
                box = Text.get_window_extent(ann, renderer).expanded(1.05, 1.1)
                clash = sum(weight * _overlap(box, other) for other, weight in others)
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
