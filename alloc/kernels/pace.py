"""Pace-of-change kernels: the exact clipped-affine water-filling solve and the glide path.

Numba only: plain float64 arrays in, plain arrays out; no pandas, xarray or I/O.

Every pace-of-change policy is one choice of four per-ICB arrays (DESIGN.md section 4)::

    A_i = clip(P_i + lam * W_i, L_i, U_i),   lam chosen so that sum_i A_i = E exactly.

``sum_i A_i(lam)`` is non-decreasing and piecewise linear in ``lam`` with at most ``2N``
breakpoints, so ``lam`` is found exactly: sort the breakpoints, bisect over them to find the
segment on which the sum crosses ``E``, and solve the linear equation on that segment. There is no
iteration to a tolerance; the only error is floating-point rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Status codes written per year by the kernels (decoded in alloc.policy.STATUS_MESSAGES).
STATUS_OK = 0
STATUS_FLOORS_EXCEED_ENVELOPE = 1  # sum of floors L > envelope E: infeasible
STATUS_CAPS_BELOW_ENVELOPE = 2  # sum of caps U < envelope E: infeasible
STATUS_FLOORS_RELAXED = 3  # floors were infeasible; fallback lowered them to uniform growth
STATUS_CAPS_RELAXED = 4  # caps were infeasible; fallback raised them to uniform growth
STATUS_BAD_INPUT = 5  # L > U, W < 0, or NaN in an input
STATUS_NOT_RUN = 6  # an earlier year was infeasible, so this year was not computed

# Relative slack used only to decide feasibility when sum(L) or sum(U) equals E up to rounding.
_FEASIBILITY_SLACK = 1e-12


@njit(cache=True)
def _clip(a, lo, hi):
    if a < lo:
        return lo
    if a > hi:
        return hi
    return a


@njit(cache=True)
def _sum_at(lam, P, W, L, U):
    """Sum over ICBs of clip(P + lam*W, L, U) for a finite ``lam``."""
    s = 0.0
    for i in range(P.size):
        s += _clip(P[i] + lam * W[i], L[i], U[i])
    return s


@njit(cache=True)
def solve_clipped_affine(P, W, L, U, E, out):
    """Allocate an envelope exactly by clipped-affine water-filling.

    Solves ``A_i = clip(P_i + lam * W_i, L_i, U_i)`` with ``sum_i A_i = E`` for ``lam``.

    Parameters
    ----------
    P : ndarray, shape (N,)
        Anchor allocation per ICB [GBP].
    W : ndarray, shape (N,)
        Non-negative weight per ICB [GBP per unit lam]; ICBs with ``W_i = 0`` are held at
        ``clip(P_i, L_i, U_i)``.
    L, U : ndarray, shape (N,)
        Floor and cap per ICB [GBP]; ``-inf`` / ``+inf`` mean no bound. Requires ``L <= U``.
    E : float
        Envelope to allocate [GBP].
    out : ndarray, shape (N,)
        Receives the allocation ``A`` [GBP]. Written in every case: at the floors when the
        floors exceed ``E``, at the caps when the caps fall short of ``E``.

    Returns
    -------
    status : int
        ``STATUS_OK``, ``STATUS_FLOORS_EXCEED_ENVELOPE``, ``STATUS_CAPS_BELOW_ENVELOPE`` or
        ``STATUS_BAD_INPUT``.
    lam : float
        The solved multiplier (NaN when infeasible).
    gap : float
        Shortfall when infeasible [GBP]: ``sum(L) - E`` or ``E - sum(U)``; 0 otherwise.
    """
    n = P.size
    lowest = 0.0  # sum of A as lam -> -inf
    highest = 0.0  # sum of A as lam -> +inf
    for i in range(n):
        if not (L[i] <= U[i]) or not (W[i] >= 0.0) or P[i] != P[i]:
            for j in range(n):
                out[j] = np.nan
            return STATUS_BAD_INPUT, np.nan, 0.0
        if W[i] > 0.0:
            lowest += L[i]
            highest += U[i]
        else:
            fixed = _clip(P[i], L[i], U[i])
            lowest += fixed
            highest += fixed
    slack = _FEASIBILITY_SLACK * abs(E)
    if lowest > E + slack:
        for i in range(n):
            out[i] = L[i] if W[i] > 0.0 else _clip(P[i], L[i], U[i])
        return STATUS_FLOORS_EXCEED_ENVELOPE, np.nan, lowest - E
    if highest < E - slack:
        for i in range(n):
            out[i] = U[i] if W[i] > 0.0 else _clip(P[i], L[i], U[i])
        return STATUS_CAPS_BELOW_ENVELOPE, np.nan, E - highest

    # Finite breakpoints: where an ICB with positive weight meets its floor or its cap.
    bp = np.empty(2 * n)
    m = 0
    for i in range(n):
        if W[i] > 0.0:
            if np.isfinite(L[i]):
                bp[m] = (L[i] - P[i]) / W[i]
                m += 1
            if np.isfinite(U[i]):
                bp[m] = (U[i] - P[i]) / W[i]
                m += 1
    bp = np.sort(bp[:m])

    # Pick a probe point inside the segment on which the sum crosses E.
    if m == 0:
        probe = 0.0
    elif _sum_at(bp[0], P, W, L, U) >= E:
        probe = bp[0] - abs(bp[0]) - 1.0  # segment (-inf, bp[0]]
    elif _sum_at(bp[m - 1], P, W, L, U) < E:
        probe = bp[m - 1] + abs(bp[m - 1]) + 1.0  # segment [bp[m-1], +inf)
    else:
        lo, hi = 0, m - 1  # invariant: S(bp[lo]) < E <= S(bp[hi])
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _sum_at(bp[mid], P, W, L, U) < E:
                lo = mid
            else:
                hi = mid
        probe = 0.5 * (bp[lo] + bp[hi])

    # On that segment each ICB is either fixed (at L, U, or its W=0 value) or free (P + lam*W).
    fixed_sum = 0.0
    free_p = 0.0
    free_w = 0.0
    for i in range(n):
        if W[i] > 0.0:
            a = P[i] + probe * W[i]
            if a <= L[i]:
                fixed_sum += L[i]
            elif a >= U[i]:
                fixed_sum += U[i]
            else:
                free_p += P[i]
                free_w += W[i]
        else:
            fixed_sum += _clip(P[i], L[i], U[i])
    lam = (E - fixed_sum - free_p) / free_w if free_w > 0.0 else probe
    for i in range(n):
        if W[i] > 0.0:
            out[i] = _clip(P[i] + lam * W[i], L[i], U[i])
        else:
            out[i] = _clip(P[i], L[i], U[i])
    return STATUS_OK, lam, 0.0


@njit(cache=True)
def _pick(arr, b):
    """Row ``b`` of a per-scenario array, or row 0 when the array broadcasts over scenarios."""
    return arr[b] if arr.shape[0] > 1 else arr[0]


@njit(cache=True)
def _glide_one(A0, T, E, conv, w_prev, w_target, floor_mult, cap_mult, below_target,
               relax, A_out, lam_out, status_out, gap_out):
    n_year, n = T.shape
    P = np.empty(n)
    W = np.empty(n)
    L = np.empty(n)
    U = np.empty(n)
    a_prev = A0.copy()
    for y in range(n_year):
        prev_total = 0.0
        for i in range(n):
            prev_total += a_prev[i]
        uniform = E[y] / prev_total  # growth factor that gives every ICB the same growth
        x = below_target[y]
        for i in range(n):
            carried = a_prev[i] * uniform
            P[i] = (1.0 - conv[y]) * carried + conv[y] * T[y, i]
            W[i] = w_prev[y] * carried + w_target[y] * T[y, i]
            L[i] = a_prev[i] * floor_mult[y, i]
            U[i] = a_prev[i] * cap_mult[y, i]
            if x == x:  # "no ICB more than x below target" overrides the growth cap
                L[i] = max(L[i], T[y, i] * (1.0 - x))
                U[i] = max(U[i], L[i])
        status, lam, gap = solve_clipped_affine(P, W, L, U, E[y], A_out[y])
        if status == STATUS_FLOORS_EXCEED_ENVELOPE and relax:
            for i in range(n):
                L[i] = min(L[i], a_prev[i] * uniform)
            _, lam, _ = solve_clipped_affine(P, W, L, U, E[y], A_out[y])
            status = STATUS_FLOORS_RELAXED
        elif status == STATUS_CAPS_BELOW_ENVELOPE and relax:
            for i in range(n):
                U[i] = max(U[i], a_prev[i] * uniform)
            _, lam, _ = solve_clipped_affine(P, W, L, U, E[y], A_out[y])
            status = STATUS_CAPS_RELAXED
        status_out[y] = status
        lam_out[y] = lam
        gap_out[y] = gap
        if status != STATUS_OK and status != STATUS_FLOORS_RELAXED and status != STATUS_CAPS_RELAXED:
            for yy in range(y + 1, n_year):
                status_out[yy] = STATUS_NOT_RUN
                lam_out[yy] = np.nan
                for i in range(n):
                    A_out[yy, i] = np.nan
            return
        for i in range(n):
            a_prev[i] = A_out[y, i]


@njit(parallel=True, cache=True)
def glide_path(A0, T, E, conv, w_prev, w_target, floor_mult, cap_mult, below_target, relax,
               A_out, lam_out, status_out, gap_out):
    """Project allocations year by year for a batch of independent scenarios.

    For scenario ``b``, projection year ``y`` and ICB ``i``, with ``A_prev`` the previous year's
    allocation and ``r = E[y] / sum(A_prev)`` the uniform growth factor::

        P_i = (1 - c) * r * A_prev_i + c * T_i
        W_i = w_prev * r * A_prev_i + w_target * T_i
        L_i = max(A_prev_i * floor_mult_i, T_i * (1 - x)),   U_i = max(A_prev_i * cap_mult_i, L_i)
        A_i = clip(P_i + lam * W_i, L_i, U_i),  sum_i A_i = E[y]

    Per-scenario inputs have a leading batch axis of length ``B`` or 1 (broadcast).

    Parameters
    ----------
    A0 : ndarray (B|1, N)
        Base-year allocation [GBP].
    T : ndarray (B|1, Y, N)
        Targets [GBP]; each row sums to ``E``.
    E : ndarray (B|1, Y)
        Envelope [GBP].
    conv, w_prev, w_target : ndarray (B|1, Y)
        Policy coefficients ``c``, ``w_prev``, ``w_target`` [dimensionless].
    floor_mult, cap_mult : ndarray (B|1, Y, N)
        Floor and cap as multiples of the previous allocation [dimensionless]; ``-inf`` / ``+inf``
        for none.
    below_target : ndarray (B|1, Y)
        Largest permitted shortfall below target ``x`` [fraction]; NaN for none.
    relax : bool
        Fallback: when floors (caps) cannot be met, lower floors (raise caps) to uniform growth.
    A_out : ndarray (B, Y, N)
        Receives allocations [GBP].
    lam_out, gap_out : ndarray (B, Y)
        Receive the multiplier and, for infeasible years, the shortfall [GBP].
    status_out : ndarray (B, Y) int
        Receives a status code per year (``STATUS_*`` constants).
    """
    n_batch = A_out.shape[0]
    for b in prange(n_batch):
        _glide_one(_pick(A0, b), _pick(T, b), _pick(E, b), _pick(conv, b), _pick(w_prev, b),
                   _pick(w_target, b), _pick(floor_mult, b), _pick(cap_mult, b),
                   _pick(below_target, b), relax, A_out[b], lam_out[b], status_out[b],
                   gap_out[b])
