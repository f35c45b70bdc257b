"""Scenario workbooks: their layout, and reading one back (``alloc run scenario.xlsx``).

:mod:`alloc.outputs.scenario_template` writes them (``alloc template``).

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
same raw dictionary a TOML scenario gives; :func:`alloc.inputs.scenario.load_scenario` then validates
it as usual. Cell-level problems are reported as ``<workbook>: <Sheet>!<cell>: <problem>``.

A formula cell is read by the value Excel saved with it. A workbook written by a program that
does not calculate (openpyxl, some converters) holds formulas without saved values; such a cell
is an error naming it (``Envelope!B7: holds the formula '=0.03+0.02' but no saved value``), never
read as blank, which would silently mean "not set".

Year-keyed values follow the TOML rule: a value holds from its year until the next value, so a
blank cell repeats the value above it; a column left wholly blank means "not set" (the named
policy's own value, or the data assumption).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.styles import PatternFill
from openpyxl.utils.exceptions import InvalidFileException

from alloc.errors import AllocError
from alloc.inputs.years import parse_year, year_label

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
    (
        "data",
        "text",
        "'embedded' or a folder path",
        "Dataset folder; 'embedded' = the shipped (illustrative) data.",
    ),
    ("formula", "text", "name or TOML path", "Target formula, e.g. 'default'."),
    ("base_year", "year", "financial year, e.g. 2025/26", "Must be the baseline's year."),
    ("end_year", "year", "financial year, e.g. 2030/31", "Last projection year (at most 30 on)."),
    (
        "convergence_level",
        "choice:total,service",
        "total | service",
        "Converge ICB totals, or each service line separately.",
    ),
    (
        "population_growth",
        "rate:-0.5:1:open",
        "fraction per year (0.005 = 0.5%)",
        "GP-registered population growth, all ICBs. Blank = data assumption.",
    ),
    (
        "gdp_deflator_growth",
        "rate:-0.5:1:open",
        "fraction per year (0.02 = 2%)",
        "For real-terms floors and caps. Blank = data assumption.",
    ),
]
POLICY_ROWS = [
    ("use", "policy", "policy name or TOML path", "A shipped policy (list) or a path."),
    (
        "growth_basis",
        "choice:cash,real,per_head",
        "cash | real | per_head",
        "How min_growth and max_growth are measured.",
    ),
    (
        "fallback",
        "choice:error,relax",
        "error | relax",
        "When floors or caps cannot all be met: stop with an error, or relax them.",
    ),
]
POLICY_YEAR_COLUMNS = [
    ("min_growth", "rate:-0.5:1", "fraction per year (0.017 = 1.7%)", "Growth floor."),
    ("max_growth", "rate:-0.5:1", "fraction per year (0.06 = 6%)", "Growth cap."),
    (
        "max_below_target",
        "rate:0:1",
        "fraction of target (0.05 = 5%)",
        "No ICB ends a year further below target.",
    ),
    (
        "convergence_rate",
        "rate:0:1",
        "fraction of gap closed per year",
        "Proportional policies only.",
    ),
]
ENVELOPE_COLUMN = ("envelope_growth", "rate:-0.5:1:open", "fraction per year, cash (0.035 = 3.5%)")


class _Book:
    """A workbook read for its saved values, and (only when needed) for its formulas."""

    def __init__(self, path: Path):
        self.path = path
        self.values = _open(path)
        self._formulas = None

    def formula(self, sheet: str, cell: str) -> str | None:
        """The formula of a cell (``'=0.03+0.02'``), or None when it holds none."""
        if self._formulas is None:
            self._formulas = _open(self.path, data_only=False)
        value = self._formulas[sheet][cell].value
        if isinstance(value, str) and value.startswith("="):
            return value
        text = getattr(value, "text", None)  # array formulas (openpyxl ArrayFormula)
        return text if isinstance(text, str) else None


class _Cells:
    """Reads typed values from one sheet, raising AllocError that names the cell."""

    def __init__(self, source: str, ws, book: _Book | None = None):
        self.source, self.ws, self.book = source, ws, book

    def fail(self, cell: str, problem: str):
        raise AllocError(self.source, f"{self.ws.title}!{cell}", problem)

    def value(self, cell: str):
        value = self.ws[cell].value
        if value is None and self.book is not None:
            formula = self.book.formula(self.ws.title, cell)
            if formula is not None:
                self.fail(
                    cell,
                    f"holds the formula '{formula}' but no saved value (the workbook was "
                    "written by a program that does not calculate); open and save it in Excel "
                    "or LibreOffice, or type the number itself",
                )
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
            bounds = (
                f"{'above' if lo < 0 else 'at least'} {lo:g} and "
                f"{'below' if open_hi else 'at most'} {hi:g}"
            )
            self.fail(cell, f"expected a fraction {bounds}, found {value:g}")
        return value


def _open(path: Path, data_only: bool = True):
    if not path.is_file():
        raise AllocError(path, "file", "expected an Excel workbook (.xlsx); it does not exist")
    try:
        return load_workbook(path, data_only=data_only)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise AllocError(
            path,
            "file",
            f"expected an Excel workbook (.xlsx) written by `alloc "
            f"template`; could not open it ({type(exc).__name__})",
        ) from None


def _sheet(wb, source: str, name: str):
    if name not in wb.sheetnames:
        raise AllocError(
            source,
            name,
            "sheet missing; expected the sheets Scenario, Policy and "
            "Envelope written by `alloc template`",
        )
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


def _year_table(
    cells: _Cells, header_row: int, columns: list[tuple[str, str]], years_from: int
) -> dict[str, dict[str, float]]:
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
        if all(
            cells.value(ws.cell(row=r, column=j).coordinate) is None
            for j in [1] + [col_of.get(k, 0) or 1 for k, _ in columns]
        ):
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
        fractions); validated afterwards by :func:`alloc.inputs.scenario.load_scenario`.

    Raises
    ------
    AllocError
        Naming the workbook, the sheet and cell, e.g. ``scenario.xlsx: Policy!C12: expected
        a number, found 'abc'``.
    """
    path = Path(path)
    source = str(path)
    book = _Book(path)
    wb = book.values
    raw: dict = {}
    if META_SHEET in wb.sheetnames:
        stored = wb[META_SHEET]["B2"].value
        if stored:
            try:
                raw = json.loads(stored)
            except json.JSONDecodeError:
                raise AllocError(
                    source,
                    f"{META_SHEET}!B2",
                    "the stored scenario is not valid "
                    "JSON; write a new template with `alloc template`",
                ) from None

    cells = _Cells(source, _sheet(wb, source, "Scenario"), book)
    rows = _key_rows(cells, SCENARIO_ROWS, HEADER_ROW + 1)
    for key, kind, _, _ in SCENARIO_ROWS:
        required = key in ("name", "end_year")
        value = cells.typed(f"B{rows[key]}", kind, required=required)
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value

    cells = _Cells(source, _sheet(wb, source, "Policy"), book)
    rows = _key_rows(cells, POLICY_ROWS, HEADER_ROW + 1)
    policy = {
        k: v
        for k, v in dict(raw.get("policy", {})).items()
        if k not in {k for k, *_ in POLICY_ROWS + POLICY_YEAR_COLUMNS}
    }
    for key, kind, _, _ in POLICY_ROWS:
        value = cells.typed(f"B{rows[key]}", kind, required=key == "use")
        if value is not None:
            policy[key] = value
    table = _year_table(
        cells,
        POLICY_TABLE_ROW,
        [(k, kind) for k, kind, *_ in POLICY_YEAR_COLUMNS],
        POLICY_TABLE_ROW + 1,
    )
    n_rows = sum(
        1
        for r in range(POLICY_TABLE_ROW + 1, cells.ws.max_row + 1)
        if cells.value(f"A{r}") is not None
    )
    for key, _, _, _ in POLICY_YEAR_COLUMNS:
        value = _collapse(table[key], n_rows)
        if value is not None:
            policy[key] = value
    raw["policy"] = {"use": policy.pop("use"), **policy}

    cells = _Cells(source, _sheet(wb, source, "Envelope"), book)
    table = _year_table(
        cells, HEADER_ROW, [(ENVELOPE_COLUMN[0], ENVELOPE_COLUMN[1])], HEADER_ROW + 1
    )
    growth = table[ENVELOPE_COLUMN[0]]
    first_growth_row = HEADER_ROW + 2  # the base-year row carries no growth
    n_rows = sum(
        1 for r in range(first_growth_row, cells.ws.max_row + 1) if cells.value(f"A{r}") is not None
    )
    value = _collapse(growth, n_rows)
    if value is None:
        raw.pop("envelope_growth", None)
    else:
        raw["envelope_growth"] = value
    return raw
