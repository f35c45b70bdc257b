"""Need-model estimation: recovery of a known model, equality with an in-memory fit, sterilisation,
dask, kernels without JIT, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alloc.errors import AllocError
from alloc.kernels import regression as kr
from alloc.targets.estimate import (
    NeedModel,
    coefficient_recovery,
    design_matrix,
    fit_need_model,
    lstsq_reference,
)
from alloc.targets.synthetic import DGP, SyntheticPopulation

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def population():
    return SyntheticPopulation(300_000, seed=11, chunk_rows=70_000)


@pytest.fixture(scope="module")
def fit(population):
    return fit_need_model(population, population.need_model())


def test_recovers_known_coefficients_within_confidence_intervals(population, fit):
    table = coefficient_recovery(fit, population.dgp.coefficients())
    # Every one of the 29 coefficients within its 99.9% interval (HC1), and close to 95% of
    # them within their 95% interval.
    assert table["error_in_se"].abs().max() < 3.29, table.sort_values("error_in_se").iloc[[0, -1]]
    assert table["in_ci95"].mean() >= 0.85
    assert fit.se_type == "HC1" and (table["se_hc1"] > 0).all()
    # Heteroskedastic (gamma) noise: robust errors differ from classical ones.
    assert not np.allclose(table["se_hc1"], table["se_classical"], rtol=0.05)


def test_recovers_true_need_indices(population, fit):
    est = fit.need_indices("icb")
    true = fit.need_indices("icb", beta=population.dgp.coefficients())
    err = est["need_index"] - true["need_index"]
    assert (err.abs() < 4 * est["need_index_se"]).all()
    assert err.abs().max() < 0.01
    assert true["need_index"].max() - true["need_index"].min() > 0.1  # real spread to recover
    pop = est["population"]
    assert abs((est["need_index"] * pop).sum() / pop.sum() - 1) < 1e-12


def test_chunked_fit_equals_in_memory_lstsq(population, fit):
    frame = population.to_frame()
    model = population.need_model(practices=False)
    ref = lstsq_reference(frame, model)
    np.testing.assert_allclose(fit.beta, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())
    # Chunking does not matter beyond summation order.
    other = fit_need_model(frame, model, chunk_rows=123_457)
    np.testing.assert_allclose(other.beta, fit.beta, rtol=1e-10, atol=1e-10)
    # Standard errors against direct in-memory formulas.
    X = design_matrix(frame, model)
    y = frame["cost"].to_numpy()
    n, p = X.shape
    e = y - X @ ref
    inv = np.linalg.inv(X.T @ X)
    classical = np.sqrt(np.diag(inv) * (e @ e) / (n - p))
    hc1 = np.sqrt(np.diag(inv @ (X.T * e**2) @ X @ inv) * n / (n - p))
    table = fit.coefficients()
    np.testing.assert_allclose(table["se_classical"], classical, rtol=1e-8)
    np.testing.assert_allclose(table["se_hc1"], hc1, rtol=1e-8)
    tss = ((y - y.mean()) ** 2).sum()
    assert fit.r2 == pytest.approx(1 - (e @ e) / tss, rel=1e-10)


def test_weighted_fit_equals_lstsq_on_root_weights():
    rng = np.random.default_rng(3)
    n = 20_000
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "band": rng.integers(0, 3, n),
            "dist": rng.uniform(0, 100, n),
            "w": rng.uniform(0.1, 3, n),
            "g": rng.integers(0, 4, n),
        }
    )
    frame["cost"] = 5 + 2 * frame["x"] + frame["band"] - 0.1 * frame["dist"] + rng.normal(size=n)
    model = NeedModel(
        "cost",
        ("x", "band"),
        ("dist",),
        categorical={"band": [0, 1, 2]},
        weight="w",
        groups={"g": [0, 1, 2, 3]},
    )
    fit = fit_need_model(frame, model, chunk_rows=3_000)
    np.testing.assert_allclose(fit.beta, lstsq_reference(frame, model), rtol=1e-8)
    assert fit.terms == ["const", "x", "band=1", "band=2", "dist"]


def test_sterilisation_removes_a_pure_supply_effect():
    """Cost depends on distance only: sterilised need is flat, unsterilised is not."""
    pop = SyntheticPopulation(
        120_000, seed=5, chunk_rows=50_000, dgp=DGP(need=False, noise_shape=None)
    )
    fit = fit_need_model(pop, pop.need_model())
    ster = fit.need_indices("practice")["need_index"]
    raw = fit.need_indices("practice", sterilise=False)["need_index"]
    np.testing.assert_allclose(ster, 1.0, atol=1e-9)
    assert raw.max() - raw.min() > 0.2
    coef = fit.coefficients()["estimate"]
    assert coef["distance_km"] == pytest.approx(-0.8, rel=1e-9)
    np.testing.assert_allclose(coef.drop(["const", "distance_km"]), 0.0, atol=1e-8)


def test_dask_cluster_gives_identical_results():
    distributed = pytest.importorskip("distributed")
    pop = SyntheticPopulation(60_000, seed=2, chunk_rows=15_000)
    model = pop.need_model()
    local = fit_need_model(pop, model)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = fit_need_model(pop, model, client=client)
    # Same per-chunk partial sums, added in chunk order on the client: bit-identical.
    np.testing.assert_array_equal(remote.beta, local.beta)
    np.testing.assert_array_equal(remote.cov_hc1, local.cov_hc1)
    np.testing.assert_array_equal(remote.group_sums["practice"][0], local.group_sums["practice"][0])


def test_csv_chunks_with_labels_match_in_memory(tmp_path):
    pop = SyntheticPopulation(30_000, seed=9, chunk_rows=10_000)
    model = pop.need_model(practices=False)
    paths = []
    for k in range(pop.n_chunks):
        frame = pd.DataFrame(pop.chunk(k))
        frame["icb"] = [pop.icb_codes[i] for i in frame["icb"]]
        frame["age_sex"] = [model.categorical["age_sex"][i] for i in frame["age_sex"]]
        paths.append(tmp_path / f"part{k}.csv")
        frame.to_csv(paths[-1], index=False)
    from_csv = fit_need_model(paths, model)
    in_memory = fit_need_model(pop, model)
    np.testing.assert_allclose(from_csv.beta, in_memory.beta, rtol=1e-10)


# --- kernels: same results without JIT ---------------------------------------------------------

_SCRIPT = """
import numpy as np, sys
from alloc.kernels import regression as kr
rng = np.random.default_rng(1)
n, p = 20_000, 6
X = rng.normal(size=(n, p)); y = rng.normal(size=n); w = rng.uniform(0, 2, n)
A = np.zeros((p, p)); c = np.zeros(p); t = np.zeros(2)
kr.accumulate_normal_equations(X, y, w, A, c, t)
M = np.zeros((p, p)); o = np.zeros(2)
kr.accumulate_residual_moments(X, y, w, np.linspace(-1, 1, p), 0.3, M, o)
codes = rng.integers(0, 5, n)
sx = np.zeros((5, p)); sy = np.zeros(5); sq = np.zeros(5)
kr.accumulate_group_sums(X, y, w, codes, sx, sy, sq)
np.savez(sys.argv[1], A=A, c=c, t=t, M=M, o=o, sx=sx, sy=sy, sq=sq,
         jit=hasattr(kr.accumulate_normal_equations, "py_func"))
