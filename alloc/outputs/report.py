"""PDF board pack from one result (matplotlib ``PdfPages``), A4, written atomically.

National pack: a cover (scenario and provenance), a one-page national summary, the standard
charts (distance-from-target glide paths, start-vs-end dot plot, map; the left-shift chart when
the result has pathway variables; fan and tornado charts when an ensemble or a sensitivity
table is passed), then one table page per NHS England region.

Single-ICB pack (``icb=``): a cover, the ICB's summary by year, glide paths with the ICB
highlighted, its allocation waterfall, the dot plot and map with it highlighted, its left-shift
chart when modelled, and its region's table.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alloc.errors import AllocError
from alloc.inputs.years import year_label
from alloc.outputs.atomic import check_output_file
from alloc.resources import suggest


@dataclass
class Report:
    """What :func:`write_report` wrote: the file and the title of each page, in order."""

    path: Path
    pages: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Figures for the text pages
# --------------------------------------------------------------------------------------------


def _text_page(title: str, subtitle: str, attrs) -> tuple:
    from alloc.outputs.plots import style as s

    fig = s.new_figure(s.A4_PORTRAIT)
    s.set_titles(fig, title, subtitle)
    s.add_footnote(fig, attrs)
    return fig, s


def _lines(
    fig, s, y: float, rows: list[tuple[str, str]], x_value: float = 0.36, size: float | None = None
) -> float:
    """Label / value lines from ``y`` (figure fraction) down; returns the next free ``y``."""
    size = size or s.BASE_SIZE
    step = size * 1.9 / 72 / fig.get_figheight()
    width = (1 - x_value - 0.05) * fig.get_figwidth()
    for label, value in rows:
        fig.text(0.06, y, label, fontsize=size, fontweight="bold", color=s.NHS_DARK_BLUE, va="top")
        wrapped = s.wrap_to_width(str(value), width, size)
        fig.text(x_value, y, wrapped, fontsize=size, color=s.NHS_BLACK, va="top")
        y -= step * (wrapped.count("\n") + 1) + step * 0.25
    return y


def cover_page(result: xr.Dataset, icb: str | None = None):
    """Cover: what the pack is, the scenario, the illustrative-data warning and provenance."""
    from alloc.outputs.plots._data import is_illustrative

    a = result.attrs
    years = result["year"].values
    span = f"{year_label(int(years[0]))} to {year_label(int(years[-1]))}"
    if icb:
        name = str(result["icb_name"].sel(icb=icb).item())
        title = f"{name} ({icb}): specialised services allocations {span}"
    else:
        title = f"Specialised services allocations to the {result.sizes['icb']} ICBs, {span}"
    fig, s = _text_page(
        title,
        f"Board pack: scenario '{a.get('scenario_name', '')}'. {a.get('scenario_description', '')}",
        a,
    )
    y = 1 - s.title_block_height(fig) - 0.02
    status = is_illustrative(a)
    if status is not False:
        warn = (
            "ILLUSTRATIVE DATA. The historic-cost baseline in this pack is generated "
            "(seeded) to demonstrate the method. These are not NHS England figures and must "
            "not be read as any ICB's allocation."
        )
        fig.text(
            0.06,
            y,
            s.wrap_to_width(warn, 0.88 * fig.get_figwidth() - 0.3, 12, "bold"),
            fontsize=12,
            fontweight="bold",
            color="white",
            va="top",
            gid="illustrative",
            bbox=dict(boxstyle="round,pad=0.6", facecolor=s.NHS_ORANGE, linewidth=0),
        )
        y -= 0.09
    rows = [
        ("Scenario", f"{a.get('scenario_name', '')} (hash {a.get('scenario_hash', '')})"),
        ("Scenario file", a.get("scenario_file", "")),
        ("Policy", f"{a.get('policy_name', '')} (kind {a.get('policy_kind', '')})"),
        ("Target formula", a.get("formula_name", "")),
        ("Convergence on", f"{a.get('convergence_level', '')} allocations"),
        ("Envelope growth", f"{a.get('envelope_growth', '')} a year (cash)"),
        ("Population growth", f"{a.get('population_growth', '')} a year"),
        ("Data folder", f"{a.get('data_folder', '')} (input hash {a.get('input_hash', '')})"),
        ("Money", f"pounds, {a.get('price_base', 'cash')}; shown in £ million"),
        (
            "Produced by",
            f"alloc {a.get('alloc_version', '')}, result created {a.get('created', '')}",
        ),
    ]
    y = _lines(fig, s, y - 0.02, rows, x_value=0.30)
    contents = (
        "Contents: this cover; a summary; charts of distance from target over the "
        "years, by ICB and on a map"
        + (", the allocation waterfall" if icb else "")
        + "; tables by region. Distance from target (DfT) = (allocation - target) / "
        "target: negative means below the needs-based target."
    )
    fig.text(
        0.06,
        y - 0.02,
        s.wrap_to_width(contents, 0.88 * fig.get_figwidth(), s.BASE_SIZE),
        fontsize=s.BASE_SIZE,
        color=s.NHS_DARK_GREY,
        va="top",
    )
    return fig


def _summary_numbers(result: xr.Dataset) -> pd.DataFrame:
    """National figures per year: envelope [GBP], growth, DfT range, counts below target."""
    from alloc.outputs.plots.style import fmt_gbp_m, fmt_pct

    dft = result["dft"]
    env = result["envelope"].values
    rows = []
    for k, y in enumerate(result["year"].values):
        d = dft.sel(year=y).values
        rows.append(
            {
                "Year": year_label(int(y)),
                "Envelope (£m)": fmt_gbp_m(env[k], 1),
                "Envelope growth (%)": "" if k == 0 else fmt_pct(env[k] / env[k - 1] - 1, 2),
                "Lowest DfT (%)": fmt_pct(d.min()),
                "Highest DfT (%)": fmt_pct(d.max()),
                "ICBs below target": str(int((d < 0).sum())),
                "ICBs > 5% below": str(int((d < -0.05).sum())),
                "Policy status": str(result["policy_status"].sel(year=y).item()),
            }
        )
    return pd.DataFrame(rows)


def summary_page(result: xr.Dataset):
    """One-page national summary: the headline numbers and a table by year."""
    from alloc.outputs.plots.style import fmt_gbp_m, fmt_pct, short_name

    years = result["year"].values
    first, last = year_label(int(years[0])), year_label(int(years[-1]))
    env0, env1 = float(result["envelope"].isel(year=0)), float(result["envelope"].isel(year=-1))
    n = int(years[-1] - years[0])
    alloc0, alloc1 = result["allocation"].isel(year=0), result["allocation"].isel(year=-1)
    growth = (alloc1 / alloc0) ** (1 / n) - 1
    dft0, dft1 = result["dft"].isel(year=0), result["dft"].isel(year=-1)
    hi, lo = str(growth.idxmax("icb").item()), str(growth.idxmin("icb").item())
    name = {c: short_name(v) for c, v in zip(result["icb"].values, result["icb_name"].values)}
    title = (
        f"The envelope grows from {fmt_gbp_m(env0)} to {fmt_gbp_m(env1)}; ICBs more than 5% "
        f"below target fall from {int((dft0 < -0.05).sum())} to {int((dft1 < -0.05).sum())}"
    )
    fig, s = _text_page(
        title, f"National summary, {first} to {last}. Money in £ million (cash).", result.attrs
    )
    y = 1 - s.title_block_height(fig) - 0.01
    rows = [
        (
            "Envelope",
            f"{fmt_gbp_m(env0, 1)} in {first} → {fmt_gbp_m(env1, 1)} in {last} "
            f"({fmt_pct((env1 / env0) ** (1 / n) - 1, 2, sign=False)} a year, cash)",
        ),
        (
            "Distance from target",
            f"{fmt_pct(float(dft0.min()))} to {fmt_pct(float(dft0.max()))}"
            f" in {first} → {fmt_pct(float(dft1.min()))} to "
            f"{fmt_pct(float(dft1.max()))} in {last}",
        ),
        (
            "ICBs below target",
            f"{int((dft0 < 0).sum())} in {first} → {int((dft1 < 0).sum())} in "
            f"{last} (of {result.sizes['icb']})",
        ),
        (
            "Fastest cash growth",
            f"{name[hi]} ({hi}): {fmt_pct(float(growth.sel(icb=hi)), 2)} a year",
        ),
        (
            "Slowest cash growth",
            f"{name[lo]} ({lo}): {fmt_pct(float(growth.sel(icb=lo)), 2)} a year",
        ),
        (
            "Policy",
            f"{result.attrs.get('policy_name', '')} ({result.attrs.get('policy_kind', '')})",
        ),
    ]
    y = _lines(fig, s, y, rows, x_value=0.33)
    fig.text(
        0.05,
        y - 0.01,
        "By year",
        fontsize=s.SUBTITLE_SIZE,
        fontweight="bold",
        color=s.NHS_DARK_BLUE,
        va="top",
    )
    y = _draw_table(
        fig,
        s,
        _summary_numbers(result),
        top=y - 0.035,
        font=8.5,
        gid="summary-table",
        first_col_width=0.11,
    )
    fig.text(
        0.05,
        y - 0.025,
        f"ICBs furthest from target in {first}",
        fontsize=s.SUBTITLE_SIZE,
        fontweight="bold",
        color=s.NHS_DARK_BLUE,
        va="top",
    )
    _draw_table(
        fig,
        s,
        _extremes(result, growth),
        top=y - 0.05,
        font=8,
        gid="extremes-table",
        first_col_width=0.46,
    )
    return fig


def _extremes(result: xr.Dataset, growth: xr.DataArray, k: int = 5) -> pd.DataFrame:
    """The ``k`` ICBs furthest below and ``k`` furthest above target in the base year."""
    from alloc.outputs.plots.style import fmt_pct, short_name

    years = result["year"].values
    first, last = year_label(int(years[0])), year_label(int(years[-1]))
    start = result["dft"].isel(year=0).to_series().sort_values()
    codes = list(start.index[:k]) + list(start.index[-k:])
    return pd.DataFrame(
        {
            "ICB": [f"{c} {short_name(result['icb_name'].sel(icb=c).item())}" for c in codes],
            "Region": [str(result["region"].sel(icb=c).item()) for c in codes],
            f"DfT {first} (%)": [fmt_pct(float(start[c])) for c in codes],
            f"DfT {last} (%)": [
                fmt_pct(float(result["dft"].sel(icb=c).isel(year=-1))) for c in codes
            ],
            "Cash growth (% a year)": [fmt_pct(float(growth.sel(icb=c)), 2) for c in codes],
        }
    )


def _draw_table(
    fig,
    s,
    table: pd.DataFrame,
    top: float,
    font: float,
    gid: str,
    first_col_width: float = 0.3,
    total_last: bool = False,
    left: float = 0.05,
    width: float = 0.90,
    row_factor: float = 2.0,
) -> float:
    """A formatted table across the page from ``top`` (figure fraction) down.

    Header labels are wrapped to their column. Returns the figure fraction of its bottom edge.
    """
    n_cols = len(table.columns)
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
        elif total_last and r == len(table):
            cell.set_facecolor(s.NHS_PALE_GREY)
            cell.set_text_props(fontweight="bold")
        elif r % 2 == 0:
            cell.set_facecolor("#F7F9FA")
    return top - height


def _range_text(lo: float, hi: float) -> str:
    from alloc.outputs.plots.style import fmt_pct

    return (
        f"all at {fmt_pct(lo)}"
        if fmt_pct(lo) == fmt_pct(hi)
        else f"from {fmt_pct(lo)} to {fmt_pct(hi)}"
    )


def region_table(result: xr.Dataset, region: str) -> pd.DataFrame:
    """Per ICB of ``region``: baseline, final target and allocation [£m, 0.1 rounded so the
    column sums to the region total], DfT at start and end and average growth [%], per head
    [£]; region total row last."""
    from alloc.outputs.plots.style import fmt_pct, short_name
    from alloc.rounding import largest_remainder

    years = result["year"].values
    first, last = year_label(int(years[0])), year_label(int(years[-1]))
    n = int(years[-1] - years[0])
    sel = result.sel(icb=result["region"] == region)
    codes = sel["icb"].values
    money = {
        f"Baseline {first} (£m)": sel["baseline"].values,
        f"Target {last} (£m)": sel["target"].isel(year=-1).values,
        f"Allocation {last} (£m)": sel["allocation"].isel(year=-1).values,
    }
    frame = pd.DataFrame(
        {"ICB": [f"{c} {short_name(nm)}" for c, nm in zip(codes, sel["icb_name"].values)]}
    )
    totals = {"ICB": f"{region} ({len(codes)} ICBs)"}
    for col, values in money.items():
        rounded = largest_remainder(values, unit=1e5)
        frame[col] = [f"{v / 10:,.1f}" for v in rounded]
        totals[col] = f"{rounded.sum() / 10:,.1f}"
    a0, a1 = sel["allocation"].isel(year=0), sel["allocation"].isel(year=-1)
    t0, t1 = sel["target"].isel(year=0), sel["target"].isel(year=-1)
    frame[f"DfT {first} (%)"] = [fmt_pct(v) for v in sel["dft"].isel(year=0).values]
    frame[f"DfT {last} (%)"] = [fmt_pct(v) for v in sel["dft"].isel(year=-1).values]
    frame["Growth (% a year)"] = [fmt_pct(v, 2) for v in ((a1 / a0) ** (1 / n) - 1).values]
    frame[f"Per head {last} (£)"] = [
        f"{v:,.0f}" for v in sel["allocation_per_head"].isel(year=-1).values
    ]
    totals[f"DfT {first} (%)"] = fmt_pct(float((a0.sum() - t0.sum()) / t0.sum()))
    totals[f"DfT {last} (%)"] = fmt_pct(float((a1.sum() - t1.sum()) / t1.sum()))
    totals["Growth (% a year)"] = fmt_pct(float((a1.sum() / a0.sum()) ** (1 / n) - 1), 2)
    pop = sel["population"].isel(year=-1).sum()
    totals[f"Per head {last} (£)"] = f"{float(a1.sum() / pop):,.0f}"
    return pd.concat([frame, pd.DataFrame([totals])], ignore_index=True)


def region_page(result: xr.Dataset, region: str, highlight: str | None = None):
    """One region's table on an A4 landscape page."""
    from alloc.outputs.plots import style as s

    table = region_table(result, region)
    last = year_label(int(result["year"][-1]))
    dft_end = result["dft"].isel(year=-1).sel(icb=result["region"] == region)
    title = (
        f"{region}: {len(table) - 1} ICBs; distance from target in {last} "
        f"{_range_text(float(dft_end.min()), float(dft_end.max()))}"
    )
    fig = s.new_figure(s.A4_LANDSCAPE)
    s.set_titles(
        fig,
        title,
        "Allocations and targets in £ million (cash), rounded to £0.1m by "
        "largest remainder so ICBs sum to the region total. DfT = (allocation - target)"
        " / target; negative = below target.",
    )
    s.add_footnote(fig, result.attrs)
    top = 1 - s.title_block_height(fig)
    bottom = _draw_table(
        fig,
        s,
        table,
        top=top,
        font=9,
        gid=f"region:{region}",
        first_col_width=0.30,
        total_last=True,
        row_factor=1.75,
    )
    if highlight:
        for (r, _c), cell in fig.axes[-1].tables[0].get_celld().items():
            if 0 < r < len(table) and table.iloc[r - 1, 0].startswith(highlight + " "):
                cell.set_text_props(fontweight="bold", color=s.NHS_BLUE)
    floor = s.footnote_height(fig) + 0.6 / fig.get_figheight()
    n_icbs = len(table) - 1
    if bottom - floor > 0.18:
        height = min(bottom - floor - 0.08, (0.3 * n_icbs + 0.2) / fig.get_figheight())
        _growth_bars(
            fig, s, result, region, [0.30, bottom - 0.08 - height, 0.62, height], highlight
        )
    return fig


