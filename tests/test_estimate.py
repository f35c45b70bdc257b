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
    design_slots,
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
    # Stated tolerance (docs/methodology/estimation.md): 1e-10 relative to lstsq (normal
    # equations vs QR; seen about 5e-12 here).
    np.testing.assert_allclose(fit.beta, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
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
    np.testing.assert_allclose(table["se_classical"], classical, rtol=1e-10)
    np.testing.assert_allclose(table["se_hc1"], hc1, rtol=1e-10)
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


def test_threads_do_not_change_results(population, fit):
    # Chunks worked on concurrently are still added in chunk order: bit-identical.
    one = fit_need_model(population, population.need_model(), threads=1)
    three = fit_need_model(population, population.need_model(), threads=3)
    for other in (one, three):
        np.testing.assert_array_equal(other.beta, fit.beta)
        np.testing.assert_array_equal(other.cov_hc1, fit.cov_hc1)
        np.testing.assert_array_equal(
            other.group_sums["practice"][0], fit.group_sums["practice"][0]
        )
        assert other.tss == fit.tss


def test_dask_cluster_gives_identical_results():
    distributed = pytest.importorskip("distributed")
    pop = SyntheticPopulation(20_000, seed=2, chunk_rows=5_000)
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
# slot kernels: 3 slots into 6 columns, some empty
m = 9_000
cols = np.stack([np.zeros(m), rng.integers(-1, 4, m), np.full(m, 5)]).astype(np.int32)
cols[1][cols[1] == 0] = -1
vals = np.stack([np.ones(m), (cols[1] >= 0).astype(float), rng.normal(size=m)])
As = np.zeros((p, p)); cs = np.zeros(p); ts = np.zeros(3)
kr.accumulate_normal_equations_slots(cols, vals, y[:m], w[:m], As, cs, ts)
Ms = np.zeros((p, p)); os_ = np.zeros(2)
kr.accumulate_residual_moments_slots(cols, vals, y[:m], w[:m], np.linspace(-1, 1, p), 0.3, Ms, os_)
sxs = np.zeros((5, p)); sys_ = np.zeros(5); sqs = np.zeros(5)
kr.accumulate_group_sums_slots(cols, vals, y[:m], w[:m], codes[:m], sxs, sys_, sqs)
from alloc.targets.synthetic import SyntheticPopulation
gen = SyntheticPopulation(3_000, seed=2, chunk_rows=3_000).chunk(0)
np.savez(sys.argv[1], A=A, c=c, t=t, M=M, o=o, sx=sx, sy=sy, sq=sq, As=As, cs=cs, ts=ts, Ms=Ms,
         os=os_, sxs=sxs, sys=sys_, sqs=sqs, jit=hasattr(kr.accumulate_normal_equations, "py_func"),
         gen=np.stack([gen[k].astype(float) for k in sorted(gen)]))
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
    for key in "A c t M o sx sy sq As cs ts Ms os sxs sys sqs".split():
        np.testing.assert_allclose(
            results["0"][key], results["1"][key], rtol=1e-14, atol=0, err_msg=key
        )
    # the synthetic generator's kernel: the same records with and without JIT
    np.testing.assert_array_equal(results["0"]["gen"], results["1"]["gen"])


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


def _slots_case(seed: int):
    """Records with categoricals (reference level included), 0/1 markers, negative and zero
    numeric values and uneven weights: a dense design and the same rows as slots."""
    rng = np.random.default_rng(seed)
    n = 30_000  # more than three kernel blocks of 8,192 rows
    frame = pd.DataFrame(
        {
            "cost": rng.gamma(0.5, 400, n),
            "band": rng.integers(0, 4, n),
            "marker": (rng.random(n) < 0.1).astype(float),
            "x": np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n)),
            "imd": rng.choice(["a", "b", "c"], n),
            "dist": rng.uniform(0, 150, n),
            "w": rng.uniform(0, 3, n),
            "g": rng.integers(0, 6, n),
        }
    )
    model = NeedModel(
        "cost",
        ("band", "marker", "x", "imd"),
        ("dist",),
        categorical={"band": [0, 1, 2, 3], "imd": ["a", "b", "c"]},
        weight="w",
        groups={"g": list(range(6))},
    )
    return frame, model


