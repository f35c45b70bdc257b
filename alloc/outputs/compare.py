"""Compare two or more results of one geography and one span of years: tables, workbook, charts
and a PDF pack (``alloc compare``), and the comparison pages of ``alloc report --compare``.

Results are compared ICB by ICB and year by year; every difference is *this scenario minus the
first* (the first result named is the reference). Results of different areas, ICB codes, years
or price bases are refused (:func:`check_comparable`), so a difference is never one of
footprints. Nothing here runs the model: the caller passes results in (:func:`load_result` reads
a results folder written by ``alloc run``).

Files written into the comparison folder (:func:`write_comparison`, atomically):

========================  ======================================================================
file                      contents
========================  ======================================================================
``comparison.csv``        one row per ICB x year x scenario: allocation [GBP, cash, unrounded],
                          DfT [fraction], and their differences from the first scenario
``comparison.xlsx``       Compare (final year, £k), By year (differences, £k), Provenance, Notes
``charts/``               DfT by scenario, allocation difference, DfT range by year: PNG, SVG
                          and the chart's data as CSV
``comparison_pack.pdf``   with ``pdf=True``: cover, the three charts, one table page per region
========================  ======================================================================
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alloc.errors import AllocError
from alloc.inputs.years import year_label
from alloc.outputs.atomic import Note, atomic_folder
from alloc.rounding import largest_remainder, round_money

#: Files of a comparison folder (the PDF only with ``pdf=True``).
COMPARISON_CSV = "comparison.csv"
COMPARISON_XLSX = "comparison.xlsx"
COMPARISON_PDF = "comparison_pack.pdf"
CHARTS_FOLDER = "charts"
#: Stems of the comparison charts (each written as PNG, SVG and CSV of the data drawn).
CHART_STEMS = ("dft_by_scenario", "allocation_difference", "dft_range")
#: Most results compared at once: each needs its own colour and marker on the charts.
MAX_RESULTS = 6
#: Variables a result must hold to be compared.
NEEDED = ("allocation", "dft", "target", "icb_name", "region")

COMPARISON_COLUMNS = [
    "icb",
    "icb_name",
    "region",
    "financial_year",
    "year",
    "scenario",
    "allocation_gbp",
    "dft",
    "allocation_diff_gbp",
    "dft_diff",
]


@dataclass
class Comparison:
    """What :func:`write_comparison` wrote: the folder, its files and the scenario names."""

    path: Path
    files: list[str]
    names: list[str]


# --------------------------------------------------------------------------------------------
# Reading and checking
# --------------------------------------------------------------------------------------------


def load_result(path: str | Path, field: str = "RESULT") -> xr.Dataset:
    """Read a result written by ``alloc run``: its folder or its ``result.nc``.

    Raises
    ------
    AllocError
        If ``path`` does not exist, is a folder without ``result.nc``, is not a NetCDF result,
        or lacks the variables of a result (an ensemble, say).
    """
    from alloc.outputs.results import read_result

    path = Path(path)
    expected = (
        "expected a results folder written by `alloc run` (holding result.nc) or its result.nc"
    )
    if not path.exists():
        raise AllocError(path, field, f"{expected}; nothing exists at this path")
    nc = path / "result.nc" if path.is_dir() else path
    if path.is_dir() and not nc.is_file():
        raise AllocError(path, field, f"{expected}; this folder holds no result.nc")
    if nc.suffix.lower() != ".nc":
        raise AllocError(path, field, f"{expected}; found the file '{path.name}'")
    try:
        result = read_result(nc)
    except (OSError, ValueError) as exc:
        raise AllocError(
            nc, field, f"expected a NetCDF result written by `alloc run` ({type(exc).__name__})"
        ) from None
    missing = [n for n in NEEDED if n not in result.variables]
    if missing or "icb" not in result.dims or "year" not in result.dims:
        raise AllocError(
            nc,
            field,
            f"expected a result of `alloc run` (allocation and dft by ICB and year); it lacks "
            f"{', '.join(missing) or 'the icb and year dimensions'}",
        )
    return result


def scenario_names(results: Sequence[xr.Dataset], sources: Sequence[str | Path]) -> list[str]:
    """One distinct name per result: its ``scenario_name``, with its folder's name added when two
    results share a name (``default (A)``, ``default (B)``), the path when folders share one
    too, and ``#2``, ``#3`` for a result named twice."""
    folders = []
    for src in sources:
        folder = Path(src).parent if Path(src).suffix.lower() == ".nc" else Path(src)
        folders.append(folder.name or folder.resolve().name)
    base = [
        str(r.attrs.get("scenario_name") or folders[k] or f"result {k + 1}")
        for k, r in enumerate(results)
    ]

    def clashes(values):
        return {v for v in values if values.count(v) > 1}

    dup = clashes(base)
    names = [f"{n} ({folders[k]})" if n in dup and folders[k] else n for k, n in enumerate(base)]
    dup = clashes(names)
    names = [f"{base[k]} ({sources[k]})" if n in dup else n for k, n in enumerate(names)]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} #{seen[n]}")
    return out


def _listed(values: Sequence, k: int = 4) -> str:
    shown = ", ".join(str(v) for v in list(values)[:k])
    return shown + (", ..." if len(values) > k else "")


