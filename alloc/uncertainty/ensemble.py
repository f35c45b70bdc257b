"""Scenario grids and Monte Carlo ensembles over the pace-of-change engine.

A scenario's ``[ensemble]`` table (or the arguments of :func:`run_ensemble`) lists

- ``grid``: parameter path -> list of values; each varied parameter becomes a dimension;
- ``uncertain``: parameter path -> ``{low, high, distribution, central}``, drawn per draw;
- ``draws``, ``seed``, ``chunk``, ``quantiles``.

Draw ``k``'s random numbers are a pure function of (seed, k): positions ``k * P .. k * P + P - 1``
of one SplitMix64 sequence keyed by ``SeedSequence(seed)`` (see :func:`draw_uniforms`), so results
are bit-identical whatever the chunking, the worker count, or whether dask is used. Draw 0 is the central projection: every
uncertain parameter at its central value. The same draw uses the same random numbers at every
grid point (common random numbers), so grid comparisons are not blurred by sampling noise.

Each chunk of (grid point x draw) rows is one vectorised kernel call; nothing loops over scenarios
in Python. Supported parameter paths are listed in :data:`PARAMETERS`; a varied parameter takes
one value for every projection year.
"""

from __future__ import annotations

import itertools
import math
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy import special

from alloc.allocation.engine import BOUND_RTOL, Prepared, prepare, solve_glide_paths
from alloc.errors import AllocError, require_optional
from alloc.inputs.specs import validate
from alloc.kernels import pace
from alloc.kernels.checks import count_violations
from alloc.uncertainty.draw_store import BlockSummary, DrawStore, default_threads

# Parameter path -> what it sets (one value for every projection year).
PARAMETERS = {
    "envelope_growth": "cash growth of the national envelope [fraction per year]",
    "gdp_deflator_growth": "GDP deflator growth for real-terms bounds [fraction per year]",
    "policy.min_growth": "growth floor [fraction per year, in the policy's growth basis]",
    "policy.max_growth": "growth cap [fraction per year, in the policy's growth basis]",
    "policy.max_below_target": "largest permitted shortfall below target [fraction]",
    "policy.convergence_rate": "fraction of each gap closed per year (proportional policy)",
}
_Z90 = float(
    special.ndtri(0.9)
)  # 1.2816: normal80 maps [low, high] to the 10th and 90th percentiles


class Uncertain(BaseModel):
    """An uncertain parameter: a range and the distribution drawn over it.

    ``normal80``: normal with ``low`` and ``high`` as its 10th and 90th percentiles;
    ``triangular`` and ``pert`` (beta-PERT, for probabilities and rates): ``central`` is the mode;
    ``uniform``: flat on ``[low, high]``. ``central`` defaults to the midpoint and is the value
    used in draw 0 and in one-at-a-time sensitivity.
    """

    model_config = ConfigDict(extra="forbid")
    low: float
    high: float
    distribution: Literal["normal80", "triangular", "pert", "uniform"] = "triangular"
    central: float | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"expected low < high, found low {self.low} and high {self.high}")
        if self.central is None:
            self.central = 0.5 * (self.low + self.high)
        if not self.low <= self.central <= self.high:
            raise ValueError(f"expected low <= central <= high, found central {self.central}")
        return self


class EnsembleSpec(BaseModel):
    """Grid and Monte Carlo settings of an ensemble."""

    model_config = ConfigDict(extra="forbid")
    draws: int = Field(1, ge=1, description="Monte Carlo draws per grid point (draw 0 = central)")
    seed: int = Field(20250401, ge=0)
    chunk: int = Field(10_000, ge=1, description="rows (grid point x draw) per kernel call")
    quantiles: list[float] = [0.05, 0.1, 0.5, 0.9, 0.95]
    below_target_threshold: float = Field(0.05, ge=0.0, lt=1.0)
    grid: dict[str, list[float]] = {}
    uncertain: dict[str, Uncertain] = {}
    pathway_uncertainty: bool = Field(
        True,
        description="draw the parameters of the scenario's "
        "pathway files from their [low, high] ranges",
    )

    @field_validator("grid", "uncertain")
    @classmethod
    def _known(cls, value):
        for path in value:
            if path not in PARAMETERS:
                raise ValueError(
                    f"unknown parameter path '{path}'; expected one of {', '.join(PARAMETERS)}"
                )
        return value

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, value):
        for path, values in value.items():
            if not values:
                raise ValueError(f"grid '{path}' needs at least one value")
        return value

    @field_validator("quantiles")
    @classmethod
    def _probabilities(cls, value):
        if not value or any(not 0.0 <= q <= 1.0 for q in value):
            raise ValueError("expected quantiles between 0 and 1")
        return sorted(value)

    @model_validator(mode="after")
    def _disjoint(self):
        both = set(self.grid) & set(self.uncertain)
        if both:
            raise ValueError(f"parameter '{sorted(both)[0]}' is both in grid and uncertain")
        return self


