"""Pace-of-change kernels: the exact clipped-affine water-filling solve and the glide path.

Numba only: plain float64 arrays in, plain arrays out; no pandas, xarray or I/O.

Every pace-of-change policy is one choice of four per-ICB arrays (DESIGN.md section 4)::

    A_i = clip(P_i + lam * W_i, L_i, U_i),   lam chosen so that sum_i A_i = E exactly.

``sum_i A_i(lam)`` is non-decreasing and piecewise linear in ``lam`` with at most ``2N``
breakpoints, so ``lam`` is found exactly: bisect over the breakpoints (by in-place selection,
which needs no sort and no allocation) to find the segment on which the sum crosses ``E``, and
solve the linear equation on that segment. There is no iteration to a tolerance; the only error
is floating-point rounding. The glide path allocates its scratch once per parallel task, never per
solve.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Status codes written per year by the kernels (decoded in alloc.allocation.policy.STATUS_MESSAGES).
STATUS_OK = 0
STATUS_FLOORS_EXCEED_ENVELOPE = 1  # sum of floors L > envelope E: infeasible
STATUS_CAPS_BELOW_ENVELOPE = 2  # sum of caps U < envelope E: infeasible
STATUS_FLOORS_RELAXED = 3  # floors were infeasible; fallback lowered them to uniform growth
STATUS_CAPS_RELAXED = 4  # caps were infeasible; fallback raised them to uniform growth
STATUS_BAD_INPUT = 5  # L > U, W < 0, or NaN in an input
STATUS_NOT_RUN = 6  # an earlier year was infeasible, so this year was not computed

# The one tolerance on sum(A) = E, relative to |E| (about 450 ulps): `alloc run`'s check
# (alloc.allocation.engine), the ensembles' check (alloc.kernels.checks) and the tests use it.
# The solve is exact up to rounding, so this is a rounding bound, not a setting: naive sums of N
# terms bound the solve's error plus the checker's own sum by about 3 N ulps (fits N <= 150).
# Measured worst |sum(A) - E| / |E|: 3.3 ulps on 42 ICBs x 10 years x 20,000 scenarios
# (benchmarks/bench_pace.py inputs), 2.2 ulps over the shipped scenarios, 27 ulps (6.0e-15) over
# 20,000 hypothesis problems with P and W spanning 1e-3 .. 1e12 (tests/test_pace_kernel.py,
# wide_range_problems; worst where a free ICB's P is 65 x its allocation, so P + lam W cancels).
# Before issue 13 item 6 was fixed, such problems missed E by up to 4.4e-4 with status OK.
ENVELOPE_RTOL = 1e-13

# Relative slack used only to decide feasibility when sum(L) or sum(U) equals E up to rounding.
# Below ENVELOPE_RTOL, so a year declared feasible at its floors (or caps) still passes the check.
_FEASIBILITY_SLACK = 0.5 * ENVELOPE_RTOL


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
def _select(a, lo, hi, k):
    """Quickselect: reorder ``a[lo:hi]`` in place so ``a[k]`` is its k-th smallest; return it.

    Afterwards ``a[lo:k] <= a[k] <= a[k+1:hi]``. No allocation.
    """
    hi -= 1
    while hi > lo:
        mid = (lo + hi) // 2
        # Median of three as the pivot value.
        x, y, z = a[lo], a[mid], a[hi]
        if x > y:
            x, y = y, x
        if y > z:
            y = z
            if x > y:
                y = x
        pivot = y
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return a[k]


_NEWTON_STEPS = 8  # active-set steps tried from the warm start before the selection search


@njit(cache=True)
def _active_set_newton(P, W, L, U, E, out, state, lam):
    """Warm-started active-set iteration; returns (converged, lam) and fills ``out`` if converged.

    At ``lam`` each ICB is free (``L < P + lam W < U``), at its floor, at its cap, or held
    (``W = 0``). Solving ``sum A = E`` with that active set gives the next ``lam``; when the
    active set at the new ``lam`` is the one that produced it, ``lam`` is the exact solution (the
    same linear equation on the same segment as the breakpoint search). Guarded by a bracket and a
    step limit; the caller falls back to the breakpoint search when this does not converge.
    """
    n = P.size
    lo = -np.inf
    hi = np.inf
    for step in range(_NEWTON_STEPS):
        fixed = 0.0
        free_p = 0.0
        free_w = 0.0
        same = step > 0
        for i in range(n):
            if W[i] > 0.0:
                a = P[i] + lam * W[i]
                if a <= L[i]:
                    st = -1.0
                    a = L[i]
                    fixed += a
                elif a >= U[i]:
                    st = 1.0
                    a = U[i]
                    fixed += a
                else:
                    st = 0.0
                    free_p += P[i]
                    free_w += W[i]
            else:
                st = 2.0
                a = _clip(P[i], L[i], U[i])
                fixed += a
            out[i] = a
            if state[i] != st:
                same = False
            state[i] = st
        if same:
            return True, lam
        total = fixed + free_p + lam * free_w
        if total == E:
            return True, lam
        if free_w == 0.0:
            return False, lam  # flat here: no step to take
        if total < E:
            lo = lam
        else:
            hi = lam
        lam = (E - fixed - free_p) / free_w
        if not (lo < lam < hi):
            return False, lam
    return False, lam


@njit(cache=True)
def solve_into(P, W, L, U, E, out, scratch, lam0=np.nan):
    """:func:`solve_clipped_affine` with caller-provided scratch of length ``>= 2N`` (no allocation).

    With a finite ``lam0`` (e.g. last year's multiplier) a warm-started active-set iteration is
    tried first; it ends on the same exact linear solve, or falls back to the breakpoint search.
    """
    n = P.size
    if not np.isfinite(E):
        for j in range(n):
            out[j] = np.nan
        return STATUS_BAD_INPUT, np.nan, 0.0
    lowest = 0.0  # sum of A as lam -> -inf
    highest = 0.0  # sum of A as lam -> +inf
    for i in range(n):
        if (
            not (L[i] <= U[i])
            or not (W[i] >= 0.0)
            or not np.isfinite(P[i])
            or not np.isfinite(W[i])
        ):
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

    if np.isfinite(lam0):
        converged, lam = _active_set_newton(P, W, L, U, E, out, scratch[n:], lam0)
        if converged:
            return STATUS_OK, lam, 0.0

    # Finite breakpoints: where an ICB with positive weight meets its floor or its cap.
    m = 0
    for i in range(n):
        if W[i] > 0.0:
            if np.isfinite(L[i]):
                scratch[m] = (L[i] - P[i]) / W[i]
                m += 1
            if np.isfinite(U[i]):
                scratch[m] = (U[i] - P[i]) / W[i]
                m += 1

    # Bisect over the breakpoints by selection (no sort): keep (lam_lo, lam_hi), with
    # S(lam_lo) < E < S(lam_hi) and no unvisited breakpoint outside scratch[lo:hi].
    lam_lo = -np.inf
    lam_hi = np.inf
    lo, hi = 0, m
    while lo < hi:
        k = (lo + hi) // 2
        pivot = _select(scratch, lo, hi, k)
        s = _sum_at(pivot, P, W, L, U)
        if s < E:
            lam_lo = pivot
            lo = k + 1
        elif s > E:
            lam_hi = pivot
            hi = k
        else:  # the envelope is met exactly at a breakpoint
            for i in range(n):
                out[i] = _clip(P[i] + pivot * W[i], L[i], U[i])
            return STATUS_OK, pivot, 0.0

    # No breakpoint lies strictly between lam_lo and lam_hi, so S is linear there.
    if np.isfinite(lam_lo) and np.isfinite(lam_hi):
        probe = 0.5 * (lam_lo + lam_hi)
    elif np.isfinite(lam_hi):
        probe = lam_hi - abs(lam_hi) - 1.0
    elif np.isfinite(lam_lo):
        probe = lam_lo + abs(lam_lo) + 1.0
    else:
        probe = 0.0

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
    # The linear solve holds only on [lam_lo, lam_hi]. When a free ICB is tiny beside the fixed
    # ones, E - fixed_sum - free_p cancels and rounding can put lam outside the segment, which
    # would unclip ICBs the solve counted at a bound (sum(A) then misses E by far more than
    # rounding). Clamp lam to the segment and fix each ICB by the segment's own classification.
    if lam < lam_lo:
        lam = lam_lo
    elif lam > lam_hi:
        lam = lam_hi
    for i in range(n):
        if W[i] > 0.0:
            a = P[i] + probe * W[i]
            if a <= L[i]:
                out[i] = L[i]
            elif a >= U[i]:
                out[i] = U[i]
            else:
                out[i] = _clip(P[i] + lam * W[i], L[i], U[i])
        else:
            out[i] = _clip(P[i], L[i], U[i])
    return STATUS_OK, lam, 0.0


@njit(cache=True)
def solve_clipped_affine(P, W, L, U, E, out):
    """Allocate an envelope exactly by clipped-affine water-filling.

    Solves ``A_i = clip(P_i + lam * W_i, L_i, U_i)`` with ``sum_i A_i = E`` for ``lam``: the
    breakpoints ``(L_i - P_i) / W_i`` and ``(U_i - P_i) / W_i`` are bisected by in-place
    selection (expected O(N) work plus O(log N) evaluations of the sum), then the linear equation
    on the crossing segment is solved directly.

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
        floors exceed ``E``, at the caps when the caps fall short of ``E``, NaN on bad input.

    Returns
    -------
    status : int
        ``STATUS_OK``, ``STATUS_FLOORS_EXCEED_ENVELOPE``, ``STATUS_CAPS_BELOW_ENVELOPE`` or
        ``STATUS_BAD_INPUT`` (``L > U``, ``W < 0``, non-finite ``P``, ``W`` or ``E``, NaN bound).
    lam : float
        The solved multiplier (NaN when infeasible).
    gap : float
        Shortfall when infeasible [GBP]: ``sum(L) - E`` or ``E - sum(U)``; 0 otherwise.
    """
    return solve_into(P, W, L, U, E, out, np.empty(2 * P.size))


@njit(cache=True)
def _pick(arr, b):
    """Row ``b`` of a per-scenario array, or row 0 when the array broadcasts over scenarios."""
    return arr[b] if arr.shape[0] > 1 else arr[0]


@njit(cache=True)
def _bound(a_prev, mult):
    """``a_prev * mult``, where an infinite multiplier means no bound whatever ``a_prev`` is."""
    if np.isinf(mult):
        return mult
    return a_prev * mult


@njit(cache=True)
def _bounds_into(out, a_prev, mult):
    """``out = a_prev * mult`` per ICB (see :func:`_bound`); ``mult`` has length N or 1.

    A length-1 ``mult`` (the same bound for every ICB) is read once, outside the loop, so both
    loops stay simple enough for the compiler to vectorise.
    """
    if mult.size == 1:
        m = mult[0]
        for i in range(out.size):
            out[i] = _bound(a_prev[i], m)
    else:
        for i in range(out.size):
            out[i] = _bound(a_prev[i], mult[i])


@njit(cache=True)
def _glide_one(
    A0,
    T,
    E,
    conv,
    w_prev,
    w_target,
    floor_mult,
    cap_mult,
    below_target,
    relax,
    A_out,
    lam_out,
    status_out,
    gap_out,
    P,
    W,
    L,
    U,
    a_prev,
    scratch,
):
    n_year, n = T.shape
    for i in range(n):
        a_prev[i] = A0[i]
    warm = 0.0  # warm start for the multiplier: last year's value
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
        _bounds_into(L, a_prev, floor_mult[y if floor_mult.shape[0] > 1 else 0])
        _bounds_into(U, a_prev, cap_mult[y if cap_mult.shape[0] > 1 else 0])
        if x == x:  # "no ICB more than x below target" overrides the growth cap
            for i in range(n):
                L[i] = max(L[i], T[y, i] * (1.0 - x))
                U[i] = max(U[i], L[i])
        status, lam, gap = solve_into(P, W, L, U, E[y], A_out[y], scratch, warm)
        if relax and (
            status == STATUS_FLOORS_EXCEED_ENVELOPE or status == STATUS_CAPS_BELOW_ENVELOPE
        ):
            floors = status == STATUS_FLOORS_EXCEED_ENVELOPE
            for i in range(n):
                if floors:
                    L[i] = min(L[i], a_prev[i] * uniform)
                else:
                    U[i] = max(U[i], a_prev[i] * uniform)
            status2, lam, gap2 = solve_into(P, W, L, U, E[y], A_out[y], scratch)
            if status2 == STATUS_OK:
                status = STATUS_FLOORS_RELAXED if floors else STATUS_CAPS_RELAXED
            else:  # still infeasible (possible with zero-weight ICBs): report the relaxed verdict
                status, gap = status2, gap2
        status_out[y] = status
        lam_out[y] = lam
        gap_out[y] = gap
        if (
            status != STATUS_OK
            and status != STATUS_FLOORS_RELAXED
            and status != STATUS_CAPS_RELAXED
        ):
            lam_out[y] = np.nan
            for yy in range(y + 1, n_year):
                status_out[yy] = STATUS_NOT_RUN
                lam_out[yy] = np.nan
                gap_out[yy] = np.nan
                for i in range(n):
                    A_out[yy, i] = np.nan
            return
        if np.isfinite(lam):
            warm = lam
        for i in range(n):
            a_prev[i] = A_out[y, i]


_CHUNK = 64  # scenarios per parallel task; scratch is allocated once per task, not per solve


@njit(parallel=True, cache=True, nogil=True)
def glide_path(
    A0,
    T,
    E,
    conv,
    w_prev,
    w_target,
    floor_mult,
    cap_mult,
    below_target,
    relax,
    A_out,
    lam_out,
    status_out,
    gap_out,
):
    """Project allocations year by year for a batch of independent scenarios.

    For scenario ``b``, projection year ``y`` and ICB ``i``, with ``A_prev`` the previous year's
    allocation and ``r = E[y] / sum(A_prev)`` the uniform growth factor::

        P_i = (1 - c) * r * A_prev_i + c * T_i
        W_i = w_prev * r * A_prev_i + w_target * T_i
        L_i = max(A_prev_i * floor_mult_i, T_i * (1 - x)),   U_i = max(A_prev_i * cap_mult_i, L_i)
        A_i = clip(P_i + lam * W_i, L_i, U_i),  sum_i A_i = E[y]

    Per-scenario inputs have a leading batch axis of length ``B`` or 1 (broadcast); floors and
    caps may also broadcast over years and ICBs.

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
    floor_mult, cap_mult : ndarray (B|1, Y|1, N|1)
        Floor and cap as multiples of the previous allocation [dimensionless]; ``-inf`` / ``+inf``
        for none (whatever the sign of the previous allocation). A length-1 axis broadcasts, so a
        bound that does not vary by scenario, year or ICB is passed once, never materialised.
    below_target : ndarray (B|1, Y)
        Largest permitted shortfall below target ``x`` [fraction]; NaN for none.
    relax : bool
        Fallback: when floors (caps) cannot be met, lower floors (raise caps) to uniform growth
        and re-solve; if even that is infeasible the year reports the relaxed solve's status and
        gap. After an infeasible year the later years are ``STATUS_NOT_RUN`` with NaN.
    A_out : ndarray (B, Y, N)
        Receives allocations [GBP].
    lam_out, gap_out : ndarray (B, Y)
        Receive the multiplier and, for infeasible years, the shortfall [GBP].
    status_out : ndarray (B, Y) int
        Receives a status code per year (``STATUS_*`` constants).
    """
    n_batch, _, n = A_out.shape
    n_chunks = (n_batch + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        P = np.empty(n)
        W = np.empty(n)
        L = np.empty(n)
        U = np.empty(n)
        a_prev = np.empty(n)
        scratch = np.empty(2 * n)
        for b in range(c * _CHUNK, min((c + 1) * _CHUNK, n_batch)):
            _glide_one(
                _pick(A0, b),
                _pick(T, b),
                _pick(E, b),
                _pick(conv, b),
                _pick(w_prev, b),
                _pick(w_target, b),
                _pick(floor_mult, b),
                _pick(cap_mult, b),
                _pick(below_target, b),
                relax,
                A_out[b],
                lam_out[b],
                status_out[b],
                gap_out[b],
                P,
                W,
                L,
                U,
                a_prev,
                scratch,
            )
