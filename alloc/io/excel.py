"""Excel workbook for finance teams (openpyxl): one sheet per table, formatted and frozen."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import xarray as xr
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from alloc.io.tables import summary, wide

NHS_BLUE = "005EB8"
GBP_FORMAT = '£#,##0;[Red]-£#,##0'
PCT_FORMAT = '0.00%;[Red]-0.00%'

NOTES = [
    ("What this workbook is", "Projected delegated specialised services allocations for the 42 "
     "ICBs under one scenario, produced by the alloc package. All money is in cash pounds (GBP) "
     "of each financial year unless a header says otherwise."),
    ("Baseline", "The historic-cost allocation of the base year. In the shipped default data it "
     "is ILLUSTRATIVE (generated, seeded), summing to the sourced £14bn delegated in April 2025."),
    ("Target", "The needs-based target: target share x national envelope. Target shares come from "
     "the formula named on the Parameters sheet."),
    ("Distance from target (DfT)", "(allocation - target) / target. Negative = under target "
     "(the ICB receives less than its needs-based share), positive = over target. This is "
     "NHS England's definition (e.g. 2013/14 allocation working paper)."),
    ("Growth", "Cash growth on the previous year's allocation."),
    ("Pace of change", "Each year the envelope is shared out by the policy named on the "
     "Parameters sheet: allocations move towards target subject to floors and caps, and always "
     "sum exactly to the envelope."),
    ("Rounding", "Values are unrounded pounds; display formats round to whole pounds."),
    ("Provenance", "The Provenance sheet records the package version, scenario hash, input-data "
     "hash and creation time, so every number can be traced and re-run."),
]


def _style_sheet(ws, formats: dict[str, str], freeze: str = "B2") -> None:
    header_fill = PatternFill("solid", fgColor=NHS_BLUE)
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = freeze
    ws.auto_filter.ref = ws.dimensions
    for idx, cell in enumerate(ws[1], start=1):
        letter = get_column_letter(idx)
        header = str(cell.value or "")
        fmt = next((f for key, f in formats.items() if key in header), None)
        width = max(len(header) * 0.9, 10)
        for row in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
            for c in row:
                if fmt and isinstance(c.value, int | float):
                    c.number_format = fmt
                width = max(width, min(len(str(c.value)) if not fmt else 14, 48))
        ws.column_dimensions[letter].width = width + 2


def _sheet(writer, name: str, frame: pd.DataFrame, formats: dict[str, str], freeze="B2"):
    frame.to_excel(writer, sheet_name=name, index=False)
    _style_sheet(writer.sheets[name], formats, freeze)


def _year_table(result: xr.Dataset, name: str, unit: str) -> pd.DataFrame:
    table = wide(result, name)
    return table.rename(columns={c: f"{c} ({unit})" for c in table.columns if "/" in c})


def write_workbook(result: xr.Dataset, path: Path) -> None:
    """Write the finance workbook.

    Sheets: Summary, Allocations, Targets, DfT, Growth, Parameters, Provenance, Notes.
    Money columns carry "(£)" in the header and a £ format; rates carry "(%)".
    """
    summ = summary(result).rename(columns={
        "icb": "ICB code", "icb_name": "ICB name", "region": "Region",
        "baseline_gbp": f"Baseline {_label(result, 0)} (£)",
        "final_target_gbp": f"Target {_label(result, -1)} (£)",
        "final_allocation_gbp": f"Allocation {_label(result, -1)} (£)",
        "dft_start": f"DfT {_label(result, 0)} (%)",
        "dft_end": f"DfT {_label(result, -1)} (%)",
        "average_growth": "Average annual growth (%)",
    })
    params = _parameters(result)
    prov = pd.DataFrame(
        [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in result.attrs.items()
         if not k.endswith("_json")],
        columns=["Field", "Value"])
    notes = pd.DataFrame(NOTES, columns=["Topic", "Explanation"])
    formats = {"(£)": GBP_FORMAT, "(%)": PCT_FORMAT}
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        _sheet(writer, "Summary", summ, formats, freeze="C2")
        _sheet(writer, "Allocations", _year_table(result, "allocation", "£"), formats, "D2")
        _sheet(writer, "Targets", _year_table(result, "target", "£"), formats, "D2")
        _sheet(writer, "DfT", _year_table(result, "dft", "%"), formats, "D2")
        _sheet(writer, "Growth", _year_table(result, "growth", "%"), formats, "D2")
        _sheet(writer, "Parameters", params, {}, "A2")
        _sheet(writer, "Provenance", prov, {}, "A2")
        _sheet(writer, "Notes", notes, {}, "A2")
        for name in ("Parameters", "Provenance", "Notes"):
            ws = writer.sheets[name]
            ws.column_dimensions["B"].width = 100
            for row in ws.iter_rows(min_row=2):
                row[-1].alignment = Alignment(wrap_text=True, vertical="top")


def _label(result: xr.Dataset, index: int) -> str:
    from alloc.inputs import year_label

    return year_label(int(result["year"][index]))


def _parameters(result: xr.Dataset) -> pd.DataFrame:
    """The scenario, policy and assumptions actually used, one row each."""
    rows = [("scenario." + k, json.dumps(v) if not isinstance(v, str) else v)
            for k, v in json.loads(result.attrs["scenario_json"]).items()]
    rows += [("policy." + k, json.dumps(v) if not isinstance(v, str) else v)
             for k, v in json.loads(result.attrs["policy_json"]).items() if v not in (None, "")]
    for key, entry in json.loads(result.attrs["assumptions_json"]).items():
        rows.append((f"assumption.{key}", f"{entry['value']} [{entry['unit']}; "
                     f"{entry['status']}] {entry['basis']}"))
    rows.append(("used.envelope_growth", result.attrs["envelope_growth"]))
    rows.append(("used.population_growth", str(result.attrs["population_growth"])))
    rows.append(("used.gdp_deflator_growth", str(result.attrs["gdp_deflator_growth"])))
    return pd.DataFrame(rows, columns=["Parameter", "Value"])
