"""Ensemble of the default scenario: end to end against the kernel alone, memory, and dask.

Prints, from this one run:

- the ensemble end to end in process for ``--draws`` (default 1,000,000) draws, and the
  glide-path kernel alone on the same inputs (every chunk's kernel inputs built untimed, then
  only the kernel timed): the ratio end to end / kernel (target: within 2x), with a breakdown of
  the end-to-end run by stage (cProfile, cumulative seconds);
- peak resident memory (VmHWM) of a fresh process running the same ensemble (target: under
  1 GB), and of one with ten times fewer draws: memory should follow the chunk, not the draws;
- at ``--dask-draws`` (default 10,000): wall time in process; with ``workers`` (which runs in
  process when the job cannot pay for a cluster); on an already running ``LocalCluster`` (as
  with ``--scheduler``); the cluster's fixed costs (starting it, a first tiny ensemble on it,
  closing it), measured directly; whether the results are bit-identical.

The machine may be loaded by other processes: compare the ratios, which are measured in one run.

Usage: ``python benchmarks/bench_ensemble.py [--draws 1000000] [--dask-draws 10000]
[--workers 2] [--chunk 10000] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import time

import numpy as np

from alloc.allocation.engine import prepare, solve_glide_paths
from alloc.uncertainty.ensemble import (
    SINGLE_THREADED_WORKER,
    chunks,
    kernel_inputs,
    make_plan,
    resolve_spec,
    run_ensemble,
)

UNCERTAIN = {
    "envelope_growth": {"low": 0.025, "high": 0.045, "distribution": "normal80"},
    "policy.min_growth": {"low": 0.0, "high": 0.02, "distribution": "pert", "central": 0.017},
    "policy.max_growth": {"low": 0.05, "high": 0.08, "distribution": "triangular", "central": 0.06},
}
OVERRIDES = ['policy.fallback="relax"']
SUMMARIES = ("allocation_q", "dft_q", "prob_below_threshold", "allocation_central")


def timed(repeat: int = 1, **kwargs):
    """Run the ensemble ``repeat`` times; return the last result and the median wall time [s]."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = run_ensemble("default", OVERRIDES, **kwargs)
        times.append(time.perf_counter() - t0)
    return result, float(np.median(times))


