"""Ensemble of the default scenario: in process vs dask LocalCluster (same machine).

Prints, from this one run: wall time in process, wall time on a LocalCluster (including its
start-up), the overhead ratio, and whether the two results are bit-identical.
Usage: ``python benchmarks/bench_ensemble.py [--draws 100000] [--workers 2] [--chunk 25000]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from alloc.ensemble import run_ensemble

UNCERTAIN = {
    "envelope_growth": {"low": 0.025, "high": 0.045, "distribution": "normal80"},
    "policy.min_growth": {"low": 0.0, "high": 0.02, "distribution": "pert", "central": 0.017},
    "policy.max_growth": {"low": 0.05, "high": 0.08, "distribution": "triangular",
                          "central": 0.06},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=25_000)
    args = parser.parse_args()
    spec = {"draws": args.draws, "chunk": args.chunk, "uncertain": UNCERTAIN}
    overrides = ['policy.fallback="relax"']
    run_ensemble("default", overrides, {"draws": 2})  # compile / load kernels once

    t0 = time.perf_counter()
    local = run_ensemble("default", overrides, spec)
    local_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    remote = run_ensemble("default", overrides, spec, workers=args.workers)
    dask_s = time.perf_counter() - t0
    same = all(np.array_equal(local[v].values, remote[v].values)
               for v in ("allocation_q", "dft_q", "prob_below_threshold"))
    print(f"ensemble: default scenario, {args.draws:,} draws x 3 uncertain parameters, "
          f"chunks of {args.chunk:,}")
    print(f"in process: {local_s:.2f} s ({args.draws / local_s:,.0f} draws/s)")
    print(f"dask LocalCluster, {args.workers} workers (start-up included): {dask_s:.2f} s")
    print(f"dask / in-process overhead ratio: {dask_s / local_s:.2f}x; results bit-identical: "
          f"{same}")


if __name__ == "__main__":
    main()
