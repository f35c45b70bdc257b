"""Explaining targets: what moved each ICB's target share between two formulas, and variation
analysis of spend against target (access x intensity).

Formula-change decomposition
----------------------------
Two formula specs A and B differ in some of five components (:data:`COMPONENTS`):

==================== ==========================================================================
``population_vintage``  ``population_vintage``
``age_curve``           per service ``age_curve`` and ``age_standardise``, and the curve tables
``need_index``          per service ``need_component``, and ``need_index_vintage``
``mff``                 per service ``mff_exponent``
``hi_weight``           per service ``health_inequalities_weight``
==================== ==========================================================================

Let ``s(S)`` be the target shares [fraction] of the hybrid formula that takes the components in
``S`` from B and the rest from A, so ``s({}) = s_A`` and ``s(K) = s_B`` (K = the changed
components). The total change ``s_B - s_A`` is split, per ICB and service line, into one part per
changed component and an interaction term:

* ``one_at_a_time`` (default): ``c_k = s({k}) - s({})``; interaction ``= (s_B - s_A) - sum_k c_k``
  (the effect of changing components together beyond their separate effects);
* ``shapley``: ``c_k = sum_{S subset K-{k}} |S|!(|K|-|S|-1)!/|K|! [s(S+{k}) - s(S)]``, the
  average of k's effect over all orders; the interaction is then zero up to rounding;
* ``sequential``: components switched one after another in :data:`COMPONENTS` order; each part is
  the step's change; interaction zero up to rounding.

In every method the parts plus the interaction equal the total change (to floating-point
rounding, below 1e-15 in share). ICB totals (service ``"all"``) weight the service lines by their
share of the national envelope (their share of the base-year baseline, as in ``alloc run``), so
they decompose the same way.

Variation analysis
------------------
As in NHS England's PSS Variations Tool, spend per head splits into access and intensity::

    spend / pop = (spend / patients) x (patients / pop)

Against a needs-based target ``T_i = WP_i x S / sum_j WP_j`` (S the national spend of the
service line) this is exact::

    spend_i / T_i = [(spend_i / patients_i) / (S / P)] x [(patients_i / WP_i) / (P / sum_j WP_j)]
    1 + DfT_i     =       intensity index               x        access index (need-adjusted)

with P the national patients. Against a benchmark peer group G (same region, or the k ICBs
nearest in need index) the same split uses the group's totals instead of England's.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alloc.errors import AllocError
from alloc.inputs.years import year_label
from alloc.targets.formula import (
    FormulaSpec,
    project_population,
    target_shares,
    weighted_populations,
)

COMPONENTS = ("population_vintage", "age_curve", "need_index", "mff", "hi_weight")
SERVICE_FIELDS = {
    "age_curve": ("age_curve", "age_standardise"),
    "need_index": ("need_component",),
    "mff": ("mff_exponent",),
    "hi_weight": ("health_inequalities_weight",),
}
TOP_FIELDS = {
    "population_vintage": ("population_vintage",),
    "age_curve": ("curves",),
    "need_index": ("need_index_vintage",),
}
INTERACTION = "interaction"
METHODS = ("one_at_a_time", "shapley", "sequential")


def changed_components(a: FormulaSpec, b: FormulaSpec, services: list[str]) -> list[str]:
    """Components (in :data:`COMPONENTS` order) in which formulas ``a`` and ``b`` differ."""
    changed = []
    for comp in COMPONENTS:
        differs = any(getattr(a, f) != getattr(b, f) for f in TOP_FIELDS.get(comp, ()))
        for svc in services:
            sa, sb = a.services.get(svc), b.services.get(svc)
            if sa is None or sb is None:
                continue
            differs |= any(getattr(sa, f) != getattr(sb, f) for f in SERVICE_FIELDS.get(comp, ()))
        if differs:
            changed.append(comp)
    return changed


def hybrid_formula(a: FormulaSpec, b: FormulaSpec, from_b: set[str] | frozenset) -> FormulaSpec:
    """Formula ``a`` with the components in ``from_b`` taken from ``b`` (see module docstring)."""
    top = {f: getattr(b, f) for comp in from_b for f in TOP_FIELDS.get(comp, ())}
    services = {}
    for name, spec in a.services.items():
        other = b.services.get(name)
        if other is None:
            services[name] = spec
            continue
        upd = {f: getattr(other, f) for comp in from_b for f in SERVICE_FIELDS.get(comp, ())}
        services[name] = spec.model_copy(update=upd)
    names = sorted(from_b)
    return a.model_copy(
        update=dict(top, services=services, name=f"{a.name}+{b.name}[{','.join(names)}]")
    )


@dataclass
class FormulaChange:
    """Decomposition of the change in target share from formula A to formula B.

    ``shares`` (icb x service, incl. ``"all"``): ``share_a``, ``share_b`` [fraction].
    ``parts``: long table icb, service, part (a component or ``"interaction"``), contribution
    [fraction of the national total; share points], contribution_gbp [GBP, cash]. ``envelopes``: base-year envelope per service
    line and ``"all"`` [GBP, cash], to turn share points into pounds.
    """

    formula_a: str
    formula_b: str
    year: int
    method: str
    changed: list[str]
    shares: pd.DataFrame
    parts: pd.DataFrame
    envelopes: dict

    def table(self, service: str = "all") -> pd.DataFrame:
        """One row per ICB: share A, one column per part, share B, total change [fraction].

        The part columns plus ``interaction`` add up to ``total_change``.
        """
        sub = self.parts[self.parts["service"] == service]
        wide = sub.pivot(index="icb", columns="part", values="contribution")
        wide = wide[[*self.changed, INTERACTION]]
        shares = self.shares.xs(service, level="service")
        out = pd.concat([shares[["share_a"]], wide, shares[["share_b"]]], axis=1)
        out["total_change"] = shares["share_b"] - shares["share_a"]
        return out.loc[shares.index]

    def waterfall(self, service: str = "all") -> pd.DataFrame:
        """Waterfall-ready steps per ICB: start (share A), one step per part, end (share B).

        Columns: ``icb``, ``step`` (order), ``label``, ``kind`` (``start`` / ``part`` / ``end``),
        ``value`` [fraction], ``bottom`` and ``top`` (bar extent for a waterfall chart), and
        ``value_gbp`` = value x the service line's base-year envelope [GBP, cash] for parts.
        """
        table = self.table(service)
        rows = []
        for icb, row in table.iterrows():
            level = row["share_a"]
            rows.append((icb, 0, "formula A", "start", level, 0.0, level))
            for k, part in enumerate([*self.changed, INTERACTION], start=1):
                value = row[part]
                rows.append(
                    (
                        icb,
                        k,
                        part,
                        "part",
                        value,
                        min(level, level + value),
                        max(level, level + value),
                    )
                )
                level += value
            rows.append(
                (
                    icb,
                    len(self.changed) + 2,
                    "formula B",
                    "end",
                    row["share_b"],
                    0.0,
                    row["share_b"],
                )
            )
        frame = pd.DataFrame(
            rows, columns=["icb", "step", "label", "kind", "value", "bottom", "top"]
        )
        frame["value_gbp"] = np.where(
            frame["kind"] == "part", frame["value"] * self.envelopes[service], np.nan
        )
        frame.insert(1, "service", service)
        return frame


def _shares(inputs, formula, source, population, year) -> np.ndarray:
    return (
        target_shares(inputs, formula, source, population)
        .sel(year=year)
        .transpose("icb", "service")
        .values
    )


def decompose_formula_change(
    inputs: xr.Dataset,
    formula_a: FormulaSpec,
    formula_b: FormulaSpec,
    *,
    sources: tuple = ("formula A", "formula B"),
    year: int | None = None,
    population_growth: float | None = None,
    method: str = "one_at_a_time",
) -> FormulaChange:
    """Decompose each ICB's change in target share from formula A to B by component.

    Parameters
    ----------
    inputs : xarray.Dataset
        From :func:`alloc.inputs.dataset.load_inputs`.
    formula_a, formula_b : FormulaSpec
        The two formulas (from :func:`alloc.targets.formula.load_formula`).
    sources : (str, str)
        Their files, for error messages.
    year : int, optional
        Target year (default: the dataset's base year). Later years use the population
        projected at ``population_growth`` (default: the dataset assumption).
    method : {"one_at_a_time", "shapley", "sequential"}
        See the module docstring.

    Returns
    -------
    FormulaChange
        Parts add up to the total change for every ICB and service line (and ``"all"``).
    """
    if method not in METHODS:
        raise AllocError(
            "compare-formulas", "method", f"expected one of {', '.join(METHODS)}, found {method!r}"
        )
    import json

    year = int(inputs.attrs["base_year"]) if year is None else int(year)
    first = int(inputs["year"].min())
    if year < first:
        raise AllocError(
            "compare-formulas",
            "year",
            f"expected {year_label(first)} or later, found {year_label(year)}",
        )
    growth = population_growth
    if growth is None:
        growth = json.loads(inputs.attrs["assumptions"])["population_growth"]["value"]
    population = project_population(inputs["gp_pop"], list(range(first, year + 1)), growth)
    population = population.sel(year=[year])
    services = [str(s) for s in inputs["service"].values]
    share_a = _shares(inputs, formula_a, sources[0], population, year)
    share_b = _shares(inputs, formula_b, sources[1], population, year)
    changed = changed_components(formula_a, formula_b, services)
    label = f"{sources[0]} + {sources[1]} (hybrid)"
    cache: dict[frozenset, np.ndarray] = {frozenset(): share_a, frozenset(changed): share_b}

    def s(subset) -> np.ndarray:
        key = frozenset(subset)
        if key not in cache:
            cache[key] = _shares(
                inputs, hybrid_formula(formula_a, formula_b, key), label, population, year
            )
        return cache[key]

    parts = {}
    k = len(changed)
    if method == "one_at_a_time":
        for comp in changed:
            parts[comp] = s({comp}) - share_a
    elif method == "shapley":
        for comp in changed:
            others = [c for c in changed if c != comp]
            total = np.zeros_like(share_a)
            for size in range(len(others) + 1):
                weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
                for subset in itertools.combinations(others, size):
                    total += weight * (s({*subset, comp}) - s(subset))
            parts[comp] = total
    else:
        done: list[str] = []
        for comp in changed:
            parts[comp] = s({*done, comp}) - s(done)
            done.append(comp)
    change = share_b - share_a
    parts[INTERACTION] = change - sum(parts.values(), np.zeros_like(change))

    base = inputs["baseline"]
    weights = (base.sum("icb") / base.sum()).sel(service=services).values  # (S,)
    icbs = [str(i) for i in inputs["icb"].values]

    def with_all(arr: np.ndarray) -> np.ndarray:
        return np.column_stack([arr, arr @ weights])

    cols = services + ["all"]
    index = pd.MultiIndex.from_product([icbs, cols], names=["icb", "service"])
    shares = pd.DataFrame(
        {"share_a": with_all(share_a).ravel(), "share_b": with_all(share_b).ravel()}, index=index
    )
    long = []
    for part, arr in parts.items():
        frame = pd.DataFrame({"contribution": with_all(arr).ravel()}, index=index).reset_index()
        frame.insert(2, "part", part)
        long.append(frame)
    parts_frame = pd.concat(long, ignore_index=True)
    total = float(base.sum())
    envelopes = {svc: total * float(w) for svc, w in zip(services, weights)}
    envelopes["all"] = total
    parts_frame["contribution_gbp"] = parts_frame["contribution"] * parts_frame["service"].map(
        envelopes
    )
    return FormulaChange(
        formula_a.name, formula_b.name, year, method, changed, shares, parts_frame, envelopes
    )


# --- variation analysis ------------------------------------------------------------------------


def _peer_groups(inputs: xr.Dataset, need_index: np.ndarray, peers: str) -> list[np.ndarray]:
    """Boolean peer masks per ICB (each includes the ICB itself)."""
    n = inputs.sizes["icb"]
    if peers == "england":
        return [np.ones(n, dtype=bool)] * n
    if peers == "region":
        region = inputs["region"].values
        return [region == region[i] for i in range(n)]
    if peers.startswith("nearest:"):
        try:
            k = int(peers.split(":", 1)[1])
        except ValueError:
            k = -1
        if not 1 <= k < n:
            raise AllocError(
                "variation", "peers", f"expected nearest:<k> with 1 <= k < {n}, found {peers!r}"
            )
        masks = []
        for i in range(n):
            dist = np.abs(need_index - need_index[i])
            dist[i] = -1.0  # itself first
            order = np.argsort(dist, kind="stable")[: k + 1]
            mask = np.zeros(n, dtype=bool)
            mask[order] = True
            masks.append(mask)
        return masks
    raise AllocError(
        "variation", "peers", f"expected 'england', 'region' or 'nearest:<k>', found {peers!r}"
    )


def variation(
    inputs: xr.Dataset,
    formula: FormulaSpec,
    source: str | Path = "formula",
    *,
    peers: str = "region",
) -> pd.DataFrame:
    """Variation analysis per ICB x service line in the base year: access x intensity.

    Parameters
    ----------
    inputs : xarray.Dataset
        ``baseline`` (spend) [GBP], ``patients`` [persons], ``gp_pop`` [persons].
    formula : FormulaSpec
        Gives the needs-weighted population ``WP`` and so the target.
    peers : {"region", "england", "nearest:<k>"}
        Benchmark group: the ICB's NHS England region, all ICBs, or the ICB and the k ICBs
        nearest to it in the service line's need index (``WP/pop`` relative to England).

    Returns
    -------
    pandas.DataFrame
        Index (icb, service). Columns: ``spend_gbp`` [GBP], ``patients`` [persons],
        ``population`` [persons], ``weighted_population`` [weighted persons], ``target_gbp``
        [GBP], ``need_index`` [1], ``spend_per_head_gbp`` [GBP per person],
        ``spend_per_patient_gbp`` (intensity) [GBP per patient], ``patients_per_1000``
        (access) [patients per 1,000 persons], ``dft`` [fraction], ``intensity_index`` and
        ``access_index`` (need-adjusted) against England [1] with
        ``intensity_index x access_index = 1 + dft`` exactly, ``log_intensity`` and
        ``log_access`` (add up to ``log(1 + dft)``), ``peer_group`` (description), and
        ``intensity_vs_peers``, ``access_vs_peers``, ``spend_per_weighted_head_vs_peers`` [1]
        (product of the first two equals the third).
    """
    base_year = int(inputs.attrs["base_year"])
    services = [str(s) for s in inputs["service"].values]
    population = inputs["gp_pop"].sel(year=[base_year])
    wp = weighted_populations(inputs, formula, source, population).sel(year=base_year)
    wp = wp.transpose("icb", "service").values
    spend = inputs["baseline"].transpose("icb", "service").values
    patients = inputs["patients"].transpose("icb", "service").values
    pop = inputs["gp_pop"].sel(year=base_year).values
    icbs = [str(i) for i in inputs["icb"].values]
    if (patients <= 0).any():
        i, s = map(int, np.argwhere(patients <= 0)[0])
        raise AllocError(
            Path(inputs.attrs["data_folder"]) / "patients.csv",
            "patients",
            f"expected positive patients for access x intensity, found "
            f"{patients[i, s]:g} for {icbs[i]} / {services[s]}",
        )
    frames = []
    for si, service in enumerate(services):
        S, P, W = spend[:, si], patients[:, si], wp[:, si]
        target = W * S.sum() / W.sum()
        ni = (W / pop) / (W.sum() / pop.sum())
        intensity = (S / P) / (S.sum() / P.sum())
        access = (P / W) / (P.sum() / W.sum())
        masks = _peer_groups(inputs, ni, peers)
        int_peer, acc_peer, pwh_peer, names = [], [], [], []
        for i, mask in enumerate(masks):
            int_peer.append((S[i] / P[i]) / (S[mask].sum() / P[mask].sum()))
            acc_peer.append((P[i] / W[i]) / (P[mask].sum() / W[mask].sum()))
            pwh_peer.append((S[i] / W[i]) / (S[mask].sum() / W[mask].sum()))
            names.append(_peer_name(inputs, peers, i, mask))
        frames.append(
            pd.DataFrame(
                {
                    "icb": icbs,
                    "service": service,
                    "spend_gbp": S,
                    "patients": P,
                    "population": pop,
                    "weighted_population": W,
                    "target_gbp": target,
                    "need_index": ni,
                    "spend_per_head_gbp": S / pop,
                    "spend_per_patient_gbp": S / P,
                    "patients_per_1000": 1000 * P / pop,
                    "dft": S / target - 1,
                    "intensity_index": intensity,
                    "access_index": access,
                    "log_intensity": np.log(intensity),
                    "log_access": np.log(access),
                    "peer_group": names,
                    "intensity_vs_peers": int_peer,
                    "access_vs_peers": acc_peer,
                    "spend_per_weighted_head_vs_peers": pwh_peer,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True).set_index(["icb", "service"])
    out.attrs.update(
        year=year_label(base_year),
        peers=peers,
        formula=formula.name,
        money="GBP cash " + year_label(base_year),
    )
    return out


def _peer_name(inputs, peers, i, mask) -> str:
    if peers == "england":
        return "England"
    if peers == "region":
        return str(inputs["region"].values[i])
    others = [str(c) for j, c in enumerate(inputs["icb"].values) if mask[j] and j != i]
    return f"nearest {len(others)} in need index: {' '.join(others)}"
