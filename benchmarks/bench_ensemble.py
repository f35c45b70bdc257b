"""Ensemble of the default scenario: in process vs dask, and peak memory vs number of draws.

Prints, from this one run:

- wall time in process; on a dask ``LocalCluster`` started by the call (start-up included, as
  ``alloc ensemble --workers 2`` does); on an already running ``LocalCluster`` (as with
  ``--scheduler``); the overhead ratios against in process; the fixed costs of a cluster
  (starting it, a first tiny ensemble on it, closing it), measured directly; whether the results are
  bit-identical;
- peak resident memory of a fresh process running the same ensemble at two sizes (``--draws``
  and ten times fewer, but at least three chunks), with the same chunk: memory should follow
  the chunk, not the draws.

Usage: ``python benchmarks/bench_ensemble.py [--draws 100000] [--workers 2] [--chunk 10000]
[--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from alloc.uncertainty.ensemble import SINGLE_THREADED_WORKER, run_ensemble

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs of each kind; the median is printed"
    )
    args = parser.parse_args()
    spec = {"draws": args.draws, "chunk": args.chunk, "uncertain": UNCERTAIN}
    run_ensemble("default", OVERRIDES, {"draws": 2})  # compile / load kernels once

    local, local_s = timed(args.repeat, spec=spec)
    started, started_s = timed(args.repeat, spec=spec, workers=args.workers)
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
    print(
        f"ensemble: default scenario, {args.draws:,} draws x {len(UNCERTAIN)} uncertain "
        f"parameters, chunks of {args.chunk:,} rows; median of {args.repeat} runs each"
    )
    print(f"in process: {local_s:.2f} s ({args.draws / local_s:,.0f} draws/s)")
    print(
        f"dask, LocalCluster of {args.workers} started by the call: {started_s:.2f} s "
        f"(overhead ratio {started_s / local_s:.2f}x)"
    )
    print(
        f"dask, LocalCluster of {args.workers} already running: {running_s:.2f} s "
        f"(overhead ratio {running_s / local_s:.2f}x)"
    )
    print(
        f"fixed costs of a cluster, whatever the draws: starting it {start_s:.2f} s; first "
        f"2-draw ensemble on it (workers import alloc and load kernels) {warm_s:.2f} s; "
        f"closing it {close_s:.2f} s"
    )
    print(f"results bit-identical across the three: {same}")
    # at least three chunks, so that both sizes hold the two-chunk write pipeline at its peak
    small = max(args.draws // 10, min(args.draws, 3 * args.chunk))
    small_mb, big_mb = peak_memory_mb(small, args.chunk), peak_memory_mb(args.draws, args.chunk)
    cells = local.sizes["year"] * local.sizes["icb"]
    full_cube_mb = args.draws * 2 * cells * 8 / 2**20
    print(
        f"peak memory of a fresh process, chunks of {args.chunk:,}: {small:,} draws "
        f"{small_mb:,.0f} MB; {args.draws:,} draws {big_mb:,.0f} MB (ratio "
        f"{big_mb / small_mb:.2f} for {args.draws / small:.0f}x the draws; the two summarised "
        f"variables' cube alone would be {full_cube_mb:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
