"""Hexagon layouts of ICBs: one cell per ICB, shipped per geography or computed from centroids.

No matplotlib here: ``data/make_hex.py`` uses :func:`layout_from_centroids` to write the shipped
layouts (``data/geographies/<name>/hex.csv``), and the hexagon map falls back to it for a
geography that ships none.

Cells are pointy-top hexagons in **axial coordinates** ``(q, r)``: ``r`` is the row, counted
southwards, ``q`` the position along the row; a cell's centre is at
``x = sqrt(3) * (q + r / 2)``, ``y = -1.5 * r`` (hexagons of circumradius 1). The six
neighbours of ``(q, r)`` are ``(q±1, r)``, ``(q, r±1)``, ``(q+1, r-1)`` and ``(q-1, r+1)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

#: File of a geography's layout, beside its ``areas.csv``.
HEX_FILE = "hex.csv"
HEX_COLUMNS = ["code", "q", "r"]
#: Mean latitude used to scale longitude [degrees] (as the bubble map).
MID_LAT = 52.5
#: Cells per unit of the centroids' convex hull, relative to one cell per ICB: above 1 the
#: layout is more compact than the map (fewer gaps, fewer islands).
COMPACTNESS = 1.3

_NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1))


def centre(q, r) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``(x, y)`` of cells ``(q, r)`` (circumradius 1)."""
    q, r = np.asarray(q, dtype=float), np.asarray(r, dtype=float)
    return np.sqrt(3) * (q + r / 2), -1.5 * r


def layout_from_centroids(lat, lon, compactness: float = COMPACTNESS) -> np.ndarray:
    """One hexagon cell per area, placed near its centroid; deterministic.

    1. Centroids are projected (longitude scaled by cos 52.5°) and the cell size chosen so that
       the centroids' convex hull holds about ``n / compactness`` cells.
    2. Areas are taken in order of distance from the median centroid (ties by position in the
       input); each takes the free cell next to the cells already taken that is nearest its
       centroid. The set of cells is therefore one connected block, without islands.
    3. Areas are then re-assigned to that set of cells to minimise the total squared distance
       from centroid to cell (:func:`scipy.optimize.linear_sum_assignment`).

    Parameters
    ----------
    lat, lon : array_like of float
        Centroids [degrees, WGS84], one per area (at least one).
    compactness : float
        See step 1.

    Returns
    -------
    numpy.ndarray of int, shape (n, 2)
        ``(q, r)`` of each area, in input order; no two areas share a cell; the smallest ``q``
        and ``r`` are 0.
    """
    from scipy.optimize import linear_sum_assignment

    x = np.asarray(lon, dtype=float) * np.cos(np.deg2rad(MID_LAT))
    y = np.asarray(lat, dtype=float)
    pts = np.column_stack([x, y])
    n = len(pts)
    if n == 0 or not np.isfinite(pts).all():
        raise ValueError("expected finite centroids (lat, lon) for every area")
    span = np.ptp(pts, axis=0)
    area = _hull_area(pts) if n >= 3 else 0.0
    area = max(area, float(span[0] * span[1]), 1e-6)
    d = np.sqrt(area / (n * compactness * np.sqrt(3) / 2))  # centre-to-centre distance
    h = d * np.sqrt(3) / 2  # row spacing

    def xy(cell):
        return np.array([d * (cell[0] + cell[1] / 2), -h * cell[1]])

    def cost(cell, p):
        return float(((xy(cell) - p) ** 2).sum())

    mid = np.median(pts, axis=0)
    order = np.lexsort((np.arange(n), ((pts - mid) ** 2).sum(axis=1)))
    taken: list[tuple[int, int]] = []
    free: set[tuple[int, int]] = set()
    for i in order:
        if not taken:
            r0 = int(round(-pts[i, 1] / h))
            cell = (int(round(pts[i, 0] / d - r0 / 2)), r0)
        else:
            cell = min(sorted(free), key=lambda c: cost(c, pts[i]))
        taken.append(cell)
        free.discard(cell)
        free.update(
            (cell[0] + a, cell[1] + b)
            for a, b in _NEIGHBOURS
            if (cell[0] + a, cell[1] + b) not in taken
        )
    cells = np.array(sorted(taken))
    centres = np.array([xy(c) for c in cells])
    costs = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    rows, cols = linear_sum_assignment(costs)
    qr = cells[cols[np.argsort(rows)]]
    # Normalise: smallest r is 0, and the smallest q is 0 (a shift of q keeps the rows' offsets).
    qr = qr - np.array([0, qr[:, 1].min()])
    return (qr - np.array([qr[:, 0].min(), 0])).astype(int)


def _hull_area(pts: np.ndarray) -> float:
    from scipy.spatial import ConvexHull, QhullError

    try:
        return float(ConvexHull(pts).volume)  # in 2-D, "volume" is the area
    except (QhullError, ValueError):
        return 0.0


def read_layout(path: Path) -> pd.DataFrame:
    """A layout file: columns ``code, q, r`` (integers), one row per area."""
    from alloc.errors import AllocError
    from alloc.inputs.dataset import read_csv

    frame = read_csv(path, HEX_COLUMNS, missing="expected a hexagon layout file")
    try:
        frame[["q", "r"]] = frame[["q", "r"]].astype(int)
    except ValueError:
        raise AllocError(path, "q", "expected whole numbers in columns q and r") from None
    if frame["code"].duplicated().any():
        dup = frame.loc[frame["code"].duplicated(), "code"].iloc[0]
        raise AllocError(path, "code", f"area '{dup}' appears twice")
    cells = list(zip(frame["q"], frame["r"]))
    if len(set(cells)) != len(cells):
        raise AllocError(path, "q", "two areas share a cell (q, r)")
    return frame[HEX_COLUMNS]


def layout_for(codes, lat, lon, attrs: Mapping) -> tuple[pd.DataFrame, str] | None:
    """The hexagon layout of a result's areas and where it came from.

    The geography's shipped ``hex.csv`` (in its folder ``attrs["geography_source"]``, or the
    shipped geography of the same name) when it lists exactly these codes; otherwise a layout
    computed from the centroids (:func:`layout_from_centroids`); None when there are no
    centroids to compute one from.

    Returns
    -------
    (pandas.DataFrame, str) or None
        Columns ``code, q, r`` in the order of ``codes``, and ``"shipped"`` or ``"computed"``.
    """
    codes = [str(c) for c in codes]
    for path in _candidates(attrs):
        if path.is_file():
            frame = read_layout(path)
            if sorted(frame["code"]) == sorted(codes):
                return frame.set_index("code").loc[codes].reset_index(), "shipped"
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if lat.size != len(codes) or not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        return None
    qr = layout_from_centroids(lat, lon)
    return pd.DataFrame({"code": codes, "q": qr[:, 0], "r": qr[:, 1]}), "computed"


def _candidates(attrs: Mapping) -> list[Path]:
    out = []
    source = attrs.get("geography_source")
    if source:
        folder = Path(str(source))
        out.append((folder if folder.suffix == "" else folder.parent) / HEX_FILE)
    name = attrs.get("geography")
    if name:
        from alloc.resources import data_dir

        try:
            out.append(data_dir() / "geographies" / str(name) / HEX_FILE)
        except FileNotFoundError:
            pass
    return out


def adjacent(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether cells ``a`` and ``b`` share an edge."""
    return (b[0] - a[0], b[1] - a[1]) in _NEIGHBOURS