def check_comparable(
    results: Sequence[xr.Dataset], sources: Sequence[str | Path]
) -> list[xr.Dataset]:
    """Check that ``results`` may be compared; return them with ICBs in the first's order.

    Every result must have the first's geography (attribute ``geography``), the same ICB codes
    (in any order), the same financial years and the same price base.

    Raises
    ------
    AllocError
        Naming the result that differs, the first result, and what differs.
    """
    if len(results) < 2:
        raise AllocError(
            sources[0] if sources else "compare",
            "RESULT",
            f"expected at least two results to compare, found {len(results)}",
        )
    if len(results) > MAX_RESULTS:
        raise AllocError(
            sources[MAX_RESULTS],
            "RESULT",
            f"expected at most {MAX_RESULTS} results (one colour and marker each on the "
            f"charts), found {len(results)}; compare them in smaller groups",
        )
    first, ref = results[0], str(sources[0])
    codes = [str(c) for c in first["icb"].values]
    years = [int(y) for y in first["year"].values]
    out = [first]
    for result, src in zip(results[1:], sources[1:]):
        src = str(src)
        geo_a = first.attrs.get("geography", "(not recorded)")
        geo_b = result.attrs.get("geography", "(not recorded)")
        if geo_a != geo_b:
            raise AllocError(
                src,
                "geography",
                f"expected the areas of {ref} ({geo_a}), found {geo_b}: results of different "
                "geographies cannot be compared ICB by ICB; run both scenarios on one geography "
                f"(--set geography='\"{geo_a}\"')",
            )
        other = [str(c) for c in result["icb"].values]
        if set(other) != set(codes) or len(other) != len(codes):
            only_a = [c for c in codes if c not in set(other)]
            only_b = [c for c in other if c not in set(codes)]
            raise AllocError(
                src,
                "icb",
                f"expected the {len(codes)} ICB codes of {ref}, found {len(other)}"
                + (f"; only in {ref}: {_listed(only_a)}" if only_a else "")
                + (f"; only in {src}: {_listed(only_b)}" if only_b else "")
                + (" (a code repeated)" if not only_a and not only_b else ""),
            )
        theirs = [int(y) for y in result["year"].values]
        if theirs != years:
            raise AllocError(
                src,
                "years",
                f"expected the years of {ref}, {year_label(years[0])} to "
                f"{year_label(years[-1])} ({len(years)} years), found {year_label(theirs[0])} "
                f"to {year_label(theirs[-1])} ({len(theirs)} years): run both scenarios over the "
                f"same years (--set base_year, --set end_year)",
            )
        price_a = first.attrs.get("price_base", "cash")
        price_b = result.attrs.get("price_base", "cash")
        if price_a != price_b:
            raise AllocError(
                src,
                "price_base",
                f"expected money in {price_a} pounds as in {ref}, found {price_b}",
            )
        out.append(result.sel(icb=codes) if other != codes else result)
    return out


def load_comparable(paths: Sequence[str | Path]) -> tuple[list[xr.Dataset], list[str]]:
    """Read every result of ``paths`` (:func:`load_result`), check that they may be compared
    (:func:`check_comparable`) and name them (:func:`scenario_names`)."""
    results = [load_result(p) for p in paths]
    sources = [str(p) for p in paths]
    results = check_comparable(results, sources)
    return results, scenario_names(results, sources)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def comparison_table(results: Sequence[xr.Dataset], names: Sequence[str]) -> pd.DataFrame:
    """One row per ICB x year x scenario (:data:`COMPARISON_COLUMNS`).

    ``allocation_gbp`` [GBP, cash, unrounded] and ``dft`` [fraction] of each scenario, and
    ``allocation_diff_gbp`` and ``dft_diff``: this scenario minus the first (exactly 0 for the
    first).
    """
    first = results[0]
    codes = first["icb"].values.astype(str)
    years = first["year"].values.astype(int)
    n_icb, n_year, n_scen = len(codes), len(years), len(results)
    alloc = np.stack([r["allocation"].transpose("icb", "year").values for r in results], -1)
    dft = np.stack([r["dft"].transpose("icb", "year").values for r in results], -1)
    frame = pd.DataFrame(
        {
            "icb": np.repeat(codes, n_year * n_scen),
            "icb_name": np.repeat(first["icb_name"].values.astype(str), n_year * n_scen),
            "region": np.repeat(first["region"].values.astype(str), n_year * n_scen),
            "financial_year": np.tile(np.repeat([year_label(y) for y in years], n_scen), n_icb),
            "year": np.tile(np.repeat(years, n_scen), n_icb),
            "scenario": np.tile(list(names), n_icb * n_year),
            "allocation_gbp": alloc.ravel(),
            "dft": dft.ravel(),
            "allocation_diff_gbp": (alloc - alloc[..., :1]).ravel(),
            "dft_diff": (dft - dft[..., :1]).ravel(),
        },
        columns=COMPARISON_COLUMNS,
    )
    return frame


def _last(results: Sequence[xr.Dataset], name: str) -> np.ndarray:
    """``name`` in the final year, ICB x scenario."""
    return np.stack([r[name].isel(year=-1).values for r in results], -1)


def _national_dft(result: xr.Dataset, year=-1) -> float:
    a = float(result["allocation"].isel(year=year).sum())
    t = float(result["target"].isel(year=year).sum())
    return round((a - t) / t, 12) + 0.0


