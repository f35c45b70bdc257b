"""Per-draw ensemble results spilled to disk, so summaries need memory bounded by the chunk size.

An ensemble of ``G`` grid points x ``D`` draws produces, per output variable, a cube of
``G x D x C`` values (``C`` = years x ICBs). Holding it in memory grows with the draws
(1,000,000 draws of two variables is 7.4 GB). :class:`DrawStore` writes each chunk's rows to a
file per variable laid out ``(grid point, cell, draw)``, so that one cell's draws are contiguous
on disk; :meth:`DrawStore.summarise` then reads blocks of cells back and takes exact quantiles
(``numpy.quantile`` on each cell's contiguous draws, in place: the same numbers as on the whole
cube) a block at a time. Only variables that vary by draw are stored: a variable that is a stored
one minus a per-cell constant (a net position whose spend does not vary) is derived while it is
summarised. Peak memory is about two chunks of rows (the one being written and the one being
computed) plus one block of cells, whatever the number of draws; disk use is the size of the
stored cubes, in a temporary folder removed on exit (its disk space is freed in the background).
Nothing here needs dask.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alloc.errors import AllocError

_F8 = np.dtype("float64")


@dataclass
class BlockSummary:
    """Summaries of one variable over draws, per grid point and cell.

    Attributes
    ----------
    quantiles : ndarray (G, Q, C)
        ``numpy.quantile`` (linear interpolation) over draws.
    central : ndarray (G, C)
        Draw 0.
    share_below : ndarray (G, C) or None
        Fraction of draws strictly below the threshold, when one was given.
    derived : BlockSummary or None
        The same summaries of the variable minus a per-cell constant, when one was given.
    """

    quantiles: np.ndarray
    central: np.ndarray
    share_below: np.ndarray | None
    derived: BlockSummary | None = None


class DrawStore:
    """Float64 cubes ``(grid point, cell, draw)`` on disk, one file per variable.

    Use as a context manager: the temporary folder is removed on exit, also after an error.

    Parameters
    ----------
    variables : list of str
        Names of the per-draw variables.
    n_grid, n_draws, n_cells : int
        Grid points, draws per grid point and cells (years x ICBs) per draw.
    directory : path, optional
        Where to create the temporary folder (default: the system's temporary folder,
        ``TMPDIR``).
    """

    def __init__(self, variables, n_grid: int, n_draws: int, n_cells: int, directory=None):
        self.variables = list(variables)
        self.shape = (n_grid, n_cells, n_draws)
        self.nbytes = len(self.variables) * math.prod(self.shape) * _F8.itemsize
        parent = Path(directory) if directory is not None else Path(tempfile.gettempdir())
        free = shutil.disk_usage(parent).free
        if self.nbytes > 0.95 * free:
            raise AllocError(
                parent,
                "temporary disk",
                f"the ensemble's draws need "
                f"{self.nbytes / 1e9:.1f} GB and {free / 1e9:.1f} GB are free; "
                "reduce the draws or grid, or set TMPDIR to a larger disk",
            )
        self._folder = Path(tempfile.mkdtemp(prefix="alloc-ensemble-", dir=parent))
        for name in self.variables:
            with open(self._path(name), "wb") as f:
                f.truncate(self.nbytes // len(self.variables))  # sparse until written

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        remove_in_background(self._folder)

    def _path(self, name: str) -> Path:
        return self._folder / f"{name}.f8"

    def write(self, rows: range, values: dict[str, np.ndarray]) -> None:
        """Store flat rows ``g * n_draws + d``; ``values[name]`` has shape (len(rows), C)."""
        n_grid, n_cells, n_draws = self.shape
        for name in self.variables:
            by_cell = np.ascontiguousarray(values[name].T, dtype=_F8)  # (C, rows)
            fd = os.open(self._path(name), os.O_WRONLY)
            try:
                start = rows.start
                while start < rows.stop:  # a chunk may span grid points
                    g, d0 = divmod(start, n_draws)
                    stop = min(rows.stop, (g + 1) * n_draws)
                    part = by_cell[:, start - rows.start : stop - rows.start]
                    for c in range(n_cells):  # one contiguous run of draws per cell
                        offset = ((g * n_cells + c) * n_draws + d0) * _F8.itemsize
                        os.pwrite(fd, np.ascontiguousarray(part[c]).data, offset)
                    start = stop
            finally:
                os.close(fd)

    def read(self, name: str, g: int, cells: slice) -> np.ndarray:
        """All draws of ``cells`` at grid point ``g``, shape (cells, D), read from disk."""
        n_grid, n_cells, n_draws = self.shape
        first, last, _ = cells.indices(n_cells)
        offset = (g * n_cells + first) * n_draws * _F8.itemsize
        return np.fromfile(
            self._path(name), dtype=_F8, count=(last - first) * n_draws, offset=offset
        ).reshape(last - first, n_draws)

    def cube(self, name: str) -> np.ndarray:
        """The whole variable in memory, shape (G, D, C) (memory grows with the draws)."""
        data = np.fromfile(self._path(name), dtype=_F8).reshape(self.shape)
        return np.ascontiguousarray(data.transpose(0, 2, 1))

    def draw_blocks(self, name: str, size: int):
        """Yield ``(g, draws, array (len(draws), C))`` in blocks of at most ``size`` draws."""
        n_grid, n_cells, n_draws = self.shape
        for g in range(n_grid):
            for d0 in range(0, n_draws, size):
                cube = np.memmap(self._path(name), dtype=_F8, mode="r", shape=self.shape)
                d1 = min(d0 + size, n_draws)
                block = np.ascontiguousarray(cube[g, :, d0:d1].T)
                del cube
                yield g, range(d0, d1), block

    def summarise(
        self,
        name: str,
        quantiles,
        budget_bytes: int,
        threshold: float | None = None,
        threads: int = 1,
        minus: np.ndarray | None = None,
    ) -> BlockSummary:
        """Exact quantiles over draws, a block of cells at a time.

        Parameters
        ----------
        name : str
            A stored variable.
        quantiles : sequence of float
            Probabilities in [0, 1].
        budget_bytes : int
            Memory for one block of cells (all draws); at least one cell is read at a time.
        threshold : float, optional
            Also return the fraction of draws strictly below this value.
        threads : int
            Blocks summarised at once (``numpy`` releases the GIL while it partitions).
        minus : ndarray (C,), optional
            Also summarise ``name - minus`` (per cell, the same in every draw; same units as
            ``name``) into ``derived``: a variable derived from a stored one, never stored
            itself, summarised from the block already read (subtracting a constant from a
            cell's draws reorders nothing, so the partitioned block serves as well).
        """
        n_grid, n_cells, n_draws = self.shape
        per_block = max(1, min(n_cells, budget_bytes // max(1, threads * n_draws * 8)))
        q = np.asarray(quantiles, dtype=float)
        out_q = np.empty((n_grid, len(q), n_cells))
        central = np.empty((n_grid, n_cells))
        below = np.empty((n_grid, n_cells)) if threshold is not None else None
        minus_q = np.empty_like(out_q) if minus is not None else None
        minus_central = np.empty_like(central) if minus is not None else None
        tasks = [
            (g, slice(c, min(c + per_block, n_cells)))
            for g in range(n_grid)
            for c in range(0, n_cells, per_block)
        ]

        def one(task):
            g, cells = task
            block = self.read(name, g, cells)
            central[g, cells] = block[:, 0]
            if minus is not None:  # element by element, as a stored variable would have been
                minus_central[g, cells] = block[:, 0] - minus[cells]
            if below is not None:
                below[g, cells] = (block < threshold).mean(axis=1)
            out_q[g, :, cells] = quantiles_in_place(block, q)
            if minus is not None:
                np.subtract(block, minus[cells, None], out=block)
                minus_q[g, :, cells] = quantiles_in_place(block, q)

        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, tasks))
        else:
            for task in tasks:
                one(task)
        derived = BlockSummary(minus_q, minus_central, None) if minus is not None else None
        return BlockSummary(out_q, central, below, derived)


def default_threads() -> int:
    """Threads for block summaries: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def quantiles_in_place(block: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``numpy.quantile(block, q, axis=1)`` (method 'linear'), reordering ``block``'s rows.

    Each row is one cell's draws, contiguous in memory; ``numpy.quantile`` on one contiguous row
    with ``overwrite_input`` partitions it in place, where ``axis=1`` on the block copies it and
    partitions along a strided axis (1.6 x slower per cell, measured on 1,000,000 draws). The
    numbers are numpy's own, NaN handling included (a row with a NaN gives NaN).

    Parameters
    ----------
    block : ndarray (C, D)
        C-contiguous; its rows are reordered.
    q : ndarray (Q,)
        Probabilities in [0, 1].

    Returns
    -------
    ndarray (Q, C)
    """
    out = np.empty((len(q), block.shape[0]))
    for c in range(block.shape[0]):
        out[:, c] = np.quantile(block[c], q, overwrite_input=True)
    return out


def remove_in_background(folder: Path) -> None:
    """Remove ``folder`` now; free its files' disk space in a background thread.

    Unlinking a file of gigabytes takes seconds (the file system frees its blocks). Each file is
    held open while the folder is removed, so the names and the folder are gone at once, and the
    blocks are freed when a (non-daemon) thread closes the files: Python waits for it at exit.
    """
    held = []
    for path in folder.glob("*"):
        try:
            held.append(os.open(path, os.O_RDONLY))
        except OSError:
            pass
    shutil.rmtree(folder, ignore_errors=True)
    if held:

        def close_all():
            for fd in held:
                os.close(fd)

        threading.Thread(target=close_all, name="alloc-free-draw-store").start()