def _growth_bars(
    fig, s, result: xr.Dataset, region: str, rect: list[float], highlight: str | None
) -> None:
    """Average annual cash growth of each ICB in ``region`` against England (horizontal bars)."""
    years = result["year"].values
    n = int(years[-1] - years[0])
    sel = result.sel(icb=result["region"] == region)
    growth = (sel["allocation"].isel(year=-1) / sel["allocation"].isel(year=0)) ** (1 / n) - 1
    env = result["envelope"].values
    england = (env[-1] / env[0]) ** (1 / n) - 1
    order = np.argsort(growth.values)
    codes = sel["icb"].values[order]
    names = [f"{c} {s.short_name(nm)}" for c, nm in zip(codes, sel["icb_name"].values[order])]
    ax = fig.add_axes(rect)
    ax.set_gid(f"growth:{region}")
    colours = [s.NHS_BLUE if c == highlight else s.NHS_LIGHT_BLUE for c in codes]
    ax.barh(np.arange(len(codes)), growth.values[order], color=colours, height=0.65)
    ax.axvline(england, color=s.NHS_ORANGE, linewidth=2)
    ax.text(
        england,
        len(codes) - 0.35,
        f" England {s.fmt_pct(england, 2)}",
        color=s.NHS_ORANGE,
        fontsize=s.SMALL_SIZE,
        va="bottom",
        ha="left",
        fontweight="bold",
    )
    for i, v in enumerate(growth.values[order]):
        ax.text(v, i, f" {s.fmt_pct(float(v), 2)}", va="center", fontsize=8)
    ax.set_yticks(np.arange(len(codes)), names, fontsize=8)
    ax.set_xlabel(
        f"Average annual cash growth {year_label(int(years[0]))} to "
        f"{year_label(int(years[-1]))} (% a year)"
    )
    ax.set_xlim(0, max(float(growth.max()), england) * 1.2)
    s.pct_axis(ax.xaxis, 1)
    ax.set_title(
        "Cash growth by ICB against England",
        loc="left",
        fontsize=s.SUBTITLE_SIZE,
        color=s.NHS_DARK_BLUE,
        fontweight="bold",
    )


