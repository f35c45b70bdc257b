"""Pace-of-change policies (``models/policy/*.toml``) turned into the kernel's per-year arrays.

Every policy is one choice of ``P``, ``W``, ``L``, ``U`` in
``A_i = clip(P_i + lam * W_i, L_i, U_i)`` with ``sum_i A_i = E`` (DESIGN.md section 4). With
``A_prev`` the previous year's allocation, ``r = E_t / sum(A_prev)`` and ``T`` the target:

================  ==============================  ==============================  ================
kind              P                               W                               bounds
================  ==============================  ==============================  ================
historic_cost     r * A_prev                      r * A_prev                      none (equal growth)
immediate         T                               T                               none
common_dft        T                               T                               floors / caps
proportional      (1 - c) * r * A_prev + c * T    P                               floors / caps
deadline          as proportional, c found        P                               floors / caps
================  ==============================  ==============================  ================

Floors and caps are growth rates on the previous allocation, in cash, real (deflated by the GDP
deflator) or per-head terms; ``max_below_target = x`` adds the floor ``T * (1 - x)``, which
overrides a growth cap. Any parameter may vary by year.

``deadline`` is ``proportional`` with one constant rate ``c`` in every projection year, where
``c`` is not given but found: the smallest rate in [0, 1] that brings every ICB within ``band`` of
its target (``|DfT| <= band``) in the ``deadline`` year and every year after it. This module only
declares it (the coefficients are left NaN by :func:`kernel_arrays`);
:mod:`alloc.allocation.deadline` finds ``c`` on the real glide-path solve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from alloc.errors import AllocError
from alloc.inputs.specs import FieldError, validate
from alloc.inputs.years import (
    FinancialYear,
    Number,
    YearParam,
    coerce_year,
    parse_year,
    resolve_year_param,
    year_keys_valid,
    year_label,
)
from alloc.kernels import pace
from alloc.resources import resolve_named

KINDS = ("historic_cost", "immediate", "common_dft", "proportional", "deadline")

STATUS_MESSAGES = {
    pace.STATUS_OK: "ok",
    pace.STATUS_FLOORS_EXCEED_ENVELOPE: "floors exceed the envelope",
    pace.STATUS_CAPS_BELOW_ENVELOPE: "caps fall short of the envelope",
    pace.STATUS_FLOORS_RELAXED: "floors could not all be met: lowered to uniform growth (fallback)",
    pace.STATUS_CAPS_RELAXED: "caps could not all be met: raised to uniform growth (fallback)",
    pace.STATUS_BAD_INPUT: "invalid kernel input",
    pace.STATUS_NOT_RUN: "not computed (an earlier year was infeasible)",
}

# Kernel coefficients (c, w_prev, w_target) per kind; proportional's come from its rate.
_COEFFICIENTS = {
    "historic_cost": (0.0, 1.0, 0.0),
    "immediate": (1.0, 0.0, 1.0),
    "common_dft": (1.0, 0.0, 1.0),
}


class PolicySpec(BaseModel):
    """A named pace-of-change policy."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["historic_cost", "immediate", "common_dft", "proportional", "deadline"]
    name: str = ""
    description: str = ""
    values: str = ""
    source: str = ""
    min_growth: YearParam | None = None
    max_growth: YearParam | None = None
    growth_basis: Literal["cash", "real", "per_head"] = "cash"
    max_below_target: YearParam | None = None
    convergence_rate: YearParam | None = None
    # kind "deadline": every ICB within +/- band [fraction of target] of target from this year on
    deadline: FinancialYear | None = None
    band: Number | None = None
    fallback: Literal["error", "relax"] = "error"

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline_year(cls, value):
        return coerce_year(value, "2028/29")

    @field_validator("band")
    @classmethod
    def _band_range(cls, value):
        if value is not None and not 0.0 <= value < 1.0:
            raise ValueError(
                f"expected a fraction of target at least 0 and below 1 (0.01 = within 1%), "
                f"found {value}"
            )
        return value

    @field_validator("min_growth", "max_growth", "max_below_target", "convergence_rate")
    @classmethod
    def _years(cls, value):
        return year_keys_valid(value)

    @field_validator("min_growth", "max_growth")
    @classmethod
    def _growth_range(cls, value):
        for v in _values(value):
            if not -0.5 < v <= 1.0:
                raise ValueError(
                    f"expected a growth rate between -0.5 and 1 (fraction per year), found {v}"
                )
        return value

    @field_validator("max_below_target", "convergence_rate")
    @classmethod
    def _fraction_range(cls, value):
        for v in _values(value):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"expected a fraction between 0 and 1, found {v}")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind == "proportional" and self.convergence_rate is None:
            raise FieldError(
                "convergence_rate",
                "required for kind 'proportional' (fraction of each gap closed per year)",
            )
        if self.kind != "proportional" and self.convergence_rate is not None:
            raise FieldError(
                "convergence_rate", f"applies only to kind 'proportional', not '{self.kind}'"
            )
        for name in ("deadline", "band"):
            if self.kind == "deadline" and getattr(self, name) is None:
                raise FieldError(
                    name,
                    "required for kind 'deadline' (the year by which every ICB is within "
                    "band of target, and the band as a fraction of target)",
                )
            if self.kind != "deadline" and getattr(self, name) is not None:
                raise FieldError(name, f"applies only to kind 'deadline', not '{self.kind}'")
        bounded = [
            k
            for k in ("min_growth", "max_growth", "max_below_target")
            if getattr(self, k) is not None
        ]
        if self.kind in ("immediate", "historic_cost") and bounded:
            raise FieldError(
                bounded[0],
                f"kind '{self.kind}' takes no floors or caps "
                "(min_growth, max_growth, max_below_target)",
            )
        if self.min_growth is not None and self.max_growth is not None:
            keys = sorted(
                {
                    parse_year(k, "policy", "year")
                    for v in (self.min_growth, self.max_growth)
                    if isinstance(v, dict)
                    for k in v
                }
                or {0}
            )
            for year in keys:
                lo = resolve_year_param(self.min_growth, year, lenient=True)
                hi = resolve_year_param(self.max_growth, year, lenient=True)
                if lo is not None and hi is not None and lo > hi:
                    raise FieldError(
                        "min_growth",
                        f"expected at most max_growth {hi}, found "
                        f"{lo}" + (f" in {year_label(year)}" if year else ""),
                    )
        return self


