"""What a left-shift run did: saving, upstream cost by payer, net position and return per £1.

One function, :func:`left_shift_summary`, computes the figures from a result's variables
(``left_shift_saving_by_service``, ``upstream_cost_by_lever`` with its ``lever_pathway`` and
``lever_payer`` coordinates, ``downstream_saving``); :func:`summary_text` formats them for the
console and :func:`pdf_tables` for the board pack, so the console, ``left_shift_summary.csv`` and
the PDF state the same numbers.

Basis (said in every output): money in GBP **cash** (the result's price base: pathway money in
base-year prices inflated by the scenario's cost inflation, as ``left_shift_saving``), summed over
the **projection years** (base year excluded; levers start after it), **not discounted**; the
present values and ``roi`` in ``result.nc`` are the discounted measures.

Signs, defined once (and in :mod:`alloc.outputs.glossary`, "Left-shift summary"):

- ``saving`` = delegated specialised spend avoided (counterfactual - scenario); positive = less
  specialised spend, negative = more (e.g. more people surviving to a costly stage);
- ``upstream_cost`` = the levers' investment, positive = money spent, by the payer who funds it;
- ``net`` = ``saving - upstream_cost`` (all payers): positive = the specialised budget saves
  more than the levers cost;
- ``return_per_gbp`` = ``saving / upstream_cost``: specialised spend avoided per £1 invested
  (NaN, shown "n/a", when nothing is invested). It is gross, undiscounted and counts only the
  specialised saving, unlike ``roi_total`` (net, discounted, every payer).

Pathway costs that the levers change for the other payers (``downstream_saving`` of ICB core,
NHSE retained, local authority) are not in the net; they are reported beside it for all pathways
together (the result holds them by payer, not by pathway).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from alloc.inputs.pathway_spec import PAYERS
from alloc.inputs.years import year_label
from alloc.rounding import round_half_up

#: The CSV written into a results folder by a left-shift run.
FILE_NAME = "left_shift_summary.csv"
#: Area code and name of the national rows.
ENGLAND = "England"
#: Pathway label of the rows summed over every pathway.
ALL_PATHWAYS = "all"
#: How many ICBs with the largest and with the smallest net position are named.
N_EXTREMES = 3
SPECIALISED = "ICB_delegated_specialised"
OTHER_PAYERS = tuple(p for p in PAYERS if p != SPECIALISED)
PAYER_LABELS = {
    "ICB_delegated_specialised": "ICB delegated specialised",
    "ICB_core": "ICB core",
    "NHSE_retained": "NHSE retained",
    "local_authority": "local authority",
}
#: One tenth of a million pounds: the console and PDF show £m to one decimal [GBP].
TENTH_M = 100_000
#: Console notes are wrapped to this many characters.
WRAP = 100


def cost_column(payer: str) -> str:
    """CSV column of the upstream cost a payer funds [GBP]."""
    return f"upstream_cost_{payer}_gbp"


def other_column(payer: str) -> str:
    """CSV column of a non-specialised payer's pathway cost avoided [GBP]."""
    return f"pathway_cost_avoided_{payer}_gbp"