def icb_summary_page(result: xr.Dataset, icb: str):
    """One ICB by year: allocation, target, DfT, growth and per head, against England."""
    from alloc.outputs.plots.style import fmt_gbp_m, fmt_pct, short_name

    name = short_name(result["icb_name"].sel(icb=icb).item())
    sel = result.sel(icb=icb)
    years = result["year"].values
    first, last = year_label(int(years[0])), year_label(int(years[-1]))
    d0, d1 = float(sel["dft"].isel(year=0)), float(sel["dft"].isel(year=-1))
    a0, a1 = float(sel["allocation"].isel(year=0)), float(sel["allocation"].isel(year=-1))
    title = (
        f"{name}: allocation {fmt_gbp_m(a0)} in {first} → {fmt_gbp_m(a1)} in {last}; "
        f"distance from target {fmt_pct(d0)} → {fmt_pct(d1)}"
    )
    fig, s = _text_page(
        title,
        f"{icb} {name}, {sel['region'].item()} region. Money in £ million (cash).",
        result.attrs,
    )
    env = result["envelope"].values
    rows = []
    for k, y in enumerate(years):
        rows.append(
            {
                "Year": year_label(int(y)),
                "Allocation (£m)": fmt_gbp_m(float(sel["allocation"].sel(year=y)), 1),
                "Target (£m)": fmt_gbp_m(float(sel["target"].sel(year=y)), 1),
                "DfT (%)": fmt_pct(float(sel["dft"].sel(year=y))),
                "ICB growth (%)": "" if k == 0 else fmt_pct(float(sel["growth"].sel(year=y)), 2),
                "England growth (%)": "" if k == 0 else fmt_pct(env[k] / env[k - 1] - 1, 2),
                "Per head (£)": f"{float(sel['allocation_per_head'].sel(year=y)):,.0f}",
            }
        )
    top = 1 - s.title_block_height(fig) - 0.01
    y = _draw_table(
        fig, s, pd.DataFrame(rows), top=top, font=9, gid="icb-table", first_col_width=0.12
    )
    rank = int((result["dft"].isel(year=0) < d0).sum()) + 1
    notes = [
        ("Rank in " + first, f"{rank} of {result.sizes['icb']} from furthest below target"),
        ("Baseline share", fmt_pct(a0 / env[0], 2, sign=False) + " of the national envelope"),
        ("Target share " + last, fmt_pct(float(sel["target_share"].isel(year=-1)), 2, sign=False)),
    ]
    y = _lines(fig, s, y - 0.03, notes, x_value=0.36)
    ax = fig.add_axes(
        [0.14, s.footnote_height(fig) + 0.05, 0.80, y - 0.09 - s.footnote_height(fig)]
    )
    ax.set_gid("icb-lines")
    ax.plot(
        years,
        sel["target"].values,
        color=s.NHS_ORANGE,
        linewidth=2,
        marker="o",
        label="Needs-based target",
    )
    ax.plot(
        years,
        sel["allocation"].values,
        color=s.NHS_BLUE,
        linewidth=2.5,
        marker="o",
        label="Allocation",
    )
    ax.set_xticks(years, [year_label(int(y)) for y in years])
    ax.set_ylabel("£ million (cash)")
    s.gbp_m_axis(ax.yaxis)
    ax.grid(axis="y")
    ax.legend(loc="upper left")
    ax.set_title(
        f"{name}: allocation and target by year",
        loc="left",
        fontsize=s.SUBTITLE_SIZE,
        color=s.NHS_DARK_BLUE,
        fontweight="bold",
    )
    return fig


