"""The ``deadline`` policy's pace: the smallest common convergence rate that meets the deadline.

A ``deadline`` policy is ``proportional`` (``P = (1 - c) r A_prev + c T``, ``W = P``, the same
floors and caps) with one rate ``c`` in every projection year, before, at and after the deadline.
``c`` is the smallest value in [0, 1] for which every ICB's distance from target
``|DfT| = |A - T| / T`` of its total allocation is at most ``band`` in the deadline year and in
every later year of the run. It is found by bisection on the real glide-path solve (the caller
passes :func:`alloc.allocation.engine.solve_glide_paths`), to :data:`RATE_TOL`, and the upper end
of the final bracket (a rate that meets the band) is returned.

The bisection assumes that a faster pace never moves an ICB further from target in those years;
that holds exactly when no floor or cap binds (every gap shrinks by ``1 - c`` a year) and is the
point of floors and caps otherwise. The minimality of the answer is checked in
``tests/test_deadline_policy.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from alloc.allocation.policy import PolicySpec, bounds
from alloc.errors import AllocError
from alloc.inputs.years import year_label
from alloc.kernels import pace

RATE_TOL = 1e-6  # width of the final bracket on c [fraction of the gap per year]
BAND_SLACK = 1e-12  # |DfT| <= band + BAND_SLACK: floating-point rounding only [fraction]
_MAX_LISTED = 5  # ICBs named in the infeasibility message

# solve(arrays) -> (allocation (B, Y, N) [GBP], status (B, Y)) for the given policy arrays
Solve = Callable[[dict], tuple[np.ndarray, np.ndarray]]


def at_rate(arrays: dict, c: float) -> dict:
    """A copy of the kernel arrays with the proportional coefficients of rate ``c`` every year."""
    out = dict(arrays)
    conv = np.full_like(arrays["conv"], c)
    out["conv"], out["w_prev"], out["w_target"] = conv, 1.0 - conv, conv.copy()
    return out


def total_dft(alloc: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Distance from target of ICB totals (Y, N) [fraction] from per-unit ``alloc``, ``targets``.

    A year the kernel did not compute (NaN allocation) counts as infinitely far from target.
    """
    a, t = alloc.sum(axis=0), targets.sum(axis=0)
    return np.where(np.isfinite(a), (a - t) / t, np.inf)


def meets_band(dft: np.ndarray, status: np.ndarray, first: int, band: float) -> bool:
    """Every ICB within ``band`` of target from projection year ``first`` on, every year solved."""
    infeasible = (status == pace.STATUS_FLOORS_EXCEED_ENVELOPE) | (
        status == pace.STATUS_CAPS_BELOW_ENVELOPE
    )
    return not infeasible.any() and bool((np.abs(dft[first:]) <= band + BAND_SLACK).all())


def smallest_common_pace(
    solve: Solve, arrays: dict, targets: np.ndarray, first: int, band: float, tol: float = RATE_TOL
) -> tuple[float, bool]:
    """Smallest rate ``c`` in [0, 1] whose glide path meets the band from year ``first`` on.

    Parameters
    ----------
    solve : callable
        ``solve(arrays) -> (allocation (B, Y, N), status (B, Y))``, the glide path for the given
        policy arrays.
    arrays : dict
        Kernel policy arrays (floors, caps); their coefficients are replaced by :func:`at_rate`.
    targets : ndarray (B, Y, N)
        Targets [GBP] of each unit, summed over ``B`` into ICB totals.
    first : int
        Projection-year index of the deadline.
    band : float
        Largest permitted ``|DfT|`` [fraction of target].
    tol : float
        Width of the final bracket on ``c``.

    Returns
    -------
    (float, bool)
        The rate, and whether it meets the band. ``(1.0, False)`` when even ``c = 1`` does not
        (floors or caps bind); ``(0.0, True)`` when no convergence is needed.
    """

    def meets(c: float) -> bool:
        alloc, status = solve(at_rate(arrays, c))
        return meets_band(total_dft(alloc, targets), status, first, band)

    if not meets(1.0):
        return 1.0, False
    if meets(0.0):
        return 0.0, True
    lo, hi = 0.0, 1.0  # meets(lo) is False, meets(hi) is True
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if meets(mid):
            hi = mid
        else:
            lo = mid
    return hi, True


