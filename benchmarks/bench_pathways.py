"""Left-shift pathways: numba cohort kernel vs a plain-Python reference.

Prints figures measured in this one run (nothing is compared with numbers from elsewhere):

- wall time of all four pathways (every lever switched on) x 42 ICBs x 10 years x ``--draws``
  parameter draws (sampled from the pathway files' [low, high] ranges), both arms (without and
  with the levers), processed in chunks of ``--chunk`` draws: parameter sampling, array
  building, kernel and calibration included;
- the kernel alone per draw;
- the plain-Python reference of ``tests/test_cohort_reference.py`` (pure Python loops, one ICB
  at a time) on the renal pathway for ``--reference`` draws x 42 ICBs, and the ratio of its
  per-draw time to the numba path's renal per-draw time.

Usage: ``python benchmarks/bench_pathways.py [--draws 10000] [--chunk 1000] [--reference 3]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np

from alloc.inputs.dataset import load_inputs
from alloc.inputs.pathway_spec import PathwaysSection
from alloc.pathways import PATHWAY_NAMES, load_pathway, project_left_shift
from alloc.targets.formula import project_population

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
YEARS = list(range(2025, 2036))  # base year + 10 projection years


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument("--reference", type=int, default=3)
    args = parser.parse_args()

    inputs = load_inputs()
    pop = project_population(inputs["gp_pop"], YEARS, 0.005)
    baseline = inputs["baseline"]
    levers = {
        name: [{"pathway": name, "lever": k} for k in load_pathway(name).spec.levers]
        for name in PATHWAY_NAMES
    }
    print(
        f"alloc pathways benchmark: {len(PATHWAY_NAMES)} pathways x {pop.sizes['icb']} ICBs x "
        f"{len(YEARS) - 1} projection years x {args.draws:,} draws, 2 arms; "
        f"numba {numba.__version__}, {numba.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs"
    )

    # Warm-up (compile or load the cache) on a tiny run.
    project_left_shift(
        PathwaysSection(levers=levers["renal"]),
        baseline,
        pop.isel(icb=[0]),
        YEARS[:2],
        0.025,
        "bench",
        n_draws=2,
        rng=np.random.default_rng(0),
    )

    per_pathway = {}
    total = 0.0
    seed = np.random.SeedSequence(20251)
    for name in PATHWAY_NAMES:
        section = PathwaysSection(levers=levers[name])
        streams = seed.spawn(-(-args.draws // args.chunk))
        started = time.perf_counter()
        savings = []
        for start, ss in zip(range(0, args.draws, args.chunk), streams):
            n = min(args.chunk, args.draws - start)
            ds = project_left_shift(
                section,
                baseline,
                pop,
                YEARS,
                0.025,
                "bench",
                n_draws=max(n, 2),
                rng=np.random.default_rng(ss),
            )
            savings.append(
                (ds["specialised_counterfactual"] - ds["specialised_scenario"])
                .sum(["icb", "service"])
                .isel(year=-1)
                .values[:n]
            )
        elapsed = time.perf_counter() - started
        per_pathway[name] = elapsed
        total += elapsed
        s = np.concatenate(savings) / 1e6
        print(
            f"  {name:<14} {elapsed:8.2f} s  ({elapsed / args.draws * 1e3:.3f} ms per draw); "
            f"final-year specialised saving GBP m (real): median {np.median(s):,.1f}, "
            f"5-95% {np.percentile(s, 5):,.1f} to {np.percentile(s, 95):,.1f}"
        )
    print(
        f"all four pathways: {total:.2f} s wall for {args.draws:,} draws "
        f"({total / args.draws * 1e3:.3f} ms per draw)"
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
    fast = per_pathway["renal"] / args.draws
    print(
        f"plain-Python reference (renal, 42 ICBs, both arms): {ref:.3f} s per draw "
        f"(timed on {args.reference} draws)"
    )
    print(f"ratio reference / numba (renal, per draw): {ref / fast:,.0f}x")
    print(
        f"estimated reference time for the full run (4 pathways ~ 4 x renal): "
        f"{4 * ref * args.draws / 3600:,.1f} h vs {total:.1f} s"
    )


if __name__ == "__main__":
    main()
