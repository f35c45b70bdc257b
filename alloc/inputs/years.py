"""Financial years and year-keyed parameters: labels, parsing, and growth indices.

Inside the package a financial year is its starting calendar year (``2025`` is 2025/26). A
year-keyed parameter is a number, or a table ``{"2026/27" = 0.03, "2028/29" = 0.035}`` whose
entries hold from their year until the next entry.
"""

from __future__ import annotations

import re
from typing import Annotated

import numpy as np
from pydantic import Strict, WithJsonSchema

from alloc.errors import AllocError

# Strict: a number or an integer, never a bool or a numeric string (TOML has real numbers).
Number = Annotated[float, Strict()]
YearParam = Number | dict[str, Number]
#: A financial year field: written ``"2025/26"`` (or 2025) in files, held as its starting year.
#: Fields of this type take :func:`coerce_year` as their ``mode="before"`` validator.
FinancialYear = Annotated[
    int,
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^\d{4}/\d{2}$"}, {"type": "integer"}],
            "description": 'financial year, e.g. "2025/26"',
        }
    ),
]

_YEAR_LABEL = re.compile(r"^(\d{4})/(\d{2})$")


def year_label(year: int) -> str:
    """Financial-year label from its starting calendar year: ``2025 -> "2025/26"``."""
    return f"{year}/{(year + 1) % 100:02d}"


def parse_year(value: object, source: str, field: str) -> int:
    """Parse a financial year given as ``"2025/26"`` or ``2025`` into its starting year."""
    text = str(value).strip()
    match = _YEAR_LABEL.match(text)
    if match:
        start, end = int(match.group(1)), int(match.group(2))
        if (start + 1) % 100 != end:
            raise AllocError(
                source,
                field,
                f"expected a financial year like '2025/26' (two consecutive years), found '{text}'",
            )
        return start
    if re.fullmatch(r"\d{4}", text):
        return int(text)
    raise AllocError(source, field, f"expected a financial year like '2025/26', found '{text}'")


def coerce_year(value: object, example: str = "2025/26") -> int | None:
    """Body of a pydantic ``mode="before"`` validator for a financial-year field.

    ``None`` and integers pass through; ``"2025/26"`` becomes 2025; anything else raises
    ``ValueError`` (which pydantic reports against the field).
    """
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return parse_year(value, "", "year")
        except AllocError as exc:
            raise ValueError(exc.problem) from None
    raise ValueError(f"expected a financial year like '{example}'")


def year_keys_valid(value: YearParam | None) -> YearParam | None:
    """Pydantic validator body: the keys of a year-keyed table are financial years."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("expected a number or a table of year = value, found an empty table")
        for key in value:
            try:
                parse_year(key, "policy", "year key")
            except AllocError as exc:
                raise ValueError(exc.problem) from None
    return value


def resolve_year_param(value: YearParam | None, year: int, *, lenient: bool = False):
    """Value of a year-keyed parameter in ``year``: a scalar, or the latest entry at or before it.

    With ``lenient`` a year before the first entry gives None instead of raising.
    """
    if value is None or not isinstance(value, dict):
        return value
    keyed = sorted((parse_year(k, "policy", "year"), v) for k, v in value.items())
    earlier = [v for y, v in keyed if y <= year]
    if not earlier:
        if lenient:
            return None
        raise ValueError(
            f"no value for {year_label(year)}: the first year given is {year_label(keyed[0][0])}"
        )
    return earlier[-1]


def growth_index(growth: YearParam, years: list[int], source: str, field: str) -> np.ndarray:
    """Cumulative growth index ``G[t] = prod_{tau <= t} (1 + g[tau])``, 1 in the base year.

    ``years`` starts with the base year; ``growth`` is a number or a year-keyed table [fraction
    per year]. A year with no value is reported against ``source`` and ``field``.
    """
    out = [1.0]
    for year in years[1:]:
        try:
            g = resolve_year_param(growth, year)
        except ValueError as exc:
            raise AllocError(source, field, str(exc)) from None
        out.append(out[-1] * (1.0 + g))
    return np.array(out)
