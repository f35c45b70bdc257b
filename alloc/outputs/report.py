"""PDF board pack from one result (matplotlib ``PdfPages``), A4 landscape, written atomically.

National pack: a front page (the finding in one line, the decision asked, author, version and
security marking, key figures, what is illustrative, contents), a one-page national summary,
the left-shift summary when the scenario has levers (per pathway and the ICBs at both ends),
the standard charts (distance-from-target glide paths, start-vs-end dot plot, hexagon map and
bubble map; the left-shift chart when the result has pathway variables; fan and tornado charts
when an ensemble or a sensitivity table is passed), then one table page per NHS England region.

Single-ICB pack (``icb=``): the front page, the ICB's summary by year, its left-shift summary
when modelled, glide paths with the ICB highlighted, its allocation waterfall, the dot plot and
both maps with it highlighted, its left-shift chart when modelled, its fan chart, its tornado
(only a sensitivity table of that ICB), and its region's table.

Every page carries the security marking (``OFFICIAL`` by default) and "Page k of N". Money is
rounded once for the whole pack (:func:`alloc.outputs.plots._data.rounded_tenths`: £0.1m,
largest remainder across ICBs), so an ICB-year figure reads the same in every table and chart,
and ICBs add up to their region and England.
"""

from __future__ import annotations

import json
import os
import re
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

#: Security marking printed on every page (Government Security Classifications).
MARKING = "OFFICIAL"
#: "More than this far below target" in the summary counts [fraction].
NEAR = 0.01
#: Shown where the author has still to write the decision asked of the board.
DECISION_PLACEHOLDER = (
    "[To be completed by the author: the decision the board is asked to take. Set it with "
    'alloc report --decision "...".]'
)


@dataclass
class Report:
    """What :func:`write_report` wrote: the file and the title of each page, in order."""

    path: Path
    pages: list[str] = field(default_factory=list)


@dataclass
class PaperDetails:
    """The front-page fields a board paper needs that a result does not hold."""

    author: str | None = None
    version: str | None = None
    decision: str | None = None
    marking: str = MARKING


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


def _parse(value):
    """An attribute as recorded: JSON text (a year-keyed table) or a number."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def rate_text(value, unit: str = "a year") -> str:
    """A rate attribute as a reader writes it: ``0.035 -> "3.5% a year"``; a year-keyed table
    ``{"2026/27": 0.03, "2028/29": 0.04}`` -> ``"3.0% a year from 2026/27, 4.0% from 2028/29"``."""
    from alloc.outputs.plots.style import fmt_pct

    value = _parse(value)
    if isinstance(value, dict):
        parts = [
            f"{fmt_pct(float(v), 1, sign=False)} {unit if k == 0 else ''}from {y}".replace(
                "  ", " "
            )
            for k, (y, v) in enumerate(value.items())
        ]
        return ", ".join(parts)
    if isinstance(value, (int, float)):
        return f"{fmt_pct(float(value), 1, sign=False)} {unit}"
    return str(value or "(not recorded)")


def policy_text(attrs) -> str:
    """The policy as a sentence: name, floor, cap and the other limits it sets."""
    from alloc.outputs.plots.style import fmt_pct

    try:
        policy = json.loads(attrs.get("policy_json", "{}"))
    except ValueError:
        policy = {}
    name = attrs.get("policy_name", policy.get("name", ""))
    parts = []
    for key, label in (
        ("min_growth", "floor"),
        ("max_growth", "cap"),
        ("max_below_target", "at most this far below target"),
        ("convergence_rate", "convergence rate"),
    ):
        value = policy.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{label} {fmt_pct(float(value), 1, sign=False)}")
        elif isinstance(value, dict):
            parts.append(f"{label} {rate_text(value, '')}".strip())
    if policy.get("deadline"):
        parts.append(f"deadline {policy['deadline']}")
    basis = policy.get("growth_basis")
    text = str(name).replace("_", " ").replace("dft", "DfT")
    if parts:
        text += f" ({', '.join(parts)}{', ' + basis if basis else ''})"
    return text


def _data_text(attrs) -> str:
    from alloc.outputs.plots._data import is_illustrative

    folder = Path(str(attrs.get("data_folder", "")))
    if is_illustrative(attrs) is True:
        where = "embedded data shipped with alloc (illustrative baseline)"
    else:
        where = f"folder '{folder.name}'"
    if attrs.get("baseline_source"):
        where += f"; baseline {Path(str(attrs['baseline_source'])).name} (user-supplied)"
    return where


def _gbp_tenths(units: int, sign: bool = False) -> str:
    """Whole £0.1m as ``"£257.8m"``."""
    from alloc.outputs.plots._data import tenths_text

    return tenths_text(int(units), sign=sign)


def _m(units: int) -> str:
    """Whole £0.1m as a table figure in £m: ``"257.8"``."""
    from alloc.outputs.plots._data import tenths_text

    return tenths_text(int(units), pound=False)


def _count(n: int, of: int | None = None) -> str:
    return f"{n}" + (f" of {of}" if of is not None else "")


# --------------------------------------------------------------------------------------------
# Page furniture
# --------------------------------------------------------------------------------------------


def _page(title: str, subtitle: str, attrs, extra: str = "") -> tuple:
    """A landscape A4 page with its titles and footnote, and the style module."""
    from alloc.outputs.plots import style as s

    fig = s.new_figure(s.A4_LANDSCAPE)
    s.set_titles(fig, title, subtitle)
    s.add_footnote(fig, attrs, extra)
    return fig, s


class _Column:
    """Text laid out down a column of a page: headings, paragraphs and label/value rows,
    wrapped to the column's width (measured in the house font, so nothing runs off)."""

    def __init__(self, fig, s, x: float, y: float, width_in: float, size: float):
        self.fig, self.s, self.x, self.y, self.width_in, self.size = fig, s, x, y, width_in, size
        self.artists: list = []

    def _step(self, size: float, lines: int = 1, factor: float = 1.3) -> float:
        return size * factor * lines / 72 / self.fig.get_figheight()

    def gap(self, lines: float = 0.6) -> None:
        self.y -= self._step(self.size) * lines

    def heading(self, text: str) -> None:
        s = self.s
        self.artists.append(
            self.fig.text(
                self.x,
                self.y,
                text,
                fontsize=self.size + 1.5,
                fontweight="bold",
                color=s.NHS_DARK_BLUE,
                va="top",
            )
        )
        self.y -= self._step(self.size + 1.5) + self._step(self.size, factor=0.35)

    def paragraph(self, text: str, bold=False, colour=None, size=None, italic=False, gid=None):
        s = self.s
        size = size or self.size
        weight = "bold" if bold else "normal"
        wrapped = s.wrap_to_width(text, self.width_in, size, weight)
        self.artists.append(
            self.fig.text(
                self.x,
                self.y,
                wrapped,
                fontsize=size,
                fontweight=weight,
                fontstyle="italic" if italic else "normal",
                color=colour or s.NHS_BLACK,
                va="top",
                linespacing=1.25,
                gid=gid,
            )
        )
        self.y -= self._step(size, wrapped.count("\n") + 1, 1.25 * 1.18)

    def rows(self, rows: list[tuple[str, str]], label_in: float) -> None:
        s = self.s
        for label, value in rows:
            lab = s.wrap_to_width(label, label_in - 0.1, self.size, "bold")
            val = s.wrap_to_width(str(value), self.width_in - label_in, self.size)
            self.artists.append(
                self.fig.text(
                    self.x,
                    self.y,
                    lab,
                    fontsize=self.size,
                    fontweight="bold",
                    color=s.NHS_DARK_BLUE,
                    va="top",
                    linespacing=1.18,
                )
            )
            self.artists.append(
                self.fig.text(
                    self.x + label_in / self.fig.get_figwidth(),
                    self.y,
                    val,
                    fontsize=self.size,
                    color=s.NHS_BLACK,
                    va="top",
                    linespacing=1.18,
                )
            )
            lines = max(lab.count("\n"), val.count("\n")) + 1
            self.y -= self._step(self.size, lines, 1.18 * 1.18) + self._step(self.size, factor=0.4)

    def clear(self) -> None:
        for artist in self.artists:
            artist.remove()
        self.artists = []