_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64 increment (golden ratio)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def draw_uniforms(seed: int | list[int], draws, n_params: int) -> np.ndarray:
    """Uniform(0, 1) numbers, shape (len(draws), n_params), a pure function of (seed, draw, j).

    The numbers are the SplitMix64 sequence (the generator behind Java's SplittableRandom),
    started from a key that ``numpy.random.SeedSequence(seed)`` derives, read at positions
    ``k * n_params + j``. Random access by position makes draw ``k``'s numbers identical whatever
    the chunk or worker that computes them, and vectorises over draws (a SeedSequence and
    Generator per draw cost about 50 microseconds each, more than the kernel).
    """
    key = np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0]
    ks = np.asarray(draws, dtype=np.uint64)[:, None]
    pos = ks * np.uint64(n_params) + np.arange(n_params, dtype=np.uint64)[None, :] + np.uint64(1)
    with np.errstate(over="ignore"):
        z = key + pos * _GAMMA  # uint64 arithmetic wraps modulo 2**64, as SplitMix64 requires
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53  # open interval (0, 1)


def transform(u: np.ndarray, spec: Uncertain) -> np.ndarray:
    """Map uniforms to parameter values by the inverse CDF of ``spec``'s distribution.

    Written with ``scipy.special`` rather than ``scipy.stats`` (the same inverse CDFs; tested
    against ``scipy.stats``), which halves the import time of every dask worker.
    """
    lo, hi, mode = spec.low, spec.high, spec.central
    if spec.distribution == "uniform":
        return lo + u * (hi - lo)
    if spec.distribution == "normal80":
        return special.ndtri(u) * ((hi - lo) / (2 * _Z90)) + 0.5 * (lo + hi)
    if spec.distribution == "triangular":
        c = (mode - lo) / (hi - lo)
        x = np.where(u < c, np.sqrt(c * u), 1.0 - np.sqrt((1.0 - c) * (1.0 - u)))
        return x * (hi - lo) + lo
    alpha = 1 + 4 * (mode - lo) / (hi - lo)  # beta-PERT with the usual weight 4 on the mode
    beta = 1 + 4 * (hi - mode) / (hi - lo)
    return lo + (hi - lo) * special.betaincinv(alpha, beta, u)


@dataclass
class Plan:
    """The rows of an ensemble: grid points x draws, and the parameter value of each row."""

    grid_names: list[str]
    grid_values: list[list[float]]
    uncertain_names: list[str]
    spec: EnsembleSpec

    @property
    def n_grid(self) -> int:
        return math.prod(len(v) for v in self.grid_values)

    @property
    def n_rows(self) -> int:
        return self.n_grid * self.spec.draws

    def values(self, rows: range) -> dict[str, np.ndarray]:
        """Parameter values for flat rows ``g * draws + k`` (grid point g, draw k)."""
        flat = np.arange(rows.start, rows.stop)
        draw_ids = flat % self.spec.draws
        unique = np.unique(draw_ids)  # each draw's numbers are generated once per chunk
        u = draw_uniforms(self.spec.seed, unique, len(self.uncertain_names))
        pick = np.searchsorted(unique, draw_ids)
        out = {}
        for j, name in enumerate(self.uncertain_names):
            spec = self.spec.uncertain[name]
            vals = transform(u[:, j], spec)
            vals[unique == 0] = spec.central  # draw 0 is the central projection
            out[name] = vals[pick]
        points = list(itertools.product(*self.grid_values)) or [()]
        grid_idx = flat // self.spec.draws
        for j, name in enumerate(self.grid_names):
            out[name] = np.array([p[j] for p in points])[grid_idx]
        return out


def resolve_spec(prep: Prepared, spec: EnsembleSpec | dict | None) -> EnsembleSpec:
    """``spec`` validated, or the scenario's own ``[ensemble]`` table when ``spec`` is None."""
    raw = spec if spec is not None else (prep.scenario.ensemble or {})
    if isinstance(raw, EnsembleSpec):
        return raw
    return validate(EnsembleSpec, raw, f"{prep.source} [ensemble]")


def make_plan(spec: EnsembleSpec) -> Plan:
    """Order the grid dimensions and uncertain parameters as given."""
    return Plan(list(spec.grid), [list(v) for v in spec.grid.values()], list(spec.uncertain), spec)