# --------------------------------------------------------------------------------------------
# The pack
# --------------------------------------------------------------------------------------------


def report_figures(
    result: xr.Dataset,
    icb: str | None = None,
    ensemble: xr.Dataset | xr.DataArray | None = None,
    sensitivity: pd.DataFrame | None = None,
) -> list[tuple[str, object]]:
    """The pack's pages in order as ``(title, Figure)``."""
    from alloc.outputs.plots.style import house_style

    with house_style():  # text pages build axes too: they take the house rcParams
        return _pages(result, icb, ensemble, sensitivity)


def _pages(result, icb, ensemble, sensitivity) -> list[tuple[str, object]]:
    from alloc.outputs import plots
    from alloc.outputs.plots._data import has_left_shift

    has_ls = has_left_shift(result)
    regions = _regions(result)
    pages: list[tuple[str, object]] = [("Cover", cover_page(result, icb))]
    if icb is None:
        pages.append(("National summary", summary_page(result)))
        pages.append(("Glide paths", plots.glide_paths(result)))
        pages.append(("DfT by ICB", plots.dft_dot_plot(result)))
        pages.append(("Map", plots.icb_map(result)))
        if has_ls:
            pages.append(
                (
                    "Left shift",
                    plots.left_shift_chart(
                        result["left_shift_saving"],
                        result["upstream_cost"],
                        provenance=result.attrs,
                    ),
                )
            )
    else:
        pages.append((f"{icb} summary", icb_summary_page(result, icb)))
        pages.append(("Glide paths", plots.glide_paths(result, highlight=icb)))
        pages.append(("Waterfall", plots.allocation_waterfall(result, icb)))
        pages.append(("DfT by ICB", plots.dft_dot_plot(result, highlight=icb)))
        pages.append(("Map", plots.icb_map(result, highlight=icb)))
        if has_ls:
            from alloc.outputs.plots.style import short_name

            name = short_name(result["icb_name"].sel(icb=icb).item())
            pages.append(
                (
                    "Left shift",
                    plots.left_shift_chart(
                        result["left_shift_saving"],
                        result["upstream_cost"],
                        icb=icb,
                        name=name,
                        provenance=result.attrs,
                    ),
                )
            )
        regions = [str(result["region"].sel(icb=icb).item())]
    if ensemble is not None:
        central = None
        if isinstance(ensemble, xr.Dataset):
            central = ensemble.get("allocation_central")
            ensemble = ensemble["allocation_q"]
        who = icb or widest_interval(ensemble)
        name = result["icb_name"].sel(icb=who).item()
        from alloc.outputs.plots.style import short_name

        pages.append(
            (
                "Fan chart",
                plots.fan_chart(
                    ensemble,
                    icb=who,
                    central=central,
                    name=f"{short_name(name)} ({who}) allocation",
                    provenance=result.attrs,
                ),
            )
        )
    if sensitivity is not None:
        pages.append(("Tornado", plots.tornado_chart(sensitivity, provenance=result.attrs)))
    for region in regions:
        pages.append((f"Region: {region}", region_page(result, region, highlight=icb)))
    return pages