@pytest.mark.parametrize("seed", [0, 1])
def test_slot_kernels_bit_identical_to_dense_kernels(seed):
    """The estimator's slot kernels against the dense row-by-row kernels on the same rows: every
    sum bit for bit (the slots only leave out exact zeros)."""
    frame, model = _slots_case(seed)
    X = design_matrix(frame, model)
    cols, vals = design_slots(frame, model)
    dense_of_slots = np.zeros_like(X)
    for s in range(cols.shape[0]):
        rows = np.nonzero(cols[s] >= 0)[0]
        dense_of_slots[rows, cols[s, rows]] = vals[s, rows]
    np.testing.assert_array_equal(dense_of_slots, X)
    assert (vals[cols < 0] == 0).all()  # empty slots hold 0 (the group-sum kernel relies on it)
    # within a record, non-empty slots come in increasing column order (the kernels rely on it)
    seen = np.maximum.accumulate(cols, axis=0)
    assert ((cols[1:] > seen[:-1]) | (cols[1:] < 0)).all()

    y, w = frame["cost"].to_numpy(), frame["w"].to_numpy()
    p = X.shape[1]
    A, c, t = np.zeros((p, p)), np.zeros(p), np.zeros(2)
    kr.accumulate_normal_equations(X, y, w, A, c, t)
    As, cs, ts = np.zeros((p, p)), np.zeros(p), np.zeros(3)
    kr.accumulate_normal_equations_slots(cols, vals, y, w, As, cs, ts)
    np.testing.assert_array_equal(As, A)
    np.testing.assert_array_equal(cs, c)
    np.testing.assert_array_equal(ts[:2], t)
    assert ts[2] == pytest.approx(w @ y, rel=1e-12)

    beta = np.random.default_rng(seed).normal(size=p) * 10
    M, o = np.zeros((p, p)), np.zeros(2)
    kr.accumulate_residual_moments(X, y, w, beta, 321.5, M, o)
    Ms, os_ = np.zeros((p, p)), np.zeros(2)
    kr.accumulate_residual_moments_slots(cols, vals, y, w, beta, 321.5, Ms, os_)
    np.testing.assert_array_equal(Ms, M)
    np.testing.assert_array_equal(os_, o)

    codes = frame["g"].to_numpy()
    dense = [np.zeros((6, p)), np.zeros(6), np.zeros(6)]
    kr.accumulate_group_sums(X, y, w, codes, *dense)
    slots = [np.zeros((6, p)), np.zeros(6), np.zeros(6)]
    kr.accumulate_group_sums_slots(cols, vals, y, w, codes, *slots)
    for a, b in zip(slots, dense):
        np.testing.assert_array_equal(a, b)


# --- the synthetic generator -------------------------------------------------------------------


@pytest.mark.parametrize(
    "dgp",
    [DGP(), DGP(need=False, noise_shape=None), DGP(deprivation=(0, 5, 7, 9, 11), noise_shape=1.7)],
    ids=["default", "supply-only", "other"],
)
def test_synthetic_chunks_equal_the_numpy_recipe(dgp):
    """The generator's kernel gives the records of the plain numpy recipe bit for bit, column by
    column and dtype by dtype (same draws in the same order, same arithmetic)."""
    pop = SyntheticPopulation(50_000, seed=8, chunk_rows=20_000, dgp=dgp)
    for k in range(pop.n_chunks):
        fast, slow = pop.chunk(k), pop.chunk_numpy(k)
        assert list(fast) == list(slow)
        for name in slow:
            assert fast[name].dtype == slow[name].dtype, name
            np.testing.assert_array_equal(fast[name], slow[name], err_msg=name)


def test_synthetic_chunks_follow_their_practice_table():
    """Every chunk's practices are the person's run in the practice table (``starts``), and
    chunks do not depend on the chunk size they were cut with beyond their RNG stream."""
    pop = SyntheticPopulation(200_000, seed=4, chunk_rows=45_000)
    starts = pop._practices["starts"]
    for k in range(pop.n_chunks):
        first = k * pop.chunk_rows
        chunk = pop.chunk(k)
        persons = np.arange(first, first + len(chunk["cost"]))
        np.testing.assert_array_equal(
            chunk["practice"], np.searchsorted(starts, persons, side="right") - 1
        )
        np.testing.assert_array_equal(chunk["icb"], pop._practices["icb"][chunk["practice"]])
        assert chunk["age_band"].min() >= 0 and chunk["age_band"].max() <= 9
        assert chunk["imd_quintile"].min() >= 0 and chunk["imd_quintile"].max() <= 4


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
