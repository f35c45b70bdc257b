"""Need-model estimation with sterilised supply variables, streamed in chunks (optionally on dask).

The methodology-review toolkit (DESIGN.md section 5; docs/methodology/estimation.md). A need model
is a weighted least-squares regression of cost on need variables and supply variables::

    y_i = b_0 + sum_k b_k n_ik + sum_s g_s s_is + e_i,     minimise  sum_i w_i e_i^2

fitted on person-level or small-area records. Need indices come from predictions with the supply
variables "sterilised" (set to their national population-weighted mean ``sbar_s``)::

    yhat_i^ster = b_0 + sum_k b_k n_ik + sum_s g_s sbar_s
    NI_g        = (sum_{i in g} q_i yhat_i^ster / sum_{i in g} q_i)
                  / (sum_i q_i yhat_i^ster / sum_i q_i)

with ``q_i`` the population a record stands for (1 for a person). Records are never held in
memory together: pass 1 accumulates ``X'WX``, ``X'Wy`` and per-group sums of ``q x`` (a linear
prediction's group sum is ``(sum q x)' b``, so need indices need no further pass); pass 2
accumulates the residual moments for standard errors. With a dask ``Client`` the same per-chunk
function is mapped over the chunks on the cluster and the small partial sums are added on the
client **in chunk order**, exactly as in-process, so both give bit-identical results. In process,
a few chunks are worked on at once on threads, their sums also added in chunk order. The kernels
read each record's non-zero design entries only (:func:`design_slots`), with sums bit-identical
to the dense design's.

Standard errors: classical ``s^2 (X'WX)^-1`` with ``s^2 = RSS / (n - p)``, and heteroskedasticity-
robust HC1 ``n/(n-p) (X'WX)^-1 [sum w^2 e^2 x x'] (X'WX)^-1`` (the default for confidence
intervals: cost data are heteroskedastic). Intervals are normal-approximation 95%.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import linalg

from alloc.errors import AllocError, require_optional
from alloc.kernels import regression as kr

Z95 = 1.959963984540054  # two-sided 95% normal quantile
SINGULAR_RCOND = 1e-12  # smallest eigenvalue / largest of the scaled X'WX below which we refuse


@dataclass(frozen=True)
class NeedModel:
    """Which columns of the records are cost, need, supply, weights and groups.

    Attributes
    ----------
    cost : str
        Outcome column [GBP per person-year, or any cost unit].
    need : sequence of str
        Need variables (numeric, or categorical when listed in ``categorical``).
    supply : sequence of str
        Supply variables, sterilised at prediction.
    categorical : dict
        Column -> its levels; the first level is the reference (dropped). Values in the records
        are the levels themselves, or integer codes ``0..L-1`` into them (when the levels are
        not integers, or are exactly ``range(L)``).
    level_names : dict
        Optional column -> display names of the levels (for term names).
    weight : str, optional
        Regression weight column (default 1 per record).
    population : str, optional
        Persons each record stands for, for need indices (default 1 per record).
    groups : dict
        Column -> its labels (values in the records: labels or integer codes, as for
        ``categorical``): need indices are reported for each group column (e.g. ``icb``).
    """

    cost: str
    need: tuple[str, ...]
    supply: tuple[str, ...]
    categorical: dict = field(default_factory=dict)
    level_names: dict = field(default_factory=dict)
    weight: str | None = None
    population: str | None = None
    groups: dict = field(default_factory=dict)

    def terms(self) -> tuple[list[str], list[str]]:
        """Design column names and kinds (``intercept``, ``need``, ``supply``), in design order."""
        names, kinds = ["const"], ["intercept"]
        for kind, cols in (("need", self.need), ("supply", self.supply)):
            for col in cols:
                if col in self.categorical:
                    labels = self.level_names.get(col, self.categorical[col])
                    for label in list(labels)[1:]:
                        names.append(f"{col}={label}")
                        kinds.append(kind)
                else:
                    names.append(col)
                    kinds.append(kind)
        return names, kinds

    def columns(self) -> list[str]:
        """Every column the model reads."""
        cols = [self.cost, *self.need, *self.supply, *self.groups]
        cols += [c for c in (self.weight, self.population) if c]
        return list(dict.fromkeys(cols))


# --- chunk sources -------------------------------------------------------------------------------


def _frame_slice(frame, start: int, stop: int):
    return (
        frame.iloc[start:stop]
        if isinstance(frame, pd.DataFrame)
        else {k: v[start:stop] for k, v in frame.items()}
    )


def _read_csv_chunk(path: str, columns: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise AllocError(path, "file", "expected a CSV file of records; it does not exist")
    try:
        head = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AllocError(
            path, "file", f"expected a readable CSV file ({' '.join(str(exc).split())})"
        ) from None
    head.columns = [c.strip() for c in head.columns]
    missing = [c for c in columns if c not in head.columns]
    if missing:
        raise AllocError(
            path,
            missing[0],
            f"expected a column '{missing[0]}'; columns found: {', '.join(head.columns)}",
        )
    frame = pd.read_csv(path, usecols=lambda c: c.strip() in columns, encoding="utf-8-sig")
    frame.columns = [c.strip() for c in frame.columns]
    frame.attrs["source"] = str(path)
    return frame


def chunk_loaders(source, model: NeedModel, chunk_rows: int = 500_000) -> list[Callable]:
    """Zero-argument callables, one per chunk, each returning that chunk's records.

    ``source`` may be: an object with a ``chunk_loaders()`` method (e.g.
    :class:`alloc.targets.synthetic.SyntheticPopulation`); a pandas DataFrame or a dict of equal-length
    arrays (split into ``chunk_rows`` rows); a CSV path or a list of CSV paths (one chunk per
    file); or a list of such callables. The callables are picklable, so a dask cluster can run
    them.
    """
    if hasattr(source, "chunk_loaders"):
        return list(source.chunk_loaders())
    if isinstance(source, (pd.DataFrame, dict)):
        n = len(source) if isinstance(source, pd.DataFrame) else len(next(iter(source.values())))
        return [
            functools.partial(_frame_slice, source, a, min(n, a + chunk_rows))
            for a in range(0, max(n, 1), chunk_rows)
        ]
    if isinstance(source, (str, Path)):
        source = [source]
    if isinstance(source, Sequence) and source and all(isinstance(s, (str, Path)) for s in source):
        return [functools.partial(_read_csv_chunk, str(p), model.columns()) for p in source]
    if isinstance(source, Sequence) and all(callable(s) for s in source):
        return list(source)
    raise TypeError(
        "source must be a DataFrame, dict of arrays, CSV path(s), chunk loaders or an "
        "object with chunk_loaders()"
    )


# --- design matrix -----------------------------------------------------------------------------


def _column(chunk, name: str, where: str) -> np.ndarray:
    try:
        values = chunk[name]
    except KeyError:
        have = list(chunk.columns) if isinstance(chunk, pd.DataFrame) else list(chunk)
        raise AllocError(
            where,
            name,
            f"expected a column '{name}' in the records; columns "
            f"found: {', '.join(map(str, have))}",
        ) from None
    return np.asarray(values)


def _codes(values: np.ndarray, levels, name: str, where: str) -> np.ndarray:
    levels = list(levels)
    if np.issubdtype(values.dtype, np.integer) and (
        # cheap test first: thousands of practice labels are checked once per chunk
        levels == list(range(len(levels)))
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in levels)
    ):
        # integer codes 0..L-1 into the levels
        codes = values.astype(np.int64, copy=False)
        in_range = len(codes) == 0 or (codes.min() >= 0 and codes.max() < len(levels))
        bad = None if in_range else (codes < 0) | (codes >= len(levels))
    else:
        codes = pd.Index(levels).get_indexer(pd.Index(values)).astype(np.int64)
        bad = codes < 0
    if bad is not None and bad.any():
        raise AllocError(
            where,
            name,
            f"unknown value '{values[int(np.argmax(bad))]}' (expected "
            f"one of {len(levels)} levels: {', '.join(map(str, levels[:8]))}"
            f"{', ...' if len(levels) > 8 else ''})",
        )
    return codes


def _numeric(chunk, name: str, where: str) -> np.ndarray:
    values = _column(chunk, name, where)
    try:
        values = values.astype(np.float64, copy=False)  # callers only read it
    except (TypeError, ValueError):
        raise AllocError(where, name, "expected numbers") from None
    if not np.isfinite(values).all():
        bad = ~np.isfinite(values)
        raise AllocError(
            where,
            name,
            f"expected finite numbers, found {values[bad][0]} at record "
            f"{int(np.argmax(bad)) + 1} of the chunk",
        )
    return values


def design_matrix(chunk, model: NeedModel, where: str = "records") -> np.ndarray:
    """Design matrix of one chunk (n, p) [float64, C order]: intercept, then need, then supply.

    Numeric columns enter as they are; a categorical column with levels ``l_0..l_{L-1}`` enters
    as ``L - 1`` indicators ``1[x = l_j]``, ``j >= 1``.
    """
    names, _ = model.terms()
    n = len(_column(chunk, model.cost, where))
    X = np.zeros((n, len(names)))
    X[:, 0] = 1.0
    j = 1
    for col in (*model.need, *model.supply):
        if col in model.categorical:
            levels = model.categorical[col]
            codes = _codes(_column(chunk, col, where), levels, col, where)
            rows = np.nonzero(codes > 0)[0]
            X[rows, j + codes[rows] - 1] = 1.0
            j += len(levels) - 1
        else:
            X[:, j] = _numeric(chunk, col, where)
            j += 1
    return X


_THREAD_BUFFERS = threading.local()


def _buffers(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's slot buffers, reshaped to (m, n) C order; grown when too small.

    Each chunk's slots are about 50 MB at 500,000 records; writing them into fresh memory every
    pass cost as much in page faults as the kernels' arithmetic, so a thread reuses its own (a
    dask worker's thread keeps them between tasks: one chunk's slots)."""
    size = m * n
    cols = getattr(_THREAD_BUFFERS, "cols", None)
    if cols is None or cols.size < size:
        _THREAD_BUFFERS.cols = cols = np.empty(size, dtype=np.int32)
        _THREAD_BUFFERS.vals = np.empty(size)
    return cols[:size].reshape(m, n), _THREAD_BUFFERS.vals[:size].reshape(m, n)