def common_pace(prep, solve_glide_paths) -> tuple[float, dict]:
    """The rate and the resolved kernel arrays of a prepared ``deadline`` scenario.

    ``prep`` is an :class:`alloc.allocation.engine.Prepared`; ``solve_glide_paths`` the engine's
    solve (passed in, so this module does not import the engine). Raises AllocError when the
    deadline is outside the run's years, or when even ``c = 1`` leaves an ICB outside the band.
    """
    policy: PolicySpec = prep.policy
    base_year, end_year = prep.years[0], prep.years[-1]
    if not base_year < policy.deadline <= end_year:
        raise AllocError(
            prep.policy_source,
            "deadline",
            f"expected a year after the base year {year_label(base_year)} and at most the end "
            f"year {year_label(end_year)}, found {year_label(policy.deadline)}",
        )
    first = policy.deadline - base_year - 1
    relax = policy.fallback == "relax"

    def solve(arrays):
        alloc, _, status, _ = solve_glide_paths(
            prep.kernel_base,
            prep.kernel_targets,
            prep.kernel_envelopes,
            arrays,
            relax,
            prep.base_adjust,
        )
        return alloc, status

    c, met = smallest_common_pace(
        solve, prep.policy_arrays, prep.kernel_targets, first, policy.band
    )
    arrays = at_rate(prep.policy_arrays, c)
    if not met:
        alloc, status = solve(arrays)
        infeasible = (status == pace.STATUS_FLOORS_EXCEED_ENVELOPE) | (
            status == pace.STATUS_CAPS_BELOW_ENVELOPE
        )
        if not infeasible.any():  # else the engine reports the infeasible year and shortfall
            _raise_band_unmet(prep, arrays, alloc, status, first)
    return c, arrays


def _raise_band_unmet(prep, arrays, alloc, status, first) -> None:
    """Name the first year from the deadline with ICBs outside the band, by how much, and why."""
    policy: PolicySpec = prep.policy
    band = policy.band
    dft = total_dft(alloc, prep.kernel_targets)
    outside = np.abs(dft) > band + BAND_SLACK
    y = first + int(np.argmax(outside[first:].any(axis=1)))
    icbs = prep.inputs["icb"].values
    names = prep.inputs["icb_name"].values
    order = [i for i in np.argsort(-np.abs(dft[y])) if outside[y, i]]
    listed = [
        f"{icbs[i]} {names[i]} {100 * dft[y, i]:+.2f}% "
        f"({100 * (abs(dft[y, i]) - band):.2f} points "
        f"{'above' if dft[y, i] > 0 else 'below'} the band)"
        for i in order[:_MAX_LISTED]
    ]
    more = f" and {len(order) - _MAX_LISTED} more" if len(order) > _MAX_LISTED else ""
    floors, caps = _binding(prep, arrays, alloc, status, y)
    parts = []
    if floors or not caps:
        fields = [n for n in ("min_growth", "max_below_target") if getattr(policy, n) is not None]
        parts.append(f"the floor {' / '.join(fields) or 'min_growth'}")
    if caps:
        parts.append("the cap max_growth")
    which = " and ".join(parts)
    which = which[0].upper() + which[1:]
    verb = "are the binding bounds" if len(parts) > 1 else "is the binding bound"
    stays = "ICB stays" if len(order) == 1 else "ICBs stay"
    advice = ["lower the floor"] if floors or not caps else []
    advice += ["raise the cap"] if caps else []
    raise AllocError(
        prep.source,
        "policy.band",
        f"policy infeasible in {year_label(prep.years[y + 1])}: even closing every gap in full "
        f"each year (convergence rate 1), {len(order)} {stays} outside the band of "
        f"±{100 * band:g}% around target required from the deadline "
        f"{year_label(policy.deadline)}: {'; '.join(listed)}{more}. {which} ("
        f"{policy.growth_basis} growth, set in {prep.policy_source}) {verb}: "
        f"{', '.join(advice)}, widen the band or set a later deadline",
    )


def _binding(prep, arrays, alloc, status, last) -> tuple[bool, bool]:
    """Whether any floor / any cap binds in projection years up to ``last`` (relaxed included)."""
    floors = caps = False
    base_adjust = prep.base_adjust
    for b in range(alloc.shape[0]):
        prev = prep.kernel_base[b]
        for y in range(last + 1):
            if base_adjust is not None:
                prev = prev - base_adjust[b, y]
            lower, upper = bounds(arrays, prev, prep.kernel_targets[b, y], y, b)
            uniform = prev * prep.kernel_envelopes[b, y] / prev.sum()
            if status[b, y] == pace.STATUS_FLOORS_RELAXED:
                lower = np.minimum(lower, uniform)
            if status[b, y] == pace.STATUS_CAPS_RELAXED:
                upper = np.maximum(upper, uniform)
            scale = 1e-9 * prep.kernel_envelopes[b, y]
            floors |= bool((np.isfinite(lower) & (alloc[b, y] <= lower + scale)).any())
            caps |= bool((np.isfinite(upper) & (alloc[b, y] >= upper - scale)).any())
            prev = alloc[b, y]
    return floors, caps
