"""Which uncertain inputs move a scenario's results: tornado and variance-based (Sobol) analysis.

The inputs (*factors*) are the scenario's ``[ensemble] uncertain`` parameters and, in a
left-shift scenario (unless ``pathway_uncertainty = false``), every quantity of its pathway files
that has a ``[low, high]`` range, with the distributions an ensemble draws them from.

- :func:`sensitivity`: one at a time (tornado): each factor at its ``low`` and ``high`` with the
  others central; ``2P + 1`` runs.
- :func:`sobol_indices`: first-order and total Sobol indices over the factors' joint
  distribution, sampled and analysed with SALib (Saltelli's design on a scrambled Sobol
  sequence; Jansen's total-effect estimator; bootstrap confidence intervals); ``N (G + 2)`` runs
  for ``G`` groups. A scenario parameter is its own group; pathway quantities are grouped by
  lever (``renal: levers.sglt2i``) and by cohort section (``renal: cohorts.renal.transitions``),
  since a pathway file holds up to about 100 of them. Pathway draws respect a file's
  ``[[correlations]]`` (Gaussian copula, :mod:`alloc.pathways.copula`), and groups linked by a
  correlation are joined into one, so that groups stay independent as the estimators assume. The
  one-at-a-time tornado moves one quantity at a time and ignores correlations.

The output is one number per run, in the final projection year: the distance from target
(``dft``, fraction), the left-shift saving or the net position (``saving``, ``net_position``,
GBP cash), of one ICB or nationally (mean absolute DfT; total saving or net position). Grid
parameters are held at the scenario's own values. Every run goes through the ensemble's
vectorised kernel (:func:`alloc.uncertainty.ensemble.run_rows`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from alloc.allocation.engine import Prepared, prepare
from alloc.errors import AllocError
from alloc.resources import suggest
from alloc.uncertainty.ensemble import (
    EnsembleSpec,
    chunks,
    resolve_spec,
    run_rows,
    transform,
)

Output = Literal["dft", "saving", "net_position"]
OUTPUT_LABELS = {
    "dft": ("final-year DfT", "mean absolute final-year DfT", "1"),
    "saving": ("final-year left-shift saving", "total final-year left-shift saving", "GBP"),
    "net_position": ("final-year net position", "total final-year net position", "GBP"),
}


@dataclass(frozen=True)
class Factor:
    """One uncertain input: a scenario parameter or a quantity of a pathway file."""

    name: str  # "envelope_growth" or "renal: levers.sglt2i.uptake"
    group: str  # Sobol group
    low: float
    high: float
    central: float
    pathway: str | None = None  # for pathway quantities: the pathway and the quantity's path
    path: str | None = None


@dataclass
class _Setup:
    prep: Prepared
    spec: EnsembleSpec
    factors: list[Factor]
    pathway_specs: dict  # pathway name -> its PathwaySpec (only pathways the scenario uses)


def _group(pathway: str, path: str) -> str:
    parts = path.split(".")
    return f"{pathway}: {'.'.join(parts[:3] if parts[0] == 'cohorts' else parts[:2])}"


def _join_correlated_groups(factors: list[Factor], specs: dict) -> list[Factor]:
    """Put pathway quantities a file correlates (``[[correlations]]``) in one Sobol group.

    Saltelli's estimators need groups that are independent of each other. Within a group the
    quantities may be correlated: the pathway draws apply the Gaussian copula to the group's
    independent uniforms, so a joined group's indices are those of all its quantities together.
    A joined group is named by its parts joined with `` + ``.
    """
    group_of = {(f.pathway, f.path): f.group for f in factors if f.pathway is not None}
    parent: dict[str, str] = {}

    def root(g: str) -> str:
        while parent.setdefault(g, g) != g:
            g = parent[g]
        return g

    for name, pspec in specs.items():
        for corr in pspec.correlations:
            ga, gb = root(group_of[(name, corr.a)]), root(group_of[(name, corr.b)])
            if ga != gb:
                parent[gb] = ga
    if not parent:
        return factors
    order = list(dict.fromkeys(f.group for f in factors))
    parts: dict[str, list[str]] = {}
    for g in order:
        parts.setdefault(root(g), []).append(g)
    label = {g: " + ".join(parts[root(g)]) for g in order}
    return [replace(f, group=label[f.group]) for f in factors]


def _load(scenario, overrides, spec, scenario_path, raw) -> _Setup:
    """The prepared scenario, its validated ensemble spec and its factors (at least one)."""
    from alloc.pathways import chosen_pathways
    from alloc.pathways.base import quantities

    prep = prepare(scenario, overrides, scenario_path, raw)
    spec = resolve_spec(prep, spec)
    factors = [Factor(n, n, u.low, u.high, u.central) for n, u in spec.uncertain.items()]
    specs = {}
    if prep.left_shift is not None and spec.pathway_uncertainty:
        pathways = chosen_pathways(prep.scenario.pathways, Path(prep.source).parent)
        for name, pathway in pathways.items():
            specs[name] = pathway.spec
            factors += [
                Factor(f"{name}: {p}", _group(name, p), q.range[0], q.range[1], q.value, name, p)
                for p, q in quantities(pathway.spec).items()
                if q.range[1] > q.range[0]
            ]
        factors = _join_correlated_groups(factors, specs)
    if not factors:
        raise AllocError(
            f"{prep.source} [ensemble]",
            "uncertain",
            "sensitivity needs at least one uncertain parameter (or a left-shift scenario)",
        )
    return _Setup(prep, spec, factors, specs)


def _outputs(
    setup: _Setup,
    n_runs: int,
    values: dict[str, np.ndarray],
    pathway_values: dict[str, dict],
    output: Output,
    icb: str | None,
    chunk: int,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The output of each of ``n_runs`` runs, in chunks of ``chunk`` runs.

    ``values``: scenario parameter path -> value per run; ``pathway_values``: pathway name ->
    {quantity path: value per run} for every quantity of that pathway.
    """
    prep = setup.prep
    codes = list(prep.inputs["icb"].values)
    if icb is not None and icb not in codes:
        raise AllocError(
            "--icb",
            "icb",
            f"unknown ICB code '{icb}'; expected one of the {len(codes)} codes of the scenario's "
            f"geography {prep.inputs.attrs.get('geography', '')}.{suggest(icb, codes)} "
            "`alloc list icbs` shows them",
        )
    if output != "dft" and prep.left_shift is None:
        raise AllocError(
            prep.source,
            "pathways",
            f"output '{output}' needs a left-shift scenario (one with [[pathways.levers]])",
        )
    metric = np.empty(n_runs)
    for rows in chunks(n_runs, chunk):
        part = slice(rows.start, rows.stop)

        def sampler(name, _spec, part=part):  # this chunk's values of every pathway quantity
            return {p: v[part] for p, v in pathway_values[name].items()}

        out = run_rows(
            prep,
            {k: v[part] for k, v in values.items()},
            rows,
            pathway_sampler=sampler if pathway_values else None,
        )
        if output == "dft":
            final = (out["allocation"][:, -1] - out["target"][:, -1]) / out["target"][:, -1]
            national = np.abs(final).mean(axis=1)
        else:
            final = (out["saving"] if output == "saving" else out["allocation"] - out["spend"])[
                :, -1
            ]
            national = final.sum(axis=1)
        metric[part] = national if icb is None else final[:, codes.index(icb)]
        if progress:
            progress(rows.stop, n_runs)
    return metric


