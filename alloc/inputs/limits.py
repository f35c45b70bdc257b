"""Plausible ranges of input values: the one place they are set, each with its unit and reason.

A value outside its range is a unit error, a typo or a corrupt file, never a real figure, and
some (a baseline of 1e28) would otherwise pass validation and then crash the run's exact
rounding. Every reader of a data file (:mod:`alloc.inputs.dataset`, :mod:`alloc.inputs.geography`,
:mod:`alloc.inputs.nhse`) checks its columns against these ranges with :func:`check_range`, so
``alloc validate`` refuses what ``alloc run`` would crash on.

The figures quoted in the reasons come from the embedded data (``data/README.md``) unless named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alloc.errors import AllocError


@dataclass(frozen=True)
class Range:
    """Allowed values ``low .. high`` [unit]; ``low_open``/``high_open`` exclude the end."""

    low: float
    high: float
    unit: str
    reason: str
    low_open: bool = False
    high_open: bool = False

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Which of ``values`` are in range (NaN is not)."""
        values = np.asarray(values, dtype=float)
        low = values > self.low if self.low_open else values >= self.low
        high = values < self.high if self.high_open else values <= self.high
        return low & high

    def describe(self) -> str:
        """E.g. ``from 0 to 1e+11 GBP`` or ``above 0 and below 2e+07 persons``."""
        low = f"above {self.low:g}" if self.low_open else f"from {self.low:g}"
        high = f"below {self.high:g}" if self.high_open else f"to {self.high:g}"
        joint = " and " if self.low_open or self.high_open else " "
        return f"{low}{joint}{high} {self.unit}"


#: One ICB's (or area's) money for one service line in one year [GBP, cash]. NHS England's whole
#: budget is about GBP 2e11 (GBP 192bn in 2025/26) and the specialised services delegated to ICBs
#: GBP 1.4e10, so half the whole NHS budget in one cell is already impossible; above about 1e13
#: the exact penny rounding of the results overflows.
MONEY_GBP = Range(
    0.0, 1e11, "GBP", "per ICB and service line; the whole NHS England budget is about GBP 2e11"
)
#: Cost of one patient of a service line [GBP, cash]: positive, and bounded as money is (the
#: dearest single treatments cost about GBP 3e6).
COST_PER_PATIENT_GBP = Range(
    0.0,
    1e11,
    "GBP per patient",
    "the whole NHS England budget is about GBP 2e11",
    low_open=True,
)
#: A service line's share of the national budget [fraction of 1].
SHARE = Range(0.0, 1.0, "(fraction)", "a share of the national total")
#: Latitude of a practice or an area's centroid [degrees north]: England runs from the Isles of
#: Scilly (49.9) to Berwick-upon-Tweed (55.8); the 6,348 practices of 2025/26 lie in 49.91..55.77.
LATITUDE = Range(49.8, 55.9, "degrees north", "England: Isles of Scilly to Berwick-upon-Tweed")
#: Longitude [degrees east]: Isles of Scilly (-6.4) to Lowestoft (1.76); practices -6.31..1.76.
LONGITUDE = Range(-6.5, 1.9, "degrees east", "England: Isles of Scilly to Lowestoft")
#: GP-registered population of one area [persons]: the largest ICB has 3.3 million people (2025/26)
#: and the largest NHS England region about 9 million; England as a whole 64 million. Zero would
#: divide by zero in every per-head figure.
POPULATION = Range(
    0.0,
    2e7,
    "persons",
    "per area; the largest ICB has 3.3 million people",
    low_open=True,
    high_open=True,
)
#: Weighted population of one area [weighted persons]: need indices (weighted / registered
#: population) of ICBs lie within 0.6..1.5 in 2023/24-2025/26, so twice the population limit.
WEIGHTED_POPULATION = Range(
    0.0,
    4e7,
    "weighted persons",
    "per area; twice the population limit (ICB need indices lie within 0.6..1.5)",
    low_open=True,
    high_open=True,
)
#: Persons in one cell of a population table (an age-sex band of an area, a practice) [persons].
PERSONS = Range(0.0, 2e7, "persons", "cannot exceed the population limit of an area")
#: Weighted persons in one cell of a table (a practice) [weighted persons].
WEIGHTED_PERSONS = Range(
    0.0, 4e7, "weighted persons", "cannot exceed the weighted-population limit of an area"
)
#: Patients of one service line in one area in a year [persons]: fewer than the area's people.
PATIENTS = Range(0.0, 2e7, "persons", "cannot exceed the population limit of an area")
#: Market forces factor [index, mean 1]: NHS England's published factors lie within about 0.9..1.3
#: and the implied index of data/mff.csv within 0.977..1.030; outside 0.5..2 is a unit error (a
#: percentage, or a factor applied twice).
MFF_INDEX = Range(0.5, 2.0, "(index, mean 1)", "published factors lie within about 0.9..1.3")


def check_range(
    values: np.ndarray,
    limits: Range,
    source: str | Path,
    field: str,
    where: Callable[[int], str] = lambda row: f"at data row {row + 1}",
) -> None:
    """Raise :class:`AllocError` naming the first value outside ``limits``.

    ``where(row)`` says where the 0-based ``row`` is (default ``at data row N``). NaN passes
    (blank cells are each reader's business).
    """
    values = np.asarray(values, dtype=float)
    bad = ~limits.contains(values) & ~np.isnan(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise AllocError(
            source,
            field,
            f"expected a value {limits.describe()} ({limits.reason}), "
            f"found {values[row]:.15g} {where(row)}",
        )