def kernel_inputs(prep: Prepared, values: dict[str, np.ndarray], n_rows: int) -> dict:
    """Glide-path inputs for ``n_rows`` rows whose parameters ``values`` override the scenario.

    Each row is ``B`` independent problems, one per unit of convergence (``B = 1`` for ICB
    totals, one per service line otherwise), batched as row ``r``, unit ``u`` -> ``r * B + u``:
    ``A0`` (R B, N), ``T`` (R B, Y, N) and ``E`` (R B, Y) [GBP]; the policy arrays have a
    leading axis of R B, or 1 when every row shares them.
    """
    years = prep.years[1:]
    n_year = len(years)
    n_unit = prep.kernel_base.shape[0]
    unit_env = prep.kernel_envelopes[None]  # (1, B, Y)
    if "envelope_growth" in values:
        g = values["envelope_growth"][:, None]
        env0 = float(prep.envelope[0])
        national = env0 * np.cumprod(np.broadcast_to(1.0 + g, (n_rows, n_year)), axis=1)
        # every unit's envelope and targets scale with the national envelope (exactly 1 x for
        # ICB totals, whose one unit's envelope is the national one)
        unit_env = national[:, None, :] * (prep.kernel_envelopes / prep.envelope[None, 1:])
    # Shares of each unit's envelope, then scaled by each row's: written C-ordered straight away
    # (the prepared targets are a transposed view, whose layout the product would otherwise
    # follow, and the kernel would get a copy).
    shares = np.ascontiguousarray(
        prep.kernel_targets[None] / prep.kernel_envelopes[None, :, :, None]
    )
    targets = np.multiply(shares, unit_env[..., None], order="C")
    n_batch = n_rows * n_unit
    out = {
        "A0": np.broadcast_to(prep.kernel_base[None], (n_rows,) + prep.kernel_base.shape),
        "T": np.broadcast_to(targets, (n_rows,) + targets.shape[1:]),
        "E": np.broadcast_to(unit_env, (n_rows,) + unit_env.shape[1:]),
    }
    out = {k: v.reshape((n_batch,) + v.shape[2:]) for k, v in out.items()}
    out.update(_row_policy_arrays(prep, values, n_rows))
    for key in prep.policy_arrays:  # rows -> rows x units
        if out[key].shape[0] > 1 and n_unit > 1:
            out[key] = np.repeat(out[key], n_unit, axis=0)
    return {k: np.ascontiguousarray(v, dtype=float) for k, v in out.items()}


def _row_policy_arrays(prep: Prepared, values: dict[str, np.ndarray], n_rows: int) -> dict:
    """The policy's per-year coefficients and bounds, (R|1, Y[, N]), with ``values`` applied."""
    n_year = len(prep.years) - 1
    out = dict(prep.policy_arrays)
    policy = prep.policy
    basis = _growth_basis(prep, values, n_rows)  # (R|1, Y, N)
    for name, key in (("policy.min_growth", "floor_mult"), ("policy.max_growth", "cap_mult")):
        if name in values or ("gdp_deflator_growth" in values and policy.growth_basis == "real"):
            current = getattr(policy, name.split(".")[1])
            if name in values:
                growth = values[name][:, None, None]
            elif current is None:
                continue
            else:  # keep the scenario's own rates, re-based on each row's deflator
                growth = prep.policy_arrays[key] / _growth_basis(prep, {}, 1) - 1.0
            out[key] = (1.0 + growth) * basis
    if "policy.max_below_target" in values:
        out["below_target"] = np.broadcast_to(
            values["policy.max_below_target"][:, None], (n_rows, n_year)
        ).copy()
    if "policy.convergence_rate" in values:
        if policy.kind != "proportional":
            raise AllocError(
                prep.source,
                "ensemble.policy.convergence_rate",
                f"applies only to kind 'proportional', not '{policy.kind}'",
            )
        c = np.broadcast_to(values["policy.convergence_rate"][:, None], (n_rows, n_year))
        out["conv"], out["w_prev"], out["w_target"] = c.copy(), 1.0 - c, c.copy()
    for name in ("policy.min_growth", "policy.max_growth"):
        if name in values and policy.kind in ("historic_cost", "immediate"):
            raise AllocError(
                prep.source, f"ensemble.{name}", f"kind '{policy.kind}' takes no floors or caps"
            )
    floor, cap = out["floor_mult"], out["cap_mult"]
    if np.any(
        np.broadcast_to(floor, np.broadcast_shapes(floor.shape, cap.shape))
        > np.broadcast_to(cap, np.broadcast_shapes(floor.shape, cap.shape))
    ):
        raise AllocError(
            prep.source,
            "ensemble",
            "some rows draw min_growth above max_growth; narrow the ranges so they cannot cross",
        )
    return out


def _growth_basis(prep: Prepared, values: dict, n_rows: int) -> np.ndarray:
    """Multiplier turning a growth rate into a bound on last year's allocation, (R|1, Y|1, N|1).

    Only per-head bounds vary by year and ICB; cash and real ones are one number per row (or one
    in all), so the floors and caps built from them are (R|1, 1, 1): the kernel broadcasts them
    rather than reading a rows x years x ICBs copy.
    """
    kind = prep.policy.growth_basis
    if kind == "per_head":
        pop = prep.population.transpose("year", "icb").values
        return (pop[1:] / pop[:-1])[None]
    if kind == "real":
        defl = values.get("gdp_deflator_growth")
        if defl is None:
            return np.full((1, 1, 1), 1.0 + prep.assumptions_used["gdp_deflator_growth"])
        return (1.0 + defl)[:, None, None]
    return np.ones((1, 1, 1))


