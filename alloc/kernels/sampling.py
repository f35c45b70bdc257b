"""The synthetic population's person columns from its uniform draws (alloc.targets.synthetic).

Numba only: plain float64 / int64 arrays in and out; no pandas, xarray or I/O.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def synthetic_persons(
    practice,
    draws,
    age_cum,
    dep_cum,
    marker_p,
    icb_of,
    distance_of,
    base,
    cell_effect,
    dep_effect,
    marker_effect,
    distance_per_km,
    need,
):
    """Person columns of the synthetic population from its uniform draws, in one pass.

    The numpy recipe of :meth:`alloc.targets.synthetic.SyntheticPopulation.chunk`, element by
    element with the same floating-point operations in the same order (so the same bits), but
    without its temporaries: the draws are overwritten by the columns made from them (a chunk of
    500,000 persons touched about 150 MB of fresh memory the numpy way, and page faults cost as
    much as the arithmetic on the development machine).

    Parameters
    ----------
    practice : ndarray, shape (n,), int64
        Practice of each person.
    draws : ndarray, shape (3 + M, n), float64
        Uniform draws on [0, 1): sex, age band, deprivation quintile, then one row per marker.
        Overwritten: rows 0-2 become the sex (0 F, 1 M), age band and quintile codes (read them
        through ``draws.view(np.int64)``), rows 3.. the 0/1 markers.
    age_cum, dep_cum : ndarray, shape (P, 9) and (P, 4)
        Cumulative age-band and quintile probabilities of each practice [1].
    marker_p : ndarray, shape (M, 50)
        Probability of each marker in each cell ``band * 5 + quintile`` [1].
    icb_of : ndarray, shape (P,), int64; distance_of : ndarray, shape (P,)
        ICB and distance [km] of each practice.
    base : float
        Base cost [GBP per person-year].
    cell_effect : ndarray, shape (20,); dep_effect : ndarray, shape (5,)
        Cost of each age-sex cell and deprivation quintile [GBP per person-year].
    marker_effect : ndarray, shape (M,)
        Cost of each marker [GBP per person-year].
    distance_per_km : float
        Supply effect [GBP per person-year per km].
    need : bool
        Whether the need terms enter the expected cost.

    Returns
    -------
    icb, age_sex : ndarray, shape (n,), int64
        ICB code and age-sex cell (``sex * 10 + band``) of each person.
    distance, mu : ndarray, shape (n,), float64
        Distance [km] and expected cost [GBP per person-year].
    """
    # Categories by inversion: the number of the practice's cumulative probabilities below the
    # draw (for increasing ``cum``, category c with probability cum[c] - cum[c - 1]).
    n = practice.shape[0]
    codes = draws.view(np.int64)
    icb = np.empty(n, dtype=np.int64)
    age_sex = np.empty(n, dtype=np.int64)
    distance = np.empty(n)
    mu = np.empty(n)
    n_markers = draws.shape[0] - 3
    for i in range(n):
        r = practice[i]
        sex = np.int64(draws[0, i] < 0.495)
        band = np.int64(0)
        for j in range(age_cum.shape[1]):
            band += age_cum[r, j] < draws[1, i]
        quint = np.int64(0)
        for j in range(dep_cum.shape[1]):
            quint += dep_cum[r, j] < draws[2, i]
        codes[0, i] = sex
        codes[1, i] = band
        codes[2, i] = quint
        icb[i] = icb_of[r]
        age_sex[i] = sex * 10 + band
        m = base
        if need:
            m = m + (cell_effect[sex * 10 + band] + dep_effect[quint])
        cell = band * 5 + quint
        for k in range(n_markers):
            marker = 1.0 if draws[3 + k, i] < marker_p[k, cell] else 0.0
            draws[3 + k, i] = marker
            if need:
                m = m + marker_effect[k] * marker
        distance[i] = distance_of[r]
        mu[i] = m + distance_per_km * distance_of[r]
    return icb, age_sex, distance, mu