def widest_interval(quantiles: xr.DataArray) -> str:
    """The ICB whose final-year interval (outermost quantiles) is widest relative to its median."""
    last = quantiles.isel(year=-1)
    q = last["quantile"].values
    lo, hi = last.sel(quantile=q.min()), last.sel(quantile=q.max())
    mid = last.sel(quantile=0.5, method="nearest")
    return str(((hi - lo) / abs(mid)).idxmax("icb").item())


def load_ensemble(path: str | Path, result: xr.Dataset) -> xr.Dataset:
    """Read ``ensemble.nc`` (or its folder) written by ``alloc ensemble`` and check that it
    belongs to ``result`` (same scenario and input data, one grid point)."""
    from alloc.outputs.results import read_result

    path = Path(path)
    nc = path / "ensemble.nc" if path.is_dir() else path
    if not nc.is_file():
        raise AllocError(
            nc, "--ensemble", "expected ensemble.nc written by `alloc ensemble`; it does not exist"
        )
    try:
        ens = read_result(nc)
    except (OSError, ValueError) as exc:
        raise AllocError(
            nc,
            "--ensemble",
            f"expected a NetCDF file written by `alloc ensemble` ({type(exc).__name__})",
        ) from None
    if "allocation_q" not in ens:
        raise AllocError(nc, "allocation_q", "expected the quantiles written by `alloc ensemble`")
    for key in ("scenario_name", "input_hash"):
        if key in ens.attrs and key in result.attrs and ens.attrs[key] != result.attrs[key]:
            raise AllocError(
                nc,
                key,
                f"expected {result.attrs[key]!r} (the result's), found "
                f"{ens.attrs[key]!r}: the ensemble is of another scenario or data",
            )
    grid = [d for d in ens["allocation_q"].dims if d not in ("icb", "year", "quantile")]
    if grid:
        raise AllocError(
            nc,
            "grid",
            f"expected one grid point, found grid dimension(s) "
            f"{', '.join(grid)}; run the ensemble without a grid for the pack",
        )
    return ens