def _decorate(fig, page: int, total: int, marking: str) -> None:
    """Security marking at the top right; marking and "Page k of N" at the bottom right."""
    from alloc.outputs.plots import style as s

    h = fig.get_figheight()
    fig.text(
        0.96,
        1 - 0.1 / h,
        marking,
        fontsize=s.SMALL_SIZE,
        fontweight="bold",
        color=s.NHS_BLACK,
        ha="right",
        va="top",
        gid="marking",
    )
    fig.text(
        0.96,
        s._FOOT_BOTTOM / h,
        f"{marking}\nPage {page} of {total}",
        fontsize=s.FOOTNOTE_SIZE + 0.5,
        color=s.NHS_DARK_GREY,
        ha="right",
        va="bottom",
        linespacing=1.3,
        gid="page-number",
    )


# --------------------------------------------------------------------------------------------
# The numbers the text pages state (rounded once, as the tables show them)
# --------------------------------------------------------------------------------------------


@dataclass
class _Figures:
    """Rounded money [£0.1m], distances from target and growth, computed once per pack."""

    alloc: xr.DataArray  # (icb, year) [£0.1m]
    target: xr.DataArray  # (icb, year) [£0.1m]
    baseline: xr.DataArray  # (icb) [£0.1m]
    years: np.ndarray
    first: str
    last: str


def _figures(result: xr.Dataset) -> _Figures:
    from alloc.outputs.plots._data import rounded_tenths

    years = result["year"].values
    return _Figures(
        alloc=rounded_tenths(result, "allocation"),
        target=rounded_tenths(result, "target"),
        baseline=rounded_tenths(result, "baseline"),
        years=years,
        first=year_label(int(years[0])),
        last=year_label(int(years[-1])),
    )


def _shortfall(f: _Figures, k: int) -> int:
    """How far the ICBs below target are short of their targets in year ``k``, taken together
    [£0.1m, positive]."""
    gap = (f.alloc.isel(year=k) - f.target.isel(year=k)).values
    return int(-gap[gap < 0].sum())


def executive_summary(result: xr.Dataset, icb: str | None = None) -> str:
    """The finding in one sentence, for the front page."""
    from alloc.outputs.plots._data import growth_rates, real_growth
    from alloc.outputs.plots.style import fmt_pct, short_name

    f = _figures(result)
    dft = result["dft"]
    if icb:
        name = short_name(result["icb_name"].sel(icb=icb).item())
        a0, a1 = int(f.alloc.sel(icb=icb).isel(year=0)), int(f.alloc.sel(icb=icb).isel(year=-1))
        t0, t1 = int(f.target.sel(icb=icb).isel(year=0)), int(f.target.sel(icb=icb).isel(year=-1))
        cash, real = growth_rates(result, float(a0), float(a1))
        d0, d1 = float(dft.sel(icb=icb).isel(year=0)), float(dft.sel(icb=icb).isel(year=-1))
        return (
            f"{name}'s allocation grows from {_gbp_tenths(a0)} in {f.first} to "
            f"{_gbp_tenths(a1)} in {f.last} ({fmt_pct(cash, 1, sign=False)} a year in cash, "
            f"{fmt_pct(real, 1, sign=False)} in real terms), moving from {fmt_pct(d0)} "
            f"({_gbp_tenths(a0 - t0, sign=True)}) to {fmt_pct(d1)} "
            f"({_gbp_tenths(a1 - t1, sign=True)}) of its needs-based target."
        )
    n0 = int((dft.isel(year=0) < -NEAR).sum())
    n1 = int((dft.isel(year=-1) < -NEAR).sum())
    g0, g1 = _shortfall(f, 0), _shortfall(f, -1)
    cash, real = real_growth(result)
    growth = (
        f"the envelope grows {fmt_pct(cash, 1, sign=False)} a year in cash "
        f"({fmt_pct(real, 1, sign=False)} in real terms)"
    )
    if n1 == 0:
        return (
            f"By {f.last} every ICB is within 1% of its needs-based target, from {n0} ICBs "
            f"more than 1% below it in {f.first} ({_gbp_tenths(g0)} short in total), as {growth}."
        )
    return (
        f"{n1} ICB{'s' if n1 != 1 else ''} remain{'s' if n1 == 1 else ''} more than 1% below "
        f"target in {f.last} (from {n0} in {f.first}); the ICBs below target are "
        f"{_gbp_tenths(g1)} short in total, from {_gbp_tenths(g0)}, as {growth}."
    )