def compare_sheet_table(results: Sequence[xr.Dataset], names: Sequence[str]) -> pd.DataFrame:
    """Per ICB: final-year allocation of each scenario [£k, largest remainder], its difference
    from the first [£k, the difference of the rounded figures, so each row adds across and each
    column adds down to the England row] and final-year DfT of each scenario [fraction];
    England row last."""
    from alloc.outputs.excel import ENGLAND

    first = results[0]
    last = year_label(int(first["year"][-1]))
    frame = pd.DataFrame(
        {
            "ICB code": first["icb"].values.astype(str),
            "ICB name": first["icb_name"].values.astype(str),
            "Region": first["region"].values.astype(str),
        }
    )
    total = {"ICB code": ENGLAND, "ICB name": "", "Region": ""}
    rounded = []
    for r, name in zip(results, names):
        values, england = round_money(r["allocation"].isel(year=-1).values)
        col = f"Allocation {last}, {name} (£k)"
        frame[col], total[col] = values, england
        rounded.append((values, england))
    for k in range(1, len(results)):
        col = f"Difference {names[k]} − {names[0]}, {last} (£k)"
        frame[col] = rounded[k][0] - rounded[0][0]
        total[col] = rounded[k][1] - rounded[0][1]
    for r, name in zip(results, names):
        col = f"DfT {last}, {name} (%)"
        frame[col] = r["dft"].isel(year=-1).values
        total[col] = _national_dft(r)
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def by_year_table(results: Sequence[xr.Dataset], names: Sequence[str]) -> pd.DataFrame:
    """Allocation difference from the first scenario by ICB and financial year [£k].

    One block of ICB rows per scenario after the first, ending with its England row (the
    national difference). Each year's allocations are rounded to £k by largest remainder, as on
    the Compare sheet, and the difference is of the rounded figures, so the final-year column
    equals the Compare sheet's and every column adds down to its England row.
    """
    from alloc.outputs.excel import ENGLAND

    first = results[0]
    years = [int(y) for y in first["year"].values]
    rounded = [{y: round_money(r["allocation"].sel(year=y).values) for y in years} for r in results]
    parts = []
    for k in range(1, len(results)):
        frame = pd.DataFrame(
            {
                "ICB code": first["icb"].values.astype(str),
                "ICB name": first["icb_name"].values.astype(str),
                "Region": first["region"].values.astype(str),
                "Scenario": names[k],
                "Compared with": names[0],
            }
        )
        total = {"ICB code": ENGLAND, "ICB name": "", "Region": ""}
        total.update({"Scenario": names[k], "Compared with": names[0]})
        for y in years:
            col = f"{year_label(y)} (£k)"
            frame[col] = rounded[k][y][0] - rounded[0][y][0]
            total[col] = rounded[k][y][1] - rounded[0][y][1]
        parts += [frame, pd.DataFrame([total])]
    return pd.concat(parts, ignore_index=True)


def policy_text(attrs: Mapping) -> str:
    """The policy a result ran, with its floors and caps (from its ``policy_json``)."""
    try:
        policy = json.loads(attrs.get("policy_json", "{}"))
    except ValueError:
        policy = {}

    def rate(value, what):
        if isinstance(value, dict):
            return f"{what} varying by year"
        return f"{what} {100 * value:.1f}%"

    basis = policy.get("growth_basis", "cash")
    terms = []
    if policy.get("min_growth") is not None:
        terms.append(rate(policy["min_growth"], f"floor ({basis} growth a year)"))
    if policy.get("max_growth") is not None:
        terms.append(rate(policy["max_growth"], f"cap ({basis} growth a year)"))
    if policy.get("max_below_target") is not None:
        terms.append(rate(policy["max_below_target"], "no ICB further below target than"))
    if policy.get("convergence_rate") is not None:
        terms.append(rate(policy["convergence_rate"], "share of each gap closed a year"))
    if policy.get("deadline") is not None and policy.get("band") is not None:
        terms.append(
            f"every ICB within {100 * policy['band']:.1f}% of target by "
            f"{year_label(int(policy['deadline']))}"
        )
    name = attrs.get("policy_name", policy.get("name", "(not recorded)"))
    kind = attrs.get("policy_kind", policy.get("kind", ""))
    return f"{name} ({kind}): " + ("; ".join(terms) if terms else "no floors or caps")


