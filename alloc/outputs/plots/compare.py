"""Charts comparing scenarios (``alloc compare``): final-year distance from target by scenario,
the allocation difference from the first scenario by ICB, and the range of distance from target
across ICBs by year.

Each chart takes the table it draws (built by :mod:`alloc.outputs.compare` and written beside
the chart as CSV), the scenario names in order (the first is the reference) and provenance for
the footnote. Scenario *k* is drawn in colour ``SERIES[k]`` with marker ``MARKERS[k]`` on every
chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from alloc.outputs.plots import style as s
from alloc.outputs.plots.dft import ordered_regions, region_headings

#: Marker of each scenario, in order (with :data:`alloc.outputs.plots.style.SERIES` colours).
MARKERS = ["o", "s", "D", "^", "v", "P"]


def _label(code: str, name: str) -> str:
    return f"{s.short_name(name)} ({code})"


def _quoted(names: Sequence[str]) -> list[str]:
    return [f"'{n}'" for n in names]


def _region_blocks(frame: pd.DataFrame, key: pd.Series) -> list[tuple[str, list[str]]]:
    """(region, ICB codes) in NHS England order, ICBs within a region sorted by ``key``
    (indexed by ICB code)."""
    regions = frame.drop_duplicates("icb").set_index("icb")["region"]
    return [
        (region, list(key[regions[regions == region].index].sort_values(kind="stable").index))
        for region in ordered_regions(regions.values)
    ]


def _two_panels(blocks: list[tuple[str, list[str]]]) -> list[list[tuple[str, str]]]:
    """Rows of two side-by-side panels: ("region", name) headers and ("icb", code) rows, regions
    kept whole and the left panel about half (one panel for one region)."""
    rows = [[("region", name)] + [("icb", c) for c in codes] for name, codes in blocks]
    total = sum(len(r) for r in rows)
    left, acc = [], 0
    for k, r in enumerate(rows):
        if k and acc + len(r) / 2 > total / 2:
            break
        left += r
        acc += len(r)
    right = [row for r in rows for row in r][len(left) :]
    return [left, right] if right else [left]


def _panel_axes(fig: Figure, panels, labels: Mapping[str, str], size: float, legend: bool):
    """One axes per panel, side by side under the title, each with room at its left for its
    ICB names; returns the axes and the row positions of each panel (``{row: y}``)."""
    area = s.plot_area(fig, left=0.03, right=0.97, axis_room=0.62)
    if legend:
        area[3] -= 0.25 / fig.get_figheight()  # room for the legend above the panels
    label_ws = [
        (max(s.text_width(labels[c], size) for kind, c in rows if kind == "icb") + 0.2)
        / fig.get_figwidth()
        for rows in panels
    ]
    gap = 0.35 / fig.get_figwidth()
    panel_w = (area[2] - sum(label_ws) - (len(panels) - 1) * gap) / len(panels)
    rows_max = max(len(rows) for rows in panels)
    axes, positions, left = [], [], area[0]
    for rows, label_w in zip(panels, label_ws):
        left += label_w
        ax = fig.add_axes([left, area[1], panel_w, area[3]])
        y_of = {row: -float(i) for i, row in enumerate(rows)}
        icbs = [c for kind, c in rows if kind == "icb"]
        ax.set_yticks([y_of[("icb", c)] for c in icbs], [labels[c] for c in icbs])
        for tick in ax.get_yticklabels():
            tick.set_fontsize(size)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_ylim(-rows_max + 0.4, 0.8)
        region_headings(fig, ax, rows, y_of, left - label_w + 0.004)
        axes.append(ax)
        positions.append(y_of)
        left += panel_w + gap
    return axes, positions


def _xlabel(fig: Figure, ax, text: str) -> None:
    """An x axis label wrapped to the width of ``ax``."""
    width = ax.get_position().width * fig.get_figwidth()
    ax.set_xlabel(s.wrap_to_width(text, width, s.SMALL_SIZE), fontsize=s.SMALL_SIZE)


def dft_by_scenario(data: pd.DataFrame, names: Sequence[str], provenance: Mapping) -> Figure:
    """Final-year distance from target of every ICB under each scenario, grouped by region.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per ICB x scenario: ``icb``, ``icb_name``, ``region``, ``scenario``,
        ``financial_year``, ``dft`` [fraction].
    names : sequence of str
        Scenario names in order; the first is the reference.
    provenance : mapping
        Attributes for the footnote (:func:`alloc.outputs.compare.footnote_attrs`).

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape, two panels side by side (regions are not split between panels): one row
        per ICB (tick label name and code), one marker per scenario (``gid="scenario:<k>"``), a
        grey line joining an ICB's lowest and highest; regions in NHS England order
        (``gid="region:<name>"``), ICBs within a region from furthest below target (on average
        over the scenarios).
    """
    wide = data.pivot(index="icb", columns="scenario", values="dft")[list(names)]
    icb_names = data.drop_duplicates("icb").set_index("icb")["icb_name"]
    labels = {c: _label(c, icb_names[c]) for c in wide.index}
    last = str(data["financial_year"].iloc[0])
    panels = _two_panels(_region_blocks(data, wide.mean(axis=1)))
    values = wide.to_numpy()

    spread = values.max(0) - values.min(0)
    ranges = [
        f"{s.fmt_pct(values[:, k].min())} to {s.fmt_pct(values[:, k].max())}"
        for k in range(len(names))
    ]
    q = _quoted(names)
    best = int(np.argmin(spread))
    other = 0 if best != 0 else int(np.argmax(spread))
    if np.isclose(spread[best], spread[other], rtol=0, atol=5e-4):
        title = f"In {last} distance from target runs from {ranges[0]} under every scenario"
        if not np.allclose(values, values[:, :1], rtol=0, atol=5e-4):
            title = f"In {last} the scenarios leave ICBs equally spread about target ({ranges[0]})"
    else:
        title = (
            f"{q[best]} leaves ICBs closest together in {last}: distance from target "
            f"{ranges[best]}, against {ranges[other]} under {q[other]}"
        )
    subtitle = (
        f"Distance from target by ICB in {last}, % of target (negative = below target), one "
        "marker per scenario: " + "; ".join(f"{q[k]} {ranges[k]}" for k in range(len(names)))
    )
    lo, hi = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    pad = 0.06 * (hi - lo if hi > lo else 0.01)

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(fig, provenance, "A grey line joins an ICB's lowest and highest marker.")
        size = 8.0 if max(len(p) for p in panels) <= 30 else 7.5
        axes, positions = _panel_axes(fig, panels, labels, size, legend=True)
        for ax, y_of in zip(axes, positions):
            icbs = [c for kind, c in y_of if kind == "icb"]
            ys = np.array([y_of[("icb", c)] for c in icbs])
            vals = wide.loc[icbs].to_numpy()
            ax.axvline(0, color=s.NHS_DARK_GREY, linewidth=1, zorder=1, gid="zero")
            ax.grid(axis="x")
            ax.hlines(ys, vals.min(1), vals.max(1), color=s.NHS_MID_GREY, linewidth=1.2, zorder=2)
            for k, name in enumerate(names):
                colour = s.SERIES[k % len(s.SERIES)]
                style = dict(s=52, facecolor="white", edgecolor=colour, linewidth=1.8)
                if k:
                    style = dict(s=28, color=colour, edgecolor="white", linewidth=0.4)
                ax.scatter(
                    vals[:, k],
                    ys,
                    marker=MARKERS[k % len(MARKERS)],
                    zorder=3 + k,
                    gid=f"scenario:{k}",
                    label=name,
                    **style,
                )
            ax.set_xlim(lo - pad, hi + pad)
            _xlabel(fig, ax, f"Distance from target in {last} (% of target)")
            s.pct_axis(ax.xaxis)
        axes[-1].legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=min(len(names), 3),
            handletextpad=0.3,
            borderaxespad=0.3,
        )
    return fig


def allocation_difference(data: pd.DataFrame, names: Sequence[str], provenance: Mapping) -> Figure:
    """Final-year allocation under each later scenario minus the first's, by ICB, sorted.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per ICB x later scenario: ``icb``, ``icb_name``, ``scenario``,
        ``financial_year``, ``allocation_diff_gbp`` [GBP].
    names : sequence of str
        Scenario names in order; the first is the reference.
    provenance : mapping
        Attributes for the footnote.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape: horizontal bars in £ million, one row per ICB (name and code), sorted
        from the largest gain under the second scenario; with one comparison, gains blue and losses orange, each labelled with its
        value; with more, one bar per scenario in its colour (``gid="scenario:<k>"``).
    """
    later = list(names[1:])
    wide = data.pivot(index="icb", columns="scenario", values="allocation_diff_gbp")[later]
    icb_names = data.drop_duplicates("icb").set_index("icb")["icb_name"]
    labels = {c: _label(c, icb_names[c]) for c in wide.index}
    last = str(data["financial_year"].iloc[0])
    order = list(wide[later[0]].sort_values(ascending=False, kind="stable").index)
    values = wide.loc[order].to_numpy()
    n_comp = values.shape[1]
    q = _quoted(names)

    def moved(k):
        d = values[:, k]
        text = (
            f"{q[k + 1]} moves {s.fmt_gbp_m(float(d[d > 0].sum()), 1)} between ICBs "
            f"({int((d > 5e4).sum())} get more, {int((d < -5e4).sum())} less"
        )
        total = float(d.sum())
        if abs(total) >= 5e4:
            text += f"; England {s.fmt_gbp_m(total, 1, sign=True)}"
        return text + ")"

    if n_comp == 1:
        title = f"Compared with {q[0]} in {last}, " + moved(0)
    else:
        title = f"Compared with {q[0]} in {last}: " + "; ".join(moved(k) for k in range(n_comp))
    subtitle = (
        f"Allocation in {last} under "
        + (q[1] if n_comp == 1 else "each scenario")
        + f" minus the allocation under {q[0]}, by ICB, £ million (cash); sorted from the "
        "largest gain"
    )
    lo, hi = float(min(values.min(), 0)), float(max(values.max(), 0))
    pad = 0.2 * (hi - lo if hi > lo else 1.0)
    span = float(np.abs(values).max()) or 1.0

    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(fig, provenance)
        panels = [[("icb", c) for c in order]]  # one sorted list: read top to bottom
        size = 8.0 if len(order) <= 36 else 7.5
        axes, positions = _panel_axes(fig, panels, labels, size, legend=n_comp > 1)
        height = 0.72 / n_comp
        for ax, y_of in zip(axes, positions):
            icbs = [c for kind, c in y_of if kind == "icb"]
            ys = np.array([y_of[("icb", c)] for c in icbs])
            vals = wide.loc[icbs].to_numpy()
            ax.axvline(0, color=s.NHS_DARK_GREY, linewidth=1, zorder=3, gid="zero")
            ax.grid(axis="x")
            for k in range(n_comp):
                offset = (k - (n_comp - 1) / 2) * height
                if n_comp == 1:
                    colours = [s.NHS_BLUE if v >= 0 else s.NHS_ORANGE for v in vals[:, k]]
                else:
                    colours = s.SERIES[(k + 1) % len(s.SERIES)]
                ax.barh(
                    ys - offset,
                    vals[:, k],
                    height=height,
                    color=colours,
                    zorder=2,
                    gid=f"scenario:{k + 1}",
                    label=later[k],
                )
            if n_comp == 1:
                for y, v in zip(ys, vals[:, 0]):
                    ax.text(
                        v + (0.012 if v >= 0 else -0.012) * span,
                        y,
                        s.fmt_gbp_m(float(v), 1, sign=True),
                        va="center",
                        ha="left" if v >= 0 else "right",
                        fontsize=7.5,
                        color=s.NHS_DARK_GREY,
                    )
            ax.set_xlim(lo - pad, hi + pad)
            _xlabel(fig, ax, f"Difference from {q[0]}, {last} (£ million, cash)")
            s.gbp_m_axis(ax.xaxis)
        if n_comp > 1:
            axes[-1].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=min(n_comp, 3))
    return fig


def dft_range(data: pd.DataFrame, names: Sequence[str], provenance: Mapping) -> Figure:
    """The range of distance from target across ICBs by year under each scenario.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per scenario x year: ``scenario``, ``financial_year``, ``year``, ``dft_min``,
        ``dft_median``, ``dft_max`` [fraction], ``icb_min``, ``icb_min_name``, ``icb_max``,
        ``icb_max_name``.
    names : sequence of str
        Scenario names in order.
    provenance : mapping
        Attributes for the footnote.

    Returns
    -------
    matplotlib.figure.Figure
        A4 landscape: per scenario a band from the lowest to the highest ICB
        (``gid="band:<k>"``) and the median ICB as a line (``gid="median:<k>"``); the ICBs at
        each end of each band in the final year named at the right (``gid="label:<k>:low"``,
        ``"...:high"``).
    """
    q = _quoted(names)
    frames = [data[data["scenario"] == n].sort_values("year") for n in names]
    years = frames[0]["year"].to_numpy()
    labels = frames[0]["financial_year"].tolist()
    spread0 = [float(f["dft_max"].iloc[0] - f["dft_min"].iloc[0]) for f in frames]
    spread1 = [float(f["dft_max"].iloc[-1] - f["dft_min"].iloc[-1]) for f in frames]
    if all(s1 < s0 - 1e-9 for s0, s1 in zip(spread0, spread1)):
        verb = "narrows"
    elif all(s1 > s0 + 1e-9 for s0, s1 in zip(spread0, spread1)):
        verb = "widens"
    else:
        verb = "goes"
    if np.allclose(spread0, spread0[0], rtol=0, atol=5e-4):
        start = f"{100 * spread0[0]:.1f} percentage points in {labels[0]}"
    else:
        start = ", ".join(f"{100 * v:.1f} ({q[k]})" for k, v in enumerate(spread0))
        start += f" percentage points in {labels[0]}"
    ends = [f"{100 * v:.1f} under {q[k]}" for k, v in enumerate(spread1)]
    title = (
        f"The spread of distance from target across ICBs {verb} from {start} to "
        + (", ".join(ends[:-1]) + " and " + ends[-1] if len(ends) > 1 else ends[0])
        + f" in {labels[-1]}"
    )
    subtitle = (
        "Distance from target, % of target (negative = below target): the band runs from the "
        "ICB furthest below target to the ICB furthest above; the line is the median ICB"
    )

    n_entries = len(names) + 2
    ncol = n_entries if n_entries <= 5 else int(np.ceil(n_entries / 2))
    legend_rows = int(np.ceil(n_entries / ncol))
    with s.house_style():
        fig = s.new_figure(s.A4_LANDSCAPE)
        s.set_titles(fig, title, subtitle)
        s.add_footnote(fig, provenance)
        area = s.plot_area(fig, left=0.08, right=0.70)
        area[3] -= (0.1 + 0.22 * legend_rows) / fig.get_figheight()  # the legend above the axes
        ax = fig.add_axes(area)
        ax.axhline(0, color=s.NHS_DARK_GREY, linewidth=1, zorder=1, gid="zero")
        ax.grid(axis="y")
        handles = []
        for k, (name, f) in enumerate(zip(names, frames)):
            colour = s.SERIES[k % len(s.SERIES)]
            lo, mid, hi = (f[c].to_numpy() for c in ("dft_min", "dft_median", "dft_max"))
            ax.fill_between(
                years, lo, hi, color=colour, alpha=0.16, linewidth=0, zorder=2, gid=f"band:{k}"
            )
            for edge in (lo, hi):
                ax.plot(years, edge, color=colour, linewidth=1, alpha=0.8, zorder=3)
            ax.plot(
                years,
                mid,
                color=colour,
                linewidth=2.4,
                marker=MARKERS[k % len(MARKERS)],
                markersize=5,
                zorder=4 + k,
                gid=f"median:{k}",
            )
            handles.append(
                (
                    Line2D([], [], color=colour, linewidth=2.4, marker=MARKERS[k % len(MARKERS)]),
                    name,
                )
            )
        handles += [
            (Patch(facecolor=s.NHS_MID_GREY, alpha=0.3), "range: lowest to highest ICB"),
            (Line2D([], [], color=s.NHS_MID_GREY, linewidth=2.4), "median ICB"),
        ]
        ax.legend(
            [h for h, _ in handles],
            [t for _, t in handles],
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncol=ncol,
            borderaxespad=0.3,
            handlelength=2.2,
        )
        ax.set_xticks(years, labels)
        ax.set_xlim(years[0] - 0.2, years[-1] + 0.2)
        ax.set_xlabel("Financial year")
        ax.set_ylabel("Distance from target (% of target)")
        s.pct_axis(ax.yaxis)
        _label_extremes(fig, ax, frames, names, years)
    return fig


def _label_extremes(fig, ax, frames, names, years) -> None:
    """Name the ICBs at each end of each band in the final year at the right, nudged apart so
    that no two labels overlap."""
    items = []
    for k, f in enumerate(frames):
        row = f.iloc[-1]
        for end in ("min", "max"):
            items.append(
                (
                    float(row[f"dft_{end}"]),
                    k,
                    end,
                    f"{_label(row[f'icb_{end}'], row[f'icb_{end}_name'])} {s.fmt_pct(row[f'dft_{end}'])}",
                )
            )
    items.sort()
    y_lo, y_hi = ax.get_ylim()
    axis_in = ax.get_position().height * fig.get_figheight()
    per_in = (y_hi - y_lo) / axis_in
    gap = 2.7 * s.SMALL_SIZE / 72 * per_in  # two lines of small type, boxed
    placed: list[float] = []
    width = (0.985 - ax.get_position().x1) * fig.get_figwidth() - 0.35
    for value, *_ in items:
        y = value if not placed else max(value, placed[-1] + gap)
        placed.append(y)
    shift = max(0.0, placed[-1] - (y_hi - gap / 2)) if placed else 0.0
    placed = [p - shift for p in placed]
    for i in range(len(placed) - 2, -1, -1):  # pushing down from the top keeps them apart
        placed[i] = min(placed[i], placed[i + 1] - gap)
    for (value, k, end, text), y in zip(items, placed):
        colour = s.SERIES[k % len(s.SERIES)]
        word = "highest" if end == "max" else "lowest"
        ax.annotate(
            s.wrap_to_width(f"{word}: {text}", width, s.SMALL_SIZE - 0.5),
            xy=(years[-1], value),
            xytext=(years[-1] + 0.35, y),
            textcoords="data",
            fontsize=s.SMALL_SIZE - 0.5,
            color=s.NHS_BLACK,  # dark text on a tint of the band's colour: legible in any
            bbox=dict(boxstyle="round,pad=0.25", facecolor=colour, alpha=0.18, linewidth=0),
            va="center",
            ha="left",
            annotation_clip=False,
            gid=f"label:{k}:{'high' if end == 'max' else 'low'}",
            arrowprops=dict(arrowstyle="-", color=colour, linewidth=0.9),
        )


# --------------------------------------------------------------------------------------------
# Parts of the PDF pack's region pages
# --------------------------------------------------------------------------------------------


def draw_table(
    fig: Figure,
    table: pd.DataFrame,
    top: float,
    gid: str,
    font: float = 9,
    first_col_width: float = 0.2,
    left: float = 0.04,
    width: float = 0.92,
    row_factor: float = 1.75,
) -> float:
    """Draw ``table`` across ``fig`` from ``top`` (figure fraction) down, the last row as a total.

    Header labels are wrapped to their column. Returns the figure fraction of its bottom edge.
    """
    n_cols = len(table.columns)
    longest = max(s.text_width(str(v), font, "bold") for v in table.iloc[:, 0])
    first_col_width = min(0.5, max(first_col_width, (longest + 0.3) / (width * fig.get_figwidth())))
    widths = [first_col_width] + [(1 - first_col_width) / (n_cols - 1)] * (n_cols - 1)
    col_in = [w * width * fig.get_figwidth() - 0.12 for w in widths]
    labels = [s.wrap_to_width(str(c), w, font, "bold") for c, w in zip(table.columns, col_in)]
    header_lines = max(lab.count("\n") + 1 for lab in labels)
    row_in = font * row_factor / 72
    header_in = font * (1.25 * header_lines + 0.9) / 72
    height = (header_in + row_in * len(table)) / fig.get_figheight()
    ax = fig.add_axes([left, top - height, width, height])
    ax.set_axis_off()
    ax.set_gid(gid)
    tab = ax.table(
        cellText=table.values.tolist(),
        colLabels=labels,
        colWidths=widths,
        loc="upper left",
        cellLoc="right",
        bbox=[0, 0, 1, 1],
    )
    tab.auto_set_font_size(False)
    tab.set_fontsize(font)
    for (r, c), cell in tab.get_celld().items():
        cell.set_edgecolor(s.NHS_PALE_GREY)
        cell.set_linewidth(0.6)
        cell.set_height(header_in if r == 0 else row_in)
        if c == 0:
            cell.set_text_props(ha="left")
            cell.PAD = 0.02
        if r == 0:
            cell.set_facecolor(s.NHS_BLUE)
            cell.set_text_props(color="white", fontweight="bold", va="center")
        elif r == len(table):
            cell.set_facecolor(s.NHS_PALE_GREY)
            cell.set_text_props(fontweight="bold")
        elif r % 2 == 0:
            cell.set_facecolor("#F7F9FA")
    return top - height


def region_difference_bars(
    fig: Figure,
    rect: list[float],
    labels: Sequence[str],
    diffs: np.ndarray,
    names: Sequence[str],
    last: str,
) -> None:
    """Allocation difference from the first scenario of each ICB of a region (horizontal bars,
    £ million), ``diffs`` ICB x later scenario [GBP]."""
    n_icb, n_comp = diffs.shape
    order = np.argsort(-diffs[:, 0], kind="stable")
    ax = fig.add_axes(rect)
    ax.set_gid("region-differences")
    ys = -np.arange(n_icb, dtype=float)
    height = 0.7 / n_comp
    span = float(np.abs(diffs).max()) or 1.0
    for k in range(n_comp):
        values = diffs[order, k]
        offset = (k - (n_comp - 1) / 2) * height
        if n_comp == 1:
            colours = [s.NHS_BLUE if v >= 0 else s.NHS_ORANGE for v in values]
        else:
            colours = s.SERIES[(k + 1) % len(s.SERIES)]
        ax.barh(ys - offset, values, height=height, color=colours, label=names[k + 1])
        if n_comp > 1:
            continue  # the table beside gives the figures; labels on paired bars would collide
        for y, v in zip(ys - offset, values):
            ax.text(
                v + (0.01 if v >= 0 else -0.01) * span,
                y,
                s.fmt_gbp_m(float(v), 1, sign=True),
                va="center",
                ha="left" if v >= 0 else "right",
                fontsize=7.5,
                color=s.NHS_DARK_GREY,
            )
    ax.axvline(0, color=s.NHS_DARK_GREY, linewidth=1)
    lo, hi = float(min(diffs.min(), 0)), float(max(diffs.max(), 0))
    pad = 0.22 * (hi - lo if hi > lo else 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_yticks(ys, [labels[i] for i in order], fontsize=8)
    ax.tick_params(axis="y", length=0)
    s.gbp_m_axis(ax.xaxis)
    ax.set_xlabel(f"Allocation difference from '{names[0]}' in {last} (£ million, cash)")
    ax.set_title(
        f"Difference from '{names[0]}' by ICB, {last}",
        loc="left",
        fontsize=s.SUBTITLE_SIZE,
        color=s.NHS_DARK_BLUE,
        fontweight="bold",
    )
    if n_comp > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1)


__all__ = [
    "MARKERS",
    "dft_by_scenario",
    "allocation_difference",
    "dft_range",
    "draw_table",
    "region_difference_bars",
]