def key_figures(result: xr.Dataset, icb: str | None = None) -> list[tuple[str, str]]:
    """Label / value lines of the headline numbers (money in £m as the tables show it)."""
    from alloc.outputs.plots._data import growth_rates, real_growth
    from alloc.outputs.plots.style import fmt_pct

    f = _figures(result)
    dft = result["dft"]
    n = result.sizes["icb"]
    if icb:
        a = f.alloc.sel(icb=icb)
        t = f.target.sel(icb=icb)
        a0, a1, t0, t1 = (int(v) for v in (a[0], a[-1], t[0], t[-1]))
        cash, real = growth_rates(result, float(a0), float(a1))
        e_cash, e_real = real_growth(result)
        d0, d1 = float(dft.sel(icb=icb).isel(year=0)), float(dft.sel(icb=icb).isel(year=-1))
        rank = int((dft.isel(year=0) < d0).sum()) + 1
        return [
            (
                "Allocation",
                f"{_gbp_tenths(a0)} in {f.first} → {_gbp_tenths(a1)} in {f.last}: "
                f"{fmt_pct(cash, 2, sign=False)} a year cash, {fmt_pct(real, 2, sign=False)} real "
                f"(England {fmt_pct(e_cash, 2, sign=False)} cash, "
                f"{fmt_pct(e_real, 2, sign=False)} real)",
            ),
            (
                "Distance from target",
                f"{fmt_pct(d0)} ({_gbp_tenths(a0 - t0, sign=True)}) in {f.first} → "
                f"{fmt_pct(d1)} ({_gbp_tenths(a1 - t1, sign=True)}) in {f.last}",
            ),
            ("Needs-based target", f"{_gbp_tenths(t0)} in {f.first} → {_gbp_tenths(t1)}"),
            ("Rank in " + f.first, f"{rank} of {n} from furthest below target"),
            ("Region", str(result["region"].sel(icb=icb).item())),
        ]
    env0, env1 = int(f.alloc.isel(year=0).sum()), int(f.alloc.isel(year=-1).sum())
    cash, real = real_growth(result)
    d0, d1 = dft.isel(year=0), dft.isel(year=-1)
    return [
        (
            "Envelope",
            f"{_gbp_tenths(env0)} in {f.first} → {_gbp_tenths(env1)} in {f.last}: "
            f"{fmt_pct(cash, 2, sign=False)} a year cash, {fmt_pct(real, 2, sign=False)} real",
        ),
        (
            "Distance from target",
            f"{fmt_pct(float(d0.min()))} to {fmt_pct(float(d0.max()))} in {f.first} → "
            f"{fmt_pct(float(d1.min()))} to {fmt_pct(float(d1.max()))} in {f.last}",
        ),
        (
            "Short of target",
            f"ICBs below target, taken together: {_gbp_tenths(_shortfall(f, 0))} in "
            f"{f.first} → {_gbp_tenths(_shortfall(f, -1))} in {f.last}",
        ),
        (
            "ICBs more than 1% below target",
            f"{_count(int((d0 < -NEAR).sum()), n)} in {f.first} → "
            f"{int((d1 < -NEAR).sum())} in {f.last}",
        ),
        (
            "ICBs more than 5% below target",
            f"{int((d0 < -0.05).sum())} in {f.first} → {int((d1 < -0.05).sum())} in {f.last}",
        ),
    ]


def illustrative_notice(attrs) -> str | None:
    """What in the pack is illustrative or assumed (None for wholly user-supplied data)."""
    from alloc.outputs.plots._data import is_illustrative

    status = is_illustrative(attrs)
    assumed = (
        "Assumptions: envelope and population growth, the GDP deflator, the policy's floor and "
        "cap, and (where modelled) most pathway parameters (see the Parameters sheet of the "
        "workbook)."
    )
    if status is False and not attrs.get("baseline_source"):
        return None
    if status is False:
        return (
            "PARTLY ILLUSTRATIVE. The baseline is the user's own; the split of the envelope by "
            f"service line and the proxy target formula are illustrative. {assumed}"
        )
    return (
        "ILLUSTRATIVE DATA: not NHS England figures, not any ICB's allocation. Illustrative: "
        "the historic-cost baseline (generated, seeded), the split of the envelope by service "
        f"line and the proxy target formula. {assumed}"
    )


# --------------------------------------------------------------------------------------------
# Front page
# --------------------------------------------------------------------------------------------


def cover_page(result: xr.Dataset, icb: str | None = None, details: PaperDetails | None = None):
    """Front page of a board paper: the finding in one line, the decision asked, author,
    version and marking, key figures (DfT in % and £, growth in cash and real terms), what is
    illustrative, the scenario, and the contents (drawn by :func:`_finish` once the pages are
    known)."""
    details = details or PaperDetails()
    a = result.attrs
    years = result["year"].values
    span = f"{year_label(int(years[0]))} to {year_label(int(years[-1]))}"
    if icb:
        name = str(result["icb_name"].sel(icb=icb).item())
        title = f"{name} ({icb}): specialised services allocations, {span}"
    else:
        title = f"Specialised services allocations to the {result.sizes['icb']} ICBs, {span}"
    desc = str(a.get("scenario_description", "") or "")
    fig, s = _page(title, f"Board paper. Scenario '{a.get('scenario_name', '')}': {desc}", a)
    top = 1 - s.title_block_height(fig) - 0.005
    floor = s.footnote_height(fig) + 0.02
    notice = illustrative_notice(a)
    created = str(a.get("created", ""))[:10]
    paper = [
        ("Classification", details.marking),
        ("Author", details.author or "[to be completed]"),
        ("Version", details.version or "draft"),
        ("Date", f"{created} (result created)"),
    ]
    scenario = [
        (
            "Scenario",
            f"{a.get('scenario_name', '')} ({Path(str(a.get('scenario_file', ''))).name})",
        ),
        ("Policy", policy_text(a)),
        ("Target formula", f"{a.get('formula_name', '')} (proxy)"),
        ("Convergence on", f"{a.get('convergence_level', '')} allocations"),
        ("Envelope growth", rate_text(a.get("envelope_growth"), "a year (cash)")),
        ("GDP deflator", rate_text(a.get("gdp_deflator_growth"))),
        ("Population growth", rate_text(a.get("population_growth"))),
        ("Areas", f"{a.get('geography', '')} ({result.sizes['icb']} ICBs)"),
        ("Data", _data_text(a)),
        (
            "Produced by",
            f"alloc {a.get('alloc_version', '')}; scenario hash {a.get('scenario_hash', '')}; "
            f"input hash {a.get('input_hash', '')}",
        ),
    ]
    width = fig.get_figwidth()
    left_x, mid_x, right_x = 0.04, 0.525, 0.80
    left_w = (mid_x - left_x - 0.025) * width
    mid_w = (right_x - mid_x - 0.02) * width
    for size in (10.0, 9.5, 9.0, 8.5, 8.0):
        left = _Column(fig, s, left_x, top, left_w, size)
        left.heading("Summary")
        left.paragraph(executive_summary(result, icb), bold=True, size=size + 1.5, gid="summary")
        left.gap()
        left.heading("Decision asked of the board")
        if details.decision:
            left.paragraph(details.decision, size=size + 0.5, gid="decision")
        else:
            left.paragraph(
                DECISION_PLACEHOLDER,
                size=size + 0.5,
                italic=True,
                colour=s.NHS_DARK_GREY,
                gid="decision",
            )
        left.gap()
        left.heading("Key figures")
        left.rows(key_figures(result, icb), label_in=1.75)
        if notice:
            left.gap(0.6)
            left.paragraph(notice, bold=True, size=size - 0.5, gid="illustrative")
            left.artists[-1].set_bbox(
                dict(
                    boxstyle="round,pad=0.5",
                    facecolor=s.WARNING_FILL,
                    edgecolor=s.NHS_WARM_YELLOW,
                    linewidth=1.2,
                )
            )
            left.gap(0.8)
        middle = _Column(fig, s, mid_x, top, mid_w, size - 0.5)
        middle.heading("Paper")
        middle.rows(paper, label_in=1.05)
        middle.gap(0.4)
        middle.heading("Scenario")
        middle.rows(scenario, label_in=1.05)
        if min(left.y, middle.y) >= floor or size <= 8.0:
            break
        left.clear()
        middle.clear()
    # The contents take the right-hand column; _draw_contents fills it once the pages are known.
    fig.alloc_contents = {
        "x": right_x,
        "y": top,
        "width_in": (0.96 - right_x) * width,
        "size": size - 0.5,
        "floor": floor,
    }
    return fig


