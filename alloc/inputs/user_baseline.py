"""A user's own baseline, named by a scenario: ``baseline = "my_baseline.xlsx"`` (or ``.csv``).

The file replaces the dataset's historic-cost baseline [GBP, cash, base year]; everything else
(populations, patients, assumptions) still comes from the dataset. Its total is the base-year
envelope. Two layouts (one row each):

=====================  ======================================================================
by ICB x service       columns ``code``, ``service``, ``baseline_gbp`` (and optionally
                       ``year``, which must be the dataset's base year, e.g. ``2025/26``)
by ICB only            columns ``code``, ``baseline_gbp`` (optionally ``year``): each ICB's
                       total is split across service lines by the dataset baseline's national
                       share of each line, ``b[i, s] = total[i] * B[s] / B``
=====================  ======================================================================

Other columns are ignored (the workbook of ``alloc template-data`` adds ``ICB name``,
``region`` and ``service name``). Headers are matched in lower case with runs of other
characters read as ``_``, so ``baseline (GBP)`` is ``baseline_gbp``. A workbook is read from its
sheet ``Baseline``, else its first sheet; the header row is the first non-empty row; blank rows
are ignored; values must be numbers (a formula needs its saved value: a workbook written by a
program that does not calculate formulas has none).

**Footprint.** The codes say which areas the figures are for: exactly the scenario's areas (used
as they are) or exactly a shipped geography's (:func:`alloc.inputs.geography.shipped_geographies`),
carried to the scenario's areas as the dataset's baseline is (each service line by the weighted
population named by its ``footprint_key``: :mod:`alloc.inputs.footprint`). A baseline by ICB
only is split by service on its own footprint first, then carried.

Every problem raises :class:`alloc.errors.AllocError` naming the file and the column (CSV, with
the line) or the sheet and cell (Excel).
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alloc.errors import AllocError
from alloc.inputs.footprint import carry_by_service, crosswalks, money_keys
from alloc.inputs.geography import (
    AS_DATA,
    load_geography,
    load_practices,
    shipped_area_codes,
    shipped_geographies,
    source_geography,
)
from alloc.inputs.limits import MONEY_GBP
from alloc.inputs.years import parse_year, year_label

#: Sheet read from a workbook when present (else the first sheet).
BASELINE_SHEET = "Baseline"
CODE, SERVICE, YEAR, VALUE = "code", "service", "year", "baseline_gbp"
#: Header of each column of the ``alloc template-data`` workbook, and the name it is read as.
TEMPLATE_COLUMNS = [
    ("code", CODE),
    ("ICB name", "icb_name"),
    ("region", "region"),
    ("service", SERVICE),
    ("service name", "service_name"),
    ("baseline (GBP)", VALUE),
]
SPLIT_AS_GIVEN = "by ICB x service, as given"
SPLIT_BY_SHARES = "by ICB only, split by the dataset's national service shares"
SUFFIXES = (".csv", ".xlsx", ".xlsm")


def header_name(text: object) -> str:
    """A header as the column name it is read as: ``"Baseline (GBP)"`` -> ``"baseline_gbp"``."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")


# --------------------------------------------------------------------------------------------
# Reading a table (CSV or one sheet of a workbook)
# --------------------------------------------------------------------------------------------


@dataclass
class _Table:
    """The header and data rows of a file, and how to name a cell in a message."""

    path: Path
    sheet: str | None  # None for a CSV
    header_row: int
    columns: dict[str, int]  # read name -> 0-based column
    rows: list[tuple[int, list]] = field(default_factory=list)  # (row or line number, cells)

    def where(self, row: int, column: str) -> tuple[str, str]:
        """(field, suffix for the problem) naming a cell."""
        if self.sheet is None:
            return column, f" (line {row})"
        from openpyxl.utils import get_column_letter

        return f"{self.sheet}!{get_column_letter(self.columns[column] + 1)}{row}", ""

    def fail(self, row: int, column: str, problem: str):
        name, suffix = self.where(row, column)
        raise AllocError(self.path, name, problem + suffix)

    def cell(self, cells: list, column: str):
        j = self.columns.get(column)
        return cells[j] if j is not None and j < len(cells) else None


