"""Need-model estimation: streamed chunked fit vs an in-memory numpy fit, and the 63-million fit.

Prints figures and ratios measured in this one run (nothing is compared with numbers from
elsewhere). Data: the seeded synthetic population of ``alloc.targets.synthetic`` (illustrative), the
correctly specified need model (29 coefficients: intercept, 19 age-sex cells, 4 deprivation
quintiles, 4 morbidity markers, distance).

1. Throughput on the same in-memory design matrix X (n records x 29):
   - chunked estimator, coefficients only (pass 1: X'WX, X'Wy by the numba kernel; solve);
   - ``numpy.linalg.lstsq`` on X (coefficients only);
   - chunked estimator with classical + HC1 standard errors (passes 1 and 2) vs numpy with the
     same standard errors in memory (lstsq, then (X'X)^-1 and the HC1 meat);
   records per second for each and the ratios. Differences in coefficients are printed too.
2. End to end: ``fit_need_model`` on the synthetic population generated chunk by chunk (both
   passes, need indices by ICB and practice), records per second including generation.
3. ``--full``: the same end-to-end fit on 63,849,324 records (England's registered population,
   2025/26, NHS England ICB allocation tool data), run in a fresh subprocess so that its peak
   resident memory (``VmHWM``) is its own; also the memory an in-memory fit would need for
   X alone. ``--workers N`` runs it on a dask LocalCluster of N worker processes instead.

Usage: ``python benchmarks/bench_estimate.py [--n 2000000] [--full] [--workers 0]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from alloc.kernels import regression as kr
from alloc.targets.estimate import design_matrix, fit_need_model
from alloc.targets.synthetic import SyntheticPopulation

ENGLAND_2025_26 = 63_849_324  # registered population, NHS England ICB allocation tool 2025/26


def peak_rss_mb() -> float:
    """This process's peak resident memory [MB]: ``VmHWM`` of /proc/self/status.

    Not ``getrusage(...).ru_maxrss``: on Linux that carries the parent's peak across the
    fork/exec that starts a subprocess, so it would report the parent's memory.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_of(func, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def throughput(n: int, chunk_rows: int) -> None:
    pop = SyntheticPopulation(n, seed=1, chunk_rows=chunk_rows)
    model = pop.need_model(practices=False)
    frame = pop.to_frame()
    X = design_matrix(frame, model)
    y = frame["cost"].to_numpy()
    w = np.ones(len(y))
    n, p = X.shape
    print(f"records: {n:,} x {p} coefficients; design matrix in memory {X.nbytes / 1e6:,.0f} MB")

    def chunked(se: bool):
        A, c, t = np.zeros((p, p)), np.zeros(p), np.zeros(2)
        for a in range(0, n, chunk_rows):
            kr.accumulate_normal_equations(
                X[a : a + chunk_rows], y[a : a + chunk_rows], w[a : a + chunk_rows], A, c, t
            )
        full = np.triu(A) + np.triu(A, 1).T
        beta = np.linalg.solve(full, c)
        if se:
            M, o = np.zeros((p, p)), np.zeros(2)
            for a in range(0, n, chunk_rows):
                kr.accumulate_residual_moments(
                    X[a : a + chunk_rows],
                    y[a : a + chunk_rows],
                    w[a : a + chunk_rows],
                    beta,
                    float(y.mean()),
                    M,
                    o,
                )
            inv = np.linalg.inv(full)
            meat = np.triu(M) + np.triu(M, 1).T
            return beta, np.sqrt(np.diag(inv @ meat @ inv) * n / (n - p))
        return beta, None

    def numpy_fit(se: bool):
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        if se:
            e = y - X @ beta
            inv = np.linalg.inv(X.T @ X)
            return beta, np.sqrt(np.diag(inv @ (X.T * e**2) @ X @ inv) * n / (n - p))
        return beta, None

    chunked(False)  # compile / load the kernels before timing
    t_chunk, (b_chunk, _) = best_of(lambda: chunked(False))
    t_np, (b_np, _) = best_of(lambda: numpy_fit(False))
    t_chunk_se, (_, se_chunk) = best_of(lambda: chunked(True))
    t_np_se, (_, se_np) = best_of(lambda: numpy_fit(True))
    rel = np.max(np.abs(b_chunk - b_np) / np.maximum(np.abs(b_np), 1.0))
    rel_se = np.max(np.abs(se_chunk - se_np) / se_np)
    print("\n1. same in-memory design, best of 3 [records/s]")
    print(
        f"   coefficients only : chunked {n / t_chunk:>14,.0f}   numpy lstsq {n / t_np:>14,.0f}"
        f"   ratio chunked/numpy {t_np / t_chunk:5.2f}x"
    )
    print(
        f"   with HC1 SEs      : chunked {n / t_chunk_se:>14,.0f}   numpy       "
        f"{n / t_np_se:>14,.0f}   ratio chunked/numpy {t_np_se / t_chunk_se:5.2f}x"
    )
    print(f"   max relative difference: coefficients {rel:.1e}, HC1 standard errors {rel_se:.1e}")

    fit_need_model(SyntheticPopulation(50_000, seed=2, chunk_rows=50_000), pop.need_model())
    t0 = time.perf_counter()
    fit = fit_need_model(pop, pop.need_model())
    t_e2e = time.perf_counter() - t0
    print("\n2. end to end, generated chunk by chunk (2 passes, need indices by ICB and practice)")
    print(
        f"   {n / t_e2e:,.0f} records/s ({t_e2e:.2f} s; pass 1 {fit.timings['pass1_s']:.2f} s, "
        f"pass 2 {fit.timings['pass2_s']:.2f} s; generation is inside both passes)"
    )