def _draw_contents(fig, titles: list[str], left_out: list[str] = ()) -> None:
    """The contents list (page number and title) where :func:`cover_page` left room, and the
    pages left out, with why."""
    from alloc.outputs.plots import style as s

    where = getattr(fig, "alloc_contents", None)
    if where is None:
        return
    rows = [(f"{k}", t) for k, t in enumerate(titles, start=1)]
    for size in np.arange(where["size"], 6.9, -0.5):  # smaller type for a long pack
        column = _Column(fig, s, where["x"], where["y"], where["width_in"], float(size))
        column.heading("Contents")
        column.rows(rows, label_in=0.3)
        for note in left_out:
            column.gap(0.3)
            column.paragraph(f"Left out: {note}", size=float(size) - 0.5, colour=s.NHS_DARK_GREY)
        if column.y >= where["floor"]:
            break
        column.clear()


# --------------------------------------------------------------------------------------------
# National summary
# --------------------------------------------------------------------------------------------


def _summary_numbers(result: xr.Dataset) -> pd.DataFrame:
    """National figures per year: envelope [£m], growth (cash and real), DfT range, the
    shortfall of the ICBs below target [£m], counts more than 1% and 5% below target."""
    from alloc.outputs.plots._data import deflator_index
    from alloc.outputs.plots.style import fmt_pct

    f = _figures(result)
    dft = result["dft"]
    env = result["envelope"].values
    deflator = deflator_index(result)
    rows = []
    for k, y in enumerate(result["year"].values):
        d = dft.sel(year=y).values
        cash = env[k] / env[k - 1] - 1 if k else None
        real = (env[k] / deflator[k]) / (env[k - 1] / deflator[k - 1]) - 1 if k else None
        rows.append(
            {
                "Year": year_label(int(y)),
                "Envelope (£m)": _gbp_tenths(int(f.alloc.isel(year=k).sum())),
                "Cash growth (%)": "" if cash is None else fmt_pct(cash, 2),
                "Real growth (%)": "" if real is None else fmt_pct(real, 2),
                "Lowest DfT (%)": fmt_pct(d.min()),
                "Highest DfT (%)": fmt_pct(d.max()),
                "Short of target (£m)": _gbp_tenths(_shortfall(f, k)),
                "ICBs > 1% below target": str(int((d < -NEAR).sum())),
                "ICBs > 5% below target": str(int((d < -0.05).sum())),
                "Policy status": str(result["policy_status"].sel(year=y).item())
                if "policy_status" in result
                else "",
            }
        )
    return pd.DataFrame(rows)


def summary_page(result: xr.Dataset):
    """One-page national summary: the headline numbers, a table by year and the ICBs furthest
    from target."""
    from alloc.outputs.plots._data import growth_rates
    from alloc.outputs.plots.style import fmt_pct, short_name

    f = _figures(result)
    dft0, dft1 = result["dft"].isel(year=0), result["dft"].isel(year=-1)
    env0, env1 = int(f.alloc.isel(year=0).sum()), int(f.alloc.isel(year=-1).sum())
    title = (
        f"The envelope grows from {_gbp_tenths(env0)} to {_gbp_tenths(env1)}; ICBs more than "
        f"5% below target fall from {int((dft0 < -0.05).sum())} to {int((dft1 < -0.05).sum())}"
    )
    fig, s = _page(
        title,
        f"National summary, {f.first} to {f.last}. Money in £ million (cash), rounded to £0.1m "
        "so that ICBs add up to England; real terms deflate by the GDP deflator assumed.",
        result.attrs,
    )
    cash, real = growth_rates(
        result,
        result["allocation"].isel(year=0).values,
        result["allocation"].isel(year=-1).values,
    )
    growth = pd.Series(cash, index=result["icb"].values)
    hi, lo = str(growth.idxmax()), str(growth.idxmin())
    name = {c: short_name(v) for c, v in zip(result["icb"].values, result["icb_name"].values)}
    top = 1 - s.title_block_height(fig) - 0.005
    column = _Column(fig, s, 0.04, top, 0.92 * fig.get_figwidth(), s.BASE_SIZE)
    rows = key_figures(result)[:1]  # the rest are in the table by year
    rows.append(
        (
            "Fastest / slowest cash growth",
            f"{name[hi]} ({hi}) {fmt_pct(float(growth[hi]), 2)} a year; {name[lo]} ({lo}) "
            f"{fmt_pct(float(growth[lo]), 2)} a year",
        )
    )
    rows.append(("Policy", policy_text(result.attrs)))
    column.rows(rows, label_in=2.3)
    y = _draw_table(
        fig,
        s,
        _summary_numbers(result),
        top=column.y - 0.01,
        font=8.5,
        gid="summary-table",
        first_col_width=0.08,
        left=0.04,
        width=0.92,
    )
    fig.text(
        0.04,
        y - 0.02,
        f"ICBs furthest from target in {f.first}",
        fontsize=s.SUBTITLE_SIZE,
        fontweight="bold",
        color=s.NHS_DARK_BLUE,
        va="top",
    )
    _draw_table(
        fig,
        s,
        _extremes(result, growth, real),
        top=y - 0.055,
        font=8,
        gid="extremes-table",
        first_col_width=0.34,
        left=0.04,
        width=0.92,
        row_factor=1.7,
    )
    return fig


