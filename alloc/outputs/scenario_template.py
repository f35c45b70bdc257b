"""Write an editable scenario workbook (``alloc template``); the layout is
:mod:`alloc.inputs.scenario_workbook`'s, which reads it back.

The caller resolves the scenario (:func:`alloc.allocation.engine.prepare`) and passes it in:
nothing here runs the model.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from alloc._version import __version__
from alloc.errors import AllocError
from alloc.inputs.scenario_workbook import (
    EDITABLE_FILL,
    ENVELOPE_COLUMN,
    HEADER_ROW,
    MARKER,
    META_SHEET,
    NHS_BLUE,
    POLICY_ROWS,
    POLICY_TABLE_ROW,
    POLICY_YEAR_COLUMNS,
    SCENARIO_ROWS,
)
from alloc.inputs.years import resolve_year_param, year_label
from alloc.outputs.atomic import check_output_file
from alloc.resources import list_named

if TYPE_CHECKING:
    from alloc.allocation.engine import Prepared


def _header(ws, names: list[str], row: int = HEADER_ROW) -> None:
    for j, name in enumerate(names, start=1):
        cell = ws.cell(row=row, column=j, value=name)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=NHS_BLUE)
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _intro(ws, title: str, lines: list[str]) -> None:
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=14, color="003087")
    for k, line in enumerate(lines, start=2):
        ws.cell(row=k, column=1, value=line).font = Font(italic=True, color="425563")


def _validation(kind: str, cell: str, ws, unit: str, policies: list[str]) -> None:
    """Attach an Excel data-validation rule (list or number range) with the unit as prompt."""
    if kind.startswith("choice:"):
        dv = DataValidation(
            type="list",
            formula1=f'"{kind.split(":", 1)[1]}"',
            allow_blank=False,
            showErrorMessage=True,
            errorStyle="stop",
            errorTitle="Not an allowed value",
            error=f"Choose one of: {kind.split(':', 1)[1]}",
        )
    elif kind == "policy":
        dv = DataValidation(
            type="list",
            formula1=f'"{",".join(policies)}"',
            allow_blank=False,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle="Not a shipped policy",
            error="Not a shipped policy name: fine if it is a path to a policy TOML.",
        )
    elif kind.startswith("rate:"):
        lo, hi = kind.split(":")[1:3]
        dv = DataValidation(
            type="decimal",
            operator="between",
            formula1=lo,
            formula2=hi,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="stop",
            errorTitle="Out of range",
            error=f"Expected a number from {lo} to {hi} ({unit}).",
        )
    else:
        return
    dv.promptTitle = "Unit"
    dv.prompt = unit[:255]
    dv.showInputMessage = True
    ws.add_data_validation(dv)
    dv.add(cell)


def _portable(value: str, base: Path) -> str:
    """A relative path in a scenario made absolute (the workbook may live elsewhere)."""
    text = str(value)
    if text == "embedded" or not ("/" in text or "\\" in text or text.endswith(".toml")):
        return text
    path = Path(text)
    if not path.is_absolute() and (base / path).exists():
        return str((base / path).resolve())
    return text


def template_workbook(prepared: Prepared) -> Workbook:
    """An editable workbook holding a scenario's parameters (see the module docstring).

    Parameters
    ----------
    prepared : alloc.allocation.engine.Prepared
        The scenario as :func:`alloc.allocation.engine.prepare` resolved it.

    Returns
    -------
    openpyxl.Workbook
        Sheets Scenario, Policy, Envelope, Notes and the hidden ``_alloc``. Values are those the
        scenario runs with: policy parameters resolved per projection year from the policy file
        and the scenario's overrides, assumptions from the data where the scenario sets none.
    """
    prep = prepared
    spec, path, raw = prep.scenario, Path(prep.source), prep.raw
    years, used, policy = prep.years, prep.assumptions_used, prep.policy
    base = Path(path).parent
    policies = list_named("policy")

    wb = Workbook()
    ws = wb.active
    ws.title = "Scenario"
    _intro(
        ws,
        f"Scenario '{spec.name}': edit the yellow cells, then run: alloc run <this file>",
        [
            f"Written by alloc {__version__} from {path}. Rates are fractions (0.02 = 2%); "
            "years are financial years such as 2025/26.",
            "Blank optional cells take the default named in the notes.",
        ],
    )
    _header(ws, ["Parameter", "Value", "Unit", "Notes"])
    values = {
        "name": spec.name,
        "description": spec.description,
        "data": _portable(spec.data, base),
        "formula": _portable(spec.formula, base),
        "base_year": year_label(years[0]),
        "end_year": year_label(years[-1]),
        "convergence_level": spec.convergence_level,
        "population_growth": used["population_growth"],
        "gdp_deflator_growth": used["gdp_deflator_growth"],
    }
    for i, (key, kind, unit, notes) in enumerate(SCENARIO_ROWS, start=HEADER_ROW + 1):
        ws.cell(row=i, column=1, value=key).font = Font(bold=True)
        cell = ws.cell(row=i, column=2, value=values[key])
        cell.fill = EDITABLE_FILL
        if kind == "year":
            cell.number_format = "@"
        elif kind.startswith("rate"):
            cell.number_format = "0.0000"
        ws.cell(row=i, column=3, value=unit)
        ws.cell(row=i, column=4, value=notes)
        _validation(kind, f"B{i}", ws, unit, policies)
    for col, width in zip("ABCD", (22, 44, 32, 70)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = f"A{HEADER_ROW + 1}"

    ws = wb.create_sheet("Policy")
    _intro(
        ws,
        "Pace-of-change policy",
        [
            "The by-year table shows the values the scenario runs with (policy file + the "
            "scenario's overrides). A value holds until the next year that has one.",
            "Clear a whole column to use the named policy's own value; choose another policy "
            "to remove a floor or cap it sets.",
        ],
    )
    _header(ws, ["Parameter", "Value", "Unit", "Notes"])
    pvalues = {
        "use": str(_portable(spec.policy.use, base)),
        "growth_basis": policy.growth_basis,
        "fallback": policy.fallback,
    }
    for i, (key, kind, unit, notes) in enumerate(POLICY_ROWS, start=HEADER_ROW + 1):
        ws.cell(row=i, column=1, value=key).font = Font(bold=True)
        cell = ws.cell(row=i, column=2, value=pvalues[key])
        cell.fill = EDITABLE_FILL
        ws.cell(row=i, column=3, value=unit)
        ws.cell(row=i, column=4, value=notes)
        _validation(kind, f"B{i}", ws, unit, policies)
    ws.cell(
        row=POLICY_TABLE_ROW - 1, column=1, value=f"Policy '{policy.name}' ({policy.kind}) by year"
    ).font = Font(bold=True)
    _header(
        ws,
        ["Year"] + [f"{k}\n({unit})" for k, _, unit, _ in POLICY_YEAR_COLUMNS],
        row=POLICY_TABLE_ROW,
    )
    for r, year in enumerate(years[1:], start=POLICY_TABLE_ROW + 1):
        ws.cell(row=r, column=1, value=year_label(year)).number_format = "@"
        for j, (key, kind, unit, _) in enumerate(POLICY_YEAR_COLUMNS, start=2):
            value = resolve_year_param(getattr(policy, key), year, lenient=True)
            cell = ws.cell(row=r, column=j, value=value)
            cell.number_format = "0.0000"
            cell.fill = EDITABLE_FILL
            _validation(kind, cell.coordinate, ws, unit, policies)
    for col, width in zip("ABCDE", (22, 26, 26, 28, 28)):
        ws.column_dimensions[col].width = width
    ws.row_dimensions[POLICY_TABLE_ROW].height = 32

    ws = wb.create_sheet("Envelope")
    source = (
        "scenario" if spec.envelope_growth is not None else "data assumption (assumptions.toml)"
    )
    _intro(
        ws,
        "National envelope",
        [
            "Cash growth of the delegated specialised envelope each year. A value holds until "
            "the next year that has one; a wholly blank column = the data assumption.",
            "The £m column shows the envelope these rates give; it is not read back.",
        ],
    )
    _header(
        ws,
        [
            "Year",
            f"{ENVELOPE_COLUMN[0]}\n({ENVELOPE_COLUMN[2]})",
            "Source",
            "Envelope (£m, cash; information only)",
        ],
    )
    for r, year in enumerate(years, start=HEADER_ROW + 1):
        ws.cell(row=r, column=1, value=year_label(year)).number_format = "@"
        ws.cell(
            row=r, column=4, value=float(prep.envelope[r - HEADER_ROW - 1]) / 1e6
        ).number_format = "£#,##0.0"
        if r == HEADER_ROW + 1:
            ws.cell(row=r, column=3, value="base year (baseline total)")
            continue
        cell = ws.cell(
            row=r, column=2, value=resolve_year_param(used["envelope_growth"], year, lenient=True)
        )
        cell.number_format = "0.0000"
        cell.fill = EDITABLE_FILL
        ws.cell(row=r, column=3, value=source)
        _validation(ENVELOPE_COLUMN[1], cell.coordinate, ws, ENVELOPE_COLUMN[2], policies)
    for col, width in zip("ABCD", (12, 30, 34, 34)):
        ws.column_dimensions[col].width = width
    ws.row_dimensions[HEADER_ROW].height = 32

    ws = wb.create_sheet("Notes")
    _intro(ws, "How to use this workbook", [])
    notes = [
        "Edit the yellow cells on Scenario, Policy and Envelope, save, then run "
        "`alloc run <this file>`. The result is the same as a TOML scenario with these values.",
        "Rates are fractions: type 0.02 for 2% (or 2% in a cell formatted as a percentage).",
        "Years are financial years written 2025/26. A value in a by-year table holds from its "
        "year until the next year that has a value.",
        "Lists (convergence_level, use, growth_basis, fallback) come from the shipped options; "
        "`use` also accepts a path to your own policy TOML.",
        "Errors name the sheet and cell, e.g. `Policy!C12: expected a number, found 'abc'`.",
        "Keys not shown here (for example pathway levers) are kept from the original scenario.",
    ]
    for k, line in enumerate(notes, start=3):
        ws.cell(row=k, column=1, value=f"{k - 2}. {line}")
    ws.column_dimensions["A"].width = 120

    meta = wb.create_sheet(META_SHEET)
    meta["A1"], meta["B1"] = MARKER, __version__
    meta["A2"], meta["B2"] = "scenario_json", json.dumps(raw, sort_keys=True)
    meta["A3"], meta["B3"] = "source", str(path)
    meta.sheet_state = "veryHidden"
    return wb


def write_template(prepared: Prepared, out: str | Path, force: bool = False) -> Path:
    """Write :func:`template_workbook` to ``out`` atomically (never overwriting without force).

    Raises
    ------
    AllocError
        If ``out`` exists and ``force`` is false, or is not an ``.xlsx`` path.
    """
    out = check_xlsx_out(out, force)
    return atomic_save(template_workbook(prepared), out)


def check_xlsx_out(out: str | Path, force: bool) -> Path:
    """An ``.xlsx`` path that may be written: refused if it exists (without force) or is not a
    file name ending ``.xlsx``, or names a folder."""
    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise AllocError(out, "--xlsx", f"expected a file name ending .xlsx, found '{out.name}'")
    check_output_file(out, "--xlsx", force)  # a file only: never a folder
    return out


def atomic_save(wb: Workbook, out: Path) -> Path:
    """Save ``wb`` to a temporary file beside ``out`` and rename it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
