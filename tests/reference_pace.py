"""Slow, obvious reference implementation of the pace-of-change kernels (the test oracle).

Plain numpy and Python loops only. Deliberately shares no code with ``alloc.kernels.pace``:
the multiplier ``lam`` is found by bracketing and bisection on the monotone function

    S(lam) = sum_i clip(P_i + lam * W_i, L_i, U_i)        (ICBs with W_i = 0 held at clip(P_i, L_i, U_i))

rather than by sorting breakpoints, and the glide path is a plain double loop over scenarios and
years that builds ``P, W, L, U`` exactly as the ``glide_path`` docstring states.

Status codes are the documented contract (``alloc.allocation.policy.STATUS_MESSAGES``), restated here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

OK = 0
FLOORS_EXCEED_ENVELOPE = 1
CAPS_BELOW_ENVELOPE = 2
FLOORS_RELAXED = 3
CAPS_RELAXED = 4
BAD_INPUT = 5
NOT_RUN = 6

# Relative slack on the feasibility decision (sum of floors / caps equal to E up to rounding):
# half the envelope tolerance, as documented for the kernel (alloc.kernels.pace.ENVELOPE_RTOL).
FEASIBILITY_SLACK = 5e-14
# Bisection stops when the bracket on lam moves any allocation by less than this, relative to
# the problem's scale (or when the bracket cannot be split any further in floating point).
BISECTION_RTOL = 1e-13


@dataclass
class RefSolve:
    status: int
    A: np.ndarray  # allocation (NaN on bad input)
    lam: float  # a multiplier that reproduces A (NaN when infeasible or bad input)
    gap: float  # sum(floors) - E or E - sum(caps) when infeasible, else 0
    lowest: float  # sum of A as lam -> -inf
    highest: float  # sum of A as lam -> +inf


def _alloc(lam, P, W, L, U):
    """A(lam) = clip(P + lam W, L, U), with W = 0 ICBs held at clip(P, L, U)."""
    with np.errstate(over="ignore", invalid="ignore"):
        free = np.clip(P + lam * W, L, U)
    return np.where(W > 0, free, np.clip(P, L, U))


def _total(lam, P, W, L, U):
    """S(lam), correctly rounded (math.fsum); plain np.sum where fsum's partials overflow."""
    a = _alloc(lam, P, W, L, U)
    try:
        return math.fsum(a)
    except (OverflowError, ValueError):  # partial sums beyond the float range, or inf - inf
        return float(np.sum(a))


def problem_scale(P, W, L, U, E):
    """A magnitude for the problem's allocations: the largest finite |P|, |L|, |U|, |E|."""
    parts = [abs(float(E)), 1e-300]
    for arr in (P, L, U):
        fin = np.abs(arr[np.isfinite(arr)])
        if fin.size:
            parts.append(float(fin.max()))
    return max(parts)


def reference_solve(P, W, L, U, E, rtol=BISECTION_RTOL) -> RefSolve:
    """Solve A = clip(P + lam W, L, U), sum(A) = E by bisection on lam.

    ``rtol`` is the bisection's stopping width (see ``BISECTION_RTOL``); ``rtol=0`` bisects
    until the bracket cannot be split in floating point. The sum S(lam) is compared with E by
    ``math.fsum`` (correctly rounded), so the bracket is not misled by summation error.
    """
    P = np.asarray(P, dtype=float)
    W = np.asarray(W, dtype=float)
    L = np.asarray(L, dtype=float)
    U = np.asarray(U, dtype=float)
    E = float(E)
    n = P.size
    bad = np.any(~(L <= U)) or np.any(~(W >= 0)) or np.any(np.isnan(P))
    if bad:
        return RefSolve(BAD_INPUT, np.full(n, np.nan), np.nan, 0.0, np.nan, np.nan)

    held = np.clip(P, L, U)
    lowest = float(np.sum(np.where(W > 0, L, held)))
    highest = float(np.sum(np.where(W > 0, U, held)))
    slack = FEASIBILITY_SLACK * abs(E)
    if lowest > E + slack:
        return RefSolve(
            FLOORS_EXCEED_ENVELOPE, np.where(W > 0, L, held), np.nan, lowest - E, lowest, highest
        )
    if highest < E - slack:
        return RefSolve(
            CAPS_BELOW_ENVELOPE, np.where(W > 0, U, held), np.nan, E - highest, lowest, highest
        )

    # Bracket: S(lo) <= E <= S(hi), expanding geometrically. If S never drops to E (the floors
    # sum to E up to rounding) the far end of the bracket is already the answer, and likewise
    # for the caps.
    lo, hi = -1.0, 1.0
    for _ in range(1100):
        if _total(lo, P, W, L, U) <= E or not np.isfinite(lo):
            break
        lo *= 2.0
    for _ in range(1100):
        if _total(hi, P, W, L, U) >= E or not np.isfinite(hi):
            break
        hi *= 2.0
    lo = max(lo, -np.finfo(float).max)
    hi = min(hi, np.finfo(float).max)
    s_lo = _total(lo, P, W, L, U)
    s_hi = _total(hi, P, W, L, U)
    if s_lo >= E:  # floors (plus held ICBs) already give E
        lam = lo
    elif s_hi <= E:  # caps (plus held ICBs) just reach E
        lam = hi
    else:
        wmax = float(W.max()) if n else 0.0
        tol = rtol * problem_scale(P, W, L, U, E)
        for _ in range(5000):
            mid = 0.5 * (lo + hi)
            if not (lo < mid < hi) or (hi - lo) * wmax <= tol:
                break
            if _total(mid, P, W, L, U) < E:
                lo = mid
            else:
                hi = mid
        lam = 0.5 * (lo + hi)
    return RefSolve(OK, _alloc(lam, P, W, L, U), lam, 0.0, lowest, highest)


