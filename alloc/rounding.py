"""All rounding in alloc: money for presentation (largest remainder, so columns still sum, and
round half up), published-table figures to decimals, and whole-number apportionment.

Money inside alloc is float64 pounds; it is rounded only when shown (DESIGN.md section 3).
Published NHS England tables are in £ thousands and round half up (as Excel's ``ROUND`` does,
unlike Python's ``round``, which rounds half to even). Rounding each ICB on its own makes a
column of 42 rounded figures miss its rounded total by a few £k; largest-remainder rounding
moves the fewest figures up by one unit so the column sums exactly to the rounded total.

Both functions work in exact decimal arithmetic on the shortest decimal form of each float
(``repr``), so ``1234.5`` is a half and rounds up, whatever its binary representation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

import numpy as np

#: One £ thousand, the unit of published allocation tables [GBP].
THOUSAND = 1000

Method = Literal["largest_remainder", "half_up"]


def _scaled(value: float, unit: float) -> Decimal:
    """``value / unit`` as an exact decimal (value's shortest repr; unit a power of ten)."""
    if not math.isfinite(value):
        raise ValueError(f"cannot round a non-finite value ({value})")
    return Decimal(repr(float(value))) / Decimal(repr(unit))


def round_half_up(value: float, unit: float = THOUSAND) -> int:
    """Round ``value`` to a whole number of ``unit``, halves away from zero (Excel ``ROUND``).

    Parameters
    ----------
    value : float
        Amount [GBP].
    unit : float, default 1000
        Size of one rounded unit [GBP]; 1000 gives £ thousands.

    Returns
    -------
    int
        ``sign(v) * floor(|v| / unit + 1/2)`` [units], e.g. 1,234,500 -> 1,235 (£k) and
        -1,234,500 -> -1,235.
    """
    return int(_scaled(value, unit).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def largest_remainder(
    values: Iterable[float], unit: float = THOUSAND, total: int | None = None
) -> np.ndarray:
    """Round ``values`` to whole ``unit`` so that they sum exactly to the rounded total.

    Each value ``x_i / unit`` is first rounded down; the ``k = R - sum(floor)`` values with the
    largest remainders ``x_i / unit - floor(x_i / unit)`` are then rounded up (ties go to the
    earlier value). Among all roundings of each value to its floor or ceiling that sum to
    ``R``, this one has the smallest total absolute error, and every rounded value is within
    one unit of its exact value.

    Parameters
    ----------
    values : iterable of float
        Amounts [GBP], e.g. one column of ICB allocations. May be negative.
    unit : float, default 1000
        Size of one rounded unit [GBP]; 1000 gives £ thousands.
    total : int, optional
        The rounded total ``R`` [units] the result must sum to. Default: the exact sum of
        ``values`` rounded half up, ``round_half_up(sum(values), unit)``.

    Returns
    -------
    numpy.ndarray of int64
        Rounded values [units], summing to ``R``.

    Raises
    ------
    ValueError
        If a value is not finite, or ``total`` cannot be reached by rounding each value to its
        floor or ceiling.
    """
    scaled = [_scaled(v, unit) for v in values]
    if total is None:
        total = int(sum(scaled, Decimal(0)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    floors = [s.to_integral_value(rounding=ROUND_FLOOR) for s in scaled]
    remainders = [s - f for s, f in zip(scaled, floors)]
    k = int(total - sum(floors, Decimal(0)))
    fractional = sum(1 for r in remainders if r > 0)
    if not 0 <= k <= fractional:
        raise ValueError(
            f"total {total} cannot be reached by rounding each value up or down "
            f"(floors sum to {int(sum(floors, Decimal(0)))})"
        )
    order = sorted(range(len(scaled)), key=lambda i: (-remainders[i], i))
    out = np.array([int(f) for f in floors], dtype=np.int64)
    out[order[:k]] += 1
    return out


def round_money(
    values: Iterable[float], method: Method = "largest_remainder", unit: float = THOUSAND
) -> tuple[np.ndarray, int]:
    """Round a column of money and its total for a published table.

    Parameters
    ----------
    values : iterable of float
        Amounts [GBP].
    method : {"largest_remainder", "half_up"}
        ``largest_remainder``: the column sums exactly to the rounded total.
        ``half_up``: each value rounded half up on its own (as NHS England's published tables
        and Excel's ``ROUND``); the column may differ from the total by a few units.
    unit : float, default 1000
        Size of one rounded unit [GBP].

    Returns
    -------
    (numpy.ndarray of int64, int)
        Rounded values and the rounded total ``round_half_up(sum(values))`` [units].
    """
    values = [float(v) for v in values]
    total = int(
        sum((_scaled(v, unit) for v in values), Decimal(0)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
    )
    if method == "largest_remainder":
        return largest_remainder(values, unit, total), total
    if method == "half_up":
        return np.array([round_half_up(v, unit) for v in values], dtype=np.int64), total
    raise ValueError(
        f"unknown rounding method {method!r}; expected 'largest_remainder' or 'half_up'"
    )


def round_half_up_decimals(values, decimals: int = 0) -> np.ndarray:
    """Round half away from zero to ``decimals`` places, as Excel and NHS England's tables do.

    Python's ``round`` and numpy's ``round`` round half to even; NHS England's allocation tool
    uses ``Decimal.quantize(ROUND_HALF_UP)`` (its ``excel_round``). Same here, value by value on
    the shortest decimal representation of each float.

    Parameters
    ----------
    values : array_like of float
        Values in any unit.
    decimals : int, default 0
        Decimal places kept.

    Returns
    -------
    numpy.ndarray of float
        Rounded values, same shape and unit as ``values``.
    """
    quantum = Decimal(1).scaleb(-decimals)
    flat = np.asarray(values, dtype=float).ravel()
    out = np.array(
        [float(Decimal(repr(float(v))).quantize(quantum, rounding=ROUND_HALF_UP)) for v in flat]
    )
    return out.reshape(np.shape(values))


def apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Share a whole number ``total`` out in proportion to non-negative ``weights``.

    Largest remainder (Hamilton) in float arithmetic: each share
    ``total * w_i / sum(w)`` is rounded down and the ``total - sum(floors)`` shares with the
    largest remainders get one more (ties to the earlier one).

    Parameters
    ----------
    weights : numpy.ndarray of float
        Non-negative weights, not all zero.
    total : int
        Whole units to share out (persons, pounds, practices...).

    Returns
    -------
    numpy.ndarray of int64
        Whole shares summing exactly to ``total``.
    """
    scaled = weights / weights.sum() * total
    floor = np.floor(scaled).astype(np.int64)
    order = np.argsort(-(scaled - floor), kind="stable")
    floor[order[: total - int(floor.sum())]] += 1
    return floor