"""


def test_kernels_same_without_jit(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    results = {}
    for mode in ("0", "1"):
        out = tmp_path / f"k{mode}.npz"
        proc = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(out)],
            cwd=REPO,
            timeout=300,
            env=dict(env, NUMBA_DISABLE_JIT=mode),
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[mode] = np.load(out)
    assert bool(results["0"]["jit"]) and not bool(results["1"]["jit"])
    for key in ("A", "c", "t", "M", "o", "sx", "sy", "sq"):
        np.testing.assert_allclose(
            results["0"][key], results["1"][key], rtol=1e-14, atol=0, err_msg=key
        )


def test_kernel_upper_triangle_matches_numpy():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(10_000, 5))
    y = rng.normal(size=10_000)
    w = rng.uniform(size=10_000)
    A, c, t = np.zeros((5, 5)), np.zeros(5), np.zeros(2)
    kr.accumulate_normal_equations(X, y, w, A, c, t)
    np.testing.assert_allclose(np.triu(A), np.triu((X.T * w) @ X), rtol=1e-12)
    np.testing.assert_allclose(c, (X.T * w) @ y, rtol=1e-12)
    assert np.all(np.tril(A, -1) == 0) and t[1] == 10_000


# --- bad input -----------------------------------------------------------------------------------


def _frame(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "cost": rng.gamma(1, 100, n),
            "age": rng.integers(0, 3, n),
            "dep": rng.normal(size=n),
            "dist": rng.uniform(0, 50, n),
            "icb": rng.choice(["QE1", "QF7"], n),
            "w": np.ones(n),
        }
    )


MODEL = NeedModel(
    "cost",
    ("age", "dep"),
    ("dist",),
    categorical={"age": [0, 1, 2]},
    weight="w",
    groups={"icb": ["QE1", "QF7"]},
)


@pytest.mark.parametrize(
    ("edit", "model", "field", "message"),
    [
        (lambda f: f.drop(columns="dist"), MODEL, "dist", "expected a column 'dist'"),
        (
            lambda f: f.assign(cost=np.where(f.index == 7, np.nan, f["cost"])),
            MODEL,
            "cost",
            "expected finite numbers",
        ),
        (
            lambda f: f.assign(icb=np.where(f.index == 3, "ZZZ", f["icb"])),
            MODEL,
            "icb",
            "unknown value 'ZZZ'",
        ),
        (
            lambda f: f.assign(age=np.where(f.index == 3, 7, f["age"])),
            MODEL,
            "age",
            "unknown value '7'",
        ),
        (lambda f: f.assign(w=np.where(f.index == 3, -1.0, f["w"])), MODEL, "w", "non-negative"),
        (
            lambda f: f.assign(dep2=2 * f["dep"] + 1),
            NeedModel(
                "cost",
                ("age", "dep", "dep2"),
                ("dist",),
                categorical={"age": [0, 1, 2]},
                groups={"icb": ["QE1", "QF7"]},
            ),
            "design",
            "'dep2', 'dep'",
        ),
        (
            lambda f: f.assign(age=np.minimum(f["age"], 1)),
            MODEL,
            "design",
            "term 'age=2' is zero in every record",
        ),
        (lambda f: f.iloc[:3], MODEL, "records", "more records than the 5 coefficients"),
        (lambda f: f.assign(dist=5.0), MODEL, "design", "collinear"),
    ],
)
def test_bad_records_give_clear_errors(edit, model, field, message):
    with pytest.raises(AllocError) as err:
        fit_need_model(edit(_frame()), model)
    assert err.value.field == field, str(err.value)
    assert message in str(err.value), str(err.value)


def test_missing_csv_column_names_the_file(tmp_path):
    path = tmp_path / "records.csv"
    _frame().drop(columns="icb").to_csv(path, index=False)
    with pytest.raises(AllocError) as err:
        fit_need_model([path], MODEL)
    assert err.value.source == str(path) and err.value.field == "icb"
