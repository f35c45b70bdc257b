"""Sensitivity of the final-year distance from target to a scenario's uncertain parameters.

Two methods over the ``[ensemble] uncertain`` parameters (their ranges and distributions as in
:class:`alloc.ensemble.Uncertain`):

- :func:`sensitivity`: one at a time (tornado): each parameter at its ``low`` and ``high`` with
  the others central; ``2P + 1`` runs.
- :func:`sobol_indices`: variance-based (Sobol) first-order and total indices over the
  parameters' joint distribution, sampled and analysed with SALib (Saltelli's design on a
  scrambled Sobol sequence; Jansen's total-effect estimator; bootstrap confidence intervals);
  ``N (P + 2)`` runs. Unlike a tornado it accounts for the distributions and for interactions.

The output is one number per run: the final-year DfT of one ICB, or the national mean absolute
final-year DfT. Grid parameters are held at the scenario's own values and pathway parameters at
their central values. Every run goes through the same vectorised kernel as an ensemble.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alloc.engine import Prepared, prepare
from alloc.ensemble import EnsembleSpec, chunks, run_rows, transform
from alloc.errors import AllocError
from alloc.specs import validate


def _load(scenario, overrides, spec, scenario_path, raw) -> tuple[Prepared, EnsembleSpec]:
    """The prepared scenario and its validated ensemble spec (which must name a parameter)."""
    prep = prepare(scenario, overrides, scenario_path, raw)
    raw_spec = spec if spec is not None else (prep.scenario.ensemble or {})
    spec = raw_spec if isinstance(raw_spec, EnsembleSpec) else validate(
        EnsembleSpec, raw_spec, f"{prep.source} [ensemble]")
    if not spec.uncertain:
        raise AllocError(f"{prep.source} [ensemble]", "uncertain", "sensitivity needs at least "
                         "one uncertain parameter")
    return prep, spec


def _final_dft(prep: Prepared, values: dict[str, np.ndarray], icb: str | None,
               chunk: int) -> np.ndarray:
    """The output of each row whose parameters are ``values``: final-year DfT [fraction].

    One ICB's DfT if ``icb`` is given, else the mean over ICBs of the absolute DfT.
    """
    codes = list(prep.inputs["icb"].values)
    if icb is not None and icb not in codes:
        raise AllocError("--icb", "icb", f"unknown ICB code '{icb}'; expected one of the 42 ODS "
                         "codes (alloc list icbs)")
    n_rows = len(next(iter(values.values())))
    metric = np.empty(n_rows)
    for rows in chunks(n_rows, chunk):
        out = run_rows(prep, {k: v[rows.start:rows.stop] for k, v in values.items()}, rows)
        final = (out["allocation"][:, -1] - out["target"][:, -1]) / out["target"][:, -1]
        metric[rows.start:rows.stop] = (np.abs(final).mean(axis=1) if icb is None
                                        else final[:, codes.index(icb)])
    return metric


def _output_label(icb: str | None, spec: EnsembleSpec) -> str:
    label = f"final-year DfT of {icb}" if icb else "national mean absolute final-year DfT"
    if spec.grid:  # sensitivity runs vary the uncertain parameters only
        label += (f"; grid parameters ({', '.join(spec.grid)}) at the scenario's own values, "
                  "not their grid values")
    return label


def sensitivity(scenario=None, overrides=None, spec: EnsembleSpec | dict | None = None, *,
                icb: str | None = None, scenario_path=None, raw: dict | None = None):
    """One-at-a-time sensitivity (tornado table) of the final-year distance from target.

    Each uncertain parameter is set to its ``low`` and then its ``high`` value with every other
    parameter at its central value; all ``2P + 1`` rows run in one kernel call.

    Parameters
    ----------
    scenario, overrides, scenario_path, raw
        As :func:`alloc.engine.run`.
    spec : EnsembleSpec or dict, optional
        Overrides the scenario's ``[ensemble]`` table; its ``uncertain`` parameters are varied.
    icb : str, optional
        ICB code whose final-year DfT is the output; default the national mean absolute DfT.

    Returns
    -------
    pandas.DataFrame
        One row per parameter, sorted by swing (largest first): ``parameter``, ``low``,
        ``high`` [parameter units], ``output_low``, ``output_high``, ``output_central``,
        ``swing`` = |output_high - output_low| [fraction]. ``attrs["output"]`` names the output.
    """
    prep, spec = _load(scenario, overrides, spec, scenario_path, raw)
    names = list(spec.uncertain)
    n_rows = 2 * len(names) + 1
    values = {n: np.full(n_rows, spec.uncertain[n].central) for n in names}
    for j, n in enumerate(names):
        values[n][1 + 2 * j] = spec.uncertain[n].low
        values[n][2 + 2 * j] = spec.uncertain[n].high
    metric = _final_dft(prep, values, icb, n_rows)
    table = pd.DataFrame({
        "parameter": names,
        "low": [spec.uncertain[n].low for n in names],
        "high": [spec.uncertain[n].high for n in names],
        "output_low": metric[1::2],
        "output_high": metric[2::2],
        "output_central": metric[0],
    })
    table["swing"] = (table["output_high"] - table["output_low"]).abs()
    table.attrs["output"] = _output_label(icb, spec)
    return table.sort_values("swing", ascending=False, ignore_index=True)


def sobol_indices(scenario=None, overrides=None, spec: EnsembleSpec | dict | None = None, *,
                  icb: str | None = None, samples: int = 8192, scenario_path=None,
                  raw: dict | None = None) -> pd.DataFrame:
    """Variance-based (Sobol) sensitivity indices of the final-year distance from target.

    The uncertain parameters are sampled from their distributions by Saltelli's design
    (``SALib.sample.sobol``: a scrambled Sobol sequence on the unit cube, mapped through each
    parameter's inverse CDF), the model runs in chunks of ``spec.chunk`` rows, and
    ``SALib.analyze.sobol`` estimates the indices with 95% bootstrap confidence intervals. The
    sample and the bootstrap are seeded by ``spec.seed``, so the table is reproducible.

    Parameters
    ----------
    scenario, overrides, spec, icb, scenario_path, raw
        As :func:`sensitivity`.
    samples : int
        Base sample size ``N``, a power of 2 (Sobol sequences are balanced only then); the model
        runs ``N (P + 2)`` times for ``P`` parameters. The default 8,192 gives 95% half-widths
        of about 0.02 to 0.05 on the default scenario (under a second).

    Returns
    -------
    pandas.DataFrame
        One row per parameter, sorted by total index (largest first): ``parameter``, ``S1``
        (first-order index: share of the output's variance explained by the parameter alone),
        ``S1_conf``, ``ST`` (total index: share including its interactions), ``ST_conf``
        [fractions of variance; ``_conf`` are half-widths of 95% intervals]. ``attrs``:
        ``output``, ``variance`` [fraction squared], ``runs``.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 2 \
            or samples & (samples - 1):
        raise AllocError("--samples", "samples", f"expected a power of 2 of at least 2 (e.g. "
                         f"1024), found {samples!r}")
    prep, spec = _load(scenario, overrides, spec, scenario_path, raw)
    names = list(spec.uncertain)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    u = sobol_sample.sample(problem, int(samples), calc_second_order=False, seed=spec.seed)
    u = np.clip(u, 2.0**-53, 1.0 - 2.0**-53)  # open interval: the inverse CDFs are finite there
    values = {n: transform(u[:, j], spec.uncertain[n]) for j, n in enumerate(names)}
    metric = _final_dft(prep, values, icb, spec.chunk)
    if np.ptp(metric) == 0.0:
        raise AllocError(f"{prep.source} [ensemble]", "uncertain", "the output does not vary "
                         "over these ranges, so it has no variance to apportion")
    si = sobol_analyze.analyze(problem, metric, calc_second_order=False, conf_level=0.95,
                               seed=spec.seed)
    table = pd.DataFrame({"parameter": names, "S1": si["S1"], "S1_conf": si["S1_conf"],
                          "ST": si["ST"], "ST_conf": si["ST_conf"]})
    table.attrs.update(output=_output_label(icb, spec), variance=float(np.var(metric)),
                       runs=len(metric))
    return table.sort_values("ST", ascending=False, ignore_index=True)