def _values(value) -> list[float]:
    if value is None:
        return []
    return list(value.values()) if isinstance(value, dict) else [value]


def load_policy(
    name_or_path: str | Path,
    overrides: dict | None = None,
    base: Path | None = None,
    source: str | None = None,
) -> tuple[PolicySpec, Path]:
    """Load a policy by name (``models/policy/<name>.toml``) or path, applying overrides."""
    from alloc.inputs.specs import read_toml

    path = resolve_named("policy", name_or_path, base)
    data = read_toml(path)
    data.setdefault("name", path.stem)
    data.update(overrides or {})
    return validate(PolicySpec, data, source or path), path


def kernel_arrays(
    policy: PolicySpec,
    years: list[int],
    population: np.ndarray,
    deflator_growth: float,
    source: str,
) -> dict[str, np.ndarray]:
    """Per-year kernel inputs for one policy.

    Parameters
    ----------
    policy : PolicySpec
    years : list of int
        Projection years (after the base year).
    population : ndarray (Y + 1, N)
        Population of the base year and each projection year [persons] (for per-head bounds).
    deflator_growth : float
        GDP deflator growth [fraction per year] (for real-terms bounds).
    source : str
        Name of the policy file, for error messages.

    Returns
    -------
    dict
        ``conv``, ``w_prev``, ``w_target``, ``below_target`` (1, Y) and ``floor_mult``,
        ``cap_mult`` (1, Y, N), ready for :func:`alloc.kernels.pace.glide_path`. For kind
        ``deadline`` the coefficients are NaN until :func:`alloc.allocation.deadline.common_pace`
        sets them.
    """
    n_year, n = len(years), population.shape[1]
    out = {k: np.empty((1, n_year)) for k in ("conv", "w_prev", "w_target", "below_target")}
    out["floor_mult"] = np.full((1, n_year, n), -np.inf)
    out["cap_mult"] = np.full((1, n_year, n), np.inf)
    if policy.growth_basis == "per_head":
        basis = population[1:] / population[:-1]
    elif policy.growth_basis == "real":
        basis = np.full((n_year, n), 1.0 + deflator_growth)
    else:
        basis = np.ones((n_year, n))
    for y, year in enumerate(years):
        try:
            if policy.kind == "proportional":
                c = resolve_year_param(policy.convergence_rate, year)
                coeffs = (c, 1.0 - c, c)
            elif policy.kind == "deadline":  # c is found later (alloc.allocation.deadline)
                coeffs = (np.nan, np.nan, np.nan)
            else:
                coeffs = _COEFFICIENTS[policy.kind]
            lo = resolve_year_param(policy.min_growth, year)
            hi = resolve_year_param(policy.max_growth, year)
            x = resolve_year_param(policy.max_below_target, year)
        except ValueError as exc:
            raise AllocError(source, "policy", str(exc)) from None
        if lo is not None and hi is not None and lo > hi:
            raise AllocError(
                source,
                "min_growth",
                f"min_growth {lo} is above max_growth {hi} in {year_label(year)}",
            )
        out["conv"][0, y], out["w_prev"][0, y], out["w_target"][0, y] = coeffs
        out["below_target"][0, y] = np.nan if x is None else x
        if lo is not None:
            out["floor_mult"][0, y] = (1.0 + lo) * basis[y]
        if hi is not None:
            out["cap_mult"][0, y] = (1.0 + hi) * basis[y]
    return out


def bounds(
    arrays: dict[str, np.ndarray], a_prev: np.ndarray, target: np.ndarray, y: int, b: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Floors and caps [GBP] of projection year ``y`` for scenario ``b`` (plain numpy).

    Recomputed outside the kernel so the run-time invariant check does not trust the kernel.
    """

    def pick(name):
        arr = arrays[name]
        return arr[b if arr.shape[0] > 1 else 0]

    lower = a_prev * pick("floor_mult")[y]
    upper = a_prev * pick("cap_mult")[y]
    x = pick("below_target")[y]
    if not np.isnan(x):
        lower = np.maximum(lower, target * (1.0 - x))
        upper = np.maximum(upper, lower)
    return lower, upper
