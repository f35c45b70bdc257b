"""Scenarios as Excel workbooks: ``alloc template`` writes one, ``alloc run scenario.xlsx`` reads it.

The workbook has three editable sheets, each with a header on row :data:`HEADER_ROW`:

- **Scenario**: one row per key (``name``, ``description``, ``data``, ``formula``,
  ``base_year``, ``end_year``, ``convergence_level``, ``population_growth``,
  ``gdp_deflator_growth``) with its value in column B, unit in C and notes in D;
- **Policy**: ``use``, ``growth_basis`` and ``fallback`` (rows 6-8), then a by-year table
  (header row :data:`POLICY_TABLE_ROW`) of ``min_growth``, ``max_growth``, ``max_below_target``
  and ``convergence_rate``;
- **Envelope**: national envelope cash growth by year (the £m column is for information).

A hidden sheet ``_alloc`` keeps the scenario as it was (JSON), so keys the sheets do not show
(for example pathway levers) survive the round trip. :func:`read_scenario_workbook` returns the
same raw dictionary a TOML scenario gives; :func:`alloc.scenario.load_scenario` then validates
it as usual. Cell-level problems are reported as ``<workbook>: <Sheet>!<cell>: <problem>``.

Year-keyed values follow the TOML rule: a value holds from its year until the next value, so a
blank cell repeats the value above it; a column left wholly blank means "not set" (the named
policy's own value, or the data assumption).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from alloc import __version__
from alloc.errors import AllocError
from alloc.inputs import parse_year, year_label

HEADER_ROW = 5
POLICY_TABLE_ROW = 11
META_SHEET = "_alloc"
MARKER = "alloc scenario template"
NHS_BLUE = "005EB8"
EDITABLE_FILL = PatternFill("solid", fgColor="FFF4D6")  # pale warm yellow: cells you may edit

# (key, kind, unit, notes); kind: text | year | choice:<a,b> | rate:<lo>:<hi>[:open]
SCENARIO_ROWS = [
    ("name", "text", "text", "Names the results folder (results/<name>)."),
    ("description", "text", "text", "One line shown with the results."),
    ("data", "text", "'embedded' or a folder path",
     "Dataset folder; 'embedded' = the shipped (illustrative) data."),
    ("formula", "text", "name or TOML path", "Target formula, e.g. 'default'."),
    ("base_year", "year", "financial year, e.g. 2025/26", "Must be the baseline's year."),
    ("end_year", "year", "financial year, e.g. 2030/31", "Last projection year (at most 30 on)."),
    ("convergence_level", "choice:total,service", "total | service",
     "Converge ICB totals, or each service line separately."),
    ("population_growth", "rate:-0.5:1:open", "fraction per year (0.005 = 0.5%)",
     "GP-registered population growth, all ICBs. Blank = data assumption."),
    ("gdp_deflator_growth", "rate:-0.5:1:open", "fraction per year (0.02 = 2%)",
     "For real-terms floors and caps. Blank = data assumption."),
]
POLICY_ROWS = [
    ("use", "policy", "policy name or TOML path", "A shipped policy (list) or a path."),
    ("growth_basis", "choice:cash,real,per_head", "cash | real | per_head",
     "How min_growth and max_growth are measured."),
    ("fallback", "choice:error,relax", "error | relax",
     "When floors or caps cannot all be met: stop with an error, or relax them."),
]
POLICY_YEAR_COLUMNS = [
    ("min_growth", "rate:-0.5:1", "fraction per year (0.017 = 1.7%)", "Growth floor."),
    ("max_growth", "rate:-0.5:1", "fraction per year (0.06 = 6%)", "Growth cap."),
    ("max_below_target", "rate:0:1", "fraction of target (0.05 = 5%)",
     "No ICB ends a year further below target."),
    ("convergence_rate", "rate:0:1", "fraction of gap closed per year",
     "Proportional policies only."),
]
ENVELOPE_COLUMN = ("envelope_growth", "rate:-0.5:1:open", "fraction per year, cash (0.035 = 3.5%)")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

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
        dv = DataValidation(type="list", formula1=f'"{kind.split(":", 1)[1]}"',
                            allow_blank=False, showErrorMessage=True, errorStyle="stop",
                            errorTitle="Not an allowed value",
                            error=f"Choose one of: {kind.split(':', 1)[1]}")
    elif kind == "policy":
        dv = DataValidation(type="list", formula1=f'"{",".join(policies)}"', allow_blank=False,
                            showErrorMessage=True, errorStyle="warning",
                            errorTitle="Not a shipped policy",
                            error="Not a shipped policy name: fine if it is a path to a policy "
                                  "TOML.")
    elif kind.startswith("rate:"):
        lo, hi = kind.split(":")[1:3]
        dv = DataValidation(type="decimal", operator="between", formula1=lo, formula2=hi,
                            allow_blank=True, showErrorMessage=True, errorStyle="stop",
                            errorTitle="Out of range", error=f"Expected a number from {lo} to "
                            f"{hi} ({unit}).")
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


def template_workbook(scenario: str | Path | None = None) -> Workbook:
    """An editable workbook holding a scenario's parameters (see the module docstring).

    Parameters
    ----------
    scenario : str or Path, optional
        A shipped scenario name, a TOML file or a scenario workbook (default ``default``).

    Returns
    -------
    openpyxl.Workbook
        Sheets Scenario, Policy, Envelope, Notes and the hidden ``_alloc``. Values are those the
        scenario runs with: policy parameters resolved per projection year from the policy file
        and the scenario's overrides, assumptions from the data where the scenario sets none.
    """
    from alloc.engine import prepare
    from alloc.policy import resolve_year_param
    from alloc.resources import list_named
    from alloc.scenario import load_scenario

    spec, path, raw = load_scenario(scenario)
    prep = prepare(spec, scenario_path=path, raw=raw)
    years, used, policy = prep.years, prep.assumptions_used, prep.policy
    base = Path(path).parent
    policies = list_named("policy")

    wb = Workbook()
    ws = wb.active
    ws.title = "Scenario"
    _intro(ws, f"Scenario '{spec.name}': edit the yellow cells, then run: alloc run <this file>",
           [f"Written by alloc {__version__} from {path}. Rates are fractions (0.02 = 2%); "
            "years are financial years such as 2025/26.",
            "Blank optional cells take the default named in the notes."])
    _header(ws, ["Parameter", "Value", "Unit", "Notes"])
    values = {"name": spec.name, "description": spec.description,
              "data": _portable(spec.data, base), "formula": _portable(spec.formula, base),
              "base_year": year_label(years[0]), "end_year": year_label(years[-1]),
              "convergence_level": spec.convergence_level,
              "population_growth": used["population_growth"],
              "gdp_deflator_growth": used["gdp_deflator_growth"]}
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
    _intro(ws, "Pace-of-change policy",
           ["The by-year table shows the values the scenario runs with (policy file + the "
            "scenario's overrides). A value holds until the next year that has one.",
            "Clear a whole column to use the named policy's own value; choose another policy "
            "to remove a floor or cap it sets."])
    _header(ws, ["Parameter", "Value", "Unit", "Notes"])
    pvalues = {"use": str(_portable(spec.policy.use, base)), "growth_basis": policy.growth_basis,
               "fallback": policy.fallback}
    for i, (key, kind, unit, notes) in enumerate(POLICY_ROWS, start=HEADER_ROW + 1):
        ws.cell(row=i, column=1, value=key).font = Font(bold=True)
        cell = ws.cell(row=i, column=2, value=pvalues[key])
        cell.fill = EDITABLE_FILL
        ws.cell(row=i, column=3, value=unit)
        ws.cell(row=i, column=4, value=notes)
        _validation(kind, f"B{i}", ws, unit, policies)
    ws.cell(row=POLICY_TABLE_ROW - 1, column=1,
            value=f"Policy '{policy.name}' ({policy.kind}) by year").font = Font(bold=True)
    _header(ws, ["Year"] + [f"{k}\n({unit})" for k, _, unit, _ in POLICY_YEAR_COLUMNS],
            row=POLICY_TABLE_ROW)
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
    source = ("scenario" if spec.envelope_growth is not None
              else "data assumption (assumptions.toml)")
    _intro(ws, "National envelope",
           ["Cash growth of the delegated specialised envelope each year. A value holds until "
            "the next year that has one; a wholly blank column = the data assumption.",
            "The £m column shows the envelope these rates give; it is not read back."])
    _header(ws, ["Year", f"{ENVELOPE_COLUMN[0]}\n({ENVELOPE_COLUMN[2]})", "Source",
                 "Envelope (£m, cash; information only)"])
    for r, year in enumerate(years, start=HEADER_ROW + 1):
        ws.cell(row=r, column=1, value=year_label(year)).number_format = "@"
        ws.cell(row=r, column=4, value=float(prep.envelope[r - HEADER_ROW - 1]) / 1e6
                ).number_format = '£#,##0.0'
        if r == HEADER_ROW + 1:
            ws.cell(row=r, column=3, value="base year (baseline total)")
            continue
        cell = ws.cell(row=r, column=2,
                       value=resolve_year_param(used["envelope_growth"], year, lenient=True))
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


def write_template(scenario: str | Path | None, out: str | Path, force: bool = False) -> Path:
    """Write :func:`template_workbook` to ``out`` atomically (never overwriting without force).

    Raises
    ------
    AllocError
        If ``out`` exists and ``force`` is false, or is not an ``.xlsx`` path.
    """
    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise AllocError(out, "--xlsx", f"expected a file name ending .xlsx, found '{out.name}'")
    if out.exists() and not force:
        raise AllocError(out, "--xlsx", "already exists; choose another name or pass --force "
                         "to replace it")
    wb = template_workbook(scenario)
    return atomic_save(wb, out)


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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

class _Cells:
    """Reads typed values from one sheet, raising AllocError that names the cell."""

    def __init__(self, source: str, ws):
        self.source, self.ws = source, ws

    def fail(self, cell: str, problem: str):
        raise AllocError(self.source, f"{self.ws.title}!{cell}", problem)

    def value(self, cell: str):
        value = self.ws[cell].value
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                return None
        return value

    def typed(self, cell: str, kind: str, required: bool = False):
        value = self.value(cell)
        if value is None:
            if required:
                self.fail(cell, "expected a value, found an empty cell")
            return None
        if kind in ("text", "policy"):
            if not isinstance(value, str):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return str(value)
                self.fail(cell, f"expected text, found {value!r}")
            return value
        if kind == "year":
            try:
                return year_label(parse_year(value, self.source, cell))
            except AllocError as exc:
                self.fail(cell, exc.problem)
        if kind.startswith("choice:"):
            allowed = kind.split(":", 1)[1].split(",")
            if value not in allowed:
                self.fail(cell, f"expected one of {', '.join(allowed)}, found {value!r}")
            return value
        if kind.startswith("rate:"):
            return self._rate(cell, value, kind)
        raise AssertionError(kind)

    def _rate(self, cell: str, value, kind: str) -> float:
        parts = kind.split(":")
        lo, hi, open_hi = float(parts[1]), float(parts[2]), len(parts) > 3
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            text = str(value)
            hint = ""
            try:
                float(text.rstrip("%"))
                hint = " (enter it as a number, not as text)"
            except ValueError:
                pass
            self.fail(cell, f"expected a number, found {text!r}{hint}")
        value = float(value)
        low_ok = value > lo if lo < 0 else value >= lo
        high_ok = value < hi if open_hi else value <= hi
        if not (low_ok and high_ok):
            bounds = (f"{'above' if lo < 0 else 'at least'} {lo:g} and "
                      f"{'below' if open_hi else 'at most'} {hi:g}")
            self.fail(cell, f"expected a fraction {bounds}, found {value:g}")
        return value


def _open(path: Path):
    if not path.is_file():
        raise AllocError(path, "file", "expected an Excel workbook (.xlsx); it does not exist")
    try:
        return load_workbook(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise AllocError(path, "file", f"expected an Excel workbook (.xlsx) written by `alloc "
                         f"template`; could not open it ({type(exc).__name__})") from None


def _sheet(wb, source: str, name: str):
    if name not in wb.sheetnames:
        raise AllocError(source, name, "sheet missing; expected the sheets Scenario, Policy and "
                         "Envelope written by `alloc template`")
    return wb[name]


def _key_rows(cells: _Cells, rows: list[tuple], first: int) -> dict[str, int]:
    """Row of each key in column A (searched, so rows may be moved)."""
    found = {}
    for r in range(first, cells.ws.max_row + 1):
        key = cells.ws.cell(row=r, column=1).value
        if isinstance(key, str) and key.strip() in {k for k, *_ in rows}:
            found[key.strip()] = r
    for key, *_ in rows:
        if key not in found:
            cells.fail(f"A{first}", f"expected a row named '{key}' in column A")
    return found


def _year_table(cells: _Cells, header_row: int, columns: list[tuple[str, str]],
                years_from: int) -> dict[str, dict[str, float]]:
    """Read a by-year table: ``{key: {year label: value}}`` for the non-blank cells."""
    ws = cells.ws
    col_of = {}
    for j in range(1, ws.max_column + 1):
        head = ws.cell(row=header_row, column=j).value
        if isinstance(head, str):
            col_of[head.split("\n")[0].strip()] = j
    if col_of.get("Year") != 1:
        cells.fail(f"A{header_row}", "expected the header 'Year' of the by-year table here")
    out: dict[str, dict[str, float]] = {key: {} for key, _ in columns}
    seen = set()
    for r in range(years_from, ws.max_row + 1):
        if all(ws.cell(row=r, column=j).value in (None, "")
               for j in [1] + [col_of.get(k, 0) or 1 for k, _ in columns]):
            continue
        year = cells.typed(f"A{r}", "year", required=True)
        if year in seen:
            cells.fail(f"A{r}", f"year {year} appears twice")
        seen.add(year)
        for key, kind in columns:
            if key not in col_of:
                cells.fail(f"A{header_row}", f"expected a column headed '{key}'")
            coordinate = ws.cell(row=r, column=col_of[key]).coordinate
            value = cells.typed(coordinate, kind)
            if value is not None:
                out[key][year] = value
    return out


def _collapse(by_year: dict[str, float], n_rows: int):
    """A year table's column as the TOML form: None, one number, or ``{year: value}``."""
    if not by_year:
        return None
    values = list(by_year.values())
    if len(by_year) == n_rows and all(v == values[0] for v in values):
        return values[0]
    return dict(sorted(by_year.items()))


