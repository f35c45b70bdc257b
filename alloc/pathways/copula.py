"""Correlated draws of pathway quantities: a Gaussian copula over the ``[[correlations]]`` of a file.

Independent uniforms ``u`` (one column per quantity, :func:`alloc.pathways.base.quantities`
order) become correlated uniforms ``u'`` with the same Uniform(0, 1) marginals:
``z = Phi^-1(u)``, ``z' = z L^T`` per block of correlated quantities (``L`` the Cholesky factor
of the block's Gaussian-copula correlation matrix), ``u' = Phi(z')``. Each quantity's own inverse
CDF then maps ``u'`` to values, so marginals are unchanged and ranks carry the correlation:
a Gaussian copula with correlation ``r`` has Spearman correlation ``(6 / pi) asin(r / 2)``.

A *block* is a connected group of quantities linked by stated correlations (pairs in a block that
are not stated have copula correlation 0). Columns outside every block are returned untouched,
bit for bit, so a file without correlations draws exactly as before. The transform works row by
row, so a draw's values depend only on its own uniforms (ensembles stay position-addressed and
chunk-independent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from alloc.inputs.pathway_spec import PathwaySpec

# Uniforms are kept inside [_TINY, 1 - _TINY] before Phi^-1, so z is finite (|z| < 8.3).
_TINY = 2.0**-53


@dataclass(frozen=True)
class CopulaBlock:
    """Correlated quantities: their columns and the transposed Cholesky factor of their matrix."""

    columns: np.ndarray  # (B,) int: column positions in quantities() order, ascending
    chol_t: np.ndarray  # (B, B): L^T, with L L^T the block's Gaussian-copula correlation matrix


def copula_blocks(spec: PathwaySpec, paths: list[str]) -> list[CopulaBlock]:
    """The blocks of correlated quantities of ``spec``; empty when the file states none.

    Parameters
    ----------
    spec : PathwaySpec
        A validated file (its ``[[correlations]]`` name uncertain quantities, each pair once, and
        form a positive-definite matrix: :func:`alloc.inputs.pathway_spec.check_correlations`).
    paths : list of str
        The quantities' dotted paths in column order (:func:`alloc.pathways.base.quantities`).
    """
    if not spec.correlations:
        return []
    col = {p: j for j, p in enumerate(paths)}
    parent = {}  # union-find over columns: blocks are the connected components

    def root(j):
        while parent.setdefault(j, j) != j:
            j = parent[j]
        return j

    for corr in spec.correlations:
        parent[root(col[corr.a])] = root(col[corr.b])
    members: dict[int, list[int]] = {}
    for j in sorted(parent):
        members.setdefault(root(j), []).append(j)
    blocks = []
    for cols in sorted(members.values()):
        where = {j: k for k, j in enumerate(cols)}
        matrix = np.eye(len(cols))
        for corr in spec.correlations:
            ka, kb = where.get(col[corr.a]), where.get(col[corr.b])
            if ka is not None and kb is not None:
                matrix[ka, kb] = matrix[kb, ka] = corr.gaussian_rho
        blocks.append(CopulaBlock(np.array(cols), np.linalg.cholesky(matrix).T))
    return blocks


def correlate_uniforms(u: np.ndarray, blocks: list[CopulaBlock]) -> np.ndarray:
    """Correlated uniforms ``u'`` (D, Q) from independent ones ``u`` (D, Q).

    Parameters
    ----------
    u : ndarray (D, Q)
        Independent Uniform(0, 1) numbers, one column per quantity.
    blocks : list of CopulaBlock
        From :func:`copula_blocks`.

    Returns
    -------
    ndarray (D, Q)
        ``u`` itself when there are no blocks; otherwise a copy in which each block's columns are
        ``Phi(Phi^-1(u) L^T)``, row by row (each row's result depends on that row alone, bit for
        bit) and every other column is unchanged.
    """
    if not blocks:
        return u
    out = np.array(u, dtype=float, copy=True)
    for block in blocks:
        z = special.ndtri(np.clip(out[:, block.columns], _TINY, 1.0 - _TINY))
        lower = block.chol_t.T
        for i, j in enumerate(block.columns):
            # z'_i = sum_k<=i L[i, k] z_k, summed elementwise in a fixed order rather than by a
            # BLAS product, whose blocking (hence rounding) can depend on the number of rows.
            acc = z[:, 0] * lower[i, 0]
            for k in range(1, i + 1):
                acc = acc + z[:, k] * lower[i, k]
            out[:, j] = special.ndtr(acc)
    return out