# --------------------------------------------------------------------------------------------
# Left-shift summary (after the summary page, when the scenario has levers)
# --------------------------------------------------------------------------------------------


def _minus(text: str) -> str:
    """Minus signs (before a digit, or between spaces) as the typographic minus the pack prints;
    hyphens in words stay."""
    return re.sub(r"-(?=\d)|(?<= )-(?= )", "−", text)


def left_shift_tables(result: xr.Dataset, icb: str | None = None):
    """The left-shift summary page's tables as text: pathways of England (or of ``icb``), and the
    ICBs with the largest and smallest left-shift net position (with ``icb`` when not among
    them), ranked 1 = largest. None without levers. Figures as the console prints them
    (:mod:`alloc.outputs.left_shift_summary`)."""
    from alloc.outputs import left_shift_summary as ls

    summary = ls.left_shift_summary(result)
    if summary is None:
        return None
    area = icb or ls.ENGLAND
    payers = [n for n, _ in ls.pathway_header(summary)[2:-3]]
    header = [
        "Pathway",
        "Saving (£m)",
        *[f"Upstream cost: {p} (£m)" for p in payers],
        "Upstream total (£m)",
        "Net position (£m)",
        "Return per £1",
    ]
    rows = ls.pathway_rows(summary, area)
    rows[-1][0] = f"{'England' if icb is None else icb} ({ls.pathway_label(ls.ALL_PATHWAYS)})"
    pathways = pd.DataFrame([[_minus(c) for c in r] for r in rows], columns=header)
    ranked = summary.by_icb().sort_values(["net_gbp", "icb"], ascending=[False, True])
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    k = min(ls.N_EXTREMES, len(ranked))
    show = pd.concat([ranked.head(k), ranked.tail(len(ranked) - k).tail(k)])
    if icb is not None and icb not in set(show["icb"]):
        show = pd.concat([show, ranked[ranked["icb"] == icb]]).sort_values("rank")
    extremes = pd.DataFrame(
        {
            "ICB": [f"{r.icb} {r.icb_name}" for r in show.itertuples()],
            "Rank (1 = largest net position)": [f"{r} of {len(ranked)}" for r in show["rank"]],
            "Saving (£m)": [_minus(ls.money_m(v)) for v in show["saving_gbp"]],
            "Upstream cost (£m)": [_minus(ls.money_m(v)) for v in show["upstream_cost_gbp"]],
            "Net position (£m)": [_minus(ls.money_m(v)) for v in show["net_gbp"]],
        }
    )
    return summary, pathways, extremes


def left_shift_page(result: xr.Dataset, icb: str | None = None):
    """Left-shift summary: per pathway the saving, upstream cost by payer, net position and
    return per £1 (England, or the ICB of an ICB pack), and the ICBs with the largest and the
    smallest net position. None without levers."""
    from alloc.outputs import left_shift_summary as ls
    from alloc.outputs.plots.style import short_name

    tables = left_shift_tables(result, icb)
    if tables is None:
        return None
    summary, pathways, extremes = tables
    total = summary.area(icb or ls.ENGLAND).iloc[-1]
    who = "England" if icb is None else short_name(result["icb_name"].sel(icb=icb).item())
    title = (
        f"Left-shift summary, {who}: the levers "
        f"{'avoid' if total['saving_gbp'] >= 0 else 'add'} "
        f"£{ls.money_m(abs(total['saving_gbp']))}m of specialised spend for "
        f"£{ls.money_m(total['upstream_cost_gbp'])}m of upstream cost; net position "
        f"£{_minus(ls.money_m(total['net_gbp']))}m over {summary.period}"
    ).replace("£−", "−£")
    fig, s = _page(
        title,
        f"Money in £ million cash, summed over {summary.period}, not discounted; each figure "
        f"rounded to £0.1m on its own, as alloc run prints them ({ls.FILE_NAME} holds them "
        "unrounded, for every ICB and pathway).",
        result.attrs,
    )
    top = 1 - s.title_block_height(fig) - 0.005
    y = _draw_table(
        fig,
        s,
        pathways,
        top=top,
        font=8.5,
        gid="left-shift-table",
        first_col_width=0.2,
        total_last=True,
        left=0.04,
        width=0.92,
        row_factor=1.8,
    )
    column = _Column(fig, s, 0.04, y - 0.015, 0.92 * fig.get_figwidth(), s.SMALL_SIZE)
    for text in (ls.others_text(summary, icb or ls.ENGLAND), ls.SIGNS_TEXT):
        if text:
            column.paragraph(_minus(text), colour=s.NHS_DARK_GREY)
    fig.text(
        0.04,
        column.y - 0.015,
        f"ICBs with the largest and the smallest left-shift net position, {summary.period}",
        fontsize=s.SUBTITLE_SIZE,
        fontweight="bold",
        color=s.NHS_DARK_BLUE,
        va="top",
    )
    _draw_table(
        fig,
        s,
        extremes,
        top=column.y - 0.05,
        font=8,
        gid="left-shift-extremes",
        first_col_width=0.36,
        left=0.04,
        width=0.92,
        row_factor=1.7,
    )
    return fig