def run_chunk(prep: Prepared, plan: Plan, rows: range) -> dict[str, np.ndarray]:
    """Run one chunk of rows through the kernel and check the invariants in every row.

    Returns ``allocation``, ``target``, ``spend`` and ``saving`` (left-shift saving) (R, Y+1, N)
    [GBP] and ``envelope`` (R, Y+1) [GBP], base year first; ``relaxed`` (R, Y) [bool]: the
    policy's floors or caps were relaxed in that projection year (``fallback = "relax"``).
    """
    return run_rows(
        prep,
        plan.values(rows),
        rows,
        plan.spec.draws,
        plan.spec.seed,
        plan.spec.pathway_uncertainty,
    )


def run_rows(
    prep: Prepared,
    values: dict[str, np.ndarray],
    rows: range,
    draws: int = 1,
    seed: int = 0,
    pathway_draws: bool = False,
    pathway_sampler: Callable | None = None,
) -> dict[str, np.ndarray]:
    """Run rows whose parameters are ``values`` (path -> array per row); see :func:`run_chunk`.

    Pathway parameters are central unless ``pathway_draws`` (drawn per draw from the seed) or
    ``pathway_sampler(pathway name, spec) -> {quantity path: array per row}`` gives them.
    """
    n_rows = len(rows)
    n_unit = prep.kernel_base.shape[0]
    arrays = kernel_inputs(prep, values, n_rows)
    n_year, n = prep.kernel_targets.shape[1:]
    spend = {}
    if prep.spend is not None:
        spend = _spend_rows(
            prep,
            rows,
            draws,
            seed,
            pathway_draws,
            pathway_sampler,
            by_unit=prep.base_adjust is not None,
        )
    # Savings rebased into the allocation base follow each row's own (drawn) savings.
    base_adjust = _row_base_adjust(prep, spend) if prep.base_adjust is not None else None
    policy = {k: arrays[k] for k in prep.policy_arrays}
    if base_adjust is not None:  # solved a year at a time: every policy array needs its years
        policy = {
            k: np.broadcast_to(v, v.shape[:1] + (n_year,) + v.shape[2:]) for k, v in policy.items()
        }
    alloc, _, status, gap = solve_glide_paths(
        arrays["A0"], arrays["T"], arrays["E"], policy, prep.policy.fallback == "relax", base_adjust
    )
    bad = (
        (status == pace.STATUS_FLOORS_EXCEED_ENVELOPE)
        | (status == pace.STATUS_CAPS_BELOW_ENVELOPE)
        | (status == pace.STATUS_BAD_INPUT)
    )
    if bad.any():
        b, y = map(int, np.argwhere(bad)[0])
        row = rows.start + b // n_unit
        unit = "" if prep.units is None else f", service line '{prep.units[b % n_unit]}'"
        raise AllocError(
            prep.source,
            "ensemble",
            f"row {row} (grid point "
            f"{row // draws}, draw {row % draws}{unit}) is infeasible "
            f"in year {prep.years[y + 1]}: shortfall £{gap[b, y]:,.0f}; narrow the "
            'ranges or set the policy\'s fallback = "relax"',
        )
    adjust = np.zeros((1, n_year, n)) if base_adjust is None else base_adjust
    if count_violations(
        alloc,
        arrays["A0"],
        arrays["T"],
        arrays["E"],
        arrays["floor_mult"],
        arrays["cap_mult"],
        arrays["below_target"],
        adjust,
        status,
        BOUND_RTOL,  # floors and caps; the envelope is checked to pace.ENVELOPE_RTOL
    ):
        raise AllocError(
            prep.source,
            "ensemble",
            "internal check failed: a row breaks the "
            "envelope, a floor or a cap, or has negative money",
        )

    def icb_totals(a):  # (R B, ...) -> (R, ...): sum over the units of each row
        return a.reshape((n_rows, n_unit) + a.shape[1:]).sum(axis=1)

    base = np.broadcast_to(prep.kernel_base.sum(axis=0), (n_rows, 1, n))
    env0 = np.full((n_rows, 1), float(prep.envelope[0]))
    t0 = np.broadcast_to(prep.target_svc.sum("service").isel(year=0).values, (n_rows, 1, n))
    relaxed = (status == pace.STATUS_FLOORS_RELAXED) | (status == pace.STATUS_CAPS_RELAXED)
    out = {
        "allocation": np.concatenate([base, icb_totals(alloc)], axis=1),
        "target": np.concatenate([t0, icb_totals(arrays["T"])], axis=1),
        "envelope": np.concatenate([env0, icb_totals(arrays["E"])], axis=1),
        "relaxed": relaxed.reshape(n_rows, n_unit, n_year).any(axis=1),
    }
    out.update({k: v for k, v in spend.items() if k in ("spend", "saving")})
    return out


