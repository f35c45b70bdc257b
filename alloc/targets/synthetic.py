"""Seeded synthetic person-level records with a known cost model (ILLUSTRATIVE data).

For showing that :mod:`alloc.targets.estimate` recovers known coefficients and need indices, at any size
up to England's registered population (~63 million), without ever holding the records in memory:
records are made chunk by chunk, and chunk ``k`` depends only on ``(seed, k)`` and the practice
table, so any chunk can be regenerated anywhere (a dask worker, a second pass) bit for bit.

Everything here is **illustrative**, made up by the stated method; nothing is an NHS England
figure except the ICB list, their 2025/26 registered populations, centroids and
health-inequalities weighted populations, read from the embedded dataset (``data/``) to give the
synthetic population a realistic spread.

How a population is made (seed ``seed``; ``numpy.random.default_rng``)
-------------------------------------------------------------------------
Practice table (one RNG stream, ``SeedSequence(seed, spawn_key=(2**31,))``):

* ``n_practices = max(2 x 42, round(n_persons / persons_per_practice))``; each ICB gets at least
  one, the rest in proportion to its 2025/26 registered population (largest remainder);
* list size ``~ ICB population / practices in ICB x lognormal(0, 0.5)``, scaled so the lists sum
  to ``n_persons`` exactly (largest remainder);
* location = ICB centroid + N(0, 0.25 deg) latitude, N(0, 0.35 deg) longitude;
* ``distance_km`` = great-circle distance to the nearest of :data:`SPECIALIST_CENTRES`, capped at
  ``DGP.distance_cap_km`` (the supply variable);
* rurality ``r = min(distance / 60 km, 1.5)``; age tilt ``0.25 (r - 0.5) + N(0, 0.15)`` (rural
  practices are older, so need and supply are correlated, which is what sterilisation is for);
  deprivation tilt ``2 (HI_i - 1) - 0.3 (r - 0.5) + N(0, 0.5)`` with ``HI_i`` the ICB's real
  health-inequalities need index.

Persons (chunk ``k``: RNG ``SeedSequence(seed, spawn_key=(k,))``; persons sorted by practice):

* sex: male with probability 0.495;
* age band (10 bands, first ages 0, 5, 15, ..., 85): probabilities ``base x exp(tilt (m - 45)/45)``
  normalised, base = [5.5, 11.5, 12, 13.5, 13, 13, 12, 10, 6.5, 3.0] % (England-like, rounded),
  ``m`` the band mid-age;
* deprivation quintile ``q = 0..4`` (0 least deprived): probabilities ``exp(tilt (q - 2) / 2)``
  normalised;
* morbidity markers diabetes, ckd, cancer, cvd: Bernoulli with
  ``logit p = a + b (m - 50)/10 + c q`` (:data:`MARKER_LOGIT`);
* cost [GBP per person-year, illustrative] = ``mu x G``, ``G ~ Gamma(k, 1/k)`` (mean 1, so
  ``E[cost | x] = mu`` exactly; ``k = DGP.noise_shape``, or ``G = 1`` when ``noise_shape`` is
  None), with the linear model

      mu = base + age_scale x c(band, sex) + dep[q] + sum_m effect_m x marker_m
           + distance_per_km x distance_km

  where ``c`` is the illustrative ``specialised_physical`` curve of the default formula (stated
  in ``models/formula/default.toml``). With ``DGP(need=False)`` only ``base`` and the distance
  term remain: a pure supply effect.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alloc.kernels.sampling import synthetic_persons
from alloc.rounding import apportion
from alloc.targets.estimate import NeedModel

AGE_FROM = (0, 5, 15, 25, 35, 45, 55, 65, 75, 85)
MID_AGE = np.array([2, 10, 20, 30, 40, 50, 60, 70, 80, 90], dtype=float)
AGE_BASE_PCT = np.array([5.5, 11.5, 12, 13.5, 13, 13, 12, 10, 6.5, 3.0])
SEXES = ("F", "M")
MARKERS = ("diabetes", "ckd", "cancer", "cvd")
#: logit p = a + b (m - 50)/10 + c q, per marker (illustrative).
MARKER_LOGIT = {
    "diabetes": (-2.6, 0.45, 0.15),
    "ckd": (-3.8, 0.6, 0.12),
    "cancer": (-4.0, 0.5, 0.05),
    "cvd": (-3.2, 0.65, 0.15),
}
#: Illustrative locations (approximate city-centre latitude, longitude [degrees]) of cities with
#: major specialist centres. Not a list of NHS England's designated providers.
SPECIALIST_CENTRES = {
    "London": (51.507, -0.128),
    "Birmingham": (52.480, -1.900),
    "Manchester": (53.480, -2.240),
    "Leeds": (53.800, -1.550),
    "Newcastle": (54.970, -1.610),
    "Liverpool": (53.408, -2.992),
    "Sheffield": (53.381, -1.470),
    "Nottingham": (52.954, -1.158),
    "Leicester": (52.636, -1.139),
    "Bristol": (51.454, -2.588),
    "Oxford": (51.752, -1.258),
    "Cambridge": (52.205, 0.120),
    "Southampton": (50.910, -1.404),
    "Plymouth": (50.375, -4.143),
    "Brighton": (50.822, -0.137),
    "Norwich": (52.630, 1.297),
    "Hull": (53.745, -0.337),
    "Stoke-on-Trent": (53.003, -2.180),
    "Middlesbrough": (54.575, -1.235),
    "Exeter": (50.718, -3.534),
}
PRACTICE_STREAM = 2**31  # spawn key of the practice-table RNG stream (persons use 0, 1, ...)


def _marker_probabilities() -> np.ndarray:
    """Probability of each marker in each cell ``band * 5 + quintile`` (4, 50) [1]."""
    rows = []
    for name in MARKERS:
        a, b, c = MARKER_LOGIT[name]
        logit = a + b * (MID_AGE[:, None] - 50) / 10 + c * np.arange(5)[None, :]
        rows.append((1 / (1 + np.exp(-logit))).ravel())
    return np.array(rows)


MARKER_P = _marker_probabilities()


def _curve(m: np.ndarray) -> np.ndarray:
    """The default formula's illustrative ``specialised_physical`` curve (male), at mid-ages ``m``."""

    def g(x):
        return 0.25 + 0.9 * np.exp(-x / 2) + 0.15 * np.exp(0.05 * (x - 20))

    return np.where(m <= 50, g(m), g(50) * (g(m) / g(50)) ** 0.5)