@dataclass
class RefGlide:
    A: np.ndarray  # (B, Y, N)
    lam: np.ndarray  # (B, Y)
    status: np.ndarray  # (B, Y) int
    gap: np.ndarray  # (B, Y); NaN for years not run
    # The per-year problems actually solved (after any relaxation); NaN where not run.
    P: np.ndarray
    W: np.ndarray
    L: np.ndarray
    U: np.ndarray
    # True where the relaxed solve itself was still infeasible (an undocumented corner).
    relax_failed: np.ndarray


def _row(arr, b):
    arr = np.asarray(arr)
    return arr[b] if arr.shape[0] > 1 else arr[0]


def reference_glide_path(
    A0, T, E, conv, w_prev, w_target, floor_mult, cap_mult, below_target, relax, n_batch=None
) -> RefGlide:
    """Year-by-year projection exactly as documented in ``alloc.kernels.pace.glide_path``.

    ``n_batch`` is the number of scenarios ``B`` (default: the largest leading axis among the
    per-scenario inputs); inputs with a leading axis of 1 broadcast.

    Relax fallback: when the floors exceed the envelope, floors become ``min(L, r * A_prev)``
    and the year is re-solved (status FLOORS_RELAXED); when the caps fall short, caps become
    ``max(U, r * A_prev)`` (status CAPS_RELAXED). The reported gap is the shortfall before
    relaxation. If the relaxed problem is itself infeasible, that year is reported with the
    relaxed solve's infeasibility status and gap, ``relax_failed`` is set, and later years are
    not run.
    """
    inputs = [A0, T, E, conv, w_prev, w_target, floor_mult, cap_mult, below_target]
    inputs = [np.asarray(a, dtype=float) for a in inputs]
    if n_batch is None:
        n_batch = max(a.shape[0] for a in inputs)
    assert all(a.shape[0] in (1, n_batch) for a in inputs)
    n_year, n = inputs[1].shape[1], inputs[1].shape[2]
    A = np.full((n_batch, n_year, n), np.nan)
    lam = np.full((n_batch, n_year), np.nan)
    status = np.full((n_batch, n_year), NOT_RUN, dtype=np.int64)
    gap = np.full((n_batch, n_year), np.nan)
    Ps, Ws, Ls, Us = (np.full((n_batch, n_year, n), np.nan) for _ in range(4))
    relax_failed = np.zeros((n_batch, n_year), dtype=bool)

    for b in range(n_batch):
        a0, t, e, c, wp, wt, fm, cm, bt = (_row(a, b) for a in inputs)
        a_prev = a0.astype(float).copy()
        for y in range(n_year):
            with np.errstate(all="ignore"):
                r = e[y] / a_prev.sum()
                carried = r * a_prev
                P = (1.0 - c[y]) * carried + c[y] * t[y]
                W = wp[y] * carried + wt[y] * t[y]
                # An infinite multiplier means "no bound", whatever the sign of A_prev.
                L = np.where(np.isinf(fm[y]), fm[y], a_prev * fm[y])
                U = np.where(np.isinf(cm[y]), cm[y], a_prev * cm[y])
                x = bt[y]
                if not np.isnan(x):
                    L = np.maximum(L, t[y] * (1.0 - x))
                    U = np.maximum(U, L)
            sol = reference_solve(P, W, L, U, e[y])
            st, g = sol.status, sol.gap
            if relax and st == FLOORS_EXCEED_ENVELOPE:
                L = np.minimum(L, carried)
                sol = reference_solve(P, W, L, U, e[y])
                st = FLOORS_RELAXED
            elif relax and st == CAPS_BELOW_ENVELOPE:
                U = np.maximum(U, carried)
                sol = reference_solve(P, W, L, U, e[y])
                st = CAPS_RELAXED
            if st in (FLOORS_RELAXED, CAPS_RELAXED) and sol.status != OK:
                relax_failed[b, y] = True
                st, g = sol.status, sol.gap
            A[b, y] = sol.A
            lam[b, y] = sol.lam
            status[b, y] = st
            gap[b, y] = g
            Ps[b, y], Ws[b, y], Ls[b, y], Us[b, y] = P, W, L, U
            if st not in (OK, FLOORS_RELAXED, CAPS_RELAXED):
                break  # later years stay NOT_RUN with NaN allocations
            a_prev = sol.A.copy()
    return RefGlide(A, lam, status, gap, Ps, Ws, Ls, Us, relax_failed)