def peak_memory_mb(draws: int, chunk: int) -> float:
    """Peak RSS [MB] of a fresh process that runs the ensemble once (imports included).

    Read from ``VmHWM`` in ``/proc/self/status``, the high-water mark of the process's own
    memory. ``getrusage``'s ``ru_maxrss`` is not used: on Linux it survives ``exec`` and so
    reports at least the RSS of the (large) parent at the time it forked the child.
    """
    code = (
        "import json\n"
        "from alloc.uncertainty.ensemble import run_ensemble\n"
        f"run_ensemble('default', {OVERRIDES!r}, {{'draws': {draws}, 'chunk': {chunk}, "
        f"'uncertain': {UNCERTAIN!r}}})\n"
        "kb = next(int(line.split()[1]) for line in open('/proc/self/status')\n"
        "          if line.startswith('VmHWM:'))\n"
        "print(json.dumps(kb / 1024))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def kernel_alone(spec: dict) -> float:
    """Seconds the glide-path kernel alone takes on the ensemble's own inputs, chunk by chunk.

    Each chunk's kernel inputs are built as the ensemble builds them (untimed); only
    :func:`alloc.allocation.engine.solve_glide_paths` (the kernel and its output arrays) is timed.
    """
    prep = prepare("default", OVERRIDES)
    plan = make_plan(resolve_spec(prep, spec))
    relax = prep.policy.fallback == "relax"
    total = 0.0
    for rows in chunks(plan.n_rows, plan.spec.chunk):
        arrays = kernel_inputs(prep, plan.values(rows), len(rows))
        policy = {k: arrays[k] for k in prep.policy_arrays}
        t0 = time.perf_counter()
        solve_glide_paths(arrays["A0"], arrays["T"], arrays["E"], policy, relax)
        total += time.perf_counter() - t0
    return total


def stage_breakdown(stats: pstats.Stats) -> str:
    """Cumulative seconds of the ensemble's main stages, from a cProfile of one run."""
    wanted = {
        "kernel (glide_path)": "glide_path",
        "invariant check": "_count_violations",
        "parameter draws (transform)": "transform",
        "kernel inputs": "kernel_inputs",
        "spend rows": "_spend_rows",
        "quantiles (summarise)": "summarise",
    }
    found = {}
    for (_, _, func), (_, _, _, cum, _) in stats.stats.items():
        for label, name in wanted.items():
            if func == name:
                found[label] = max(found.get(label, 0.0), cum)
    return "; ".join(f"{k} {v:.1f} s" for k, v in found.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1_000_000)
    parser.add_argument("--dask-draws", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument(
        "--repeat", type=int, default=1, help="timed dask runs of each kind; the median is printed"
    )
    args = parser.parse_args()
    run_ensemble("default", OVERRIDES, {"draws": 2})  # compile / load kernels once

    spec = {"draws": args.draws, "chunk": args.chunk, "uncertain": UNCERTAIN}
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    local = run_ensemble("default", OVERRIDES, spec)
    profile.disable()
    end_to_end = time.perf_counter() - t0
    kernel_s = kernel_alone(spec)
    print(
        f"ensemble: default scenario, {args.draws:,} draws x {len(UNCERTAIN)} uncertain "
        f"parameters, chunks of {args.chunk:,} rows"
    )
    print(
        f"end to end in process {end_to_end:.1f} s; kernel alone on the same inputs "
        f"{kernel_s:.1f} s; ratio {end_to_end / kernel_s:.1f}x (target: within 2x)"
    )
    print(f"  stages (cProfile, cumulative): {stage_breakdown(pstats.Stats(profile))}")
    small = max(args.draws // 10, min(args.draws, 3 * args.chunk))
    small_mb, big_mb = peak_memory_mb(small, args.chunk), peak_memory_mb(args.draws, args.chunk)
    cells = local.sizes["year"] * local.sizes["icb"]
    stored_mb = args.draws * 2 * cells * 8 / 2**20
    print(
        f"peak memory (VmHWM) of a fresh process, chunks of {args.chunk:,}: {args.draws:,} "
        f"draws {big_mb:,.0f} MB (target: under 1,024 MB); {small:,} draws {small_mb:,.0f} MB "
        f"(ratio {big_mb / small_mb:.2f} for {args.draws / small:.0f}x the draws; the two "
        f"stored variables' cube, on disk, is {stored_mb:,.0f} MB)"
    )

    spec = {"draws": args.dask_draws, "chunk": args.chunk, "uncertain": UNCERTAIN}
    local, local_s = timed(args.repeat, spec=spec)
    notes = []
    started, started_s = timed(args.repeat, spec=spec, workers=args.workers, note=notes.append)
    from dask.distributed import LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env=SINGLE_THREADED_WORKER,
    ) as cluster:
        start_s = time.perf_counter() - t0
        _, warm_s = timed(spec={**spec, "draws": 2}, scheduler=cluster.scheduler_address)
        running, running_s = timed(args.repeat, spec=spec, scheduler=cluster.scheduler_address)
        t0 = time.perf_counter()
    close_s = time.perf_counter() - t0
    same = all(
        np.array_equal(local[v].values, other[v].values)
        for other in (started, running)
        for v in SUMMARIES
    )
    how = "in process (too small for a cluster)" if notes else "on a new cluster"
    print(f"at {args.dask_draws:,} draws: in process {local_s:.2f} s")
    print(
        f"  --workers {args.workers}: {started_s:.2f} s, ran {how} "
        f"(ratio to in process {started_s / local_s:.2f}x; target: never 10x)"
    )
    print(
        f"  dask, LocalCluster of {args.workers} already running: {running_s:.2f} s "
        f"(ratio {running_s / local_s:.2f}x)"
    )
    print(
        f"  fixed costs of a cluster, whatever the draws: starting it {start_s:.2f} s; first "
        f"2-draw ensemble on it (workers import alloc and load kernels) {warm_s:.2f} s; "
        f"closing it {close_s:.2f} s; in total {start_s + warm_s + close_s:.1f} s, the "
        "break-even (alloc.uncertainty.ensemble.CLUSTER_BREAK_EVEN_S) it is set against"
    )
    print(f"  results bit-identical across the three: {same}")


if __name__ == "__main__":
    main()