@dataclass(frozen=True)
class LeftShiftSummary:
    """The figures of :func:`left_shift_summary`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per area (``England`` first, then each ICB in the result's order) and pathway
        (each pathway, then ``all``). Columns ``icb``, ``icb_name``, ``region``, ``pathway``,
        ``first_year``, ``last_year`` (financial years, e.g. ``2026/27``), ``saving_gbp``,
        ``upstream_cost_<payer>_gbp`` for every payer, ``upstream_cost_gbp``, ``net_gbp``,
        ``return_per_gbp`` [GBP per GBP invested; NaN without investment] and, on ``all`` rows
        only, ``pathway_cost_avoided_<payer>_gbp`` for the other payers. Money in GBP cash,
        summed over the projection years, not discounted.
    pathways : list of str
        The pathways, in the order of the table.
    first_year, last_year : int
        The projection years summed (first years of the financial years).
    """

    table: pd.DataFrame
    pathways: list[str]
    first_year: int
    last_year: int

    @property
    def period(self) -> str:
        """``"2026/27 to 2030/31"``."""
        return f"{year_label(self.first_year)} to {year_label(self.last_year)}"

    def area(self, icb: str = ENGLAND) -> pd.DataFrame:
        """The rows of one area (an ICB code or ``England``): each pathway, then ``all``."""
        return self.table[self.table["icb"] == icb].reset_index(drop=True)

    def by_icb(self) -> pd.DataFrame:
        """One row per ICB, all pathways together."""
        rows = self.table[(self.table["icb"] != ENGLAND) & (self.table["pathway"] == ALL_PATHWAYS)]
        return rows.reset_index(drop=True)

    def largest(self, k: int = N_EXTREMES) -> pd.DataFrame:
        """The ``k`` ICBs with the largest net position, largest first (ties by ICB code)."""
        return self.by_icb().sort_values(["net_gbp", "icb"], ascending=[False, True]).head(k)

    def smallest(self, k: int = N_EXTREMES) -> pd.DataFrame:
        """The ``k`` ICBs with the smallest net position, smallest first (ties by ICB code)."""
        return self.by_icb().sort_values(["net_gbp", "icb"], ascending=[True, True]).head(k)


def has_levers(result: xr.Dataset) -> bool:
    """Whether ``result`` is of a scenario with left-shift levers."""
    return "upstream_cost_by_lever" in result and result.sizes.get("lever", 0) > 0


def _service_pathways(result: xr.Dataset) -> list[str]:
    """The pathway of each service line: the data's ``pathway`` label, or the service line."""
    services = [str(s) for s in result["service"].values]
    if "pathway" not in result.coords:
        return services
    labels = [str(p) for p in result["pathway"].values]
    return [lab if lab else svc for lab, svc in zip(labels, services)]


def left_shift_summary(result: xr.Dataset) -> LeftShiftSummary | None:
    """The left shift of ``result`` per pathway and ICB, over the projection years.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.allocation.engine.run` (or read back from ``result.nc``).

    Returns
    -------
    LeftShiftSummary or None
        None for a scenario without levers. Money in GBP cash, summed over the projection years,
        not discounted (see the module docstring for the signs).
    """
    if not has_levers(result):
        return None
    years = [int(y) for y in result["year"].values[1:]]
    icbs = [str(c) for c in result["icb"].values]

    # Saving by pathway (icb, pathway): service lines grouped by their pathway.
    saving_svc = result["left_shift_saving_by_service"].sel(year=years).sum("year")
    saving_svc = saving_svc.transpose("icb", "service").values
    labels = _service_pathways(result)
    lever_pathways = [str(p) for p in result["lever_pathway"].values]
    pathways = list(dict.fromkeys(lever_pathways))
    for k, label in enumerate(labels):  # a saving on a line of no lever's pathway is still shown
        if label not in pathways and np.any(saving_svc[:, k] != 0):
            pathways.append(label)
    saving = np.zeros((len(icbs), len(pathways)))
    for k, label in enumerate(labels):
        if label in pathways:
            saving[:, pathways.index(label)] += saving_svc[:, k]

    # Upstream cost (icb, pathway, payer) from the levers' pathway and payer.
    by_lever = result["upstream_cost_by_lever"].sel(year=years).sum("year")
    by_lever = by_lever.transpose("icb", "lever").values
    payers = [str(p) for p in result["lever_payer"].values]
    cost = np.zeros((len(icbs), len(pathways), len(PAYERS)))
    for j, (pathway, payer) in enumerate(zip(lever_pathways, payers)):
        cost[:, pathways.index(pathway), PAYERS.index(payer)] += by_lever[:, j]

    others = np.full((len(icbs), len(OTHER_PAYERS)), np.nan)
    if "downstream_saving" in result:
        down = result["downstream_saving"].sel(year=years, payer=list(OTHER_PAYERS)).sum("year")
        others = down.transpose("icb", "payer").values

    names = [str(n) for n in result["icb_name"].values]
    regions = [str(r) for r in result["region"].values] if "region" in result.coords else None
    rows = []
    areas = [(ENGLAND, ENGLAND, "", slice(None))] + [
        (c, names[i], regions[i] if regions else "", slice(i, i + 1)) for i, c in enumerate(icbs)
    ]
    for code, name, region, at in areas:
        s_area = saving[at].sum(axis=0)  # (pathway,)
        c_area = cost[at].sum(axis=0)  # (pathway, payer)
        o_area = others[at].sum(axis=0)
        for p, label in enumerate([*pathways, ALL_PATHWAYS]):
            s = s_area.sum() if label == ALL_PATHWAYS else s_area[p]
            c = c_area.sum(axis=0) if label == ALL_PATHWAYS else c_area[p]
            row = {"icb": code, "icb_name": name, "region": region, "pathway": label}
            row["first_year"], row["last_year"] = year_label(years[0]), year_label(years[-1])
            row["saving_gbp"] = float(s)
            row.update({cost_column(payer): float(c[q]) for q, payer in enumerate(PAYERS)})
            row["upstream_cost_gbp"] = float(c.sum())
            row["net_gbp"] = row["saving_gbp"] - row["upstream_cost_gbp"]
            invested = row["upstream_cost_gbp"]
            row["return_per_gbp"] = row["saving_gbp"] / invested if invested != 0 else np.nan
            for q, payer in enumerate(OTHER_PAYERS):
                row[other_column(payer)] = float(o_area[q]) if label == ALL_PATHWAYS else np.nan
            rows.append(row)
    return LeftShiftSummary(pd.DataFrame(rows), pathways, years[0], years[-1])


