"""Need-model estimation: the slot kernels against the dense kernels and BLAS, and the 63.8M fit.

Prints figures and ratios measured in this one run (nothing is compared with numbers from
elsewhere), with the load average of the machine before and after each timed part. Data: the
seeded synthetic population of ``alloc.targets.synthetic`` (illustrative), the correctly specified
need model (29 coefficients: intercept, 19 age-sex cells, 4 deprivation quintiles, 4 morbidity
markers, distance).

1. Accumulation on the same in-memory records (n x 29), best of 3, records per second:
   - ``X'WX``, ``X'Wy``: the dense numba kernel (row by row over all 29 columns, ``prange`` over
     both cores: what the estimator ran before), numpy/BLAS (``(X.T * w) @ X``, ``X.T @ (w y)``),
     and the slot kernel the estimator runs now (non-zero entries only, one thread);
   - residual moments (HC1 meat, RSS, TSS) and group sums the same way;
   - building the dense design vs the slots;
   - agreement: slot vs dense kernel (bit for bit), slot vs BLAS, and the chunked fit vs
     ``numpy.linalg.lstsq`` on the in-memory design (coefficients, classical and HC1 errors).
2. End to end on the population generated chunk by chunk (both passes, need indices by ICB and
   practice): the estimator now (threads = CPUs, and 1 thread) against the previous per-chunk
   path (numpy generator, dense design + dense kernels, one chunk at a time, as before this
   change), with a check
   that all give bit-identical coefficients and covariances; and the generator, its numba
   kernel vs the numpy recipe it replaced (``SyntheticPopulation.chunk_numpy``).
3. ``--full``: the end-to-end fit on 63,849,324 records (England's registered population,
   2025/26, NHS England ICB allocation tool data) in a fresh subprocess, so that its peak resident
   memory (``VmHWM``) is its own: wall time, CPU time, records/s, peak memory. ``--legacy-full``
   also runs the previous path on all 63.8M records in another subprocess for the ratio (slow:
   about 2 minutes more). ``--workers N`` runs the new fit on a dask LocalCluster instead.
4. ``--profile K``: cProfile of both passes over K chunks of the 63.8M population, one thread.

Usage: ``python benchmarks/bench_estimate.py [--n 2000000] [--full [--legacy-full]]
[--workers 0] [--profile 4]``
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import resource
import subprocess
import sys
import time

import numpy as np

from alloc.kernels import regression as kr
from alloc.targets.estimate import (
    _add,
    _mirror,
    _solve,
    design_matrix,
    design_slots,
    fit_need_model,
    lstsq_reference,
    pass1_chunk,
    pass2_chunk,
)
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


def load() -> str:
    """Load average over 1, 5 and 15 minutes (as ``uptime`` prints it)."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def best_of(func, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def max_rel(a, b) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# --- the previous per-chunk path (dense design, dense prange kernels), for the ratio ------------


def legacy_pass1(loader, model, index=0):
    chunk = loader()
    X = design_matrix(chunk, model)
    y = np.asarray(chunk[model.cost], dtype=float)
    n, p = X.shape
    w = np.ones(n)
    out = {"xtwx": np.zeros((p, p)), "xtwy": np.zeros(p), "tot": np.zeros(2), "groups": {}}
    kr.accumulate_normal_equations(X, y, w, out["xtwx"], out["xtwy"], out["tot"])
    for name, labels in model.groups.items():
        codes = np.asarray(chunk[name], dtype=np.int64)
        g = len(labels)
        sums = (np.zeros((g, p)), np.zeros(g), np.zeros(g))
        kr.accumulate_group_sums(X, y, w, codes, *sums)
        out["groups"][name] = sums
    out["sum_wy"] = float(np.dot(w, y))
    return out


def legacy_pass2(loader, model, beta, ybar, index=0):
    chunk = loader()
    X = design_matrix(chunk, model)
    y = np.asarray(chunk[model.cost], dtype=float)
    p = X.shape[1]
    out = {"meat": np.zeros((p, p)), "rt": np.zeros(2)}
    kr.accumulate_residual_moments(X, y, np.ones(len(y)), beta, ybar, out["meat"], out["rt"])
    return out