def load_sensitivity(path: str | Path) -> pd.DataFrame:
    """Read a sensitivity table CSV (``alloc sensitivity --csv``, or parameter, low, high,
    base columns)."""
    path = Path(path)
    if not path.is_file():
        raise AllocError(path, "--sensitivity", "expected a CSV file; it does not exist")
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise AllocError(
            path, "--sensitivity", f"expected a CSV table ({type(exc).__name__})"
        ) from None
    forms = (
        {"parameter", "output_low", "output_high", "output_central"},
        {"parameter", "low", "high", "base"},
    )
    if not any(f <= set(table.columns) for f in forms):
        raise AllocError(
            path,
            "columns",
            "expected parameter, output_low, output_high, "
            "output_central (from `alloc sensitivity`) or parameter, low, high, base;"
            f" found {', '.join(map(str, table.columns))}",
        )
    if "output" in table.columns:  # written by `alloc sensitivity --csv`: says what it measured
        table.attrs["output"] = str(table["output"].iloc[0])
        if "units" in table.columns:
            table.attrs["units"] = str(table["units"].iloc[0])
    elif "output_low" in table.columns:  # older tables measured only the DfT
        table.attrs["output"] = "final-year distance from target"
    return table


def _regions(result: xr.Dataset) -> list[str]:
    from alloc.outputs.plots.dft import ordered_regions

    return ordered_regions(result["region"].values.tolist())