# --------------------------------------------------------------------------------------------
# Text


def money_m(value: float) -> str:
    """Pounds as £ millions to one decimal, rounded half up, thousands separated: ``-971.5``.

    A value that rounds to zero is ``0.0`` (never ``-0.0``).
    """
    tenths = round_half_up(float(value), TENTH_M)
    return f"{tenths / 10:,.1f}"


def return_text(value: float) -> str:
    """Return per £1 invested to two decimals, or ``n/a`` when nothing is invested."""
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.2f}"


def pathway_label(pathway: str) -> str:
    """``critical_care`` -> ``critical care``; ``all`` -> ``England (all pathways)``."""
    return "all pathways" if pathway == ALL_PATHWAYS else pathway.replace("_", " ")


def paying(summary: LeftShiftSummary) -> list[str]:
    """The payers who fund any lever somewhere (columns worth showing)."""
    table = summary.table
    return [p for p in PAYERS if (table[cost_column(p)] != 0).any()] or [SPECIALISED]


def basis_text(summary: LeftShiftSummary) -> str:
    """What the figures are: years, price base and discounting."""
    return f"{summary.period} summed, £m cash, not discounted"


SIGNS_TEXT = (
    "Cash = base-year prices inflated at the scenario's cost inflation. Saving = delegated specialised spend avoided (negative = more spend); upstream cost = the "
    "levers' investment, by who pays; net position = saving - upstream cost (positive = saves "
    "more than it costs); return = saving per £1 of upstream cost (n/a: no investment)."
)


def pathway_rows(summary: LeftShiftSummary, icb: str = ENGLAND) -> list[list[str]]:
    """Formatted rows of one area: pathway, saving, cost by paying payer, total, net, return."""
    rows = []
    for row in summary.area(icb).itertuples(index=False):
        row = row._asdict()
        rows.append(
            [
                pathway_label(row["pathway"]),
                money_m(row["saving_gbp"]),
                *[money_m(row[cost_column(p)]) for p in paying(summary)],
                money_m(row["upstream_cost_gbp"]),
                money_m(row["net_gbp"]),
                return_text(row["return_per_gbp"]),
            ]
        )
    return rows