def legacy_fit(pop, model) -> dict:
    """The estimator's two passes as before this change (coefficients and HC1 covariance):
    numpy generator, dense design, dense kernels, one chunk at a time."""
    loaders = [functools.partial(pop.chunk_numpy, k) for k in range(pop.n_chunks)]
    acc = None
    t0 = time.perf_counter()
    for k, loader in enumerate(loaders):
        acc = _add(acc, legacy_pass1(loader, model, k))
    t1 = time.perf_counter()
    terms, _ = model.terms()
    n, p = int(acc["tot"][1]), len(terms)
    beta, inv = _solve(acc["xtwx"], acc["xtwy"], terms, n, "records")
    ybar = acc["sum_wy"] / acc["tot"][0]
    res = None
    for k, loader in enumerate(loaders):
        res = _add(res, legacy_pass2(loader, model, beta, ybar, k))
    cov_hc1 = inv @ _mirror(res["meat"]) @ inv * (n / (n - p))
    return {
        "beta": beta,
        "cov_hc1": cov_hc1,
        "practice_sums": acc["groups"]["practice"][0] if "practice" in acc["groups"] else None,
        "pass1_s": t1 - t0,
        "pass2_s": time.perf_counter() - t1,
    }


# --- 1. kernels on one in-memory design ---------------------------------------------------------


def kernels(n: int, chunk_rows: int) -> None:
    pop = SyntheticPopulation(n, seed=1, chunk_rows=chunk_rows)
    model = pop.need_model(practices=False)
    frame = pop.to_frame()
    t_dense_build, X = best_of(lambda: design_matrix(frame, model))
    t_slot_build, (cols, vals) = best_of(lambda: design_slots(frame, model))
    y = frame["cost"].to_numpy()
    w = np.ones(len(y))
    codes = frame["icb"].to_numpy()
    n, p = X.shape
    print(
        f"records: {n:,} x {p} coefficients; dense design {X.nbytes / 1e6:,.0f} MB, slots "
        f"{(cols.nbytes + vals.nbytes) / 1e6:,.0f} MB ({cols.shape[0]} per record)"
    )
    print(f"load average before part 1: {load()}")

    def dense_normal():
        A, c, t = np.zeros((p, p)), np.zeros(p), np.zeros(2)
        kr.accumulate_normal_equations(X, y, w, A, c, t)
        return A, c

    def blas_normal():
        Xw = X * w[:, None]
        return Xw.T @ X, X.T @ (w * y)

    def slot_normal():
        A, c, t = np.zeros((p, p)), np.zeros(p), np.zeros(3)
        kr.accumulate_normal_equations_slots(cols, vals, y, w, A, c, t)
        return A, c

    beta = lstsq_reference(frame, model)
    ybar = float(y.mean())

    def dense_resid():
        M, o = np.zeros((p, p)), np.zeros(2)
        kr.accumulate_residual_moments(X, y, w, beta, ybar, M, o)
        return M, o

    def blas_resid():
        e = y - X @ beta
        we = w * e
        return (X * (we * we)[:, None]).T @ X, np.array([we @ e, w @ (y - ybar) ** 2])

    def slot_resid():
        M, o = np.zeros((p, p)), np.zeros(2)
        kr.accumulate_residual_moments_slots(cols, vals, y, w, beta, ybar, M, o)
        return M, o

    def dense_groups():
        out = (np.zeros((42, p)), np.zeros(42), np.zeros(42))
        kr.accumulate_group_sums(X, y, w, codes, *out)
        return out

    def slot_groups():
        out = (np.zeros((42, p)), np.zeros(42), np.zeros(42))
        kr.accumulate_group_sums_slots(cols, vals, y, w, codes, *out)
        return out

    for f in (dense_normal, slot_normal, dense_resid, slot_resid, dense_groups, slot_groups):
        f()  # compile or load the kernels before timing
    rows = []
    for label, funcs in (
        ("X'WX, X'Wy", (dense_normal, blas_normal, slot_normal)),
        ("HC1 meat, RSS, TSS", (dense_resid, blas_resid, slot_resid)),
        ("group sums (42 ICBs)", (dense_groups, None, slot_groups)),
    ):
        times, outs = [], []
        for f in funcs:
            t, out = best_of(f) if f else (np.nan, None)
            times.append(t)
            outs.append(out)
        same = all(np.array_equal(a, b) for a, b in zip(outs[2], outs[0]))
        upper = np.triu_indices(p)
        blas_diff = max_rel(outs[2][0][upper], outs[1][0][upper]) if outs[1] is not None else np.nan
        rows.append((label, times, same, blas_diff))
    print(
        "\n1. same in-memory records, best of 3 [records/s]; ratios = time of other / time of slots"
    )
    print(
        f"   {'sums':<22}{'dense numba (before)':>22}{'numpy BLAS':>14}{'slots (now)':>14}"
        f"{'dense/slots':>13}{'BLAS/slots':>12}  slots == dense   slots vs BLAS"
    )
    for label, (td, tb, ts), same, diff in rows:
        blas = f"{n / tb:>14,.0f}" if np.isfinite(tb) else f"{'-':>14}"
        ratio_b = f"{tb / ts:>11.1f}x" if np.isfinite(tb) else f"{'-':>12}"
        print(
            f"   {label:<22}{n / td:>22,.0f}{blas}{n / ts:>14,.0f}{td / ts:>12.1f}x{ratio_b}"
            f"  {'bit-identical' if same else 'DIFFERENT':<16}"
            f"{'' if np.isnan(diff) else f'{diff:.1e} rel.'}"
        )
    print(
        f"   building the design: dense {n / t_dense_build:,.0f} records/s, slots "
        f"{n / t_slot_build:,.0f} records/s ({t_dense_build / t_slot_build:.1f}x)"
    )

    fit = fit_need_model(frame, model, chunk_rows=chunk_rows)
    e = y - X @ beta
    inv = np.linalg.inv(X.T @ X)
    hc1 = np.sqrt(np.diag(inv @ (X.T * e**2) @ X @ inv) * n / (n - p))
    classical = np.sqrt(np.diag(inv) * (e @ e) / (n - p))
    table = fit.coefficients()
    print(
        f"   chunked fit vs numpy.linalg.lstsq in memory, max relative difference: coefficients "
        f"{max_rel(fit.beta, beta):.1e}, classical errors "
        f"{max_rel(table['se_classical'].to_numpy(), classical):.1e}, HC1 errors "
        f"{max_rel(table['se_hc1'].to_numpy(), hc1):.1e} (stated tolerance 1e-10)"
    )
    print(f"   load average after part 1: {load()}")


