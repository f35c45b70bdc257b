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