def pathway_header(summary: LeftShiftSummary) -> list[tuple[str, str]]:
    """Column labels of :func:`pathway_rows` as (name, unit); upstream cost in the columns of
    the payers who fund any lever, then its total."""
    return [
        ("pathway", ""),
        ("saving", "£m"),
        *[(PAYER_LABELS[p].replace(" delegated", ""), "£m") for p in paying(summary)],
        ("upstream total", "£m"),
        ("net position", "£m"),
        ("return", "per £1"),
    ]


def others_text(summary: LeftShiftSummary, icb: str = ENGLAND) -> str | None:
    """The other payers' pathway costs the levers change (all pathways), or None."""
    row = summary.area(icb).iloc[-1]
    parts = [
        f"{PAYER_LABELS[p]} {money_m(row[other_column(p)])}"
        for p in OTHER_PAYERS
        if np.isfinite(row[other_column(p)]) and round_half_up(row[other_column(p)], TENTH_M)
    ]
    if not parts:
        return None
    return (
        "Pathway costs avoided for other payers, all pathways, not in the net position "
        f"(£m; negative = extra cost): {', '.join(parts)}."
    )


def extremes_rows(summary: LeftShiftSummary) -> tuple[list[list[str]], list[list[str]]]:
    """Formatted rows (code, full name, saving, upstream cost, net) of the ICBs with the largest
    and the smallest net position."""

    def fmt(frame: pd.DataFrame) -> list[list[str]]:
        return [
            [
                r.icb,
                r.icb_name,
                money_m(r.saving_gbp),
                money_m(r.upstream_cost_gbp),
                money_m(r.net_gbp),
            ]
            for r in frame.itertuples(index=False)
        ]

    return fmt(summary.largest()), fmt(summary.smallest())


def _grid(headers: list[list[str]], rows: list[list[str]], left: int = 1) -> list[str]:
    """Text columns: the first ``left`` left-aligned, the others right-aligned to their widest
    cell (headers included)."""
    every = [*headers, *rows]
    widths = [max(len(r[k]) for r in every) for k in range(len(every[0]))]
    out = []
    for r in every:
        cells = [
            f"{c:<{w}}" if k < left else f"{c:>{w}}" for k, (c, w) in enumerate(zip(r, widths))
        ]
        out.append("  ".join(cells).rstrip())
    return out


def summary_text(summary: LeftShiftSummary) -> str:
    """The console section printed after the allocation table by ``alloc run``."""
    lines = [f"\nLeft shift, {basis_text(summary)}:"]
    header = pathway_header(summary)
    n_payers = len(paying(summary))
    above = ["", ""] + ["upstream cost by payer"] + [""] * (len(header) - 3)
    rows = pathway_rows(summary)
    rows[-1][0] = f"{ENGLAND} ({pathway_label(ALL_PATHWAYS)})"
    table = _grid([[n for n, _ in header], [f"({u})" if u else "" for _, u in header]], rows)
    # the payer columns' common heading, over them
    at = table[0].index(header[2][0]) if n_payers else 0
    lines.append(" " * at + above[2])
    lines += table
    notes = [others_text(summary), SIGNS_TEXT]
    lines += [textwrap.fill(n, WRAP) for n in notes if n]
    largest, smallest = extremes_rows(summary)
    header = ["ICB", "name", "saving (£m)", "upstream cost (£m)", "net position (£m)"]
    grid = _grid([header], largest + smallest, left=2)  # one grid: the two lists align
    for title, body in (
        ("ICBs with the largest net position", grid[1 : 1 + len(largest)]),
        ("ICBs with the smallest net position", grid[1 + len(largest) :]),
    ):
        lines += ["", f"{title}:", grid[0], *body]
    lines.append(f"\nEvery ICB and pathway: {FILE_NAME} in the results folder.")
    return "\n".join(lines)


__all__ = [
    "ALL_PATHWAYS",
    "ENGLAND",
    "FILE_NAME",
    "LeftShiftSummary",
    "has_levers",
    "left_shift_summary",
    "money_m",
    "return_text",
    "summary_text",
]
