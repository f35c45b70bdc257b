"""The Excel workbook for finance teams (openpyxl).

Sheets: Summary, Allocations, Targets, DfT, Growth, Spend and net position, Left shift,
Calibration, Parameters, Provenance, Notes. Every table sheet starts with three lines that say what it is,
its units and rounding, and whether the data are illustrative (as NHS England's allocation tool
labels its downloads); the table header is row :data:`HEADER_ROW`, frozen and filterable, and
money tables end with an England row.

Money is shown in £ thousands, rounded by largest remainder so that every column of ICBs sums
exactly to its rounded England total (:mod:`alloc.rounding`); ``rounding="half_up"`` rounds
each figure half up on its own instead, as NHS England's published tables do. Unrounded pounds
are in ``result.nc`` and the CSV files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from alloc.inputs.years import year_label
from alloc.outputs.calibration_table import calibration_table
from alloc.outputs.glossary import GLOSSARY
from alloc.outputs.tables import crosswalk_table
from alloc.rounding import Method, round_half_up, round_money

NHS_BLUE = "005EB8"
NHS_DARK_BLUE = "003087"
NHS_PALE_GREY = "E8EDEE"
WARNING_RED = "8A1538"

#: Row of every table header (rows 1-3: title, units and rounding, caution).
HEADER_ROW = 5
SHEETS = (
    "Summary",
    "Allocations",
    "Targets",
    "DfT",
    "Growth",
    "Crosswalk",
    "Spend and net position",
    "Left shift",
    "Calibration",
    "Parameters",
    "Provenance",
    "Notes",
)

#: Money in £ thousands: plain thousands separators, the unit in the column header ("(£k)"),
#: as NHS England's allocation tables show it ("£#,##0" would show £546,623 for £546.6m).
GBP_K_FORMAT = "#,##0;[Red]-#,##0"
PCT_FORMAT = "0.00%;[Red]-0.00%"
PERSONS_FORMAT = "#,##0"
INDEX_FORMAT = "0.000"
ENGLAND = "England"
NOT_MODELLED = "not modelled in this scenario"

ROUNDING_TEXT = {
    "largest_remainder": "Money in £ thousands (cash), rounded by largest remainder: each column "
    "of ICBs sums exactly to the England total, itself rounded half up.",
    "half_up": "Money in £ thousands (cash), each figure rounded half up on its own (as NHS "
    "England's published tables): a column may differ from the England total by a "
    "few £k.",
}

NOTES = [
    (
        "What this workbook is",
        "Projected delegated specialised services allocations for the "
        "ICBs of one geography (see the Crosswalk sheet) under one scenario, produced by the alloc package. Money is in cash pounds of each "
        "financial year, shown in £ thousands (£k); the unit is in every column header.",
    ),
    (
        "Illustrative data",
        "In the shipped default data the historic-cost baseline is "
        "ILLUSTRATIVE (generated, seeded), summing to the sourced £14bn delegated in April 2025; "
        "the split of the envelope by service line and the proxy target formula are "
        "illustrative too, and envelope and population growth, the GDP deflator, the policy's "
        "floor and cap and most pathway parameters are assumptions (see the Parameters sheet). "
        "Read results from it as a demonstration of the method, not as NHS England figures. The "
        "caution line at the top of each sheet says which applies.",
    ),
    *GLOSSARY,
    (
        "Provenance",
        "The Provenance sheet records the package version, scenario hash, input-data "
        "hash and creation time, so every number can be traced and re-run.",
    ),
]


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _icb_columns(result: xr.Dataset) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ICB code": result["icb"].values.astype(str),
            "ICB name": result["icb_name"].values.astype(str),
            "Region": result["region"].values.astype(str),
        }
    )


def _rounded(frame: pd.DataFrame, money: list[str], method: Method) -> pd.DataFrame:
    """Money columns of ``frame`` in £k rounded by ``method``, with an England total row."""
    out = frame.copy()
    total = {c: "" for c in frame.columns}
    total[frame.columns[0]] = ENGLAND
    for col in money:
        values = frame[col].to_numpy(dtype=float)
        if np.isnan(values).any():
            out[col] = [None if math.isnan(v) else round_half_up(v) for v in values]
            total[col] = None
            continue
        rounded, england = round_money(values, method)
        out[col] = rounded
        total[col] = england
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)


def _central(da: xr.DataArray, keep: tuple[str, ...]) -> xr.DataArray:
    from alloc.outputs.plots._data import reduce_to

    return reduce_to(da, keep)


def summary_table(result: xr.Dataset, method: Method = "largest_remainder") -> pd.DataFrame:
    """Per ICB: population, need index, baseline, final target and allocation [£k], DfT and
    average growth [fraction]; England row last."""
    years = result["year"].values
    first, last = year_label(int(years[0])), year_label(int(years[-1]))
    pop = result["population"].sel(year=years[-1])
    target = result["target"].sel(year=years[-1])
    index = (target / target.sum()) / (pop / pop.sum())
    frame = _icb_columns(result)
    frame[f"Population {last} (persons)"] = np.round(pop.values).astype(np.int64)
    frame[f"Need index {last} (England = 1.000)"] = index.values
    frame[f"Baseline {first} (£k)"] = result["baseline"].values
    frame[f"Target {last} (£k)"] = target.values
    frame[f"Allocation {last} (£k)"] = result["allocation"].sel(year=years[-1]).values
    frame[f"DfT {first} (%)"] = result["dft"].sel(year=years[0]).values
    frame[f"DfT {last} (%)"] = result["dft"].sel(year=years[-1]).values
    n = int(years[-1] - years[0])
    frame["Average annual growth (%)"] = (
        frame[f"Allocation {last} (£k)"] / frame[f"Baseline {first} (£k)"]
    ) ** (1 / n) - 1
    money = [c for c in frame.columns if c.endswith("(£k)")]
    table = _rounded(frame, money, method)
    england = table.index[-1]
    table.loc[england, f"Population {last} (persons)"] = int(pop.sum().round())
    table.loc[england, f"Need index {last} (England = 1.000)"] = 1.0
    tot_alloc = float(result["allocation"].sel(year=years[-1]).sum())
    tot_target = float(target.sum())
    tot_alloc0 = float(result["allocation"].sel(year=years[0]).sum())
    tot_target0 = float(result["target"].sel(year=years[0]).sum())
    table.loc[england, f"DfT {first} (%)"] = (tot_alloc0 - tot_target0) / tot_target0
    table.loc[england, f"DfT {last} (%)"] = (tot_alloc - tot_target) / tot_target
    table.loc[england, "Average annual growth (%)"] = (
        tot_alloc / float(result["baseline"].sum())
    ) ** (1 / n) - 1
    for col in (f"DfT {first} (%)", f"DfT {last} (%)"):  # 0 up to float error: show 0.00%
        table.loc[england, col] = round(float(table.loc[england, col]), 12) + 0.0
    return table


def year_table(
    da: xr.DataArray,
    result: xr.Dataset,
    unit: str,
    prefix: str = "",
    method: Method = "largest_remainder",
) -> pd.DataFrame:
    """ICB x financial-year table of ``da`` (icb, year): money [£k] with an England row, or
    rates [fraction] without one."""
    frame = _icb_columns(result)
    da = da.transpose("icb", "year")
    cols = []
    for y in da["year"].values:
        col = f"{prefix}{year_label(int(y))} ({unit})"
        frame[col] = da.sel(year=y).values
        cols.append(col)
    if unit == "£k":
        return _rounded(frame, cols, method)
    return frame


def growth_table(result: xr.Dataset) -> pd.DataFrame:
    """Cash growth on the previous year [fraction] per ICB, England row = envelope growth."""
    table = year_table(result["growth"], result, "%")
    env = result["envelope"].values
    england = {c: "" for c in table.columns}
    england["ICB code"] = ENGLAND
    for k, y in enumerate(result["year"].values):
        england[f"{year_label(int(y))} (%)"] = (env[k] / env[k - 1] - 1) if k else None
    return pd.concat([table, pd.DataFrame([england])], ignore_index=True)


def block_table(
    result: xr.Dataset,
    blocks: list[tuple[str, str, xr.DataArray]],
    method: Method = "largest_remainder",
) -> pd.DataFrame:
    """One block of ICB rows per (measure, payer) with years as columns [£k].

    Each block ends with its England row; within a block every year column sums exactly to
    that row (largest remainder) or is rounded half up value by value.
    """
    years = sorted({int(y) for _, _, da in blocks for y in da["year"].values})
    icbs = _icb_columns(result)
    parts = []
    for measure, payer, da in blocks:
        da = da.transpose("icb", "year").reindex(year=years)
        frame = icbs.copy()
        frame.insert(3, "Measure", measure)
        frame.insert(4, "Payer", payer)
        cols = []
        for y in years:
            col = f"{year_label(y)} (£k)"
            frame[col] = da.sel(year=y).values
            cols.append(col)
        block = _rounded(frame, cols, method)
        block.loc[block.index[-1], ["Measure", "Payer"]] = [measure, payer]
        parts.append(block)
    return pd.concat(parts, ignore_index=True)


def spend_table(result: xr.Dataset, method: Method = "largest_remainder") -> pd.DataFrame | None:
    """Allocation, projected spend and net position (icb x year) [£k], or None when the result
    has no spend projection."""
    if "spend" not in result or "net_position" not in result:
        return None
    names = [
        ("allocation", "Allocation"),
        ("spend_without_left_shift", "Spend before left shift"),
        ("spend", "Spend"),
        ("net_position", "Net position (allocation - spend)"),
    ]
    blocks = [
        (label, "ICB delegated specialised", _central(result[name], ("icb", "year")))
        for name, label in names
        if name in result
    ]
    return block_table(result, blocks, method)


def left_shift_table(
    result: xr.Dataset, method: Method = "largest_remainder"
) -> pd.DataFrame | None:
    """Specialised spend avoided and upstream cost by payer (icb x year) [£k], or None when the
    result models no left shift (variables absent, or all zero)."""
    from alloc.outputs.plots._data import has_left_shift

    if not has_left_shift(result):
        return None
    blocks = []
    for name, measure in (
        ("left_shift_saving", "Specialised spend avoided"),
        ("upstream_cost", "Upstream cost"),
    ):
        da = _central(result[name], ("icb", "payer", "year"))
        if "payer" not in da.dims:
            payer = "ICB delegated specialised" if name == "left_shift_saving" else "all payers"
            blocks.append((measure, payer, da))
            continue
        for p in da["payer"].values:
            blocks.append((measure, str(p).replace("_", " "), da.sel(payer=p)))
    return block_table(result, blocks, method)


def parameters_table(result: xr.Dataset) -> pd.DataFrame:
    """The scenario, policy and assumptions actually used, one row each."""

    def text(v):
        return v if isinstance(v, str) else json.dumps(v)

    rows = [
        ("scenario." + k, text(v)) for k, v in json.loads(result.attrs["scenario_json"]).items()
    ]
    rows += [
        ("policy." + k, text(v))
        for k, v in json.loads(result.attrs["policy_json"]).items()
        if v not in (None, "")
    ]
    for key, entry in json.loads(result.attrs["assumptions_json"]).items():
        rows.append(
            (
                f"assumption.{key}",
                f"{entry['value']} [{entry['unit']}; {entry['status']}] {entry['basis']}",
            )
        )
    rows.append(("used.envelope_growth", str(result.attrs["envelope_growth"])))
    rows.append(("used.population_growth", str(result.attrs["population_growth"])))
    rows.append(("used.gdp_deflator_growth", str(result.attrs["gdp_deflator_growth"])))
    return pd.DataFrame(rows, columns=["Parameter", "Value"])


def provenance_table(result: xr.Dataset, method: Method) -> pd.DataFrame:
    """Provenance attributes (JSON blobs are on the Parameters sheet) plus the rounding used."""
    rows = [
        (k, v if isinstance(v, str) else json.dumps(v.item() if hasattr(v, "item") else v))
        for k, v in result.attrs.items()
        if not k.endswith("_json")
    ]
    rows.append(("workbook_rounding", method))
    return pd.DataFrame(rows, columns=["Field", "Value"])


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _caution(result: xr.Dataset) -> str:
    from alloc.outputs.plots._data import is_illustrative

    stamp = (
        f"alloc {result.attrs.get('alloc_version', '')}, scenario hash "
        f"{result.attrs.get('scenario_hash', '')}, created {result.attrs.get('created', '')}"
    )
    status = is_illustrative(result.attrs)
    if status is False:
        folder = Path(str(result.attrs.get("data_folder", ""))).name
        return (
            f"Data: folder '{folder}' (user-supplied); growth and pathway parameters are "
            f"assumptions. {stamp}."
        )
    return (
        "ILLUSTRATIVE DATA, not NHS England figures: the baseline is generated (seeded), the "
        "service split and the proxy target formula are illustrative, and growth and pathway "
        f"parameters are assumptions. {stamp}."
    )


def _title_block(ws, title: str, units: str, caution: str) -> None:
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=14, color=NHS_DARK_BLUE)
    ws["A2"] = units
    ws["A2"].font = Font(italic=True, color="425563")
    ws["A3"] = caution
    ws["A3"].font = Font(bold=True, color=WARNING_RED)


def _format_for(header: str) -> str | None:
    if header.endswith("(£k)"):
        return GBP_K_FORMAT
    if header.endswith("(%)"):
        return PCT_FORMAT
    if header.endswith("(persons)"):
        return PERSONS_FORMAT
    if "index" in header.lower():
        return INDEX_FORMAT
    return None


def _write_table(ws, frame: pd.DataFrame, freeze_cols: int, total_row: bool) -> None:
    """Write ``frame`` with its header at HEADER_ROW: formats, widths, filter, frozen panes."""
    header_fill = PatternFill("solid", fgColor=NHS_BLUE)
    total_fill = PatternFill("solid", fgColor=NHS_PALE_GREY)
    for j, name in enumerate(frame.columns, start=1):
        cell = ws.cell(row=HEADER_ROW, column=j, value=name)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    n = len(frame)
    formats = [_format_for(str(name)) for name in frame.columns]  # once per column, not cell
    for i, row in enumerate(frame.itertuples(index=False), start=HEADER_ROW + 1):
        is_total = total_row and row[0] == ENGLAND
        for j, value in enumerate(row, start=1):
            if isinstance(value, (np.integer,)):
                value = int(value)
            elif isinstance(value, (np.floating,)):
                value = None if np.isnan(value) else float(value)
            elif isinstance(value, float) and math.isnan(value):
                value = None
            elif value == "":
                value = None
            cell = ws.cell(row=i, column=j, value=value)
            fmt = formats[j - 1]
            if fmt and isinstance(value, (int, float)):
                cell.number_format = fmt
            if is_total:
                cell.font = Font(bold=True)
                cell.fill = total_fill
    for j, name in enumerate(frame.columns, start=1):
        values = [str(v) for v in frame.iloc[:, j - 1].tolist() if v not in (None, "")]
        numeric = _format_for(str(name)) is not None
        longest = 14 if numeric else max([len(v) for v in values] + [8])
        width = min(max(longest, min(len(str(name)), 22) if numeric else len(str(name))), 50)
        ws.column_dimensions[get_column_letter(j)].width = width + 2
    ws.row_dimensions[HEADER_ROW].height = 32
    last_col = get_column_letter(len(frame.columns))
    n_england = int((frame.iloc[:, 0] == ENGLAND).sum()) if total_row else 0
    last_row = HEADER_ROW + n - (1 if n_england == 1 else 0)  # a lone total stays unfiltered
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last_col}{max(last_row, HEADER_ROW)}"
    ws.freeze_panes = f"{get_column_letter(freeze_cols + 1)}{HEADER_ROW + 1}"


def _text_sheet(ws, frame: pd.DataFrame, wide: int = 100) -> None:
    _write_table(ws, frame, freeze_cols=0, total_row=False)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = wide
    for row in ws.iter_rows(min_row=HEADER_ROW + 1):
        row[-1].alignment = Alignment(wrap_text=True, vertical="top")
        row[0].alignment = Alignment(vertical="top")


def _not_modelled(ws, what: str) -> None:
    ws.cell(row=HEADER_ROW, column=1, value=f"{what}: {NOT_MODELLED}.").font = Font(bold=True)
    ws.cell(
        row=HEADER_ROW + 1,
        column=1,
        value="The result has none of these variables (no pathway levers or spend "
        "projection); see the Notes sheet.",
    )
    ws.column_dimensions["A"].width = 70


def write_workbook(
    result: xr.Dataset, path: str | Path, rounding: Method = "largest_remainder"
) -> None:
    """Write the finance workbook for one result.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`alloc.run` (money in GBP, rates as fractions). ``spend``,
        ``net_position``, ``left_shift_saving`` and ``upstream_cost`` are shown when present.
    path : str or Path
        The ``.xlsx`` file to write (overwritten).
    rounding : {"largest_remainder", "half_up"}
        How money is rounded to £ thousands (see :mod:`alloc.rounding`).

    Notes
    -----
    Sheets are named in :data:`SHEETS`; every table header is on row :data:`HEADER_ROW`. Money
    columns say ``(£k)``, rates ``(%)`` (stored as fractions, shown as percentages).
    """
    if rounding not in ROUNDING_TEXT:
        raise ValueError(f"unknown rounding {rounding!r}; expected one of {list(ROUNDING_TEXT)}")
    name = result.attrs.get("scenario_name", "")
    caution = _caution(result)
    money_units = ROUNDING_TEXT[rounding] + " Unrounded pounds are in result.nc and the CSVs."
    rate_units = (
        "Rates are percentages, unrounded (cells show two decimals). DfT = (allocation "
        "- target) / target; negative = below target."
    )
    wb = Workbook()
    wb.remove(wb.active)

    def sheet(title, heading, units):
        ws = wb.create_sheet(title)
        _title_block(ws, f"{heading}: scenario '{name}'", units, caution)
        return ws

    ws = sheet("Summary", "Summary by ICB", money_units + " Need index: England = 1.000.")
    _write_table(ws, summary_table(result, rounding), 3, True)
    ws = sheet("Allocations", "Allocations", money_units)
    _write_table(ws, year_table(result["allocation"], result, "£k", method=rounding), 3, True)
    ws = sheet("Targets", "Needs-based targets", money_units)
    _write_table(ws, year_table(result["target"], result, "£k", method=rounding), 3, True)
    ws = sheet("DfT", "Distance from target", rate_units)
    _write_table(ws, year_table(result["dft"], result, "%"), 3, False)
    ws = sheet(
        "Growth",
        "Cash growth on the previous year",
        "Rates are percentages, unrounded. England = growth of the national envelope.",
    )
    _write_table(ws, growth_table(result), 3, True)
    ws = sheet(
        "Crosswalk",
        f"Areas of {result.attrs.get('geography', 'the dataset')} and their predecessors",
        "Registered population (NHS England 2025/26 practice file) of each predecessor area now "
        "in each area, and its share of the predecessor and of the area (%). Use it to "
        "reconcile to allocations published on the old footprint.",
    )
    _write_table(
        ws,
        crosswalk_table(result).rename(
            columns={
                "population_persons": "population (persons)",
                "share_of_predecessor": "share of predecessor (%)",
                "share_of_icb": "share of ICB (%)",
            }
        ),
        2,
        False,
    )
    for title, table in (
        ("Spend and net position", spend_table(result, rounding)),
        ("Left shift", left_shift_table(result, rounding)),
    ):
        ws = sheet(title, title, money_units)
        if table is None:
            _not_modelled(ws, title)
        else:
            _write_table(ws, table, 5, True)
    ws = sheet(  # left-shift calibration (alloc.outputs.calibration_table)
        "Calibration",
        "Left-shift calibration",
        "Published national activity vs the model (national equivalent, base year); volume "
        "factor v and per-ICB cost factor k [dimensionless].",
    )
    table = calibration_table(result)
    if table is None:
        _not_modelled(ws, "Calibration")
    else:
        _write_table(ws, table, 3, False)
    ws = sheet("Parameters", "Parameters used", "As recorded in the result; see Notes.")
    _text_sheet(ws, parameters_table(result))
    ws = sheet("Provenance", "Provenance", "Everything needed to trace and re-run this result.")
    _text_sheet(ws, provenance_table(result, rounding))
    ws = sheet("Notes", "How to read this workbook", "")
    _text_sheet(ws, pd.DataFrame(NOTES, columns=["Topic", "Explanation"]))
    wb.save(path)