# --- 2. end to end --------------------------------------------------------------------------------


def end_to_end(n: int, chunk_rows: int) -> None:
    pop = SyntheticPopulation(n, seed=1, chunk_rows=chunk_rows)
    model = pop.need_model()
    warm = SyntheticPopulation(50_000, seed=2, chunk_rows=50_000)
    fit_need_model(warm, warm.need_model())
    legacy_fit(warm, warm.need_model())
    print(f"\n2. end to end, generated chunk by chunk (load average before: {load()})")
    results = {}
    for label, run in (
        ("now, threads = CPUs", lambda: fit_need_model(pop, model)),
        ("now, 1 thread", lambda: fit_need_model(pop, model, threads=1)),
        ("before (dense path)", lambda: legacy_fit(pop, model)),
    ):
        c0, t0 = time.process_time(), time.perf_counter()
        out = run()
        results[label] = (time.perf_counter() - t0, time.process_time() - c0, out)
    base = results["before (dense path)"][0]
    for label, (wall, cpu, out) in results.items():
        timings = out.timings if hasattr(out, "timings") else out
        print(
            f"   {label:<22} {wall:6.2f} s wall, {cpu:6.2f} CPU-s (pass 1 {timings['pass1_s']:.2f} s,"
            f" pass 2 {timings['pass2_s']:.2f} s) = {n / wall:>11,.0f} records/s; "
            f"before / this {base / wall:4.2f}x"
        )
    now, one, before = (results[k][2] for k in results)
    identical = (
        np.array_equal(now.beta, before["beta"])
        and np.array_equal(now.cov_hc1, before["cov_hc1"])
        and np.array_equal(one.cov_hc1, now.cov_hc1)
        and np.array_equal(now.group_sums["practice"][0], before["practice_sums"])
    )
    print(
        "   coefficients, HC1 covariance and practice sums: "
        + ("bit-identical across all three" if identical else "DIFFERENT")
    )
    t_kernel, fast = best_of(lambda: pop.chunk(0))
    t_numpy, slow = best_of(lambda: pop.chunk_numpy(0))
    same = all(np.array_equal(fast[k], slow[k]) for k in slow)
    print(
        f"   generator, one chunk of {len(fast['cost']):,} persons: kernel {t_kernel * 1e3:.0f} ms, "
        f"numpy recipe (before) {t_numpy * 1e3:.0f} ms ({t_numpy / t_kernel:.1f}x; records "
        f"{'bit-identical' if same else 'DIFFERENT'})"
    )
    print(f"   load average after part 2: {load()}")


# --- 3. the full fit, in a fresh process ----------------------------------------------------------


def full_child(n: int, chunk_rows: int, workers: int, legacy: bool) -> None:
    """Runs in a subprocess: the 63.8M fit; prints one JSON line."""
    pop = SyntheticPopulation(n, seed=20250401, chunk_rows=chunk_rows)
    load_before = os.getloadavg()
    if legacy:
        c0, t0 = time.process_time(), time.perf_counter()
        out = legacy_fit(pop, pop.need_model())
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            json.dumps(
                {
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "pass1_s": out["pass1_s"],
                    "pass2_s": out["pass2_s"],
                    "peak_rss_mb": peak_rss_mb(),
                    "beta": out["beta"].tolist(),
                    "se_hc1": np.sqrt(np.diag(out["cov_hc1"])).tolist(),
                    "load": [load_before, os.getloadavg()],
                }
            )
        )
        return
    client = None
    if workers:
        from alloc.targets.estimate import local_client

        client = local_client(workers)
    c0, t0 = time.process_time(), time.perf_counter()
    fit = fit_need_model(pop, pop.need_model(), client=client)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    load_after = os.getloadavg()
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
                "cpu_s": cpu,
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
                "beta": fit.beta.tolist(),
                "se_hc1": coef["se_hc1"].tolist(),
                "load": [load_before, load_after],
            }
        )
    )