def design_slots(
    chunk, model: NeedModel, where: str = "records", reuse: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Design rows of one chunk as slots: what the accumulation kernels read.

    Slot 0 is the intercept, then one slot per need and supply column in design order: a numeric
    column's slot holds its value in its design column; a categorical column's slot holds 1 in the
    indicator column of the record's level, or is empty (column -1, value 0) at the reference
    level. So ``X[i, cols[s, i]] = vals[s, i]`` for the non-empty slots and every other entry of
    the row of :func:`design_matrix` is 0; slot columns increase with ``s``. For the synthetic
    29-term model this is 8 slots (96 bytes) per record instead of 29 doubles (232 bytes), and
    the kernels skip the zeros.

    With ``reuse``, the slots are written into buffers kept by the calling thread and overwritten
    by its next call (the per-chunk passes use them once).

    Returns
    -------
    cols : ndarray, shape (m, n), int32
        Design column of each slot (-1 when empty).
    vals : ndarray, shape (m, n), float64
        Value of each slot [units of its regressor] (0 when empty).
    """
    columns = (*model.need, *model.supply)
    n = len(_column(chunk, model.cost, where))
    if reuse:
        cols, vals = _buffers(1 + len(columns), n)
    else:
        cols, vals = (
            np.empty((1 + len(columns), n), dtype=np.int32),
            np.empty((1 + len(columns), n)),
        )
    cols[0] = 0
    vals[0] = 1.0
    j = 1
    for s, col in enumerate(columns, start=1):
        if col in model.categorical:
            levels = model.categorical[col]
            codes = _codes(_column(chunk, col, where), levels, col, where)
            np.add(codes, j - 1, out=cols[s], casting="unsafe")
            cols[s][codes == 0] = -1
            np.greater(codes, 0, out=vals[s])
            j += len(levels) - 1
        else:
            vals[s] = _numeric(chunk, col, where)
            cols[s] = j
            j += 1
    return cols, vals


def _weights(chunk, name, n, where, positive=False) -> np.ndarray:
    if name is None:
        return np.ones(n)
    values = _numeric(chunk, name, where)
    if (values < 0).any() or (positive and (values <= 0).any()):
        raise AllocError(
            where,
            name,
            f"expected {'positive' if positive else 'non-negative'} "
            f"values, found {values[values <= 0 if positive else values < 0][0]:g}",
        )
    return values


# --- per-chunk work (runs in-process or on dask workers) ----------------------------------------


def _where(chunk, default: str) -> str:
    return (
        getattr(chunk, "attrs", {}).get("source", default)
        if isinstance(chunk, pd.DataFrame)
        else default
    )


def pass1_chunk(loader: Callable, model: NeedModel, index: int = 0) -> dict:
    """Pass 1 on one chunk: partial ``X'WX`` (upper), ``X'Wy``, totals and group sums."""
    chunk = loader()
    where = _where(chunk, f"records (chunk {index})")
    cols, vals = design_slots(chunk, model, where, reuse=True)
    y = _numeric(chunk, model.cost, where)
    n, p = len(y), len(model.terms()[0])
    w = _weights(chunk, model.weight, n, where)
    q = _weights(chunk, model.population, n, where)
    tot = np.zeros(3)  # sum w, n, sum w y
    out = {"xtwx": np.zeros((p, p)), "xtwy": np.zeros(p), "groups": {}}
    kr.accumulate_normal_equations_slots(cols, vals, y, w, out["xtwx"], out["xtwy"], tot)
    out["tot"], out["sum_wy"] = tot[:2], float(tot[2])
    for name, labels in model.groups.items():
        codes = _codes(_column(chunk, name, where), labels, name, where)
        g = len(labels)
        sx, sy, sq = np.zeros((g, p)), np.zeros(g), np.zeros(g)
        kr.accumulate_group_sums_slots(cols, vals, y, q, codes, sx, sy, sq)
        out["groups"][name] = (sx, sy, sq)
    return out


def pass2_chunk(
    loader: Callable, model: NeedModel, beta: np.ndarray, ybar: float, index: int = 0
) -> dict:
    """Pass 2 on one chunk: HC meat (upper), RSS and TSS."""
    chunk = loader()
    where = _where(chunk, f"records (chunk {index})")
    cols, vals = design_slots(chunk, model, where, reuse=True)
    y = _numeric(chunk, model.cost, where)
    w = _weights(chunk, model.weight, len(y), where)
    p = len(beta)
    out = {"meat": np.zeros((p, p)), "rt": np.zeros(2)}
    kr.accumulate_residual_moments_slots(cols, vals, y, w, beta, ybar, out["meat"], out["rt"])
    return out


def _add(total: dict | None, part: dict) -> dict:
    if total is None:
        return part
    for key, value in part.items():
        if key == "groups":
            for name, arrays in value.items():
                for acc, add in zip(total["groups"][name], arrays):
                    acc += add
        else:
            total[key] += value
    return total


def default_threads() -> int:
    """CPUs this process may run on: the default number of chunks worked on at once."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _map_reduce(func, loaders, args: tuple, client, threads: int = 1) -> dict:
    """Apply ``func(loader, *args, index)`` to every chunk and add the results in chunk order.

    In process, up to ``threads`` chunks are worked on at once (numpy's generators and the numba
    kernels release the GIL), at most ``threads + 1`` submitted so memory stays a few chunks; the
    partial sums are still added in chunk order, so the result does not depend on ``threads``.
    """
    total = None
    if client is None and (threads <= 1 or len(loaders) <= 1):
        try:
            for k, loader in enumerate(loaders):
                total = _add(total, func(loader, *args, k))
        finally:
            _THREAD_BUFFERS.__dict__.clear()  # a pool's threads drop theirs when they end
        return total
    if client is None:
        pending: deque = deque()
        with ThreadPoolExecutor(threads, thread_name_prefix="alloc-estimate") as pool:
            try:
                for k, loader in enumerate(loaders):
                    pending.append(pool.submit(func, loader, *args, k))
                    if len(pending) > threads:
                        total = _add(total, pending.popleft().result())
                while pending:
                    total = _add(total, pending.popleft().result())
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return total
    futures = client.map(
        func, loaders, *[[a] * len(loaders) for a in args], list(range(len(loaders))), pure=False
    )
    try:
        for future in futures:
            total = _add(total, future.result())
            future.release()  # partial sums are small, but do not keep them on the workers
    except BaseException:
        client.cancel(futures)
        raise
    return total


def _mirror(upper: np.ndarray) -> np.ndarray:
    return np.triu(upper) + np.triu(upper, 1).T


# --- the fit -----------------------------------------------------------------------------------


@dataclass
class NeedModelFit:
    """A fitted need model: coefficients, covariance, and group sums for need indices."""

    model: NeedModel
    terms: list[str]
    kinds: list[str]
    beta: np.ndarray
    cov_classical: np.ndarray | None
    cov_hc1: np.ndarray | None
    n: int
    sum_w: float
    rss: float | None
    tss: float | None
    group_sums: dict
    se_type: str = "HC1"
    timings: dict = field(default_factory=dict)

    @property
    def r2(self) -> float | None:
        """Weighted coefficient of determination ``1 - RSS / TSS`` [1]."""
        return None if self.rss is None else 1.0 - self.rss / self.tss

    @property
    def supply_means(self) -> dict[str, float]:
        """National population-weighted mean of each supply design column [its units]."""
        sx, _, sq = next(iter(self.group_sums.values()))
        means = sx.sum(axis=0) / sq.sum()
        return {t: float(m) for t, m, k in zip(self.terms, means, self.kinds) if k == "supply"}

    def covariance(self) -> np.ndarray | None:
        """Covariance of the coefficients of the chosen type (``se_type``)."""
        return self.cov_hc1 if self.se_type == "HC1" else self.cov_classical

    def coefficients(self) -> pd.DataFrame:
        """Coefficient table: estimate, classical and HC1 standard errors, 95% interval.

        Columns: ``term``, ``kind`` (intercept / need / supply), ``estimate`` [cost units per
        unit of the term], ``se_classical``, ``se_hc1``, ``se`` (= the chosen type), ``z``,
        ``ci95_low``, ``ci95_high`` (estimate -/+ 1.96 se).
        """
        frame = pd.DataFrame({"term": self.terms, "kind": self.kinds, "estimate": self.beta})
        for name, cov in (("se_classical", self.cov_classical), ("se_hc1", self.cov_hc1)):
            frame[name] = np.sqrt(np.diag(cov)) if cov is not None else np.nan
        frame["se"] = frame["se_hc1" if self.se_type == "HC1" else "se_classical"]
        frame["z"] = frame["estimate"] / frame["se"]
        frame["ci95_low"] = frame["estimate"] - Z95 * frame["se"]
        frame["ci95_high"] = frame["estimate"] + Z95 * frame["se"]
        return frame.set_index("term")

    def sterilised(self, beta: np.ndarray | None = None) -> np.ndarray:
        """Coefficients for sterilised prediction: supply terms folded into the intercept.

        ``b_0' = b_0 + sum_s g_s sbar_s`` and ``g_s' = 0``, so ``x_i' b' = yhat_i^ster``.
        """
        beta = self.beta if beta is None else np.asarray(beta, dtype=float)
        supply = np.array([k == "supply" for k in self.kinds])
        sx, _, sq = next(iter(self.group_sums.values()))
        means = sx.sum(axis=0) / sq.sum()
        out = beta.copy()
        out[0] += float(beta[supply] @ means[supply])
        out[supply] = 0.0
        return out

    def need_indices(self, group: str, beta=None, sterilise: bool = True) -> pd.DataFrame:
        """Need index per group from predictions [index, national = 1].

        ``NI_g = (S_g' b / Q_g) / (S' b / Q)`` with ``S_g = sum_{i in g} q_i x_i``, ``Q_g`` the
        group's population and ``b`` the sterilised coefficients (supply at national mean). The
        standard error is the delta-method one from the chosen covariance:
        ``grad = (a_g - NI_g a) / (a' b)``, ``a_g = S_g / Q_g``, ``a = S / Q``.

        Parameters
        ----------
        group : str
            A group column of the model (e.g. ``"icb"``).
        beta : array or dict, optional
            Coefficients to predict with (default the fit's); a dict maps term -> value (e.g.
            the true coefficients of a synthetic data-generating process).
        sterilise : bool
            Set supply variables to their national mean (default) or keep them as observed.

        Returns
        -------
        pandas.DataFrame
            Index: group labels. ``population`` [persons], ``mean_cost`` [cost units per person,
            observed], ``cost_index`` (observed, national = 1), ``predicted`` [cost units per
            person], ``need_index`` and ``need_index_se``.
        """
        if group not in self.group_sums:
            raise AllocError(
                "need model", "groups", f"no group '{group}' (have: {', '.join(self.group_sums)})"
            )
        if isinstance(beta, dict):
            missing = [t for t in self.terms if t not in beta]
            if missing:
                raise AllocError("coefficients", missing[0], "no value for this term")
            beta = np.array([beta[t] for t in self.terms], dtype=float)
        b = np.asarray(self.beta if beta is None else beta, dtype=float)
        sx, sy, sq = self.group_sums[group]
        sterilising = np.array([k == "supply" for k in self.kinds]) if sterilise else None
        means = sx.sum(axis=0) / sq.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            a_g = sx / sq[:, None]
            if sterilise:
                a_g[:, sterilising] = means[sterilising]
            a = means.copy()
            level = a @ b
            predicted = a_g @ b
            ni = predicted / level
            out = pd.DataFrame(
                {
                    "population": sq,
                    "mean_cost": sy / sq,
                    "cost_index": (sy / sq) / (sy.sum() / sq.sum()),
                    "predicted": predicted,
                    "need_index": ni,
                },
                index=pd.Index(list(self.model.groups[group]), name=group),
            )
            cov = self.covariance()
            if cov is not None and beta is None:
                grad = (a_g - ni[:, None] * a[None, :]) / level
                out["need_index_se"] = np.sqrt(np.einsum("gi,ij,gj->g", grad, cov, grad))
            else:
                out["need_index_se"] = np.nan
        return out[out["population"] > 0]


def _solve(xtwx: np.ndarray, xtwy: np.ndarray, terms: list[str], n: int, where: str):
    """Solve ``A b = c`` by Cholesky of the scaled matrix; refuse a singular design clearly."""
    p = len(terms)
    if n <= p:
        raise AllocError(
            where, "records", f"expected more records than the {p} coefficients, found {n}"
        )
    A = _mirror(xtwx)
    d = np.sqrt(np.diag(A))
    zero = np.nonzero(d == 0)[0]
    if zero.size:
        raise AllocError(
            where,
            "design",
            f"singular design: term '{terms[zero[0]]}' is zero in "
            "every record (a level never observed, or a column of zeros)",
        )
    scaled = A / np.outer(d, d)
    vals, vecs = np.linalg.eigh(scaled)
    if vals[0] < SINGULAR_RCOND * vals[-1]:
        v = vecs[:, 0]
        involved = [terms[j] for j in np.argsort(-np.abs(v)) if abs(v[j]) > 0.1][:6]
        raise AllocError(
            where,
            "design",
            "singular design: terms "
            f"{', '.join(repr(t) for t in involved)} are collinear (smallest/largest "
            f"eigenvalue of the scaled X'WX = {vals[0] / vals[-1]:.1e}); drop one or "
            "merge levels",
        )
    factor = linalg.cho_factor(scaled, lower=False)
    beta = linalg.cho_solve(factor, xtwy / d) / d
    inv = linalg.cho_solve(factor, np.eye(p)) / np.outer(d, d)
    return beta, (inv + inv.T) / 2


def fit_need_model(
    source,
    model: NeedModel,
    *,
    client=None,
    se: str = "HC1",
    standard_errors: bool = True,
    chunk_rows: int = 500_000,
    threads: int | None = None,
) -> NeedModelFit:
    """Fit a need model by streamed weighted least squares.

    Parameters
    ----------
    source
        Records in chunks: see :func:`chunk_loaders` (synthetic population, DataFrame, dict of
        arrays, CSV paths, or loaders).
    model : NeedModel
        Columns and their roles.
    client : distributed.Client, optional
        Run the per-chunk passes on this dask cluster (results identical to in-process: the
        partial sums are added in chunk order on the client).
    se : {"HC1", "classical"}
        Standard errors used for intervals and need-index errors; both are always computed
        when ``standard_errors``.
    standard_errors : bool
        Run pass 2 (residual moments). Without it, only coefficients and need indices.
    chunk_rows : int
        Rows per chunk when ``source`` is an in-memory table.
    threads : int, optional
        Chunks worked on at once in process (default: the CPUs available, see
        :func:`default_threads`); ignored with ``client``. Results do not depend on it.

    Returns
    -------
    NeedModelFit

    Raises
    ------
    AllocError
        Missing column, non-finite value, unknown categorical level or group label, negative
        weight, too few records, or a singular design (naming the collinear terms).
    """
    if se not in ("HC1", "classical"):
        raise AllocError("need model", "se", f"expected 'HC1' or 'classical', found {se!r}")
    for col in model.supply:
        if col in model.need:
            raise AllocError(
                "need model", col, "a column cannot be both a need and a supply variable"
            )
    if not model.groups:
        raise AllocError(
            "need model",
            "groups",
            "expected at least one group column (e.g. icb) to report need indices for",
        )
    terms, kinds = model.terms()
    loaders = chunk_loaders(source, model, chunk_rows)
    where = "records"
    t0 = time.perf_counter()
    threads = default_threads() if threads is None else max(1, int(threads))
    acc = _map_reduce(pass1_chunk, loaders, (model,), client, threads)
    t1 = time.perf_counter()
    n = int(acc["tot"][1])
    beta, inv = _solve(acc["xtwx"], acc["xtwy"], terms, n, where)
    sum_w = float(acc["tot"][0])
    cov_c = cov_h = rss = tss = None
    timings = {"pass1_s": t1 - t0}
    if standard_errors:
        ybar = acc["sum_wy"] / sum_w
        res = _map_reduce(pass2_chunk, loaders, (model, beta, ybar), client, threads)
        rss, tss = float(res["rt"][0]), float(res["rt"][1])
        p = len(terms)
        cov_c = inv * (rss / (n - p))
        meat = _mirror(res["meat"])
        cov_h = inv @ meat @ inv * (n / (n - p))
        timings["pass2_s"] = time.perf_counter() - t1
    groups = {name: acc["groups"][name] for name in model.groups}
    return NeedModelFit(
        model,
        terms,
        kinds,
        beta,
        cov_c,
        cov_h,
        n,
        sum_w,
        rss,
        tss,
        groups,
        se_type=se,
        timings=timings,
    )


def lstsq_reference(frame, model: NeedModel) -> np.ndarray:
    """In-memory reference fit with ``numpy.linalg.lstsq`` on ``sqrt(w) X`` and ``sqrt(w) y``."""
    X = design_matrix(frame, model)
    y = _numeric(frame, model.cost, "records")
    w = _weights(frame, model.weight, len(y), "records")
    root = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(X * root[:, None], y * root, rcond=None)
    return beta


def local_client(workers: int = 2, threads_per_worker: int = 1):
    """Start a dask ``LocalCluster`` and return a connected ``Client`` (caller closes both)."""
    distributed = require_optional("distributed", "dask", "--workers")
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        dashboard_address=None,
    )
    return distributed.Client(cluster)


def coefficient_recovery(fit: NeedModelFit, truth: dict[str, float]) -> pd.DataFrame:
    """Compare estimates with known coefficients: error, error in standard errors, inside 95% CI."""
    table = fit.coefficients()
    table["true"] = [truth[t] for t in table.index]
    table["error"] = table["estimate"] - table["true"]
    table["error_in_se"] = table["error"] / table["se"]
    table["in_ci95"] = table["error_in_se"].abs() <= Z95
    return table


__all__ = [
    "NeedModel",
    "NeedModelFit",
    "fit_need_model",
    "design_matrix",
    "design_slots",
    "default_threads",
    "chunk_loaders",
    "lstsq_reference",
    "local_client",
    "coefficient_recovery",
]