def _row_base_adjust(prep: Prepared, spend: dict) -> np.ndarray:
    """Each row's cut to the allocation base per unit and projection year, (R B, Y, N) [GBP].

    As :func:`alloc.pathways.spend.rebase_adjustment`, from the row's own savings by service line.
    """
    from alloc.pathways.spend import rebase_steps

    savings = prep.scenario.savings
    by_line = spend["saving_by_line"]  # (R, lines, Y+1, N)
    if prep.units is None:
        per_unit = by_line.sum(axis=1, keepdims=True)
    else:
        per_unit = np.zeros((by_line.shape[0], len(prep.units)) + by_line.shape[2:])
        for j, line in enumerate(spend["lines"]):
            per_unit[:, prep.units.index(line)] = by_line[:, j]
    steps = rebase_steps(np.moveaxis(per_unit, 2, -1), savings.rebased_fraction, savings.lag)
    adjust = np.moveaxis(steps, -1, 2)[:, :, 1:, :]  # projection years
    return np.ascontiguousarray(adjust.reshape((-1,) + adjust.shape[2:]))


def _spend_rows(
    prep: Prepared,
    rows: range,
    draws: int,
    seed: int,
    pathway_draws: bool,
    sampler: Callable | None = None,
    by_unit: bool = False,
):
    """Spend and left-shift saving per row (R, Y+1, N) [GBP, cash], drawing pathway parameters.

    With ``by_unit`` also ``saving_by_line`` (R, lines, Y+1, N) [GBP, cash] for the service
    lines in ``lines`` (those the pathways model).

    Pathway draws depend on the draw only (not the grid point): each draw's parameters come from
    position-addressed uniforms keyed by (seed, pathway name), so they are chunk-independent.
    Spend = spend without left shift - saving + upstream investment paid from the delegated
    specialised budget (as :func:`alloc.pathways.spend.project_spend`; a test keeps the two in step).
    """
    from alloc.pathways import project_left_shift
    from alloc.pathways.base import quantities, sample_from_uniforms
    from alloc.pathways.drivers import need_indices
    from alloc.pathways.spend import SPECIALISED

    without = prep.spend["spend_without_left_shift"].transpose("year", "icb").values
    draw_ids = np.arange(rows.start, rows.stop) % draws
    if prep.left_shift is None:
        zero = np.zeros((len(draw_ids),) + without.shape)
        return {"spend": without[None] + zero, "saving": zero}
    if sampler is not None:  # the caller gives each row's pathway parameters
        unique = pick = np.arange(len(draw_ids))
    else:
        unique = np.unique(draw_ids) if pathway_draws else np.array([0])
        pick = np.searchsorted(unique, draw_ids) if pathway_draws else np.zeros_like(draw_ids)

        def sampler(name, spec):
            key = [seed, zlib.crc32(name.encode())]
            u = draw_uniforms(key, unique, len(quantities(spec)))
            return sample_from_uniforms(spec, u, unique == 0)

    years = prep.years
    section = prep.scenario.pathways
    inflation = prep.pathway_assumptions["cost_inflation"]
    ls = project_left_shift(
        section,
        prep.inputs["baseline"],
        prep.population.sel(year=years),
        years,
        inflation,
        prep.source,
        Path(prep.source).parent,
        n_draws=len(unique),
        sampler=sampler,
        need_index=need_indices(prep.inputs, years[0]),  # as the central run (engine)
    )
    cash = (1.0 + inflation) ** (np.asarray(years) - years[0])
    cash = cash[None, :, None]
    real_saving = ls["specialised_counterfactual"] - ls["specialised_scenario"]
    saving = real_saving.sum("service").transpose("draw", "year", "icb").values * cash
    lever = ls["lever_cost"].transpose("draw", "year", "lever", "icb")
    on_budget = (lever["lever_payer"] == SPECIALISED).values
    upstream = lever.values[:, :, on_budget, :].sum(axis=2) * cash
    spend = without[None] - saving + upstream
    out = {"spend": spend[pick], "saving": saving[pick]}
    if by_unit:
        by_line = real_saving.transpose("draw", "service", "year", "icb").values * cash[:, None]
        out.update(saving_by_line=by_line[pick], lines=[str(v) for v in ls["service"].values])
    return out


def chunks(n_rows: int, size: int) -> list[range]:
    """Split ``range(n_rows)`` into consecutive chunks of at most ``size`` rows."""
    return [range(s, min(s + size, n_rows)) for s in range(0, n_rows, size)]


def stored_variables(prep: Prepared) -> tuple[list[str], list[str]]:
    """The per-draw variables an ensemble stores, and those it summarises without storing.

    ``allocation`` and ``dft`` always vary by draw. ``net_position`` and ``left_shift_saving``
    are stored only when the scenario has left-shift levers: without them the saving is zero (its
    summaries are blank) and the spend is the same in every draw, so the net position is the
    allocation minus a constant, derived from the stored allocation as it is summarised.
    """
    if prep.spend is None:
        return ["allocation", "dft"], []
    if prep.left_shift is None:
        return ["allocation", "dft"], ["net_position", "left_shift_saving"]
    return ["allocation", "dft", "net_position", "left_shift_saving"], []