def _clean(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _header(path: Path, sheet: str | None, row: int, cells: list) -> dict[str, int]:
    columns: dict[str, int] = {}
    for j, head in enumerate(cells):
        if head is None:
            continue
        name = header_name(head)
        if name in columns and name in (CODE, SERVICE, YEAR, VALUE):
            where = f"row {row} of sheet {sheet}" if sheet else f"line {row}"
            raise AllocError(path, name, f"the header ({where}) has two columns read as '{name}'")
        columns.setdefault(name, j)
    return columns


def _read_csv(path: Path) -> _Table:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = [(n, [_clean(c) for c in cells]) for n, cells in _numbered(csv.reader(handle))]
    except (UnicodeDecodeError, csv.Error) as exc:
        reason = " ".join(str(exc).split())
        raise AllocError(path, "file", f"expected a readable CSV file, UTF-8 ({reason})") from None
    lines = [(n, cells) for n, cells in lines if any(c is not None for c in cells)]
    if not lines:
        raise AllocError(path, "file", "expected a header row and data rows; the file is empty")
    header_row, head = lines[0]
    table = _Table(path, None, header_row, _header(path, None, header_row, head))
    table.rows = lines[1:]
    return table


def _numbered(reader):
    for cells in reader:
        yield reader.line_num, cells


def _read_workbook(path: Path) -> _Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        values = load_workbook(path, data_only=True)
        formulas = load_workbook(path, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise AllocError(
            path,
            "file",
            f"expected an Excel workbook (.xlsx); could not open it ({type(exc).__name__})",
        ) from None
    names = {n.strip().lower(): n for n in values.sheetnames}
    sheet = names.get(BASELINE_SHEET.lower(), values.sheetnames[0])
    ws, wf = values[sheet], formulas[sheet]
    rows = []
    for n, (cells, raw) in enumerate(
        zip(ws.iter_rows(values_only=True), wf.iter_rows(values_only=True)), start=1
    ):
        rows.append((n, [_clean(c) for c in cells], list(raw)))
    start = next(
        (k for k, (_, cells, _) in enumerate(rows) if any(c is not None for c in cells)), None
    )
    if start is None:
        raise AllocError(path, sheet, "expected a header row and data rows; the sheet is empty")
    header_row, head, _ = rows[start]
    table = _Table(path, sheet, header_row, _header(path, sheet, header_row, head))
    read = [j for name, j in table.columns.items() if name in (CODE, SERVICE, YEAR, VALUE)]
    for n, cells, raw in rows[start + 1 :]:
        for j in read:
            if j < len(cells) and cells[j] is None and raw[j] is not None:
                name = next(c for c, k in table.columns.items() if k == j)
                table.fail(
                    n,
                    name,
                    f"a formula ({getattr(raw[j], 'text', raw[j])}) with no saved value; open "
                    "the workbook in Excel "
                    "and save it (so the value is stored), or type the number",
                )
        table.rows.append((n, cells))
    return table


def _read_table(path: Path) -> _Table:
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    return _read_workbook(path)


# --------------------------------------------------------------------------------------------
# Validating the rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserBaseline:
    """A validated baseline file on its own footprint.

    ``values`` [GBP, cash]: indexed by area code in file order; one column per service line
    (``by_service``) or the single column ``total``. ``footprint``: the shipped geography whose
    areas the codes are, or None for the areas given as ``scenario_codes``. ``digest``: SHA-256
    of the file's bytes.
    """

    path: Path
    values: pd.DataFrame
    by_service: bool
    footprint: str | None
    digest: str


def _number(table: _Table, row: int, value) -> float:
    if value is None:
        table.fail(row, VALUE, "expected an amount in GBP, found an empty cell")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        table.fail(row, VALUE, f"expected an amount in GBP, found {value!r}")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            table.fail(
                row,
                VALUE,
                f"expected a number (an amount in GBP, without '£' or thousands separators), "
                f"found '{value}'",
            )
    else:
        number = float(value)
    if not math.isfinite(number):
        table.fail(row, VALUE, f"expected a finite amount in GBP, found '{value}'")
    if number < 0:
        table.fail(row, VALUE, f"expected a non-negative amount in GBP, found {number:g}")
    if not MONEY_GBP.contains(np.array([number]))[0]:  # 1e28 would overflow the £k rounding
        table.fail(
            row,
            VALUE,
            f"expected a value {MONEY_GBP.describe()} ({MONEY_GBP.reason}), found {number:g}",
        )
    return number


def _text(value) -> str | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return None if value is None else str(value).strip()


def read_user_baseline(
    path: str | Path,
    services: list[str],
    base_year: int,
    scenario_codes: list[str] | None = None,
    geography: str = "",
) -> UserBaseline:
    """Read and validate a baseline file (module docstring).

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.xlsx`` file.
    services : list of str
        The dataset's service lines (every one needs a row per ICB in a baseline by service).
    base_year : int
        The dataset's base year (first year of the financial year); a ``year`` column must
        hold it.
    scenario_codes : list of str, optional
        The areas the scenario runs on; the codes must be exactly these or exactly a shipped
        geography's areas.
    geography : str
        The scenario's geography (named in messages).

    Raises
    ------
    AllocError
        Naming the file and the column or cell: a missing column, an empty, non-numeric,
        negative, NaN or infinite amount, a formula with no saved value, an unknown service
        line, a year other than the base year, a duplicate row, an unknown area code (listing
        the geographies), an area without a row, an ICB without every service line, an ICB
        whose total is not positive.
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise AllocError(
            path,
            "baseline",
            f"expected a .csv or .xlsx file, found '{path.suffix or path.name}' (save an .xls "
            "or .ods workbook as .xlsx)",
        )
    if not path.is_file():
        raise AllocError(path, "baseline", "expected a baseline file (.csv or .xlsx); not found")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    table = _read_table(path)
    for column in (CODE, VALUE):
        if column not in table.columns:
            where = (
                f"row {table.header_row} of sheet {table.sheet}"
                if table.sheet
                else f"line {table.header_row}"
            )
            found = ", ".join(table.columns) or "none"
            raise AllocError(
                path,
                column,
                f"expected a column '{column}' in the header row (the first non-empty row: "
                f"{where}): the layouts are "
                f"'code, service, baseline_gbp' (by ICB x service) or 'code, baseline_gbp' (by "
                f"ICB only), amounts in GBP; columns found: {found}",
            )
    by_service = SERVICE in table.columns
    known = set(services)
    records: dict[tuple[str, str], float] = {}
    first_row: dict[str, int] = {}
    first_key_row: dict[tuple[str, str], int] = {}
    for row, cells in table.rows:
        read = [table.cell(cells, c) for c in (CODE, SERVICE, YEAR, VALUE) if c in table.columns]
        if all(v is None for v in read):
            continue  # a blank row
        code = _text(table.cell(cells, CODE))
        if not code:
            table.fail(row, CODE, "expected an area (ICB) code, found an empty cell")
        code = code.upper()
        service = ""
        if by_service:
            service = (_text(table.cell(cells, SERVICE)) or "").lower()
            if not service:
                table.fail(row, SERVICE, "expected a service line, found an empty cell")
            if service not in known:
                table.fail(
                    row,
                    SERVICE,
                    f"unknown service line '{service}'; expected one of {', '.join(services)} "
                    "(alloc list services)",
                )
        if YEAR in table.columns:
            year = table.cell(cells, YEAR)
            try:
                found = None if year is None else parse_year(year, str(path), YEAR)
            except AllocError:
                found = None
            if found != base_year:
                table.fail(
                    row,
                    YEAR,
                    f"expected the dataset's base year {year_label(base_year)}, found "
                    f"{'an empty cell' if year is None else repr(str(year))}",
                )
        value = _number(table, row, table.cell(cells, VALUE))
        key = (code, service)
        if key in records:
            what = f"ICB '{code}', service line '{service}'" if by_service else f"ICB '{code}'"
            unit = "line" if table.sheet is None else "row"
            table.fail(
                row,
                CODE,
                f"expected one row per {'ICB x service line' if by_service else 'ICB'}, found "
                f"a second row for {what}, first given at {unit} {first_key_row[key]}",
            )
        first_key_row[key] = row
        records[key] = value
        first_row.setdefault(code, row)
    if not records:
        raise AllocError(path, "file", "expected at least one data row below the header")
    codes = list(first_row)
    footprint = _footprint(table, first_row, scenario_codes, geography)
    if by_service:
        present = {}
        for code, service in records:
            present.setdefault(code, set()).add(service)
        for code in codes:
            missing = [s for s in services if s not in present[code]]
            if missing:
                table.fail(
                    first_row[code],
                    SERVICE,
                    f"ICB '{code}' has no row for service line '{missing[0]}' ({len(missing)} "
                    f"missing): a baseline by service needs every ICB x service line (a zero "
                    "where there is no spend), or leave out the service column for a baseline "
                    "by ICB only",
                )
        grid = pd.Series(records).unstack().reindex(index=codes, columns=services)
    else:
        grid = pd.DataFrame({"total": [records[(c, "")] for c in codes]}, index=codes)
    totals = grid.sum(axis=1)
    if (totals <= 0).any():
        code = totals.index[totals <= 0][0]
        table.fail(
            first_row[code],
            VALUE,
            f"expected a positive total baseline for every ICB, found 0 for '{code}'",
        )
    return UserBaseline(path, grid.astype(float), by_service, footprint, digest)


# --------------------------------------------------------------------------------------------
# Footprint: which areas the figures are for, and carrying them to the scenario's
# --------------------------------------------------------------------------------------------


def _footprint(
    table: _Table, rows: dict[str, int], scenario_codes: list[str] | None, geography: str
) -> str | None:
    """None when the codes are the scenario's areas; else the shipped geography they are.

    ``rows``: the first row of each code, in file order.
    """
    codes = set(rows)
    if scenario_codes is not None and codes == set(scenario_codes):
        return None
    candidates = {}
    for name in shipped_geographies():
        areas = shipped_area_codes(name)
        if codes == set(areas):
            return name
        own = scenario_codes is not None and set(areas) == set(scenario_codes)
        candidates[f"{name}, the scenario's" if own else name] = areas
    if scenario_codes is not None and set(scenario_codes) not in map(set, candidates.values()):
        candidates[f"the scenario's geography ({geography or 'as given'})"] = scenario_codes
    best = max(candidates, key=lambda k: len(codes & set(candidates[k])))
    listing = "; ".join(f"{k}: {len(v)} areas" for k, v in candidates.items())
    unknown = [c for c in rows if c not in set(candidates[best])]
    if unknown:
        table.fail(
            rows[unknown[0]],
            CODE,
            f"unknown area code '{unknown[0]}': the codes must be exactly the areas of one "
            f"geography ({listing}); alloc list icbs --geography NAME lists them",
        )
    missing = [c for c in candidates[best] if c not in codes]
    raise AllocError(
        table.path,
        CODE,
        f"the codes are {len(codes)} of the {len(candidates[best])} areas of {best}; area "
        f"'{missing[0]}' has no row ({len(missing)} missing): every area needs its baseline",
    )


def resolve_baseline_path(text: str, base: Path | None = None) -> Path:
    """The file a scenario's ``baseline`` names: relative to the scenario's folder, else to the
    current folder (as ``alloc run --set baseline='"FILE"'`` is typed there)."""
    path = Path(text).expanduser()
    if not path.is_absolute() and base is not None and (base / path).is_file():
        return base / path
    return path


def apply_user_baseline(
    inputs: xr.Dataset,
    baseline: str | Path,
    geography: str = AS_DATA,
    practices: pd.DataFrame | None = None,
    base: Path | None = None,
) -> xr.Dataset:
    """Replace a re-footprinted dataset's baseline with the user's file.

    Parameters
    ----------
    inputs : xarray.Dataset
        The dataset on the scenario's geography (:func:`alloc.inputs.footprint.refootprint`).
    baseline : str or Path
        The scenario's ``baseline`` (:func:`resolve_baseline_path`).
    geography : str
        The scenario's geography (to carry a file on another footprint there).
    practices : pandas.DataFrame, optional
        The practice table; default ``data/practices.csv``.
    base : Path, optional
        The scenario's folder.

    Returns
    -------
    xarray.Dataset
        ``inputs`` with ``baseline`` (icb, service) [GBP, cash] from the file and attributes
        ``baseline_source`` (the file), ``baseline_split`` (:data:`SPLIT_AS_GIVEN` or
        :data:`SPLIT_BY_SHARES`), ``baseline_footprint`` (the geography of the file's codes),
        ``baseline_hash``; ``input_hash`` then covers the file's bytes too.
    """
    path = resolve_baseline_path(str(baseline), base)
    missing = not path.is_file() and path.suffix.lower() in SUFFIXES
    if missing and not path.is_absolute() and base is not None:
        raise AllocError(
            path,
            "baseline",
            f"expected a baseline file (.csv or .xlsx); not found in the scenario's folder "
            f"({base}) nor in the current folder",
        )
    services = [str(s) for s in inputs["service"].values]
    scenario_codes = [str(c) for c in inputs["icb"].values]
    user = read_user_baseline(
        path, services, int(inputs.attrs["base_year"]), scenario_codes, geography
    )
    own = user.footprint
    dataset = inputs["baseline"].transpose("icb", "service")
    if user.by_service:
        values = user.values
    else:  # b[i, s] = total[i] * B[s] / B, on the file's own footprint
        national = dataset.sum("icb").values / float(dataset.sum())
        values = pd.DataFrame(
            user.values["total"].to_numpy()[:, None] * national[None, :],
            index=user.values.index,
            columns=services,
        )
    if own is None:
        grid = values.reindex(scenario_codes).to_numpy()
        footprint = inputs.attrs.get("geography", geography)
    else:
        practices = practices if practices is not None else load_practices()
        source = load_geography(own, practices)
        if geography == AS_DATA:
            try:
                target = source_geography(scenario_codes, practices)
            except AllocError:
                raise AllocError(
                    path,
                    CODE,
                    f"the codes are the areas of {own}, but the scenario runs on the dataset's "
                    f'own {len(scenario_codes)} areas (geography = "{AS_DATA}"), which are '
                    "no shipped geography's, so the baseline cannot be carried there; give it "
                    "on the dataset's areas",
                ) from None
        else:
            target = load_geography(geography, practices, base)
        carried = carry_by_service(
            values.reindex(source.codes).to_numpy(),
            money_keys(inputs, practices),
            crosswalks(practices, source, target),
        )
        grid = pd.DataFrame(carried, index=target.codes).reindex(scenario_codes).to_numpy()
        footprint = own
    out = inputs.copy()
    out["baseline"] = xr.DataArray(
        np.asarray(grid, dtype=float),
        dims=("icb", "service"),
        coords={"icb": inputs["icb"], "service": inputs["service"]},
        attrs={**dataset.attrs, "source": str(path)},
    )
    out.attrs.update(
        baseline_source=str(path),
        baseline_split=SPLIT_AS_GIVEN if user.by_service else SPLIT_BY_SHARES,
        baseline_footprint=footprint,
        baseline_hash=user.digest[:16],
        input_hash=hashlib.sha256(
            (str(inputs.attrs.get("input_hash", "")) + user.digest).encode()
        ).hexdigest()[:16],
    )
    return out