def write_report(
    result: xr.Dataset,
    out: str | Path,
    icb: str | None = None,
    force: bool = False,
    ensemble: xr.Dataset | xr.DataArray | None = None,
    sensitivity: pd.DataFrame | None = None,
    source: str = "result",
    extra_pages: list[tuple[str, object]] | None = None,
) -> Report:
    """Write the PDF board pack for ``result`` to ``out`` atomically.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run` or :func:`alloc.outputs.results.read_result`.
    out : str or Path
        The PDF to write; written to a temporary file beside it and renamed into place.
    icb : str, optional
        ICB code for a single-ICB pack.
    force : bool
        Replace an existing ``out``.
    ensemble : xarray.Dataset or xarray.DataArray, optional
        Ensemble quantiles for a fan chart (see :mod:`alloc.outputs.plots.uncertainty`): the Dataset
        of :func:`alloc.uncertainty.ensemble.run_ensemble` (its ``allocation_q`` and
        ``allocation_central``) or a quantile DataArray. The chart shows ``icb``, or in the
        national pack the ICB with the widest final-year interval.
    sensitivity : pandas.DataFrame, optional
        Sensitivity table for a tornado chart (see :mod:`alloc.outputs.plots.uncertainty`).
    source : str
        Name of the result's origin, for error messages.
    extra_pages : list of (str, Figure), optional
        Pages added before the region tables, e.g. the comparison charts of
        :func:`alloc.outputs.compare.report_pages` (``alloc report --compare``).

    Returns
    -------
    Report
        The file written and the title of each page.

    Raises
    ------
    AllocError
        When ``out`` exists without ``force``, is not a ``.pdf``, or ``icb`` is unknown.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    from alloc.outputs.plots.style import house_style

    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise AllocError(out, "--out", f"expected a file name ending .pdf, found '{out.name}'")
    check_output_file(out, "--out", force)  # a file only: never a folder
    if icb is not None and icb not in result["icb"].values:
        codes = result["icb"].values
        raise AllocError(
            source,
            "--icb",
            f"expected one of the {codes.size} ICB codes of {result.attrs.get('geography', 'the result')}"
            f" (e.g. {', '.join(codes[:3])}; see `alloc list icbs`), found '{icb}'."
            f"{suggest(icb, list(codes))}",
        )
    pages = report_figures(result, icb, ensemble, sensitivity)
    if extra_pages:
        at = next((k for k, (p, _) in enumerate(pages) if p.startswith("Region:")), len(pages))
        pages[at:at] = extra_pages
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    a = result.attrs
    metadata = {
        "Title": f"alloc board pack: scenario {a.get('scenario_name', '')}"
        + (f", {icb}" if icb else ""),
        "Author": "alloc",
        "Creator": f"alloc {a.get('alloc_version', '')}",
        "Subject": "NHS England specialised services allocations",
        "Keywords": f"scenario_hash={a.get('scenario_hash', '')} "
        f"input_hash={a.get('input_hash', '')}",
        "CreationDate": None,
    }
    try:
        with house_style(), PdfPages(tmp, metadata=metadata) as pdf:
            for _, fig in pages:
                pdf.savefig(fig)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Report(out, [title for title, _ in pages])


__all__ = [
    "Report",
    "write_report",
    "report_figures",
    "load_ensemble",
    "load_sensitivity",
    "widest_interval",
    "region_table",
    "cover_page",
    "summary_page",
    "region_page",
    "icb_summary_page",
]