def _flat(value, prefix: str = "") -> dict[str, str]:
    """A nested mapping as dotted keys and JSON-like values: {"policy": {"use": "x"}} ->
    {"policy.use": "x"}."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value if isinstance(value, str) else json.dumps(value)}


def scenario_changes(first: xr.Dataset, other: xr.Dataset) -> list[str]:
    """The scenario settings in which ``other`` differs from ``first``, as recorded in each
    result (``scenario_json``): e.g. ``["policy.use = proportional (was common_dft)"]``; the
    description is left out (``--set`` changes a setting, not the description)."""
    try:
        a = _flat(json.loads(first.attrs.get("scenario_json", "{}")))
        b = _flat(json.loads(other.attrs.get("scenario_json", "{}")))
    except ValueError:
        return []
    changes = []
    for key in sorted(set(a) | set(b)):
        if key == "description" or a.get(key) == b.get(key):
            continue
        if key not in b:
            changes.append(f"{key} not set (was {a[key]})")
        elif key not in a:
            changes.append(f"{key} = {b[key]} (not set)")
        else:
            changes.append(f"{key} = {b[key]} (was {a[key]})")
    return changes


def _changes_text(results: Sequence[xr.Dataset], k: int) -> str:
    if k == 0:
        return "(the reference)"
    changes = scenario_changes(results[0], results[k])
    return "; ".join(changes) if changes else "no scenario setting (the data or code may differ)"


def provenance_table(
    results: Sequence[xr.Dataset], names: Sequence[str], sources: Sequence[str | Path]
) -> pd.DataFrame:
    """One row per provenance field, one column per scenario."""
    rows = {
        "Result": [str(s) for s in sources],
        "Scenario name (as recorded)": [r.attrs.get("scenario_name", "") for r in results],
        "Scenario settings that differ from the first": [
            _changes_text(results, k) for k in range(len(results))
        ],
        "Scenario description": [r.attrs.get("scenario_description", "") for r in results],
        "Scenario file": [r.attrs.get("scenario_file", "") for r in results],
        "Scenario hash": [r.attrs.get("scenario_hash", "") for r in results],
        "Policy": [policy_text(r.attrs) for r in results],
        "Target formula": [r.attrs.get("formula_name", "") for r in results],
        "Envelope growth": [str(r.attrs.get("envelope_growth", "")) for r in results],
        "Input hash": [r.attrs.get("input_hash", "") for r in results],
        "Data folder": [r.attrs.get("data_folder", "") for r in results],
        "Geography": [
            f"{r.attrs.get('geography', '')} ({r.attrs.get('geography_status', '')}), "
            f"{r.sizes['icb']} ICBs"
            for r in results
        ],
        "Years": [
            f"{year_label(int(r['year'][0]))} to {year_label(int(r['year'][-1]))}" for r in results
        ],
        "Price base": [str(r.attrs.get("price_base", "cash")) for r in results],
        "alloc version": [r.attrs.get("alloc_version", "") for r in results],
        "Created": [r.attrs.get("created", "") for r in results],
    }
    frame = pd.DataFrame(rows).T.reset_index()
    frame.columns = ["Field", *names]
    return frame


def _illustrative(results: Sequence[xr.Dataset]) -> list[bool | None]:
    from alloc.outputs.plots._data import is_illustrative

    return [is_illustrative(r.attrs) for r in results]


def _caution(results: Sequence[xr.Dataset], names: Sequence[str]) -> str:
    status = _illustrative(results)
    if all(s is False for s in status):
        return "Data: user-supplied in every scenario (see Provenance)."
    which = [n for n, s in zip(names, status) if s is not False]
    return (
        "ILLUSTRATIVE DATA: the historic-cost baseline is generated (seeded) for demonstration "
        f"in {', '.join(repr(w) for w in which)}; these are not NHS England figures."
    )


def _notes(names: Sequence[str], last: str) -> pd.DataFrame:
    rows = [
        (
            "What this workbook is",
            f"A comparison of {len(names)} scenarios ({', '.join(names)}) on the same ICBs and "
            f"years. Every difference is the scenario minus the first, '{names[0]}': positive "
            "means the ICB gets more under that scenario.",
        ),
        (
            "Compare sheet",
            f"Per ICB: the allocation in {last} under each scenario, the difference from "
            f"'{names[0]}', and the distance from target (DfT) in {last} under each scenario.",
        ),
        (
            "By year sheet",
            "Per ICB and financial year: the allocation difference from the first scenario. "
            "Each block ends with the England row, the national difference (zero when the "
            "scenarios share one envelope: a policy only moves money between ICBs).",
        ),
        (
            "Rounding",
            "Allocations are rounded to £ thousands by largest remainder, so each column of ICBs "
            "sums exactly to its England row. A difference is the difference of the rounded "
            "allocations, so each row adds across and each column adds down. Unrounded pounds "
            "are in comparison.csv and each result's result.nc.",
        ),
        (
            "Distance from target",
            "DfT = (allocation - target) / target; negative = below target. Shown unrounded as "
            "a percentage with two decimals.",
        ),
        (
            "Provenance",
            "The Provenance sheet gives each result's folder, scenario, policy, scenario hash "
            "and input hash, so every figure can be traced and re-run.",
        ),
    ]
    return pd.DataFrame(rows, columns=["Topic", "Explanation"])


def write_comparison_workbook(
    results: Sequence[xr.Dataset],
    names: Sequence[str],
    sources: Sequence[str | Path],
    path: str | Path,
) -> None:
    """Write ``comparison.xlsx``: sheets Compare, By year, Provenance and Notes.

    Same conventions as the results workbook (:mod:`alloc.outputs.excel`): a title block of three
    lines, the table header on row :data:`alloc.outputs.excel.HEADER_ROW`, frozen and
    filterable, money in £k (``#,##0``, the unit in the header) rounded by largest remainder.
    """
    from openpyxl import Workbook

    from alloc.outputs.excel import (
        ROUNDING_TEXT,
        _text_sheet,
        _title_block,
        _write_table,
    )

    first = results[0]
    last = year_label(int(first["year"][-1]))
    caution = _caution(results, names)
    vs = " vs ".join(f"'{n}'" for n in names)
    money = (
        ROUNDING_TEXT["largest_remainder"] + " Differences are of the rounded figures (this "
        f"scenario minus '{names[0]}'). Unrounded pounds are in comparison.csv."
    )
    wb = Workbook()
    wb.remove(wb.active)

    def sheet(title, heading, units):
        ws = wb.create_sheet(title)
        _title_block(ws, f"{heading}: {vs}", units, caution)
        return ws

    ws = sheet(
        "Compare",
        f"Allocations and distance from target in {last}",
        money + " DfT = (allocation - target) / target, negative = below target.",
    )
    table = compare_sheet_table(results, names)
    _write_table(ws, table, 3, True)
    _tall_header(ws, table)
    ws = sheet("By year", "Allocation difference from the first scenario by year", money)
    table = by_year_table(results, names)
    _write_table(ws, table, 5, True)
    _tall_header(ws, table)
    ws = sheet("Provenance", "Provenance", "Everything needed to trace and re-run each result.")
    table = provenance_table(results, names, sources)
    _write_table(ws, table, 1, False)
    _wrap_columns(ws, table)
    ws = sheet("Notes", "How to read this workbook", "")
    _text_sheet(ws, _notes(names, last))
    wb.save(path)


def _tall_header(ws, table: pd.DataFrame) -> None:
    """Header row tall enough for wrapped scenario names."""
    from openpyxl.utils import get_column_letter

    from alloc.outputs.excel import HEADER_ROW

    lines = 1
    for j, name in enumerate(table.columns, start=1):
        width = ws.column_dimensions[get_column_letter(j)].width or 10
        lines = max(lines, math.ceil(len(str(name)) / max(width - 2, 1)))
    ws.row_dimensions[HEADER_ROW].height = max(32, 15 * min(lines, 6))


def _wrap_columns(ws, table: pd.DataFrame) -> None:
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    from alloc.outputs.excel import HEADER_ROW

    ws.column_dimensions["A"].width = 28
    for j in range(2, len(table.columns) + 1):
        ws.column_dimensions[get_column_letter(j)].width = 48
    for row in ws.iter_rows(min_row=HEADER_ROW + 1):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


# --------------------------------------------------------------------------------------------
# Chart data (what each chart draws, written beside it as CSV)
# --------------------------------------------------------------------------------------------


def dft_by_scenario_data(results: Sequence[xr.Dataset], names: Sequence[str]) -> pd.DataFrame:
    """Final-year DfT [fraction] per ICB x scenario: icb, icb_name, region, scenario,
    financial_year, dft."""
    table = comparison_table(results, names)
    last = int(results[0]["year"][-1])
    cols = ["icb", "icb_name", "region", "scenario", "financial_year", "dft"]
    return table.loc[table["year"] == last, cols].reset_index(drop=True)


def allocation_difference_data(results: Sequence[xr.Dataset], names: Sequence[str]) -> pd.DataFrame:
    """Final-year allocation difference from the first scenario [GBP] per ICB x later scenario:
    icb, icb_name, region, scenario, compared_with, financial_year, allocation_gbp,
    compared_allocation_gbp, allocation_diff_gbp."""
    table = comparison_table(results, names)
    last = int(results[0]["year"][-1])
    rows = table[(table["year"] == last) & (table["scenario"] != names[0])].copy()
    rows.insert(4, "compared_with", names[0])
    rows["compared_allocation_gbp"] = rows["allocation_gbp"] - rows["allocation_diff_gbp"]
    cols = [
        "icb",
        "icb_name",
        "region",
        "scenario",
        "compared_with",
        "financial_year",
        "allocation_gbp",
        "compared_allocation_gbp",
        "allocation_diff_gbp",
    ]
    return rows[cols].reset_index(drop=True)


def dft_range_data(results: Sequence[xr.Dataset], names: Sequence[str]) -> pd.DataFrame:
    """DfT across ICBs per scenario x year [fraction]: lowest, median and highest, and the ICBs
    lowest and highest."""
    rows = []
    for r, name in zip(results, names):
        dft = r["dft"].transpose("icb", "year")
        for y in r["year"].values:
            d = dft.sel(year=y)
            lo, hi = str(d.idxmin("icb").item()), str(d.idxmax("icb").item())
            rows.append(
                {
                    "scenario": name,
                    "financial_year": year_label(int(y)),
                    "year": int(y),
                    "dft_min": float(d.min()),
                    "dft_median": float(d.median()),
                    "dft_max": float(d.max()),
                    "icb_min": lo,
                    "icb_min_name": str(r["icb_name"].sel(icb=lo).item()),
                    "icb_max": hi,
                    "icb_max_name": str(r["icb_name"].sel(icb=hi).item()),
                }
            )
    return pd.DataFrame(rows)


def footnote_attrs(results: Sequence[xr.Dataset], names: Sequence[str]) -> dict:
    """Provenance for the charts' footnote, standing for every result compared."""
    first = results[0].attrs

    def joined(key):
        values = list(dict.fromkeys(str(r.attrs.get(key, "")) for r in results))
        return " / ".join(v for v in values if v)

    attrs = {
        "alloc_version": joined("alloc_version"),
        # the footnote quotes the name: this reads "scenario 'A' vs 'B'"
        "scenario_name": "' vs '".join(names),
        "policy_name": " vs ".join(str(r.attrs.get("policy_name", "?")) for r in results),
        "geography": first.get("geography", ""),
        "geography_status": first.get("geography_status", ""),
        "input_hash": joined("input_hash"),
        "created": max(str(r.attrs.get("created", "")) for r in results),
        "price_base": first.get("price_base", "cash"),
    }
    status = _illustrative(results)
    if any(s is True for s in status):
        attrs["illustrative"] = True
    elif all(s is False for s in status):
        attrs["illustrative"] = False
        attrs["data_folder"] = joined("data_folder")
    return attrs


def chart_data(results: Sequence[xr.Dataset], names: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The data of each comparison chart, by file stem (:data:`CHART_STEMS`)."""
    return {
        "dft_by_scenario": dft_by_scenario_data(results, names),
        "allocation_difference": allocation_difference_data(results, names),
        "dft_range": dft_range_data(results, names),
    }


def comparison_charts(results: Sequence[xr.Dataset], names: Sequence[str]) -> dict[str, tuple]:
    """``{stem: (Figure, data)}`` for the three comparison charts (imports matplotlib)."""
    from alloc.outputs.plots import compare as charts

    data = chart_data(results, names)
    attrs = footnote_attrs(results, names)
    return {
        "dft_by_scenario": (
            charts.dft_by_scenario(data["dft_by_scenario"], names, attrs),
            data["dft_by_scenario"],
        ),
        "allocation_difference": (
            charts.allocation_difference(data["allocation_difference"], names, attrs),
            data["allocation_difference"],
        ),
        "dft_range": (charts.dft_range(data["dft_range"], names, attrs), data["dft_range"]),
    }


def write_comparison_charts(
    charts: Mapping[str, tuple], folder: str | Path, formats: tuple[str, ...] = ("png", "svg")
) -> list[Path]:
    """Write each chart as PNG and SVG (text kept as text) and its data as CSV."""
    from alloc.outputs.plots import PNG_DPI
    from alloc.outputs.plots.style import save_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, (fig, data) in charts.items():
        for fmt in formats:
            path = folder / f"{stem}.{fmt}"
            meta = {"Software": "alloc"} if fmt == "png" else {"Creator": "alloc", "Date": None}
            save_figure(fig, path, dpi=PNG_DPI if fmt == "png" else None, metadata=meta)
            written.append(path)
        data.to_csv(folder / f"{stem}.csv", index=False)
        written.append(folder / f"{stem}.csv")
    return written


# --------------------------------------------------------------------------------------------
# PDF pack
# --------------------------------------------------------------------------------------------


def cover_page(results: Sequence[xr.Dataset], names: Sequence[str], sources: Sequence[str]):
    """Cover (A4 landscape): the scenarios compared side by side, two to a row, each with what
    differs from the first, its policy and provenance; then the areas, years and contents."""
    from alloc.outputs.plots import style as s

    first = results[0]
    years = first["year"].values
    span = f"{year_label(int(years[0]))} to {year_label(int(years[-1]))}"
    fig = s.new_figure(s.A4_LANDSCAPE)
    s.set_titles(
        fig,
        f"Comparing {len(names)} scenarios: specialised services allocations to the "
        f"{first.sizes['icb']} ICBs, {span}",
        f"Comparison pack. Differences are each scenario minus the first, '{names[0]}'; "
        "positive = the ICB gets more.",
    )
    s.add_footnote(fig, footnote_attrs(results, names))
    h, w = fig.get_figheight(), fig.get_figwidth()
    y = 1 - s.title_block_height(fig) - 0.01
    if any(st is not False for st in _illustrative(results)):
        warn = (
            "ILLUSTRATIVE DATA. The historic-cost baseline is generated (seeded) to demonstrate "
            "the method. These are not NHS England figures and must not be read as any ICB's "
            "allocation."
        )
        wrapped = s.wrap_to_width(warn, 0.9 * w - 0.4, 11, "bold")
        fig.text(
            0.05,
            y,
            wrapped,
            fontsize=11,
            fontweight="bold",
            color="white",
            va="top",
            gid="illustrative",
            bbox=dict(boxstyle="round,pad=0.5", facecolor=s.NHS_ORANGE, linewidth=0),
        )
        y -= (11 * 1.25 * (wrapped.count("\n") + 1) + 22) / 72 / h
    size = s.SMALL_SIZE if len(results) <= 4 else 8.0
    line = size * 1.2 / 72 / h  # one line of text [figure fraction]
    columns = [(0.05, 0.47), (0.53, 0.95)]  # two scenarios to a row [figure fraction]
    label_w = 0.10
    row_top = row_bottom = y
    for k, (r, name, src) in enumerate(zip(results, names, sources)):
        x0, x1 = columns[k % 2]
        if k % 2 == 0 and k:  # a new row starts below the lower block of the row above
            row_top = row_bottom - line
        y = row_top
        a = r.attrs
        head = f"{k + 1}. {name}" + ("  (the reference)" if k == 0 else "")
        fig.text(
            x0, y, head, fontsize=s.SUBTITLE_SIZE, fontweight="bold", color=s.SERIES[k], va="top"
        )
        y -= line * 1.9
        description = a.get("scenario_description", "") or a.get("scenario_name", "")
        same = k and all(
            a.get(f) == first.attrs.get(f) for f in ("scenario_description", "scenario_file")
        )
        rows = [
            ("Scenario", "as 1 (the same scenario file)" if same else description),
            *([("Differs from 1", _changes_text(results, k))] if k else []),
            ("Policy", policy_text(a)),
            ("Result", f"{src} (scenario hash {a.get('scenario_hash', '')})"),
            ("Input data", f"{a.get('data_folder', '')} (input hash {a.get('input_hash', '')})"),
        ]
        for label, value in rows:
            fig.text(
                x0, y, label, fontsize=size, fontweight="bold", color=s.NHS_DARK_BLUE, va="top"
            )
            wrapped = s.wrap_to_width(str(value), (x1 - x0 - label_w) * w, size).split("\n")
            if len(wrapped) > 3:  # the cover summarises: the workbook's Provenance has it all
                wrapped = wrapped[:3]
                wrapped[-1] += " …"
            fig.text(x0 + label_w, y, "\n".join(wrapped), fontsize=size, va="top")
            y -= line * len(wrapped) + line * 0.6
        row_bottom = min(row_bottom, y) if k % 2 else y
    y = row_bottom - line * 0.8
    geo = (
        f"Areas and years: {first.attrs.get('geography', '')}, {first.sizes['icb']} ICBs; {span}."
        " Contents: this cover; distance from target in the final year by scenario; the "
        "allocation difference by ICB; the range of distance from target by year; one table per "
        "NHS England region. Distance from target (DfT) = (allocation - target) / target: "
        "negative means below the needs-based target. Money in £ million, cash."
    )
    fig.text(
        0.05,
        y,
        s.wrap_to_width(geo, 0.9 * w, s.BASE_SIZE - 0.5),
        fontsize=s.BASE_SIZE - 0.5,
        color=s.NHS_DARK_GREY,
        va="top",
        gid="contents",
    )
    return fig


def region_compare_table(
    results: Sequence[xr.Dataset], names: Sequence[str], region: str
) -> pd.DataFrame:
    """Per ICB of ``region``: final-year allocation per scenario [£m, rounded to £0.1m by
    largest remainder so the ICBs sum to the region total], difference from the first [£m, of
    the rounded figures] and final-year DfT per scenario [%]; region total row last."""
    from alloc.outputs.plots.style import fmt_pct, short_name

    first = results[0]
    mask = (first["region"] == region).values
    codes = first["icb"].values[mask]
    frame = pd.DataFrame(
        {"ICB": [f"{c} {short_name(n)}" for c, n in zip(codes, first["icb_name"].values[mask])]}
    )
    totals = {"ICB": f"{region} ({len(codes)} ICBs)"}
    rounded = []
    for r, name in zip(results, names):
        values = r["allocation"].isel(year=-1).values[mask]
        tenths = largest_remainder(values, unit=1e5)
        rounded.append(tenths)
        frame[f"{name} (£m)"] = [f"{v / 10:,.1f}" for v in tenths]
        totals[f"{name} (£m)"] = f"{tenths.sum() / 10:,.1f}"
    for k in range(1, len(results)):
        col = f"{names[k]} − {names[0]} (£m)"
        diff = rounded[k] - rounded[0]
        frame[col] = [_signed_m(v) for v in diff]
        totals[col] = _signed_m(diff.sum())
    for r, name in zip(results, names):
        col = f"{name}: DfT (%)"
        sel = r.isel(year=-1).sel(icb=codes)
        frame[col] = [fmt_pct(v) for v in sel["dft"].values]
        a, t = float(sel["allocation"].sum()), float(sel["target"].sum())
        totals[col] = fmt_pct((a - t) / t)
    return pd.concat([frame, pd.DataFrame([totals])], ignore_index=True)


def _signed_m(tenths: int) -> str:
    """Tenths of £m as ``+1.2`` / ``−0.3`` / ``0.0``."""
    if tenths == 0:
        return "0.0"
    return f"{tenths / 10:+,.1f}".replace("-", "−")


def region_compare_page(results: Sequence[xr.Dataset], names: Sequence[str], region: str):
    """One region's comparison table on an A4 landscape page, with its differences as bars."""
    from alloc.outputs.plots import style as s
    from alloc.outputs.plots.compare import draw_table, region_difference_bars

    table = region_compare_table(results, names, region)
    first = results[0]
    last = year_label(int(first["year"][-1]))
    mask = (first["region"] == region).values
    diffs = _last(results, "allocation")[mask]
    diffs = diffs[:, 1:] - diffs[:, :1]
    if len(names) == 2:
        # the region's difference as the table shows it: of the totals rounded to £0.1m
        tenths = [
            int(largest_remainder(r["allocation"].isel(year=-1).values[mask], unit=1e5).sum())
            for r in results[:2]
        ]
        change = _signed_m(tenths[1] - tenths[0])
        change = change[0] + "£" + change[1:] if change[0] in "+−" else "£" + change
        title = (
            f"{region}: {int((diffs[:, 0] > 0).sum())} of {mask.sum()} ICBs get more under "
            f"'{names[1]}' than under '{names[0]}' in {last} (region {change}m)"
        )
    else:
        title = f"{region}: allocations in {last} under {len(names)} scenarios"
    fig = s.new_figure(s.A4_LANDSCAPE)
    s.set_titles(
        fig,
        title,
        f"Allocation in {last} under each scenario, its difference from '{names[0]}' and "
        f"distance from target (DfT) in {last}. £ million (cash), rounded to £0.1m by largest "
        "remainder so ICBs sum to the region total. DfT = (allocation - target) / target; "
        "negative = below target.",
    )
    s.add_footnote(fig, footnote_attrs(results, names))
    top = 1 - s.title_block_height(fig)
    compact = 1.5 if len(table) > 9 else 1.75  # rows closer in a large region: room for bars
    n_cols = len(table.columns)
    font = 9 if n_cols <= 7 else 8 if n_cols <= 12 else 7  # more scenarios, smaller type
    bottom = draw_table(fig, table, top=top, gid=f"region:{region}", font=font, row_factor=compact)
    floor = s.footnote_height(fig) + 0.65 / fig.get_figheight()
    n_icb, n_comp = diffs.shape
    per_icb = 0.115 if n_comp == 1 else 0.1 + 0.08 * n_comp  # least height of its bars [in]
    room = bottom - floor - 0.08
    if room >= (per_icb * n_icb + 0.3) / fig.get_figheight():
        height = min(room, (0.3 * n_icb * n_comp + 0.2) / fig.get_figheight())
        codes = first["icb"].values[mask]
        labels = [f"{c} {s.short_name(nm)}" for c, nm in zip(codes, first["icb_name"].values[mask])]
        left = max(0.30, (max(s.text_width(lab, 8) for lab in labels) + 0.4) / fig.get_figwidth())
        right = 0.90 if n_comp == 1 else 0.82  # room at the right for the legend
        region_difference_bars(
            fig, [left, bottom - 0.08 - height, right - left, height], labels, diffs, names, last
        )
    return fig


def report_pages(
    results: Sequence[xr.Dataset], sources: Sequence[str | Path]
) -> list[tuple[str, object]]:
    """Pages for the board pack of ``results[0]`` comparing it with the others (``alloc report
    RESULT --compare OTHER``): the DfT-by-scenario and allocation-difference charts.

    Raises
    ------
    AllocError
        If the results cannot be compared (:func:`check_comparable`).
    """
    from alloc.outputs.plots.style import house_style

    results = check_comparable(list(results), [str(s) for s in sources])
    names = scenario_names(results, [str(s) for s in sources])
    with house_style():
        charts = comparison_charts(results, names)
    return [
        ("Compared: DfT by scenario", charts["dft_by_scenario"][0]),
        ("Compared: allocation difference", charts["allocation_difference"][0]),
    ]


def pack_figures(
    results: Sequence[xr.Dataset],
    names: Sequence[str],
    sources: Sequence[str],
    charts: Mapping[str, tuple] | None = None,
) -> list[tuple[str, object]]:
    """The comparison pack's pages in order as ``(title, Figure)``."""
    from alloc.outputs.plots.dft import ordered_regions
    from alloc.outputs.plots.style import house_style

    with house_style():
        charts = charts or comparison_charts(results, names)
        pages = [("Cover", cover_page(results, names, sources))]
        pages += [
            ("DfT by scenario", charts["dft_by_scenario"][0]),
            ("Allocation difference", charts["allocation_difference"][0]),
            ("DfT range by year", charts["dft_range"][0]),
        ]
        for region in ordered_regions(results[0]["region"].values.tolist()):
            pages.append((f"Region: {region}", region_compare_page(results, names, region)))
    return pages


def write_comparison_pdf(
    pages: Sequence[tuple[str, object]], path: str | Path, attrs: Mapping, names: Sequence[str]
) -> Path:
    """Write ``pages`` to a PDF, each numbered "Page k of N" in its bottom right corner."""
    from matplotlib.backends.backend_pdf import PdfPages

    from alloc.outputs.plots.style import FOOTNOTE_SIZE, NHS_DARK_GREY, house_style

    path = Path(path)
    metadata = {
        "Title": "alloc comparison pack: " + " vs ".join(names),
        "Author": "alloc",
        "Creator": f"alloc {attrs.get('alloc_version', '')}",
        "Subject": "NHS England specialised services allocations: scenarios compared",
        "Keywords": f"input_hash={attrs.get('input_hash', '')}",
        "CreationDate": None,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with house_style(), PdfPages(tmp, metadata=metadata) as pdf:
            for k, (_, fig) in enumerate(pages, start=1):
                number = fig.text(
                    0.96,
                    0.05 / fig.get_figheight(),
                    f"Page {k} of {len(pages)}",
                    fontsize=FOOTNOTE_SIZE,
                    color=NHS_DARK_GREY,
                    ha="right",
                    va="bottom",
                    gid="page-number",
                )
                pdf.savefig(fig)
                number.remove()
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # as ordinary files (mkstemp's are private)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------------------------
# The folder
# --------------------------------------------------------------------------------------------


def write_comparison(
    results: Sequence[xr.Dataset],
    out_dir: str | Path,
    names: Sequence[str] | None = None,
    sources: Sequence[str | Path] | None = None,
    pdf: bool = False,
    force: bool = False,
    note: Note | None = None,
    plots: bool = True,
) -> Comparison:
    """Write a comparison of ``results`` into ``out_dir`` atomically (:func:`atomic_folder`).

    Parameters
    ----------
    results : sequence of xarray.Dataset
        Two to :data:`MAX_RESULTS` results of ``alloc run`` (or :func:`alloc.run`); the first is
        the reference every difference is taken from.
    out_dir : str or Path
        The comparison folder; an existing one is replaced only with ``force`` and only if alloc
        wrote it.
    names : sequence of str, optional
        Scenario names (default :func:`scenario_names`).
    sources : sequence of str or Path, optional
        Where each result came from, for names, messages and provenance.
    pdf : bool
        Also write ``comparison_pack.pdf``.
    force : bool
        Replace an existing comparison folder written by alloc.
    note : callable, optional
        Hears of temporary folders of killed runs that were removed.
    plots : bool
        Write the charts (``charts/``).

    Returns
    -------
    Comparison
        The folder, the files written (relative to it) and the scenario names.

    Raises
    ------
    AllocError
        If the results cannot be compared (:func:`check_comparable`) or ``out_dir`` may not be
        written; nothing is written then.
    """
    sources = [str(s) for s in (sources or [f"result {k + 1}" for k in range(len(results))])]
    results = check_comparable(list(results), sources)
    names = list(names) if names is not None else scenario_names(results, sources)
    with atomic_folder(out_dir, force, note) as tmp:
        comparison_table(results, names).to_csv(tmp / COMPARISON_CSV, index=False)
        write_comparison_workbook(results, names, sources, tmp / COMPARISON_XLSX)
        charts = None
        if plots or pdf:
            from alloc.outputs.plots.style import house_style

            with house_style():
                charts = comparison_charts(results, names)
        if plots:
            write_comparison_charts(charts, tmp / CHARTS_FOLDER)
        if pdf:
            pages = pack_figures(results, names, sources, charts)
            write_comparison_pdf(pages, tmp / COMPARISON_PDF, results[0].attrs, names)
        files = sorted(
            p.relative_to(tmp).as_posix()
            for p in tmp.rglob("*")
            if p.is_file() and p.name[0] != "."
        )
    return Comparison(Path(out_dir), files, list(names))


def headline(results: Sequence[xr.Dataset], names: Sequence[str]) -> list[str]:
    """One sentence per later scenario: how its final-year allocations differ from the first's."""
    from alloc.outputs.plots.style import fmt_gbp_m, short_name

    first = results[0]
    last = year_label(int(first["year"][-1]))
    alloc = _last(results, "allocation")
    codes = first["icb"].values.astype(str)
    label = {c: f"{c} {short_name(n)}" for c, n in zip(codes, first["icb_name"].values)}
    lines = []
    for k in range(1, len(results)):
        diff = alloc[:, k] - alloc[:, 0]
        up, down = diff > 0.5, diff < -0.5
        text = f"{names[k]} vs {names[0]}, {last}: "
        if not up.any() and not down.any():
            lines.append(text + "every ICB's allocation is the same (within £1)")
            continue
        hi, lo = int(np.argmax(diff)), int(np.argmin(diff))
        parts = []
        if up.any():
            parts.append(
                f"{int(up.sum())} ICBs get more (most {label[codes[hi]]}, "
                f"{fmt_gbp_m(float(diff[hi]), 1, sign=True)})"
            )
        if down.any():
            parts.append(
                f"{int(down.sum())} get less (most {label[codes[lo]]}, "
                f"{fmt_gbp_m(float(diff[lo]), 1)})"
            )
        parts.append(f"England {fmt_gbp_m(float(diff.sum()), 1, sign=True)}")
        lines.append(text + "; ".join(parts))
    return lines


__all__ = [
    "Comparison",
    "load_result",
    "load_comparable",
    "check_comparable",
    "scenario_names",
    "comparison_table",
    "compare_sheet_table",
    "scenario_changes",
    "by_year_table",
    "write_comparison_workbook",
    "chart_data",
    "comparison_charts",
    "report_pages",
    "pack_figures",
    "write_comparison",
    "headline",
]
