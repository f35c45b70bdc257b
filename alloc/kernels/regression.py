"""Streaming weighted-least-squares accumulators for need models.

Numba only: plain float64 / int64 arrays in, arrays updated in place; no pandas, xarray or I/O.

A weighted least-squares fit ``min_b sum_i w_i (y_i - x_i'b)^2`` needs only small sums over the
records, so records can be streamed chunk by chunk and the sums added (alloc.targets.estimate):

    pass 1:  A   = sum_i w_i x_i x_i'          (p x p)      b_hat = A^-1 c
             c   = sum_i w_i x_i y_i           (p)
             S_g = sum_{i in g} q_i x_i        (G x p)      group sums for need indices
    pass 2:  M   = sum_i w_i^2 e_i^2 x_i x_i'  (p x p)      HC1 "meat", e_i = y_i - x_i'b_hat
             RSS = sum_i w_i e_i^2,  TSS = sum_i w_i (y_i - ybar)^2

Rows are summed in fixed blocks of :data:`BLOCK` records whose partial sums are then added in
block order, so the result does not depend on the number of threads (``prange``) and is the same
with ``NUMBA_DISABLE_JIT=1``.

Two forms of each sum: the dense kernels read a full design matrix row by row (the reference;
``benchmarks/bench_estimate.py`` compares against them), and the ``*_slots`` kernels, which the
estimator runs, read only each row's non-zero entries and give bit-identical sums (see the
comment above them).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCK = 8192  # rows per partial sum [records]


@njit(cache=True)
def _block_normal(X, y, w, start, stop, xtwx, xtwy, tot):
    """Add rows [start, stop) to the upper triangle of X'WX, to X'Wy and to (sum w, n)."""
    p = X.shape[1]
    for i in range(start, stop):
        wi = w[i]
        yi = y[i]
        for a in range(p):
            xa = wi * X[i, a]
            xtwy[a] += xa * yi
            for b in range(a, p):
                xtwx[a, b] += xa * X[i, b]
        tot[0] += wi
        tot[1] += 1.0


@njit(parallel=True, cache=True)
def accumulate_normal_equations(X, y, w, xtwx, xtwy, tot):
    """Add a chunk's weighted normal equations to running sums, in place.

    Implements ``A += sum_i w_i x_i x_i'`` (upper triangle only), ``c += sum_i w_i x_i y_i`` and
    ``tot += (sum_i w_i, n)``.

    Parameters
    ----------
    X : ndarray, shape (n, p), float64, C order
        Design rows [units of each regressor].
    y : ndarray, shape (n,)
        Outcome, e.g. cost [GBP per person-year].
    w : ndarray, shape (n,)
        Non-negative regression weights [1].
    xtwx : ndarray, shape (p, p)
        Running ``X'WX``; only the upper triangle (``a <= b``) is updated.
    xtwy : ndarray, shape (p,)
        Running ``X'Wy``.
    tot : ndarray, shape (2,)
        Running ``(sum w, number of records)``.
    """
    n, p = X.shape
    nblocks = (n + BLOCK - 1) // BLOCK
    part_a = np.zeros((nblocks, p, p))
    part_c = np.zeros((nblocks, p))
    part_t = np.zeros((nblocks, 2))
    for k in prange(nblocks):
        start = k * BLOCK
        stop = min(n, start + BLOCK)
        _block_normal(X, y, w, start, stop, part_a[k], part_c[k], part_t[k])
    for k in range(nblocks):
        for a in range(p):
            xtwy[a] += part_c[k, a]
            for b in range(a, p):
                xtwx[a, b] += part_a[k, a, b]
        tot[0] += part_t[k, 0]
        tot[1] += part_t[k, 1]


@njit(cache=True)
def _block_residual(X, y, w, beta, ybar, start, stop, meat, out):
    p = X.shape[1]
    for i in range(start, stop):
        fit = 0.0
        for a in range(p):
            fit += X[i, a] * beta[a]
        e = y[i] - fit
        we = w[i] * e
        out[0] += we * e
        d = y[i] - ybar
        out[1] += w[i] * d * d
        we2 = we * we
        for a in range(p):
            xa = we2 * X[i, a]
            for b in range(a, p):
                meat[a, b] += xa * X[i, b]


@njit(parallel=True, cache=True)
def accumulate_residual_moments(X, y, w, beta, ybar, meat, out):
    """Add a chunk's residual moments for standard errors and R^2, in place.

    With ``e_i = y_i - x_i'beta``: ``meat += sum_i w_i^2 e_i^2 x_i x_i'`` (upper triangle),
    ``out[0] += sum_i w_i e_i^2`` (RSS) and ``out[1] += sum_i w_i (y_i - ybar)^2`` (TSS).

    Parameters
    ----------
    X, y, w : ndarray
        As in :func:`accumulate_normal_equations`.
    beta : ndarray, shape (p,)
        Fitted coefficients from pass 1.
    ybar : float
        Weighted mean outcome ``sum w y / sum w`` [units of y].
    meat : ndarray, shape (p, p)
        Running HC "meat" matrix.
    out : ndarray, shape (2,)
        Running (RSS, TSS) [units of y squared].
    """
    n, p = X.shape
    nblocks = (n + BLOCK - 1) // BLOCK
    part_m = np.zeros((nblocks, p, p))
    part_o = np.zeros((nblocks, 2))
    for k in prange(nblocks):
        start = k * BLOCK
        stop = min(n, start + BLOCK)
        _block_residual(X, y, w, beta, ybar, start, stop, part_m[k], part_o[k])
    for k in range(nblocks):
        for a in range(p):
            for b in range(a, p):
                meat[a, b] += part_m[k, a, b]
        out[0] += part_o[k, 0]
        out[1] += part_o[k, 1]


@njit(cache=True)
def accumulate_group_sums(X, y, q, codes, sx, sy, sq):
    """Add a chunk's population-weighted sums per group, in place.

    ``sx[g] += sum_{i in g} q_i x_i``, ``sy[g] += sum_{i in g} q_i y_i``, ``sq[g] += sum_{i in g}
    q_i``: enough to give every group's mean predicted cost for any coefficient vector, since a
    linear prediction's group sum is ``sx[g] @ beta``.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Design rows.
    y : ndarray, shape (n,)
        Outcome [units of y].
    q : ndarray, shape (n,)
        Population each record stands for [persons] (1 for person-level records).
    codes : ndarray, shape (n,), int64
        Group of each record, ``0 <= code < G``.
    sx : ndarray, shape (G, p); sy, sq : ndarray, shape (G,)
        Running sums.
    """
    n, p = X.shape
    for i in range(n):
        g = codes[i]
        qi = q[i]
        for a in range(p):
            sx[g, a] += qi * X[i, a]
        sy[g] += qi * y[i]
        sq[g] += qi


# --- slot (sparse-row) kernels: what the estimator runs -------------------------------------------
#
# A need model's design row is mostly zeros: a categorical column of L levels contributes L - 1
# indicators of which at most one is 1, and 0/1 markers are usually 0. The estimator therefore
# passes each row as ``m`` *slots* (one per model column, plus the intercept): ``cols[s, i]`` the
# design column of slot ``s`` in record ``i`` (-1 when empty, e.g. a categorical's reference
# level) and ``vals[s, i]`` its value (0 when empty). Slots are in increasing design-column order, so the pairs
# ``a < b`` below meet the columns in the same order as the dense kernels above, and every
# product and sum is the same floating-point operation in the same order: the only terms left out
# are exact zeros (``x + 0.0 == x``), so the results are bit-identical to the dense kernels on the
# equivalent dense matrix (tests/test_estimate.py) with about 30x fewer operations for the
# synthetic 29-term model. No ``prange``: the estimator runs chunks on threads instead
# (``nogil``), which keeps each chunk's sums independent of the thread count.


@njit(cache=True, nogil=True)
def _row_nonzeros(cols, vals, i, c, v):
    """Gather record ``i``'s non-empty, non-zero slots into ``c`` (columns) and ``v`` (values).

    Every slot is written and only the kept ones advance ``k``: no branch to mispredict on
    which slots are empty (1.6x faster than ``if`` here, measured on the synthetic design)."""
    k = 0
    for s in range(cols.shape[0]):
        col = cols[s, i]
        val = vals[s, i]
        c[k] = col
        v[k] = val
        k += (col >= 0) & (val != 0.0)
    return k


@njit(cache=True, nogil=True)
def accumulate_normal_equations_slots(cols, vals, y, w, xtwx, xtwy, tot):
    """Slot-form :func:`accumulate_normal_equations`, also adding ``sum_i w_i y_i``, in place.

    Parameters
    ----------
    cols : ndarray, shape (m, n), int32 or int64
        Design column of each slot of each record, ``-1`` for an empty slot (whose value is 0);
        within a record, increasing with the slot index.
    vals : ndarray, shape (m, n), float64
        Value of each slot [units of its regressor].
    y, w : ndarray, shape (n,)
        Outcome [units of y] and non-negative regression weights [1].
    xtwx : ndarray, shape (p, p)
        Running ``X'WX`` (upper triangle updated).
    xtwy : ndarray, shape (p,)
        Running ``X'Wy``.
    tot : ndarray, shape (3,)
        Running ``(sum w, number of records, sum w y)``.
    """
    m, n = cols.shape
    p = xtwx.shape[0]
    part_a = np.zeros((p, p))
    part_c = np.zeros(p)
    c = np.empty(m, np.int64)
    v = np.empty(m)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        part_a[:] = 0.0
        part_c[:] = 0.0
        sum_w = 0.0
        count = 0.0
        sum_wy = 0.0
        for i in range(start, stop):
            k = _row_nonzeros(cols, vals, i, c, v)
            wi = w[i]
            yi = y[i]
            for a in range(k):
                xa = wi * v[a]
                ca = c[a]
                part_c[ca] += xa * yi
                for b in range(a, k):
                    part_a[ca, c[b]] += xa * v[b]
            sum_w += wi
            count += 1.0
            sum_wy += wi * yi
        for a in range(p):
            xtwy[a] += part_c[a]
            for b in range(a, p):
                xtwx[a, b] += part_a[a, b]
        tot[0] += sum_w
        tot[1] += count
        tot[2] += sum_wy


@njit(cache=True, nogil=True)
def accumulate_residual_moments_slots(cols, vals, y, w, beta, ybar, meat, out):
    """Slot-form :func:`accumulate_residual_moments` (same arguments, design as slots)."""
    m, n = cols.shape
    p = meat.shape[0]
    part_m = np.zeros((p, p))
    c = np.empty(m, np.int64)
    v = np.empty(m)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        part_m[:] = 0.0
        rss = 0.0
        tss = 0.0
        for i in range(start, stop):
            k = _row_nonzeros(cols, vals, i, c, v)
            fit = 0.0
            for a in range(k):
                fit += v[a] * beta[c[a]]
            e = y[i] - fit
            we = w[i] * e
            rss += we * e
            d = y[i] - ybar
            tss += w[i] * d * d
            we2 = we * we
            for a in range(k):
                xa = we2 * v[a]
                ca = c[a]
                for b in range(a, k):
                    part_m[ca, c[b]] += xa * v[b]
        for a in range(p):
            for b in range(a, p):
                meat[a, b] += part_m[a, b]
        out[0] += rss
        out[1] += tss


@njit(cache=True, nogil=True)
def accumulate_group_sums_slots(cols, vals, y, q, codes, sx, sy, sq):
    """Slot-form :func:`accumulate_group_sums` (same arguments, design as slots).

    Empty slots (column -1) must hold the value 0, as :func:`alloc.targets.estimate.design_slots`
    makes them."""
    m, n = cols.shape
    for i in range(n):
        g = codes[i]
        qi = q[i]
        for s in range(m):
            # each slot is a different column, so no gather; an empty slot (value 0) adds an
            # exact 0 to the intercept's sum instead of taking a branch (2x faster, measured)
            sx[g, max(cols[s, i], 0)] += qi * vals[s, i]
        sy[g] += qi * y[i]
        sq[g] += qi
