"""Left-shift pathways: the cohort kernel before/after, and against a plain-Python reference.

Prints figures measured in this one run (nothing is compared with numbers from elsewhere):

- wall time of all four pathways (every lever switched on) x 42 ICBs x 10 years x ``--draws``
  parameter draws (sampled from the pathway files' [low, high] ranges), both arms (without and
  with the levers), with need by ICB (the drivers' need indices, as ``alloc run``), processed
  in chunks of ``--chunk`` draws: parameter sampling, array building, kernel, calibration,
  checks and the labelled result included; the kernel's share of it; and the process CPU time
  (all threads);
- *before*: the same pipeline on the first ``--before`` draws (the same seeds) with the
  step-by-step kernel (:func:`alloc.kernels.cohort.cohort_project_stepwise`, the kernel before
  the tables were hoisted out of the ICB and sub-step loops), the per-draw speed-up, and whether
  the savings of those draws are bit-identical;
- the plain-Python reference of ``tests/test_cohort_reference.py`` (pure Python loops, one ICB
  at a time) on the renal pathway for ``--reference`` draws x 42 ICBs, and the ratio of its
  per-draw time to the numba path's renal per-draw time;
- the load average before and after, since the machine may be shared.

Usage: ``python benchmarks/bench_pathways.py [--draws 10000] [--chunk 1000] [--before 1000]
[--reference 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np

import alloc.kernels.cohort as cohort_kernel
from alloc.inputs.dataset import load_inputs
from alloc.inputs.pathway_spec import PathwaysSection
from alloc.pathways import PATHWAY_NAMES, load_pathway, project_left_shift
from alloc.pathways.drivers import need_indices
from alloc.targets.formula import project_population

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
YEARS = list(range(2025, 2036))  # base year + 10 projection years
SEED = 20251


@contextlib.contextmanager
def kernel(fn, timer: list[float]):
    """Run the pipeline with ``fn`` as the cohort kernel, adding its wall time to ``timer[0]``.

    ``alloc.pathways.base.run_arm`` imports ``cohort_project`` from the module when called, so
    swapping the module attribute swaps the kernel.
    """
    original = cohort_kernel.cohort_project

    def timed(*args, **kwargs):
        started = time.perf_counter()
        fn(*args, **kwargs)
        timer[0] += time.perf_counter() - started

    cohort_kernel.cohort_project = timed
    try:
        yield
    finally:
        cohort_kernel.cohort_project = original


def run_pathway(name, section, baseline, pop, need, n_draws, chunk, fn):
    """One pathway over ``n_draws`` draws in chunks: wall s, CPU s, kernel s, savings (GBP m)."""
    timer = [0.0]
    streams = np.random.SeedSequence(SEED).spawn(-(-n_draws // chunk))
    savings = []
    wall, cpu = time.perf_counter(), time.process_time()
    with kernel(fn, timer):
        for start, ss in zip(range(0, n_draws, chunk), streams):
            n = min(chunk, n_draws - start)
            ds = project_left_shift(
                section,
                baseline,
                pop,
                YEARS,
                0.025,
                "bench",
                n_draws=max(n, 2),
                rng=np.random.default_rng(ss),
                need_index=need,
            )
            saving = ds["specialised_counterfactual"] - ds["specialised_scenario"]
            savings.append(saving.sum(["icb", "service"]).isel(year=-1).values[:n] / 1e6)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, timer[0], np.concatenate(savings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument("--before", type=int, default=1_000, help="draws for the old kernel")
    parser.add_argument("--reference", type=int, default=3)
    args = parser.parse_args()
    before_draws = min(args.before, args.draws)
    load0 = os.getloadavg()

    inputs = load_inputs()
    pop = project_population(inputs["gp_pop"], YEARS, 0.005)
    baseline = inputs["baseline"]
    need = need_indices(inputs, YEARS[0])  # need by ICB, as the central run and ensembles
    sections = {
        name: PathwaysSection(
            levers=[{"pathway": name, "lever": k} for k in load_pathway(name).spec.levers]
        )
        for name in PATHWAY_NAMES
    }
    print(
        f"alloc pathways benchmark: {len(PATHWAY_NAMES)} pathways x {pop.sizes['icb']} ICBs x "
        f"{len(YEARS) - 1} projection years x {args.draws:,} draws (chunks of {args.chunk:,}), "
        f"2 arms; numba {numba.__version__}, {numba.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs; load average {load0[0]:.1f} / {load0[1]:.1f} / {load0[2]:.1f}"
    )

    # Warm-up (compile or load the cache) of both kernels on a tiny run.
    for fn in (cohort_kernel.cohort_project, cohort_kernel.cohort_project_stepwise):
        with kernel(fn, [0.0]):
            for name in PATHWAY_NAMES:
                run_pathway(name, sections[name], baseline, pop.isel(icb=[0, 1]), need, 2, 2, fn)

    print(
        f"{'pathway':<14} {'after s':>8} {'ms/draw':>8} {'kernel':>7} {'CPU s':>7}   "
        f"{'before ms/draw':>14} {'speed-up':>8}  same bits   final-year specialised saving "
        "GBP m (real): median [5%, 95%]"
    )
    totals = {"after": 0.0, "cpu": 0.0, "kernel": 0.0, "before": 0.0}
    per_draw_after = {}
    for name in PATHWAY_NAMES:
        b_wall, _, _, b_save = run_pathway(
            name,
            sections[name],
            baseline,
            pop,
            need,
            before_draws,
            args.chunk,
            cohort_kernel.cohort_project_stepwise,
        )
        wall, cpu, kern, save = run_pathway(
            name,
            sections[name],
            baseline,
            pop,
            need,
            args.draws,
            args.chunk,
            cohort_kernel.cohort_project,
        )
        same = np.array_equal(save[:before_draws], b_save)
        per_draw_after[name] = wall / args.draws
        b_per_draw = b_wall / before_draws
        totals["after"] += wall
        totals["cpu"] += cpu
        totals["kernel"] += kern
        totals["before"] += b_per_draw * args.draws
        print(
            f"{name:<14} {wall:8.2f} {wall / args.draws * 1e3:8.3f} {kern / wall:7.0%} "
            f"{cpu:7.2f}   {b_per_draw * 1e3:14.3f} {b_per_draw / (wall / args.draws):7.1f}x"
            f"  {'yes' if same else 'NO':<9}   {np.median(save):,.1f} "
            f"[{np.percentile(save, 5):,.1f}, {np.percentile(save, 95):,.1f}]"
        )
    print(
        f"all four pathways: {totals['after']:.2f} s wall ({totals['kernel'] / totals['after']:.0%}"
        f" in the kernel; {totals['cpu']:.2f} s CPU) for {args.draws:,} draws; before (step-by-"
        f"step kernel, timed on {before_draws:,} draws): {totals['before']:.2f} s for "
        f"{args.draws:,} draws, speed-up {totals['before'] / totals['after']:.1f}x"
    )

    # Plain-Python reference: renal, central parameters, every ICB, both arms.
    from test_cohort_reference import LEVERS, load_reference_model, reference_renal

    model = load_reference_model(base_year=YEARS[0])
    pops = pop.transpose("icb", "year").values
    base = baseline.sel(service="renal").values
    started = time.perf_counter()
    for _ in range(args.reference):
        for n in range(pops.shape[0]):
            reference_renal(pops[n], float(base[n]), LEVERS, YEARS, model)
    ref = (time.perf_counter() - started) / args.reference
    print(
        f"plain-Python reference (renal, 42 ICBs, both arms): {ref:.3f} s per draw "
        f"(timed on {args.reference} draws); ratio reference / numba (renal, per draw): "
        f"{ref / per_draw_after['renal']:,.0f}x"
    )
    load1 = os.getloadavg()
    print(
        f"load average at the end {load1[0]:.1f} / {load1[1]:.1f} / {load1[2]:.1f} "
        f"(a load above {os.cpu_count()} means other work shared the CPUs: compare ratios)"
    )


if __name__ == "__main__":
    main()