def age_sex_labels() -> list[str]:
    """Labels of the 20 age-sex cells, index ``sex * 10 + band``: ``F0-4`` ... ``M85+``."""
    bands = [f"{a}-{b - 1}" for a, b in zip(AGE_FROM, AGE_FROM[1:])] + [f"{AGE_FROM[-1]}+"]
    return [f"{s}{b}" for s in SEXES for b in bands]


QUINTILE_LABELS = ["Q1 least deprived", "Q2", "Q3", "Q4", "Q5 most deprived"]


@dataclass(frozen=True)
class DGP:
    """The known data-generating process of synthetic cost [GBP per person-year, illustrative]."""

    base: float = 120.0
    age_scale: float = 250.0
    deprivation: tuple[float, ...] = (0.0, 10.0, 20.0, 35.0, 50.0)
    markers: tuple[tuple[str, float], ...] = (
        ("diabetes", 150.0),
        ("ckd", 900.0),
        ("cancer", 1200.0),
        ("cvd", 400.0),
    )
    distance_per_km: float = -0.8
    distance_cap_km: float = 150.0
    noise_shape: float | None = 0.5
    need: bool = True

    def cell_effect(self) -> np.ndarray:
        """Expected cost of each age-sex cell before other terms (20,) [GBP]: women x 1.0 below
        15, x 1.15 at 15-44, x 0.90 at 55+ (as the default formula's curve)."""
        male = self.age_scale * _curve(MID_AGE)
        female_factor = np.where(
            (MID_AGE >= 15) & (MID_AGE < 45), 1.15, np.where(MID_AGE >= 55, 0.9, 1.0)
        )
        return np.concatenate([male * female_factor, male])

    def coefficients(self) -> dict[str, float]:
        """True coefficients, named as the terms of :func:`need_model` [GBP per unit]."""
        cells = self.cell_effect() if self.need else np.zeros(20)
        dep = np.array(self.deprivation) if self.need else np.zeros(5)
        labels = age_sex_labels()
        out = {"const": self.base + cells[0] + dep[0]}
        out.update({f"age_sex={lab}": float(c - cells[0]) for lab, c in zip(labels[1:], cells[1:])})
        out.update(
            {
                f"imd_quintile={lab}": float(d - dep[0])
                for lab, d in zip(QUINTILE_LABELS[1:], dep[1:])
            }
        )
        out.update({m: (e if self.need else 0.0) for m, e in self.markers})
        out["distance_km"] = self.distance_per_km
        return out