def constant_spend(prep: Prepared) -> np.ndarray:
    """Spend per cell (years x ICBs, base year first) [GBP, cash] when no draw changes it."""
    return np.ascontiguousarray(
        prep.spend["spend_without_left_shift"].transpose("year", "icb").values, dtype=float
    ).reshape(-1)


def chunk_outputs(prep: Prepared, plan: Plan, rows: range) -> dict[str, np.ndarray]:
    """Per-draw outputs of one chunk, each (len(rows), years x ICBs), base year first.

    ``allocation`` [GBP], ``dft`` [fraction], and with left-shift levers ``net_position`` and
    ``left_shift_saving`` [GBP] (:func:`stored_variables`); also ``relaxed`` (len(rows),
    projection years) [bool]. Runs where the chunk runs (in process or on a dask worker), so
    only these leave a worker.
    """
    out = run_chunk(prep, plan, rows)
    alloc, target = out["allocation"], out["target"]
    derived = {"allocation": alloc, "dft": (alloc - target) / target}
    if "net_position" in stored_variables(prep)[0]:
        derived["net_position"] = alloc - out["spend"]
        derived["left_shift_saving"] = out["saving"]
    derived = {k: v.reshape(len(rows), -1) for k, v in derived.items()}
    derived["relaxed"] = out["relaxed"]
    return derived