def full_child(n: int, chunk_rows: int, workers: int) -> None:
    """Runs in a subprocess: the 63M fit; prints one JSON line."""
    client = None
    if workers:
        from alloc.targets.estimate import local_client

        client = local_client(workers)
    pop = SyntheticPopulation(n, seed=20250401, chunk_rows=chunk_rows)
    t0 = time.perf_counter()
    fit = fit_need_model(pop, pop.need_model(), client=client)
    wall = time.perf_counter() - t0
    ni = fit.need_indices("icb")
    true = fit.need_indices("icb", beta=pop.dgp.coefficients())
    worker_rss = []
    if client is not None:
        worker_rss = list(client.run(peak_rss_mb).values())
        client.close()
        client.cluster.close()
    coef = fit.coefficients()
    truth = pop.dgp.coefficients()
    z = np.array([(coef.loc[t, "estimate"] - truth[t]) / coef.loc[t, "se"] for t in coef.index])
    print(
        json.dumps(
            {
                "n": fit.n,
                "wall_s": wall,
                "pass1_s": fit.timings["pass1_s"],
                "pass2_s": fit.timings["pass2_s"],
                "chunks": pop.n_chunks,
                "practices": pop.n_practices,
                "peak_rss_mb": peak_rss_mb(),
                "worker_peak_rss_mb": worker_rss,
                "max_abs_z": float(np.abs(z).max()),
                "max_need_index_error": float((ni["need_index"] - true["need_index"]).abs().max()),
                "distance_km": [
                    float(coef.loc["distance_km", "estimate"]),
                    float(coef.loc["distance_km", "se"]),
                ],
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000, help="records for parts 1-2")
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--full", action="store_true", help="also fit 63,849,324 records")
    parser.add_argument("--full-n", type=int, default=ENGLAND_2025_26)
    parser.add_argument("--workers", type=int, default=0, help="dask workers for --full")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        full_child(args.full_n, args.chunk_rows, args.workers)
        return
    print(
        f"machine: {os.cpu_count()} logical CPUs; numba threads "
        f"{os.environ.get('NUMBA_NUM_THREADS', 'default')}"
    )
    throughput(args.n, args.chunk_rows)
    if args.full:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--full-n",
            str(args.full_n),
            "--chunk-rows",
            str(args.chunk_rows),
            "--workers",
            str(args.workers),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        p = 29
        in_memory_gb = res["n"] * p * 8 / 1e9
        where = f"dask LocalCluster, {args.workers} workers" if args.workers else "in-process"
        print(
            f"\n3. full fit, {res['n']:,} records ({where}; {res['chunks']} chunks of "
            f"{args.chunk_rows:,}; {res['practices']:,} practices)"
        )
        print(
            f"   wall time {res['wall_s']:.1f} s (pass 1 {res['pass1_s']:.1f} s, pass 2 "
            f"{res['pass2_s']:.1f} s) = {res['n'] / res['wall_s']:,.0f} records/s"
        )
        print(
            f"   peak resident memory {res['peak_rss_mb']:,.0f} MB (client process)"
            + (
                f"; workers {', '.join(f'{m:,.0f}' for m in res['worker_peak_rss_mb'])} MB"
                if res["worker_peak_rss_mb"]
                else ""
            )
        )
        print(
            f"   an in-memory fit would hold X alone in {in_memory_gb:,.1f} GB "
            f"({in_memory_gb * 1e3 / res['peak_rss_mb']:,.0f}x this peak)"
        )
        print(
            f"   recovery: max |estimate - true| / se = {res['max_abs_z']:.2f}; max |need index "
            f"error| by ICB = {res['max_need_index_error']:.5f}; distance coefficient "
            f"{res['distance_km'][0]:.4f} (se {res['distance_km'][1]:.4f}, true -0.8) GBP/km"
        )


if __name__ == "__main__":
    main()