def _haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def _embedded_icbs() -> pd.DataFrame:
    from alloc.resources import data_dir

    icbs = pd.read_csv(data_dir() / "icbs.csv")
    wp = pd.read_csv(data_dir() / "weighted_populations.csv")
    wp = wp[wp["year"] == "2025/26"].set_index("code").loc[icbs["code"]]
    hi = wp["wp_health_inequalities"] / wp["gp_pop"]
    icbs["gp_pop"] = wp["gp_pop"].to_numpy()
    icbs["hi_index"] = (hi / (wp["wp_health_inequalities"].sum() / wp["gp_pop"].sum())).to_numpy()
    return icbs


@dataclass(frozen=True)
class SyntheticPopulation:
    """A seeded synthetic registered population, generated in chunks (see module docstring).

    Parameters
    ----------
    n_persons : int
        Records in total [persons].
    seed : int
        Master seed.
    chunk_rows : int
        Persons per chunk (memory per chunk is about 200 bytes x chunk_rows plus the design).
    persons_per_practice : float
        Mean list size [persons].
    dgp : DGP
        The cost model.
    """

    n_persons: int
    seed: int = 20250401
    chunk_rows: int = 1_000_000
    persons_per_practice: float = 9_000.0
    dgp: DGP = field(default_factory=DGP)

    def __post_init__(self):
        if self.n_persons < 1 or self.chunk_rows < 1:
            raise ValueError("n_persons and chunk_rows must be positive")
        object.__setattr__(self, "_practices", self._make_practices())

    # -- practice table --
    def _make_practices(self) -> dict:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(PRACTICE_STREAM,)))
        icbs = _embedded_icbs()
        n_icb = len(icbs)
        n_prac = int(max(2 * n_icb, round(self.n_persons / self.persons_per_practice)))
        n_prac = min(n_prac, self.n_persons)
        per_icb = np.ones(n_icb, dtype=np.int64) if n_prac >= n_icb else np.zeros(n_icb, np.int64)
        per_icb += apportion(icbs["gp_pop"].to_numpy(float), n_prac - int(per_icb.sum()))
        icb = np.repeat(np.arange(n_icb), per_icb)
        size = (icbs["gp_pop"].to_numpy()[icb] / per_icb[icb]) * rng.lognormal(0, 0.5, n_prac)
        counts = apportion(size, self.n_persons)
        lat = icbs["lat"].to_numpy()[icb] + rng.normal(0, 0.25, n_prac)
        lon = icbs["lon"].to_numpy()[icb] + rng.normal(0, 0.35, n_prac)
        centres = np.array(list(SPECIALIST_CENTRES.values()))
        dist = np.min(
            _haversine_km(lat[:, None], lon[:, None], centres[None, :, 0], centres[None, :, 1]),
            axis=1,
        )
        dist = np.minimum(dist, self.dgp.distance_cap_km)
        rural = np.minimum(dist / 60.0, 1.5)
        age_tilt = 0.25 * (rural - 0.5) + rng.normal(0, 0.15, n_prac)
        dep_tilt = (
            2.0 * (icbs["hi_index"].to_numpy()[icb] - 1)
            - 0.3 * (rural - 0.5)
            + rng.normal(0, 0.5, n_prac)
        )
        age_p = AGE_BASE_PCT[None, :] * np.exp(age_tilt[:, None] * (MID_AGE[None, :] - 45) / 45)
        dep_p = np.exp(dep_tilt[:, None] * (np.arange(5)[None, :] - 2) / 2)
        return {
            "icb": icb,
            "counts": counts,
            "starts": np.concatenate([[0], np.cumsum(counts)]),
            "lat": lat,
            "lon": lon,
            "distance_km": dist,
            "age_cum": np.cumsum(age_p / age_p.sum(axis=1, keepdims=True), axis=1)[:, :-1],
            "dep_cum": np.cumsum(dep_p / dep_p.sum(axis=1, keepdims=True), axis=1)[:, :-1],
            "icb_codes": icbs["code"].tolist(),
        }

    @property
    def icb_codes(self) -> list[str]:
        """ICB ODS codes, indexed by the ``icb`` code of the records."""
        return self._practices["icb_codes"]

    @property
    def n_practices(self) -> int:
        return len(self._practices["counts"])

    def practices(self) -> pd.DataFrame:
        """The practice table: ICB, list size [persons], location [degrees], distance [km]."""
        p = self._practices
        return pd.DataFrame(
            {
                "practice": np.arange(self.n_practices),
                "icb": [p["icb_codes"][i] for i in p["icb"]],
                "list_size": p["counts"],
                "lat": p["lat"],
                "lon": p["lon"],
                "distance_km": p["distance_km"],
            }
        )

    @property
    def n_chunks(self) -> int:
        return -(-self.n_persons // self.chunk_rows)

    # -- persons --
    def chunk(self, k: int) -> dict[str, np.ndarray]:
        """Records of chunk ``k`` (persons ``k * chunk_rows`` onwards), as a dict of arrays.

        Columns: ``icb``, ``practice`` (integer codes), ``sex`` (0 F, 1 M), ``age_band``
        (0..9), ``age_sex`` (``sex * 10 + age_band``), ``imd_quintile`` (0..4), ``diabetes``,
        ``ckd``, ``cancer``, ``cvd`` (0/1), ``distance_km`` [km], ``expected_cost`` and ``cost``
        [GBP per person-year, illustrative].
        """
        if not 0 <= k < self.n_chunks:
            raise IndexError(f"chunk {k} of {self.n_chunks}")
        p, dgp = self._practices, self.dgp
        start, stop = k * self.chunk_rows, min(self.n_persons, (k + 1) * self.chunk_rows)
        n = stop - start
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(k,)))
        # persons are sorted by practice: the chunk is a run of practice segments
        lengths = np.clip(p["starts"][1:], start, stop) - np.clip(p["starts"][:-1], start, stop)
        practice = np.repeat(np.arange(len(lengths)), lengths)
        # every uniform draw at once, in the order of the recipe (sex, band, quintile, markers),
        # then the columns made from them in one pass (see alloc.kernels.sampling)
        draws = rng.random((3 + len(MARKERS), n))
        effects = dict(dgp.markers)
        icb, age_sex, distance, mu = synthetic_persons(
            practice,
            draws,
            p["age_cum"],
            p["dep_cum"],
            MARKER_P,
            p["icb"],
            p["distance_km"],
            float(dgp.base),
            dgp.cell_effect(),
            np.asarray(dgp.deprivation, dtype=np.float64),
            np.array([effects[name] for name in MARKERS], dtype=np.float64),
            float(dgp.distance_per_km),
            bool(dgp.need),
        )
        codes = draws.view(np.int64)
        out = {
            "icb": icb,
            "practice": practice,
            "sex": codes[0],
            "age_band": codes[1],
            "age_sex": age_sex,
            "imd_quintile": codes[2],
        }
        out.update({name: draws[3 + k] for k, name in enumerate(MARKERS)})
        out["distance_km"] = distance
        out["expected_cost"] = mu
        if dgp.noise_shape is None:
            out["cost"] = mu.copy()
        else:
            cost = rng.gamma(dgp.noise_shape, 1.0 / dgp.noise_shape, n)
            out["cost"] = np.multiply(mu, cost, out=cost)
        return out

    def chunk_numpy(self, k: int) -> dict[str, np.ndarray]:
        """:meth:`chunk` the plain numpy way (the reference the kernel is tested against).

        Same draws in the same order and the same arithmetic, with ``n x 9`` temporaries; about
        2x slower (benchmarks/bench_estimate.py).
        """
        if not 0 <= k < self.n_chunks:
            raise IndexError(f"chunk {k} of {self.n_chunks}")
        p, dgp = self._practices, self.dgp
        start, stop = k * self.chunk_rows, min(self.n_persons, (k + 1) * self.chunk_rows)
        n = stop - start
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(k,)))
        practice = np.searchsorted(p["starts"], np.arange(start, stop), side="right") - 1
        sex = (rng.random(n) < 0.495).astype(np.int64)
        band = (rng.random(n)[:, None] > p["age_cum"][practice]).sum(axis=1)
        quint = (rng.random(n)[:, None] > p["dep_cum"][practice]).sum(axis=1)
        out = {
            "icb": p["icb"][practice],
            "practice": practice,
            "sex": sex,
            "age_band": band,
            "age_sex": sex * 10 + band,
            "imd_quintile": quint,
        }
        mu = np.full(n, dgp.base)
        if dgp.need:
            mu += dgp.cell_effect()[out["age_sex"]] + np.asarray(dgp.deprivation)[quint]
        effects = dict(dgp.markers)
        for m, name in enumerate(MARKERS):
            marker = (rng.random(n) < MARKER_P[m].reshape(10, 5)[band, quint]).astype(np.float64)
            out[name] = marker
            if dgp.need:
                mu += effects[name] * marker
        out["distance_km"] = p["distance_km"][practice]
        mu += dgp.distance_per_km * out["distance_km"]
        out["expected_cost"] = mu
        if dgp.noise_shape is None:
            out["cost"] = mu.copy()
        else:
            out["cost"] = mu * rng.gamma(dgp.noise_shape, 1.0 / dgp.noise_shape, n)
        return out

    def chunk_loaders(self) -> list:
        """One picklable zero-argument loader per chunk (for alloc.targets.estimate and dask)."""
        return [functools.partial(self.chunk, k) for k in range(self.n_chunks)]

    def to_frame(self) -> pd.DataFrame:
        """All records in one DataFrame: small populations only (tests, reference fits)."""
        parts = [pd.DataFrame(self.chunk(k)) for k in range(self.n_chunks)]
        return pd.concat(parts, ignore_index=True)

    def need_model(self, practices: bool = True) -> NeedModel:
        """The correctly specified need model for these records (distance as supply)."""
        groups = {"icb": self.icb_codes}
        if practices:
            groups["practice"] = list(range(self.n_practices))
        return NeedModel(
            cost="cost",
            need=("age_sex", "imd_quintile", *MARKERS),
            supply=("distance_km",),
            categorical={"age_sex": age_sex_labels(), "imd_quintile": QUINTILE_LABELS},
            groups=groups,
        )