def _extremes(result: xr.Dataset, growth, real, k: int = 4) -> pd.DataFrame:
    """The ``k`` ICBs furthest below and ``k`` furthest above target in the base year."""
    from alloc.outputs.plots.style import fmt_pct, short_name

    f = _figures(result)
    start = result["dft"].isel(year=0).to_series().sort_values()
    k = min(k, len(start) // 2)
    codes = list(start.index[:k]) + list(start.index[-k:])
    real = pd.Series(np.asarray(real), index=result["icb"].values)
    gap1 = f.alloc.isel(year=-1) - f.target.isel(year=-1)
    return pd.DataFrame(
        {
            "ICB": [f"{c} {short_name(result['icb_name'].sel(icb=c).item())}" for c in codes],
            "Region": [str(result["region"].sel(icb=c).item()) for c in codes],
            f"DfT {f.first} (%)": [fmt_pct(float(start[c])) for c in codes],
            f"DfT {f.last} (%)": [
                fmt_pct(float(result["dft"].sel(icb=c).isel(year=-1))) for c in codes
            ],
            f"DfT {f.last} (£m)": [_gbp_tenths(int(gap1.sel(icb=c)), sign=True) for c in codes],
            "Cash growth (% a year)": [fmt_pct(float(growth[c]), 2) for c in codes],
            "Real growth (% a year)": [fmt_pct(float(real[c]), 2) for c in codes],
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

    Header labels and the first column are wrapped to their column (never truncated); a row
    grows with its lines. Returns the figure fraction of the table's bottom edge.
    """
    n_cols = len(table.columns)
    widths = [first_col_width] + [(1 - first_col_width) / (n_cols - 1)] * (n_cols - 1)
    col_in = [w * width * fig.get_figwidth() - 0.12 for w in widths]
    labels = [s.wrap_to_width(str(c), w, font, "bold") for c, w in zip(table.columns, col_in)]
    header_lines = max(lab.count("\n") + 1 for lab in labels)
    cells = [[str(v) for v in row] for row in table.values.tolist()]
    for r, row in enumerate(cells):
        bold = "bold" if total_last and r == len(cells) - 1 else "normal"
        row[0] = s.wrap_to_width(row[0], col_in[0], font, bold)
    lines = [max(c.count("\n") + 1 for c in row) for row in cells]
    line_in = font * 1.2 / 72
    row_in = [font * row_factor / 72 + (n - 1) * line_in for n in lines]
    header_in = font * (1.25 * header_lines + 0.9) / 72
    height = (header_in + sum(row_in)) / fig.get_figheight()
    ax = fig.add_axes([left, top - height, width, height])
    ax.set_axis_off()
    ax.set_gid(gid)
    tab = ax.table(
        cellText=cells,
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
        cell.set_height(header_in if r == 0 else row_in[r - 1])
        cell.get_text().set_linespacing(1.0)
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


# --------------------------------------------------------------------------------------------
# Region pages
# --------------------------------------------------------------------------------------------


def region_table(result: xr.Dataset, region: str) -> pd.DataFrame:
    """Per ICB of ``region``: baseline, final target and allocation [£m, the pack's one
    rounding, so the column sums to the region total], DfT at start and end [% and £m],
    average growth in cash and real terms [%], per head [£]; region total row last."""
    from alloc.outputs.plots._data import growth_rates
    from alloc.outputs.plots.style import fmt_pct, short_name

    f = _figures(result)
    in_region = (result["region"] == region).values
    sel = result.isel(icb=in_region)
    codes = sel["icb"].values
    base = f.baseline.isel(icb=in_region).values
    target = f.target.isel(icb=in_region).isel(year=-1).values
    alloc = f.alloc.isel(icb=in_region).isel(year=-1).values
    frame = pd.DataFrame(
        {"ICB": [f"{c} {short_name(nm)}" for c, nm in zip(codes, sel["icb_name"].values)]}
    )
    frame[f"Baseline {f.first} (£m)"] = [_m(v) for v in base]
    frame[f"Target {f.last} (£m)"] = [_m(v) for v in target]
    frame[f"Allocation {f.last} (£m)"] = [_m(v) for v in alloc]
    frame[f"DfT {f.first} (%)"] = [fmt_pct(v) for v in sel["dft"].isel(year=0).values]
    frame[f"DfT {f.last} (%)"] = [fmt_pct(v) for v in sel["dft"].isel(year=-1).values]
    frame[f"DfT {f.last} (£m)"] = [_gbp_tenths(v, sign=True) for v in alloc - target]
    a0 = sel["allocation"].isel(year=0).values
    a1 = sel["allocation"].isel(year=-1).values
    cash, real = growth_rates(result, a0, a1)
    frame["Cash growth (% a year)"] = [fmt_pct(v, 2) for v in cash]
    frame["Real growth (% a year)"] = [fmt_pct(v, 2) for v in real]
    frame[f"Per head {f.last} (£)"] = [
        f"{v:,.0f}" for v in sel["allocation_per_head"].isel(year=-1).values
    ]
    t0 = sel["target"].isel(year=0).values.sum()
    t1 = sel["target"].isel(year=-1).values.sum()
    cash_t, real_t = growth_rates(result, a0.sum(), a1.sum())
    pop = float(sel["population"].isel(year=-1).sum())
    totals = {
        "ICB": f"{region} ({len(codes)} ICBs)",
        f"Baseline {f.first} (£m)": _m(int(base.sum())),
        f"Target {f.last} (£m)": _m(int(target.sum())),
        f"Allocation {f.last} (£m)": _m(int(alloc.sum())),
        f"DfT {f.first} (%)": fmt_pct(float((a0.sum() - t0) / t0)),
        f"DfT {f.last} (%)": fmt_pct(float((a1.sum() - t1) / t1)),
        f"DfT {f.last} (£m)": _gbp_tenths(int(alloc.sum() - target.sum()), sign=True),
        "Cash growth (% a year)": fmt_pct(float(cash_t), 2),
        "Real growth (% a year)": fmt_pct(float(real_t), 2),
        f"Per head {f.last} (£)": f"{float(a1.sum()) / pop:,.0f}",
    }
    return pd.concat([frame, pd.DataFrame([totals])], ignore_index=True)


def region_page(result: xr.Dataset, region: str, highlight: str | None = None):
    """One region's table and its ICBs' growth against England, on an A4 landscape page."""
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
        "Allocations and targets in £ million (cash), rounded to £0.1m once for the whole pack "
        "(largest remainder), so ICBs add up to the region total and each figure matches the "
        "ICB pages. DfT = (allocation - target) / target; negative = below target.",
    )
    s.add_footnote(fig, result.attrs, "Region totals: its ICBs taken together.")
    top = 1 - s.title_block_height(fig)
    bottom = _draw_table(
        fig,
        s,
        table,
        top=top,
        font=8.5,
        gid=f"region:{region}",
        first_col_width=0.25,
        total_last=True,
        row_factor=1.75,
        left=0.04,
        width=0.92,
    )
    if highlight:
        colour = s.HIGHLIGHT[0]
        for (r, _c), cell in fig.axes[-1].tables[0].get_celld().items():
            if 0 < r < len(table) and table.iloc[r - 1, 0].startswith(highlight + " "):
                cell.set_text_props(fontweight="bold", color=colour)
    floor = s.footnote_height(fig) + 0.6 / fig.get_figheight()
    n_icbs = len(table) - 1
    if bottom - floor > 0.18:
        height = min(bottom - floor - 0.08, (0.3 * n_icbs + 0.2) / fig.get_figheight())
        _growth_bars(
            fig, s, result, region, [0.32, bottom - 0.08 - height, 0.58, height], highlight
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
    names = [s.wrap_to_width(nm, 3.0, 8) for nm in names]
    ax = fig.add_axes(rect)
    ax.set_gid(f"growth:{region}")
    colours = [s.HIGHLIGHT[0] if c == highlight else s.NHS_LIGHT_BLUE for c in codes]
    ax.barh(np.arange(len(codes)), growth.values[order], color=colours, height=0.65)
    ax.axvline(england, color=s.NHS_BLACK, linewidth=1.5, linestyle="--")
    ax.text(
        england,
        len(codes) - 0.35,
        f" England {s.fmt_pct(england, 2)}",
        color=s.NHS_BLACK,
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


# --------------------------------------------------------------------------------------------
# One ICB
# --------------------------------------------------------------------------------------------


def icb_table(result: xr.Dataset, icb: str) -> pd.DataFrame:
    """One ICB by year: allocation and target [£m, the pack's one rounding], DfT [% and £m],
    growth in cash and real terms against England's, per head [£]."""
    from alloc.outputs.plots._data import deflator_index
    from alloc.outputs.plots.style import fmt_pct

    f = _figures(result)
    sel = result.sel(icb=icb)
    env = result["envelope"].values
    deflator = deflator_index(result)
    alloc = f.alloc.sel(icb=icb).values
    target = f.target.sel(icb=icb).values
    a = sel["allocation"].values
    rows = []
    for k, y in enumerate(result["year"].values):
        rows.append(
            {
                "Year": year_label(int(y)),
                "Allocation (£m)": _gbp_tenths(int(alloc[k])),
                "Target (£m)": _gbp_tenths(int(target[k])),
                "DfT (%)": fmt_pct(float(sel["dft"].sel(year=y))),
                "DfT (£m)": _gbp_tenths(int(alloc[k] - target[k]), sign=True),
                "Cash growth (%)": "" if k == 0 else fmt_pct(a[k] / a[k - 1] - 1, 2),
                "Real growth (%)": ""
                if k == 0
                else fmt_pct((a[k] / a[k - 1]) / (deflator[k] / deflator[k - 1]) - 1, 2),
                "England cash growth (%)": "" if k == 0 else fmt_pct(env[k] / env[k - 1] - 1, 2),
                "Per head (£)": f"{float(sel['allocation_per_head'].sel(year=y)):,.0f}",
            }
        )
    return pd.DataFrame(rows)


def icb_summary_page(result: xr.Dataset, icb: str):
    """One ICB by year: allocation, target, DfT, growth and per head, against England."""
    from alloc.outputs.plots.style import fmt_pct, short_name

    name = short_name(result["icb_name"].sel(icb=icb).item())
    f = _figures(result)
    sel = result.sel(icb=icb)
    d0, d1 = float(sel["dft"].isel(year=0)), float(sel["dft"].isel(year=-1))
    a0, a1 = int(f.alloc.sel(icb=icb).isel(year=0)), int(f.alloc.sel(icb=icb).isel(year=-1))
    title = (
        f"{name}: allocation {_gbp_tenths(a0)} in {f.first} → {_gbp_tenths(a1)} in {f.last}; "
        f"distance from target {fmt_pct(d0)} → {fmt_pct(d1)}"
    )
    fig, s = _page(
        title,
        f"{icb} {name}, {sel['region'].item()} region. Money in £ million (cash), rounded to "
        "£0.1m once for the whole pack (the region table and waterfall show the same figures).",
        result.attrs,
    )
    env = result["envelope"].values
    top = 1 - s.title_block_height(fig) - 0.005
    y = _draw_table(
        fig,
        s,
        icb_table(result, icb),
        top=top,
        font=8.5,
        gid="icb-table",
        first_col_width=0.09,
        left=0.04,
        width=0.92,
        row_factor=1.8,
    )
    rank = int((result["dft"].isel(year=0) < d0).sum()) + 1
    notes = [
        (f"Rank in {f.first}", f"{rank} of {result.sizes['icb']} from furthest below target"),
        (
            "Baseline share",
            fmt_pct(float(sel["allocation"].isel(year=0)) / env[0], 2, sign=False)
            + " of the national envelope",
        ),
        (
            f"Target share {f.last}",
            fmt_pct(float(sel["target_share"].isel(year=-1)), 2, sign=False),
        ),
    ]
    column = _Column(fig, s, 0.04, y - 0.02, 0.92 * fig.get_figwidth(), s.BASE_SIZE - 0.5)
    column.rows(notes, label_in=2.0)
    bottom = s.footnote_height(fig) + 0.07
    ax = fig.add_axes([0.1, bottom, 0.84, column.y - 0.06 - bottom])
    ax.set_gid("icb-lines")
    years = result["year"].values
    ax.plot(
        years,
        sel["target"].values,
        color=s.NHS_DARK_GREY,
        linewidth=2,
        linestyle="--",
        marker="o",
        markersize=4,
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
    details: PaperDetails | None = None,
) -> list[tuple[str, object]]:
    """The pack's pages in order as ``(title, Figure)``, the front page first.

    Pages left out (a flat fan chart, a tornado of another ICB or of England in an ICB pack,
    a hexagon map without a layout) are said on the front page. Page numbers, the marking and
    the contents are added by :func:`finish_pages`.
    """
    from alloc.outputs.plots.style import house_style

    with house_style():  # text pages build axes too: they take the house rcParams
        return _pages(result, icb, ensemble, sensitivity, details or PaperDetails())


def _pages(result, icb, ensemble, sensitivity, details) -> list[tuple[str, object]]:
    from alloc.outputs import plots
    from alloc.outputs.plots._data import has_left_shift
    from alloc.outputs.plots.hexmap import NoLayout
    from alloc.outputs.plots.style import fmt_gbp_m, short_name
    from alloc.outputs.plots.uncertainty import band_is_flat

    has_ls = has_left_shift(result)
    regions = _regions(result)
    left_out: list[str] = []
    pages: list[tuple[str, object]] = []
    if icb is None:
        pages.append(("National summary", summary_page(result)))
    else:
        pages.append((f"{icb} summary", icb_summary_page(result, icb)))
    if (left_shift := left_shift_page(result, icb)) is not None:  # a scenario with levers
        pages.append(("Left-shift summary", left_shift))
    pages.append(("Glide paths", plots.glide_paths(result, highlight=icb)))
    if icb is not None:
        pages.append(("Waterfall", plots.allocation_waterfall(result, icb)))
    pages.append(("DfT by ICB", plots.dft_dot_plot(result, highlight=icb)))
    try:
        pages.append(("Hexagon map", plots.icb_hexmap(result, highlight=icb)))
    except NoLayout as exc:
        left_out.append(f"Hexagon map: {exc}.")
    pages.append(("Map", plots.icb_map(result, highlight=icb)))
    if has_ls:
        name = short_name(result["icb_name"].sel(icb=icb).item()) if icb else None
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
    if icb is not None:
        regions = [str(result["region"].sel(icb=icb).item())]
    if ensemble is not None:
        central = None
        if isinstance(ensemble, xr.Dataset):
            central = ensemble.get("allocation_central")
            ensemble = ensemble["allocation_q"]
        who = icb or widest_interval(ensemble)
        qs = ensemble["quantile"].values
        width = int(round(100 * (qs.max() - qs.min())))
        why = (
            "the ICB of this pack"
            if icb
            else f"the ICB with the widest {width}% interval relative to its median in "
            f"{year_label(int(ensemble['year'][-1]))}"
        )
        if band_is_flat(ensemble, who):
            end = ensemble.sel(icb=who).isel(year=-1) if "icb" in ensemble.dims else ensemble
            left_out.append(
                f"Fan chart: the ensemble hardly moves {who}'s allocation ({width}% of draws "
                f"between {fmt_gbp_m(float(end.sel(quantile=qs.min())), 1)} and "
                f"{fmt_gbp_m(float(end.sel(quantile=qs.max())), 1)} in "
                f"{year_label(int(ensemble['year'][-1]))}), so there is no fan to show."
            )
        else:
            name = short_name(result["icb_name"].sel(icb=who).item())
            pages.append(
                (
                    "Fan chart",
                    plots.fan_chart(
                        ensemble,
                        icb=who,
                        central=central,
                        name=f"{name} ({who}) allocation",
                        provenance=result.attrs,
                        why=why,
                    ),
                )
            )
    if sensitivity is not None:
        output = str(getattr(sensitivity, "attrs", {}).get("output", "") or "")
        if icb is not None and not re.search(rf"\b{re.escape(icb)}\b", output):
            left_out.append(
                f"Tornado: the sensitivity table measures {output or 'an unrecorded output'}, "
                f"not {icb}; run alloc sensitivity --icb {icb} --csv FILE for this ICB's."
            )
        else:
            pages.append(("Tornado", plots.tornado_chart(sensitivity, provenance=result.attrs)))
    for region in regions:
        pages.append((f"Region: {region}", region_page(result, region, highlight=icb)))
    cover = cover_page(result, icb, details)
    cover.alloc_left_out = left_out
    return [("Cover", cover), *pages]


def finish_pages(pages: list[tuple[str, object]], marking: str = MARKING) -> None:
    """Complete the pages in place: the contents (and pages left out) on the front page,
    the marking and "Page k of N" on every page."""
    from alloc.outputs.plots.style import house_style

    with house_style():
        cover = pages[0][1]
        if getattr(cover, "alloc_contents", None) is not None:
            titles = [title for title, _ in pages]
            _draw_contents(cover, titles, getattr(cover, "alloc_left_out", []))
        for k, (_, fig) in enumerate(pages, start=1):
            _decorate(fig, k, len(pages), marking)


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


def default_pack_name(result: xr.Dataset, icb: str | None = None) -> str:
    """``<scenario>_board_pack.pdf`` or ``<scenario>_<ICB>_pack.pdf``."""
    name = result.attrs.get("scenario_name", "result")
    return f"{name}_{icb}_pack.pdf" if icb else f"{name}_board_pack.pdf"


def write_report(
    result: xr.Dataset,
    out: str | Path,
    icb: str | None = None,
    force: bool = False,
    ensemble: xr.Dataset | xr.DataArray | None = None,
    sensitivity: pd.DataFrame | None = None,
    source: str = "result",
    extra_pages: list[tuple[str, object]] | None = None,
    author: str | None = None,
    version: str | None = None,
    decision: str | None = None,
    marking: str = MARKING,
) -> Report:
    """Write the PDF board pack for ``result`` to ``out`` atomically.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run` or :func:`alloc.outputs.results.read_result`.
    out : str or Path
        The PDF to write; written to a temporary file beside it and renamed into place. In a
        results folder written by alloc it is recorded as alloc's, so ``alloc run --force``
        may still replace the folder.
    icb : str, optional
        ICB code for a single-ICB pack.
    force : bool
        Replace an existing ``out``.
    ensemble : xarray.Dataset or xarray.DataArray, optional
        Ensemble quantiles for a fan chart (see :mod:`alloc.outputs.plots.uncertainty`): the Dataset
        of :func:`alloc.uncertainty.ensemble.run_ensemble` (its ``allocation_q`` and
        ``allocation_central``) or a quantile DataArray. The chart shows ``icb``, or in the
        national pack the ICB with the widest final-year interval; it is left out (and the
        front page says so) when the draws do not spread.
    sensitivity : pandas.DataFrame, optional
        Sensitivity table for a tornado chart (see :mod:`alloc.outputs.plots.uncertainty`). An
        ICB pack shows it only when it measures that ICB (its ``attrs["output"]`` names it).
    source : str
        Name of the result's origin, for error messages.
    extra_pages : list of (str, Figure), optional
        Pages added before the region tables, e.g. the comparison charts of
        :func:`alloc.outputs.compare.report_pages` (``alloc report --compare``).
    author, version, decision : str, optional
        The front page's author and version fields and the decision asked of the board (a
        placeholder asks the author to complete each one not given; version "draft").
    marking : str
        Security marking printed on every page.

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

    from alloc.outputs.atomic import record_file
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
    details = PaperDetails(author=author, version=version, decision=decision, marking=marking)
    pages = report_figures(result, icb, ensemble, sensitivity, details=details)
    if extra_pages:
        at = next((k for k, (p, _) in enumerate(pages) if p.startswith("Region:")), len(pages))
        pages[at:at] = extra_pages
    finish_pages(pages, marking)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    a = result.attrs
    metadata = {
        "Title": f"alloc board pack: scenario {a.get('scenario_name', '')}"
        + (f", {icb}" if icb else ""),
        "Author": author or "alloc",
        "Creator": f"alloc {a.get('alloc_version', '')}",
        "Subject": f"NHS England specialised services allocations ({marking})",
        "Keywords": f"scenario_hash={a.get('scenario_hash', '')} "
        f"input_hash={a.get('input_hash', '')}" + (f" version={version}" if version else ""),
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
    record_file(out.parent, out.name)
    return Report(out, [title for title, _ in pages])


__all__ = [
    "Report",
    "PaperDetails",
    "write_report",
    "report_figures",
    "finish_pages",
    "default_pack_name",
    "load_ensemble",
    "load_sensitivity",
    "widest_interval",
    "region_table",
    "icb_table",
    "cover_page",
    "summary_page",
    "region_page",
    "icb_summary_page",
    "executive_summary",
    "key_figures",
]
