"""Write an editable baseline workbook (``alloc template-data``) that a scenario reads back with
``baseline = "FILE"`` (:mod:`alloc.inputs.user_baseline`).

The caller loads the dataset on the geography wanted (:func:`alloc.inputs.dataset.load_inputs`,
:func:`alloc.inputs.footprint.refootprint`) and passes it in: nothing here runs the model.

Sheet ``Baseline``: the header on row 1 (``code``, ``ICB name``, ``region``, ``service``,
``service name``, ``baseline (GBP)``), then one row per ICB x service line with the baseline
[GBP, cash, base year] at full precision. The notes (ILLUSTRATIVE data, how to use the file)
sit to the right of the table, so the header stays the sheet's first non-empty row.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from alloc._version import __version__
from alloc.inputs.scenario_workbook import EDITABLE_FILL, NHS_BLUE
from alloc.inputs.user_baseline import BASELINE_SHEET, TEMPLATE_COLUMNS
from alloc.inputs.years import year_label
from alloc.outputs.scenario_template import atomic_save, check_xlsx_out

#: Column of the notes block (a blank column separates it from the table).
NOTES_COLUMN = len(TEMPLATE_COLUMNS) + 2
WIDTHS = (9, 42, 26, 24, 46, 18)


def _notes(inputs: xr.Dataset, name: str) -> list[str]:
    base = year_label(int(inputs.attrs["base_year"]))
    geography = inputs.attrs.get("geography", "the dataset's areas")
    total = float(inputs["baseline"].sum())
    return [
        f"Baseline {base}, GBP cash, one row per ICB x service line on {geography} "
        f"({inputs.sizes['icb']} ICBs, {inputs.sizes['service']} service lines; England "
        f"£{total / 1e6:,.1f}m). Written by alloc {__version__}.",
        "These are the model's shipped figures, NOT NHS England's: the England total is "
        "sourced, its split by ICB and service line is generated (data/README.md). Replace "
        "column F, baseline (GBP), with your own figures in pounds (not £m).",
        f'Use it: in a scenario, baseline = "{name}" (a path relative to the scenario file), '
        f"or alloc run --set baseline='\"{name}\"'.",
        "Your total is the base-year envelope. Keep every ICB x service line (0 where there is "
        "no spend); codes, service lines and the header are checked, other columns are ignored.",
        "Or give one total per ICB: delete the service columns and keep one row per ICB; "
        "each total is split by the national share of each service line.",
        "Codes of another geography (e.g. icb_2025) are carried to the scenario's areas "
        "(alloc template-data --geography icb_2025 writes that footprint).",
        "Formulas are fine once Excel has saved their values. Errors name the sheet and cell.",
    ]


def data_template_workbook(inputs: xr.Dataset, name: str = "baseline.xlsx") -> Workbook:
    """An editable workbook of a dataset's baseline (see the module docstring).

    Parameters
    ----------
    inputs : xarray.Dataset
        A loaded dataset (on the geography wanted): ``baseline`` (icb, service) [GBP, cash]
        with the coordinates ``icb_name``, ``region`` and ``service_name``.
    name : str
        The file name shown in the usage notes.
    """
    wb = Workbook()
    ws = wb.active
    ws.title = BASELINE_SHEET
    for j, (head, _) in enumerate(TEMPLATE_COLUMNS, start=1):
        cell = ws.cell(row=1, column=j, value=head)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=NHS_BLUE)
        cell.alignment = Alignment(vertical="top")
    baseline = inputs["baseline"].transpose("icb", "service")
    values = baseline.values
    codes = [str(c) for c in inputs["icb"].values]
    icb_names = [str(v) for v in inputs["icb_name"].values]
    regions = [str(v) for v in inputs["region"].values]
    services = [str(s) for s in inputs["service"].values]
    service_names = [str(v) for v in inputs["service_name"].values]
    row = 2
    for i, code in enumerate(codes):
        for j, service in enumerate(services):
            ws.cell(row=row, column=1, value=code)
            ws.cell(row=row, column=2, value=icb_names[i])
            ws.cell(row=row, column=3, value=regions[i])
            ws.cell(row=row, column=4, value=service)
            ws.cell(row=row, column=5, value=service_names[j])
            cell = ws.cell(row=row, column=6, value=float(values[i, j]))
            cell.number_format = "#,##0"
            cell.fill = EDITABLE_FILL
            row += 1
    title = ws.cell(
        row=1,
        column=NOTES_COLUMN,
        value="ILLUSTRATIVE DATA: replace the baseline (GBP) column with your own figures",
    )
    title.font = Font(bold=True, size=13, color="DA291C")
    for k, line in enumerate(_notes(inputs, name), start=2):
        ws.cell(row=k, column=NOTES_COLUMN, value=line).font = Font(italic=True, color="425563")
    for j, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = width
    ws.column_dimensions[ws.cell(row=1, column=NOTES_COLUMN - 1).column_letter].width = 3
    ws.column_dimensions[ws.cell(row=1, column=NOTES_COLUMN).column_letter].width = 110
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:F{row - 1}"
    return wb


def write_data_template(inputs: xr.Dataset, out: str | Path, force: bool = False) -> Path:
    """Write :func:`data_template_workbook` to ``out`` atomically (never overwriting without force).

    Raises
    ------
    AllocError
        If ``out`` exists and ``force`` is false, or is not an ``.xlsx`` path.
    """
    out = check_xlsx_out(out, force)
    return atomic_save(data_template_workbook(inputs, out.name), out)