def run_ensemble(
    scenario=None,
    overrides=None,
    spec: EnsembleSpec | dict | None = None,
    *,
    scenario_path=None,
    raw: dict | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    keep_full: bool = False,
    full_path: str | Path | None = None,
    spill_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> xr.Dataset:
    """Run a grid x Monte Carlo ensemble of a scenario.

    Each chunk's per-draw outputs go to a temporary :class:`alloc.uncertainty.draw_store.DrawStore` on disk
    as soon as they are computed; quantiles are then taken exactly, a block of cells at a time.
    A writer thread stores one chunk while the next is computed, so memory stays about two
    chunks of rows (``spec.chunk``) plus one block of cells, whatever the number of draws;
    temporary disk use is the size of the cube (8 bytes x variables x grid points x draws x
    years x ICBs).

    Parameters
    ----------
    scenario, overrides, scenario_path, raw
        As :func:`alloc.allocation.engine.run`; the scenario's ``[ensemble]`` table gives the spec unless
        ``spec`` is passed.
    spec : EnsembleSpec or dict, optional
        Overrides the scenario's ``[ensemble]`` table.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:port``).
    workers : int, optional
        Start a dask ``LocalCluster`` with this many single-threaded workers, when the job pays
        for it: the first chunk runs in process, and if the rest would take less than
        :data:`CLUSTER_BREAK_EVEN_S` in process (or is under two chunks) it stays in process and
        ``note`` says so. With neither ``scheduler`` nor ``workers`` the ensemble runs in process.
    keep_full : bool
        Also return the full cube in memory (``allocation_draws``, ``dft_draws``; memory grows
        with the draws).
    full_path : path, optional
        Write the full cube to this NetCDF file, a chunk of draws at a time (bounded memory).
    spill_dir : path, optional
        Folder for the temporary draw files (default: the system's temporary folder).
    progress : callable, optional
        Called as ``progress(rows_done, rows_total)`` after each chunk.
    note : callable, optional
        Told ``note(text)`` of what the user should know (the CLI prints it on stderr): that
        ``workers`` was not worth a cluster and the ensemble ran in process.

    Returns
    -------
    xarray.Dataset
        Dimensions: the grid parameters, ``icb``, ``year``, ``quantile``. Variables:
        ``allocation_q`` and ``dft_q`` (quantiles over draws), ``allocation_central`` and
        ``dft_central`` (draw 0), ``prob_below_threshold`` (icb, grid): probability that the
        ICB ends the final year more than ``below_target_threshold`` below target; with pathways
        also ``net_position_q``, ``left_shift_saving_q`` and their ``_central``.
    """
    prep = prepare(scenario, overrides, scenario_path, raw)
    spec = resolve_spec(prep, spec)
    plan = make_plan(spec)
    parts = chunks(plan.n_rows, spec.chunk)
    variables, _ = stored_variables(prep)
    n_cells = len(prep.years) * prep.inputs.sizes["icb"]
    with DrawStore(variables, plan.n_grid, spec.draws, n_cells, spill_dir) as store:
        if scheduler:
            outputs = _run_dask(prep, plan, parts, scheduler, None)
        elif workers:
            outputs = _run_local_cluster_if_worth_it(prep, plan, parts, workers, note)
        else:
            outputs = ((rows, chunk_outputs(prep, plan, rows)) for rows in parts)
        done = 0
        relaxed = np.zeros((plan.n_grid, len(prep.years)))  # draws relaxed, base year first
        # One writer thread stores chunk k while chunk k + 1 is computed (the kernels and the
        # writes release the GIL): at most two chunks of outputs are held at once.
        with ThreadPoolExecutor(1) as writer:
            writing = None
            for rows, values in outputs:
                if writing is not None:
                    writing.result()
                writing = writer.submit(store.write, rows, values)
                np.add.at(
                    relaxed[:, 1:],
                    np.arange(rows.start, rows.stop) // spec.draws,
                    values["relaxed"],
                )
                done += len(rows)
                if progress:
                    progress(done, plan.n_rows)
                del values
            if writing is not None:
                writing.result()
        result = summarise(prep, plan, store, keep_full)
        result["share_relaxed"] = (
            plan.grid_names + ["year"],
            (relaxed / spec.draws).reshape([len(v) for v in plan.grid_values] + [len(prep.years)]),
            {
                "units": "1",
                "long_name": "share of draws in which the policy's floors or caps "
                'could not be met and were relaxed (fallback = "relax")',
            },
        )
        if full_path is not None:
            write_full_cube(store, result, plan, Path(full_path))
    return result


# One numba thread per single-threaded worker: otherwise each worker's parallel kernels start a
# thread per core and the workers oversubscribe the machine (about 10% slower here).
SINGLE_THREADED_WORKER = {"NUMBA_NUM_THREADS": "1"}


# Seconds of in-process work below which starting a LocalCluster does not pay. Its fixed costs
# on the 2-core development machine (2026-12-02; benchmarks/bench_ensemble.py prints them):
# starting 2 workers, the first task on them (alloc imported, kernels loaded) and closing took
# 3.2-4.2 s in all when the machine was quiet and 17 s when other jobs loaded it, while a
# cluster on the same machine is no faster per chunk than in process (the kernels already use
# every core). With at least 30 s of work even the loaded cost keeps a cluster within about
# 1.6 x in process; below that it only adds its fixed cost (10,000 draws, one chunk: 66 s on a
# new cluster against 6 s in process before this check; 0.41 s against 0.35 s after it).
CLUSTER_BREAK_EVEN_S = 30.0


def _run_local_cluster_if_worth_it(prep, plan, parts, workers, note):
    """Chunks in process, or the rest on a new LocalCluster when they take long enough to pay.

    The first chunk always runs in process and is timed; the rest go to a cluster of
    ``workers`` only when there are at least two more chunks and they would take at least
    :data:`CLUSTER_BREAK_EVEN_S` in process. Results are the same either way (bit-identical).
    """
    t0 = time.perf_counter()
    yield parts[0], chunk_outputs(prep, plan, parts[0])
    rest = parts[1:]
    estimate = (time.perf_counter() - t0) * len(rest)
    if len(rest) >= 2 and estimate >= CLUSTER_BREAK_EVEN_S:
        yield from _run_dask(prep, plan, rest, None, workers)
        return
    if note is not None:
        note(
            f"ran in process, without a dask cluster: the ensemble takes about "
            f"{estimate + time.perf_counter() - t0:.0f} s here, and starting a cluster of "
            f"{workers} workers costs about as much as {CLUSTER_BREAK_EVEN_S:.0f} s of work "
            "(--workers pays only for longer jobs; --scheduler reuses a running cluster)"
        )
    for rows in rest:
        yield rows, chunk_outputs(prep, plan, rows)


def _run_dask(prep, plan, parts, scheduler, workers):
    """Map :func:`chunk_outputs` over the chunks on a dask cluster: one task per chunk.

    Yields ``(rows, outputs)`` as tasks finish, releasing each task's result once yielded.
    """
    distributed = require_optional("distributed", "dask", "--workers/--scheduler")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    as_completed = distributed.as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=SINGLE_THREADED_WORKER,
        )
        client = Client(cluster)
    try:
        prep_future = client.scatter(prep, broadcast=True)
        futures = [
            client.submit(chunk_outputs, prep_future, plan, rows, pure=False) for rows in parts
        ]
        rows_of = {f.key: rows for f, rows in zip(futures, parts)}
        finished = as_completed(futures)
        del futures  # as_completed holds them; each is released once its result is yielded
        for future in finished:
            values = future.result()
            rows = rows_of.pop(future.key)
            future.release()
            yield rows, values
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def summarise(prep: Prepared, plan: Plan, store: DrawStore, keep_full: bool) -> xr.Dataset:
    """Quantiles over draws per grid point, the central projection and threshold probabilities."""
    q = plan.spec.quantiles
    n_year, n_icb = len(prep.years), prep.inputs.sizes["icb"]
    grid_shape = [len(v) for v in plan.grid_values]
    coords = {name: vals for name, vals in zip(plan.grid_names, plan.grid_values)}
    coords.update(year=prep.years, icb=prep.inputs["icb"].values)
    out = xr.Dataset(
        coords={
            **coords,
            "icb_name": ("icb", prep.inputs["icb_name"].values),
            "region": ("icb", prep.inputs["region"].values),
        }
    )
    budget = max(plan.spec.chunk, 1) * n_year * n_icb * 8  # one chunk of one variable
    threads = default_threads()
    units = {"allocation": "GBP", "dft": "1", "net_position": "GBP", "left_shift_saving": "GBP"}
    stored, derived = stored_variables(prep)
    from_allocation = None  # net position = allocation - spend, when the spend is constant
    for name in stored + derived:
        threshold = -plan.spec.below_target_threshold if name == "dft" else None
        if name == "allocation" and "net_position" in derived:
            s = store.summarise(name, q, budget, threshold, threads, constant_spend(prep))
            from_allocation = s.derived
        elif name == "net_position" and name in derived:
            s = from_allocation
        elif name in derived:  # left-shift saving without levers: blanked below
            n_grid, n_cells = plan.n_grid, n_year * n_icb
            s = BlockSummary(np.zeros((n_grid, len(q), n_cells)), np.zeros((n_grid, n_cells)), None)
        else:
            s = store.summarise(name, q, budget, threshold, threads)
        attrs = {"units": units[name]}
        if units[name] == "GBP":
            attrs["price_base"] = "cash"
        out[f"{name}_q"] = (
            plan.grid_names + ["quantile", "year", "icb"],
            s.quantiles.reshape(grid_shape + [len(q), n_year, n_icb]),
            attrs,
        )
        out[f"{name}_central"] = (
            plan.grid_names + ["year", "icb"],
            s.central.reshape(grid_shape + [n_year, n_icb]),
            {"units": units[name]},
        )
        if s.share_below is not None:
            final = s.share_below.reshape(grid_shape + [n_year, n_icb])[..., -1, :]
            out["prob_below_threshold"] = (
                plan.grid_names + ["icb"],
                final,
                {
                    "units": "1",
                    "long_name": f"probability of ending {prep.years[-1]} more than "
                    f"{plan.spec.below_target_threshold:.0%} below target",
                },
            )
    out = out.assign_coords(quantile=q)
    if prep.left_shift is None:  # no levers: savings are not modelled, so blank rather than zero
        for name in ("left_shift_saving_q", "left_shift_saving_central"):
            if name in out:
                out[name] = out[name].where(False)
    if keep_full:
        dims = plan.grid_names + ["draw", "year", "icb"]
        shape = grid_shape + [plan.spec.draws, n_year, n_icb]
        for name, units_ in (("allocation", "GBP"), ("dft", "1")):
            out[f"{name}_draws"] = (dims, store.cube(name).reshape(shape), {"units": units_})
    from alloc._version import __version__
    from alloc.inputs.scenario import scenario_hash

    out.attrs.update(
        alloc_version=__version__,
        scenario_hash=scenario_hash(prep.raw),
        scenario_name=prep.scenario.name,
        seed=plan.spec.seed,
        draws=plan.spec.draws,
        grid=", ".join(plan.grid_names),
        uncertain=", ".join(
            f"{n} ~ {s.distribution}[{s.low}, {s.high}] central {s.central}"
            for n, s in plan.spec.uncertain.items()
        ),
        input_hash=prep.inputs.attrs["input_hash"],
        **{k: v for k, v in prep.inputs.attrs.items() if k.startswith("baseline_")},
    )
    return out.transpose(*plan.grid_names, "icb", "year", ...)