def _label(output: Output, icb: str | None) -> str:
    one, national, _ = OUTPUT_LABELS[output]
    return f"{one} of {icb}" if icb else f"national {national}"


def _note(setup: _Setup) -> str:
    """What the runs hold fixed that a reader might expect to vary ('' if nothing)."""
    if not setup.spec.grid:  # sensitivity runs vary the uncertain inputs only
        return ""
    return (
        f"grid parameters ({', '.join(setup.spec.grid)}) are held at the scenario's own "
        "values, not their grid values"
    )


def _central_pathway_values(setup: _Setup, n_runs: int) -> dict[str, dict]:
    """Every pathway quantity at its central value in each of ``n_runs`` runs (writable)."""
    from alloc.pathways.base import central_values

    return {
        name: {p: np.repeat(v, n_runs) for p, v in central_values(spec).items()}
        for name, spec in setup.pathway_specs.items()
    }


def sensitivity(
    scenario=None,
    overrides=None,
    spec: EnsembleSpec | dict | None = None,
    *,
    icb: str | None = None,
    output: Output = "dft",
    scenario_path=None,
    raw: dict | None = None,
) -> pd.DataFrame:
    """One-at-a-time sensitivity (tornado table) of a final-year output.

    Each factor (see the module docstring) is set to its ``low`` and then its ``high`` value with
    every other factor at its central value; the ``2P + 1`` runs go through the kernel together.

    Parameters
    ----------
    scenario, overrides, scenario_path, raw
        As :func:`alloc.allocation.engine.run`.
    spec : EnsembleSpec or dict, optional
        Overrides the scenario's ``[ensemble]`` table; its ``uncertain`` parameters are varied.
    icb : str, optional
        ICB code whose output is used; default the national figure.
    output : {"dft", "saving", "net_position"}
        Final-year distance from target [fraction], left-shift saving or net position [GBP].

    Returns
    -------
    pandas.DataFrame
        One row per factor, sorted by swing (largest first): ``parameter``, ``low``,
        ``high`` [the factor's units], ``output_low``, ``output_high``, ``output_central``,
        ``swing`` = |output_high - output_low| [output units], ``output`` (what was measured)
        and ``units`` ("1" for a fraction, "GBP" for cash pounds), also in ``attrs``, with
        ``note`` (what the runs hold fixed that might be expected to vary, or "").
    """
    setup = _load(scenario, overrides, spec, scenario_path, raw)
    factors = setup.factors
    n_runs = 2 * len(factors) + 1
    values = {f.name: np.full(n_runs, f.central) for f in factors if f.pathway is None}
    pathway_values = _central_pathway_values(setup, n_runs)
    for j, f in enumerate(factors):
        column = values[f.name] if f.pathway is None else pathway_values[f.pathway][f.path]
        column[1 + 2 * j], column[2 + 2 * j] = f.low, f.high
    metric = _outputs(setup, n_runs, values, pathway_values, output, icb, n_runs)
    table = pd.DataFrame(
        {
            "parameter": [f.name for f in factors],
            "low": [f.low for f in factors],
            "high": [f.high for f in factors],
            "output_low": metric[1::2],
            "output_high": metric[2::2],
            "output_central": metric[0],
        }
    )
    table["swing"] = (table["output_high"] - table["output_low"]).abs()
    # Repeated on every row so that a CSV of the table still says what it measured.
    table["output"], table["units"] = _label(output, icb), OUTPUT_LABELS[output][2]
    table.attrs.update(
        output=table["output"].iloc[0], units=table["units"].iloc[0], note=_note(setup)
    )
    return table.sort_values("swing", ascending=False, ignore_index=True)