def read_scenario_workbook(path: str | Path) -> dict:
    """Read a scenario workbook into the raw dictionary a TOML scenario gives.

    Parameters
    ----------
    path : str or Path
        A workbook written by :func:`write_template` (and edited).

    Returns
    -------
    dict
        Scenario keys as in a TOML scenario (years as ``"2025/26"`` labels, rates as
        fractions); validated afterwards by :func:`alloc.scenario.load_scenario`.

    Raises
    ------
    AllocError
        Naming the workbook, the sheet and cell, e.g. ``scenario.xlsx: Policy!C12: expected
        a number, found 'abc'``.
    """
    path = Path(path)
    source = str(path)
    wb = _open(path)
    raw: dict = {}
    if META_SHEET in wb.sheetnames:
        stored = wb[META_SHEET]["B2"].value
        if stored:
            try:
                raw = json.loads(stored)
            except json.JSONDecodeError:
                raise AllocError(source, f"{META_SHEET}!B2", "the stored scenario is not valid "
                                 "JSON; write a new template with `alloc template`") from None

    cells = _Cells(source, _sheet(wb, source, "Scenario"))
    rows = _key_rows(cells, SCENARIO_ROWS, HEADER_ROW + 1)
    for key, kind, _, _ in SCENARIO_ROWS:
        required = key in ("name", "end_year")
        value = cells.typed(f"B{rows[key]}", kind, required=required)
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value

    cells = _Cells(source, _sheet(wb, source, "Policy"))
    rows = _key_rows(cells, POLICY_ROWS, HEADER_ROW + 1)
    policy = {k: v for k, v in dict(raw.get("policy", {})).items()
              if k not in {k for k, *_ in POLICY_ROWS + POLICY_YEAR_COLUMNS}}
    for key, kind, _, _ in POLICY_ROWS:
        value = cells.typed(f"B{rows[key]}", kind, required=key == "use")
        if value is not None:
            policy[key] = value
    table = _year_table(cells, POLICY_TABLE_ROW, [(k, kind) for k, kind, *_ in
                                                  POLICY_YEAR_COLUMNS], POLICY_TABLE_ROW + 1)
    n_rows = sum(1 for r in range(POLICY_TABLE_ROW + 1, cells.ws.max_row + 1)
                 if cells.value(f"A{r}") is not None)
    for key, _, _, _ in POLICY_YEAR_COLUMNS:
        value = _collapse(table[key], n_rows)
        if value is not None:
            policy[key] = value
    raw["policy"] = {"use": policy.pop("use"), **policy}

    cells = _Cells(source, _sheet(wb, source, "Envelope"))
    table = _year_table(cells, HEADER_ROW, [(ENVELOPE_COLUMN[0], ENVELOPE_COLUMN[1])],
                        HEADER_ROW + 1)
    growth = table[ENVELOPE_COLUMN[0]]
    first_growth_row = HEADER_ROW + 2  # the base-year row carries no growth
    n_rows = sum(1 for r in range(first_growth_row, cells.ws.max_row + 1)
                 if cells.value(f"A{r}") is not None)
    value = _collapse(growth, n_rows)
    if value is None:
        raw.pop("envelope_growth", None)
    else:
        raw["envelope_growth"] = value
    return raw
