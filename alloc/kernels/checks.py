"""Run-time invariant checks on glide-path output (numba; plain arrays only).

Written apart from :mod:`alloc.kernels.pace` and from first principles, so a result is not
checked by the code that produced it: every row must respect the floors and caps the policy
implies (after the documented relax fallback), sum to its envelope, and hold no NaN or negative
money.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from alloc.kernels.pace import ENVELOPE_RTOL, STATUS_CAPS_RELAXED, STATUS_FLOORS_RELAXED


@njit(cache=True)
def _row(arr, b):
    return arr[b] if arr.shape[0] > 1 else arr[0]


def count_violations(
    alloc, A0, T, E, floor_mult, cap_mult, below_target, base_adjust, status, rtol
):
    """Number of (row, year) cells that break an invariant.

    Parameters follow :func:`alloc.kernels.pace.glide_path` (per-row inputs may broadcast with a
    leading axis of 1, and ``floor_mult`` and ``cap_mult`` (R|1, Y|1, N|1) over years and ICBs
    too); ``alloc`` (R, Y, N) [GBP] and ``status`` (R, Y) are its outputs.
    ``base_adjust`` (R|1, Y, N) [GBP] is what each year's allocation base lost before the solve
    (savings rebased; zeros for none): year ``t``'s bounds start from ``A[t-1] - base_adjust[t]``.
    A cell breaks an invariant when an allocation is NaN or negative, is below its floor or above
    its cap by more than ``rtol`` x envelope, or the row's allocations miss the envelope by more
    than :data:`alloc.kernels.pace.ENVELOPE_RTOL` x envelope (the one envelope tolerance, also
    used by ``alloc run``; a rounding-level bound, not a setting).
    """
    # The tolerance is passed in, not read as a global inside the jitted loop: numba's on-disk
    # cache would keep a global from another module at the value it was compiled with.
    return _count_violations(
        alloc,
        A0,
        T,
        E,
        floor_mult,
        cap_mult,
        below_target,
        base_adjust,
        status,
        rtol,
        ENVELOPE_RTOL,
    )


@njit(parallel=True, cache=True, nogil=True)
def _count_violations(
    alloc, A0, T, E, floor_mult, cap_mult, below_target, base_adjust, status, rtol, env_rtol
):
    n_rows, n_year, n = alloc.shape
    bad = np.zeros(n_rows, dtype=np.int64)
    for r in prange(n_rows):
        a0 = _row(A0, r)
        t = _row(T, r)
        e = _row(E, r)
        fm = _row(floor_mult, r)
        cm = _row(cap_mult, r)
        x = _row(below_target, r)
        adj = _row(base_adjust, r)
        fy = 1 if fm.shape[0] > 1 else 0  # a length-1 axis broadcasts
        fi = 1 if fm.shape[1] > 1 else 0
        cy = 1 if cm.shape[0] > 1 else 0
        ci = 1 if cm.shape[1] > 1 else 0
        for y in range(n_year):
            prev = alloc[r, y - 1] if y > 0 else a0
            st = status[r, y]
            floors_relaxed = st == STATUS_FLOORS_RELAXED
            caps_relaxed = st == STATUS_CAPS_RELAXED
            # Uniform growth (the relaxed bound) only where the year was relaxed: the division
            # it needs per ICB would otherwise cost as much as the rest of the check.
            prev_total = 0.0
            if floors_relaxed or caps_relaxed:
                for i in range(n):
                    prev_total += prev[i] - adj[y, i]
            total = 0.0
            for i in range(n):
                total += alloc[r, y, i]
            ey = e[y]
            tol = rtol * ey
            xy = x[y]
            has_x = xy == xy
            fy_row = fm[y * fy]
            cy_row = cm[y * cy]
            broken = abs(total - ey) > env_rtol * abs(ey) or not np.isfinite(total)
            for i in range(n):
                p = prev[i] - adj[y, i]
                a = alloc[r, y, i]
                f = fy_row[i * fi]
                c = cy_row[i * ci]
                lower = f if np.isinf(f) else p * f
                upper = c if np.isinf(c) else p * c
                if has_x:
                    lower = max(lower, t[y, i] * (1.0 - xy))
                    upper = max(upper, lower)
                if floors_relaxed:
                    lower = min(lower, p * ey / prev_total)
                if caps_relaxed:
                    upper = max(upper, p * ey / prev_total)
                if not (a >= 0.0) or a < lower - tol or a > upper + tol:
                    broken = True
            if broken:
                bad[r] += 1
    return bad.sum()