def sobol_indices(
    scenario=None,
    overrides=None,
    spec: EnsembleSpec | dict | None = None,
    *,
    icb: str | None = None,
    output: Output = "dft",
    samples: int | None = None,
    scenario_path=None,
    raw: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Variance-based (Sobol) sensitivity indices of a final-year output.

    The factors are sampled from their distributions by Saltelli's design
    (``SALib.sample.sobol``: a scrambled Sobol sequence on the unit cube, mapped through each
    factor's inverse CDF, as an ensemble draws it), the model runs in chunks of ``spec.chunk``
    runs, and ``SALib.analyze.sobol`` estimates the indices of each group with 95% bootstrap
    confidence intervals. The sample and the bootstrap are seeded by ``spec.seed``.

    Parameters
    ----------
    scenario, overrides, spec, icb, output, scenario_path, raw
        As :func:`sensitivity`.
    samples : int, optional
        Base sample size ``N``, a power of 2 (Sobol sequences are balanced only then); the model
        runs ``N (G + 2)`` times for ``G`` groups. Default 8,192 (95% half-widths of about 0.02
        to 0.05 on the default scenario, under a second), or 512 when pathway quantities are
        among the factors (each run then projects the pathways: about 1 ms per run per pathway).
    progress : callable, optional
        Called as ``progress(runs_done, runs_total)`` after each chunk.

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by total index (largest first): ``parameter`` (the group),
        ``quantities`` (factors in it), ``S1`` (first-order index: share of the output's variance
        explained by the group alone), ``S1_conf``, ``ST`` (total index: share including its
        interactions), ``ST_conf`` [fractions of variance; ``_conf`` are half-widths of 95%
        intervals]. ``attrs``: ``output``, ``units``, ``note`` (as :func:`sensitivity`),
        ``variance`` [output units squared],
        ``runs``, ``groups`` (group -> factor names).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    from alloc.pathways.base import quantities, sample_from_uniforms

    setup = _load(scenario, overrides, spec, scenario_path, raw)
    factors = setup.factors
    if samples is None:
        samples = 512 if setup.pathway_specs else 8192
    if (
        isinstance(samples, bool)
        or not isinstance(samples, (int, np.integer))
        or samples < 2
        or samples & (samples - 1)
    ):
        raise AllocError(
            "--samples",
            "samples",
            f"expected a power of 2 of at least 2 (e.g. 1024), found {samples!r}",
        )
    groups = [f.group for f in factors]
    problem = {
        "num_vars": len(factors),
        "names": [f.name for f in factors],
        "bounds": [[0.0, 1.0]] * len(factors),
        "groups": groups,
    }
    u = sobol_sample.sample(problem, int(samples), calc_second_order=False, seed=setup.spec.seed)
    u = np.clip(u, 2.0**-53, 1.0 - 2.0**-53)  # open interval: the inverse CDFs are finite there
    values = {
        f.name: transform(u[:, j], setup.spec.uncertain[f.name])
        for j, f in enumerate(factors)
        if f.pathway is None
    }
    pathway_values = {}
    for name, pspec in setup.pathway_specs.items():
        paths = list(quantities(pspec))
        cols = np.full((len(u), len(paths)), 0.5)  # quantities without a range stay central
        for j, f in enumerate(factors):
            if f.pathway == name:
                cols[:, paths.index(f.path)] = u[:, j]
        pathway_values[name] = sample_from_uniforms(pspec, cols, np.zeros(len(u), dtype=bool))
    metric = _outputs(
        setup, len(u), values, pathway_values, output, icb, setup.spec.chunk, progress
    )
    if np.ptp(metric) == 0.0:
        raise AllocError(
            f"{setup.prep.source} [ensemble]",
            "uncertain",
            "the output does not vary over these ranges, so it has no variance to apportion",
        )
    si = sobol_analyze.analyze(
        problem, metric, calc_second_order=False, conf_level=0.95, seed=setup.spec.seed
    )
    names = list(dict.fromkeys(groups))  # SALib orders groups by first appearance
    members = {g: [f.name for f in factors if f.group == g] for g in names}
    table = pd.DataFrame(
        {
            "parameter": names,
            "quantities": [len(members[g]) for g in names],
            "S1": si["S1"],
            "S1_conf": si["S1_conf"],
            "ST": si["ST"],
            "ST_conf": si["ST_conf"],
        }
    )
    table.attrs.update(
        output=_label(output, icb),
        units=OUTPUT_LABELS[output][2],
        note=_note(setup),
        variance=float(np.var(metric)),
        runs=len(metric),
        groups=members,
    )
    return table.sort_values("ST", ascending=False, ignore_index=True)