def run_child(args, legacy: bool) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--full-n",
        str(args.full_n),
        "--chunk-rows",
        str(args.chunk_rows),
        "--workers",
        str(0 if legacy else args.workers),
    ] + (["--legacy-full"] if legacy else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def full(args) -> None:
    res = run_child(args, legacy=False)
    p = len(res["beta"])
    in_memory_gb = res["n"] * p * 8 / 1e9
    where = f"dask LocalCluster, {args.workers} workers" if args.workers else "in process"
    print(
        f"\n3. full fit, {res['n']:,} records ({where}; {res['chunks']} chunks of "
        f"{args.chunk_rows:,}; {res['practices']:,} practices)"
    )
    print(
        f"   wall time {res['wall_s']:.1f} s (pass 1 {res['pass1_s']:.1f} s, pass 2 "
        f"{res['pass2_s']:.1f} s) = {res['n'] / res['wall_s']:,.0f} records/s; "
        f"{res['cpu_s']:.1f} CPU-s in this process (target: under 40 s)"
    )
    print(
        f"   load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in res['load'][0])};"
        f" after {', '.join(f'{x:.2f}' for x in res['load'][1])}"
    )
    print(
        f"   peak resident memory {res['peak_rss_mb']:,.0f} MB (target: under 1,024 MB)"
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
    if args.legacy_full:
        old = run_child(args, legacy=True)
        same = old["beta"] == res["beta"] and old["se_hc1"] == res["se_hc1"]
        print(
            f"   before (dense path), same records: {old['wall_s']:.1f} s wall (pass 1 "
            f"{old['pass1_s']:.1f} s, pass 2 {old['pass2_s']:.1f} s), {old['cpu_s']:.1f} CPU-s, "
            f"peak {old['peak_rss_mb']:,.0f} MB; before / now: wall "
            f"{old['wall_s'] / res['wall_s']:.2f}x, CPU {old['cpu_s'] / res['cpu_s']:.2f}x; "
            f"coefficients and HC1 errors {'bit-identical' if same else 'DIFFERENT'}"
        )
        print(
            "   load average during the previous path: before "
            f"{', '.join(f'{x:.2f}' for x in old['load'][0])}; after "
            f"{', '.join(f'{x:.2f}' for x in old['load'][1])}"
        )


# --- 4. profile -----------------------------------------------------------------------------------


def profile(chunks: int, chunk_rows: int) -> None:
    pop = SyntheticPopulation(ENGLAND_2025_26, seed=20250401, chunk_rows=chunk_rows)
    model = pop.need_model()
    loaders = pop.chunk_loaders()
    beta = np.zeros(len(model.terms()[0]))
    pass1_chunk(loaders[0], model, 0)  # compile or load the kernels outside the profile
    pass2_chunk(loaders[0], model, beta, 300.0, 0)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for k in range(1, chunks + 1):
        pass1_chunk(loaders[k], model, k)
        pass2_chunk(loaders[k], model, beta, 300.0, k)
    prof.disable()
    wall = time.perf_counter() - t0
    print(
        f"\n4. profile: both passes over {chunks} chunks of {chunk_rows:,} (one thread), "
        f"{wall:.2f} s = {wall / chunks * 1e3:.0f} ms per chunk (load average {load()})"
    )
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000, help="records for parts 1-2")
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--full", action="store_true", help="also fit 63,849,324 records")
    parser.add_argument("--full-n", type=int, default=ENGLAND_2025_26)
    parser.add_argument(
        "--legacy-full", action="store_true", help="with --full: also the previous path"
    )
    parser.add_argument("--workers", type=int, default=0, help="dask workers for --full")
    parser.add_argument("--profile", type=int, default=0, metavar="K", help="profile K chunks")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        full_child(args.full_n, args.chunk_rows, args.workers, args.legacy_full)
        return
    print(
        f"machine: {os.cpu_count()} logical CPUs; numba threads "
        f"{os.environ.get('NUMBA_NUM_THREADS', 'default')}; load average {load()}"
    )
    kernels(args.n, args.chunk_rows)
    end_to_end(args.n, args.chunk_rows)
    if args.full:
        full(args)
    if args.profile:
        profile(args.profile, args.chunk_rows)


if __name__ == "__main__":
    main()