def write_full_cube(store: DrawStore, result: xr.Dataset, plan: Plan, path: Path) -> None:
    """Write ``allocation_draws`` and ``dft_draws`` to NetCDF, a chunk of draws at a time.

    xarray writes the coordinates and attributes; the two cubes are then added with
    ``h5netcdf`` and filled block by block from the draw store (memory: one block of
    ``spec.chunk`` draws; no dask).
    """
    import h5netcdf

    from alloc.outputs.results import write_netcdf

    grid_shape = [len(v) for v in plan.grid_values]
    n_year, n_icb = result.sizes["year"], result.sizes["icb"]
    dims = tuple(plan.grid_names + ["draw", "year", "icb"])
    coords = {name: result[name].values for name in plan.grid_names}
    coords.update(
        draw=np.arange(plan.spec.draws), year=result["year"].values, icb=result["icb"].values
    )
    write_netcdf(xr.Dataset(coords=coords, attrs=result.attrs), path)
    size = max(1, min(plan.spec.chunk, plan.spec.draws))
    with h5netcdf.File(path, "a") as f:
        for name, units in (("allocation", "GBP"), ("dft", "1")):
            var = f.create_variable(
                f"{name}_draws",
                dims,
                dtype="f8",
                chunks=tuple([1] * len(grid_shape) + [size, n_year, n_icb]),
            )
            var.attrs["units"] = units
            for g, draws, block in store.draw_blocks(name, size):
                where = np.unravel_index(g, grid_shape) if grid_shape else ()
                var[tuple(int(i) for i in where) + (slice(draws.start, draws.stop),)] = (
                    block.reshape(len(draws), n_year, n_icb)
                )
