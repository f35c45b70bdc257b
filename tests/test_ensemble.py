"""Grids and Monte Carlo ensembles: reproducibility, consistency with single runs, invariants."""

import numpy as np
import pytest
from click.testing import CliRunner

import alloc
from alloc.cli import main
from alloc.errors import AllocError
from alloc.uncertainty.ensemble import Uncertain, run_ensemble, transform

RELAX = ['policy.fallback="relax"']
UNCERTAIN = {
    "envelope_growth": {
        "low": 0.025,
        "high": 0.045,
        "distribution": "triangular",
        "central": 0.035,
    },
    "policy.min_growth": {"low": 0.0, "high": 0.02, "distribution": "pert", "central": 0.017},
}


def spec(**kw):
    base = {"draws": 60, "chunk": 25, "seed": 7, "uncertain": UNCERTAIN}
    base.update(kw)
    return base


def test_chunking_does_not_change_results():
    a = run_ensemble("default", RELAX, spec(chunk=7), keep_full=True)
    b = run_ensemble("default", RELAX, spec(chunk=60), keep_full=True)
    np.testing.assert_array_equal(a["allocation_draws"], b["allocation_draws"])


def test_different_seeds_differ_and_same_seed_repeats():
    a = run_ensemble("default", RELAX, spec(), keep_full=True)
    b = run_ensemble("default", RELAX, spec(), keep_full=True)
    c = run_ensemble("default", RELAX, spec(seed=8), keep_full=True)
    np.testing.assert_array_equal(a["allocation_draws"], b["allocation_draws"])
    later = {"draw": slice(1, None)}
    assert not np.array_equal(a["allocation_draws"].isel(later), c["allocation_draws"].isel(later))
    # draw 0 is central whatever the seed
    np.testing.assert_array_equal(
        a["allocation_draws"].isel(draw=0), c["allocation_draws"].isel(draw=0)
    )


def test_draw_zero_equals_the_deterministic_run_at_central_values():
    ens = run_ensemble("default", RELAX, spec(), keep_full=True)
    single = alloc.run("default", RELAX + ["envelope_growth=0.035", "policy.min_growth=0.017"])
    np.testing.assert_allclose(
        ens["allocation_draws"].isel(draw=0).transpose("icb", "year"),
        single["allocation"],
        rtol=1e-12,
    )


def test_grid_point_equals_single_run():
    grid = {"policy.min_growth": [0.0, 0.01], "envelope_growth": [0.03, 0.04]}
    ens = run_ensemble("default", None, {"draws": 1, "grid": grid})
    for g in (0.0, 0.01):
        for e in (0.03, 0.04):
            single = alloc.run("default", [f"policy.min_growth={g}", f"envelope_growth={e}"])
            got = ens["allocation_central"].sel({"policy.min_growth": g, "envelope_growth": e})
            np.testing.assert_allclose(
                got.transpose("icb", "year"), single["allocation"], rtol=1e-12
            )


def test_quantiles_match_numpy_on_full_cube():
    ens = run_ensemble("default", RELAX, spec(), keep_full=True)
    cube = ens["dft_draws"].transpose("draw", "icb", "year").values
    q = ens["quantile"].values
    np.testing.assert_allclose(
        ens["dft_q"].transpose("quantile", "icb", "year"),
        np.quantile(cube, q, axis=0),
        rtol=1e-12,
        atol=1e-15,
    )
    final = cube[:, :, -1]
    np.testing.assert_allclose(ens["prob_below_threshold"], (final < -0.05).mean(axis=0))


def test_invariants_hold_in_every_draw():
    ens = run_ensemble("default", RELAX, spec(), keep_full=True)
    a = ens["allocation_draws"].transpose("draw", "year", "icb").values
    totals = a.sum(axis=-1)
    growth = totals[:, 1:] / totals[:, :-1] - 1
    # one envelope growth per draw, constant across years, inside the triangular support
    np.testing.assert_allclose(growth, growth[:, :1] * np.ones_like(growth), rtol=1e-9)
    assert (growth >= 0.025 - 1e-12).all() and (growth <= 0.045 + 1e-12).all()
    assert (a > 0).all() and np.isfinite(a).all()
    # every ICB grows by at least min(floor draw, envelope growth) (floors relaxed to uniform)
    icb_growth = a[:, 1:] / a[:, :-1] - 1
    assert (icb_growth >= np.minimum(0.0, growth)[:, :, None] - 1e-12).all()


def test_distributions_map_uniforms_to_the_stated_ranges():
    u = np.linspace(0.001, 0.999, 999)
    for dist in ("triangular", "pert", "uniform"):
        vals = transform(u, Uncertain(low=1.0, high=3.0, distribution=dist, central=1.5))
        assert vals.min() >= 1.0 and vals.max() <= 3.0 and np.all(np.diff(vals) >= 0)
    normal = transform(np.array([0.1, 0.9]), Uncertain(low=1.0, high=3.0, distribution="normal80"))
    np.testing.assert_allclose(normal, [1.0, 3.0], rtol=1e-12)


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"draws": 0}, "draws"),
        ({"uncertain": {"envelope_growth": {"low": 0.05, "high": 0.01}}}, "envelope_growth"),
        ({"uncertain": {"policy.nonsense": {"low": 0, "high": 1}}}, "uncertain"),
        ({"quantiles": [0.5, 1.5]}, "quantiles"),
        ({"grid": {"envelope_growth": []}}, "grid"),
    ],
)
def test_bad_specs_give_clear_errors(bad, field):
    with pytest.raises(AllocError) as info:
        run_ensemble("default", None, {"draws": 3, **bad})
    assert "[ensemble]" in str(info.value) and field in str(info.value)


def test_infeasible_draw_is_reported():
    with pytest.raises(AllocError, match="infeasible"):
        run_ensemble("default", None, {"draws": 1, "grid": {"policy.min_growth": [0.06]}})


def test_dask_local_cluster_is_bit_identical(monkeypatch):
    pytest.importorskip("dask.distributed")
    from alloc.uncertainty import ensemble

    started = []
    run_dask = ensemble._run_dask

    def spy(*args):
        started.append(args[4])
        yield from run_dask(*args)

    monkeypatch.setattr(ensemble, "_run_dask", spy)
    monkeypatch.setattr(ensemble, "CLUSTER_BREAK_EVEN_S", 0.0)  # a cluster for any job
    local = run_ensemble("default", RELAX, spec(), keep_full=True)
    remote = run_ensemble("default", RELAX, spec(chunk=13), workers=2, keep_full=True)
    assert started == [2]  # the chunks after the first really ran on a cluster of 2
    np.testing.assert_array_equal(local["allocation_draws"], remote["allocation_draws"])
    np.testing.assert_array_equal(local["allocation_q"], remote["allocation_q"])


def test_workers_for_a_small_job_run_in_process_and_say_so(monkeypatch):
    """A job shorter than a cluster's start-up runs in process (no cluster, so never 10 x
    slower than without --workers), with a note the CLI prints on stderr."""
    from alloc.uncertainty import ensemble

    def no_cluster(*args):
        raise AssertionError("a cluster was started for a small job")

    monkeypatch.setattr(ensemble, "_run_dask", no_cluster)
    notes = []
    local = run_ensemble("default", RELAX, spec(), keep_full=True)
    small = run_ensemble("default", RELAX, spec(), workers=2, keep_full=True, note=notes.append)
    np.testing.assert_array_equal(local["allocation_draws"], small["allocation_draws"])
    assert len(notes) == 1 and "ran in process" in notes[0] and "--scheduler" in notes[0]


def test_cli_workers_note_on_stderr(tmp_path, monkeypatch):
    from alloc.uncertainty import ensemble

    def no_cluster(*args):
        raise AssertionError("a cluster was started for a small job")

    monkeypatch.setattr(ensemble, "_run_dask", no_cluster)
    monkeypatch.chdir(tmp_path)
    args = ["ensemble", "--draws", "30", "--chunk", "10", "--workers", "2", "--out", "e"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "note: ran in process" in result.stderr and "ran in process" not in result.stdout
    assert "in process." in result.stdout and "on dask" not in result.stdout


def test_quantiles_in_place_equal_numpy():
    """Exact quantiles a row at a time (in place) are numpy.quantile's, ties and NaN included."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from alloc.uncertainty.draw_store import quantiles_in_place

    @settings(max_examples=300, deadline=None, database=None)
    @given(
        st.integers(1, 5),
        st.integers(1, 60),
        st.integers(0, 2**32 - 1),
        st.sampled_from(["continuous", "ties", "constant", "nan"]),
        st.lists(st.floats(0.0, 1.0), min_size=1, max_size=7),
    )
    def check(cells, draws, seed, kind, q):
        rng = np.random.default_rng(seed)
        block = rng.normal(size=(cells, draws)) * 10.0 ** rng.integers(-3, 9)
        if kind == "ties":
            block = np.round(block / block.std() * 2) if draws > 1 else np.round(block)
        elif kind == "constant":
            block[:] = block[0, 0]
        elif kind == "nan":
            block[rng.random(block.shape) < 0.2] = np.nan
        q = np.array(sorted(q + [0.0, 0.05, 0.5, 0.95, 1.0]))
        expected = np.quantile(block, q, axis=1)
        got = quantiles_in_place(np.ascontiguousarray(block), q)
        np.testing.assert_array_equal(got, expected)  # NaN where numpy gives NaN

    check()


def test_cli_ensemble_writes_quantiles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'name = "s"\nend_year = "2030/31"\n[policy]\nuse = "common_dft"\n'
        'fallback = "relax"\n[ensemble]\ndraws = 40\n[ensemble.uncertain]\n'
        "envelope_growth = { low = 0.02, high = 0.05 }\n"
    )
    result = CliRunner().invoke(main, ["ensemble", str(scenario), "--out", "e"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e" / "ensemble.nc").is_file()
    bad = CliRunner().invoke(main, ["ensemble", str(scenario), "--draws", "0", "--out", "f"])
    assert bad.exit_code == 2 and "draws" in bad.output and not (tmp_path / "f").exists()


def test_draw_uniforms_are_uniform_and_position_addressed():
    from scipy import stats

    from alloc.uncertainty.ensemble import draw_uniforms

    u = draw_uniforms(11, range(50_000), 3)
    assert ((u > 0) & (u < 1)).all()
    for j in range(3):  # each parameter's column is uniform (fixed seed: deterministic)
        assert stats.kstest(u[:, j], "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.02
    np.testing.assert_array_equal(draw_uniforms(11, [7, 49_999], 3), u[[7, 49_999]])
    assert not np.array_equal(draw_uniforms(12, range(10), 3), u[:10])


def test_sensitivity_rows_equal_single_runs():
    from alloc.uncertainty.sensitivity import sensitivity

    table = sensitivity("default", RELAX, spec(), icb="QOC").set_index("parameter")
    for name, col, env, floor in [
        ("envelope_growth", "output_low", 0.025, 0.017),
        ("envelope_growth", "output_high", 0.045, 0.017),
        ("policy.min_growth", "output_high", 0.035, 0.02),
    ]:
        single = alloc.run(
            "default", RELAX + [f"envelope_growth={env}", f"policy.min_growth={floor}"]
        )
        expected = float(single["dft"].sel(icb="QOC").isel(year=-1))
        assert table.loc[name, col] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert list(table["swing"]) == sorted(table["swing"], reverse=True)


def test_pathway_draws_central_chunking_and_switch():
    """Left-shift ensembles: draw 0 equals the deterministic run (spend formula kept in step
    with alloc.pathways.spend), pathway draws do not depend on chunking, and can be switched off."""
    single = alloc.run("left_shift_renal")
    a = run_ensemble("left_shift_renal", None, {"draws": 6, "chunk": 4, "seed": 5})
    b = run_ensemble("left_shift_renal", None, {"draws": 6, "chunk": 6, "seed": 5})
    for name in ("net_position", "left_shift_saving"):
        np.testing.assert_allclose(
            a[f"{name}_central"].transpose("icb", "year"), single[name], rtol=1e-9, atol=1e-3
        )
        np.testing.assert_array_equal(a[f"{name}_q"], b[f"{name}_q"])
    q = a["left_shift_saving_q"].sel(year=2030).sum("icb")
    assert q.sel(quantile=0.95) > q.sel(quantile=0.05)  # the levers' ranges do spread savings
    fixed = run_ensemble(
        "left_shift_renal", None, {"draws": 4, "seed": 5, "pathway_uncertainty": False}
    )
    spread = fixed["left_shift_saving_q"].sel(quantile=0.95) - fixed["left_shift_saving_q"].sel(
        quantile=0.05
    )
    np.testing.assert_allclose(spread, 0.0, atol=1e-6)


def test_grid_by_draws_with_chunks_across_grid_points_matches_numpy():
    """Chunks of 11 rows straddle grid points; stored summaries equal numpy on the whole cube."""
    grid = {"policy.max_growth": [0.05, 0.07]}
    s = spec(
        draws=30, chunk=11, grid=grid, uncertain={"envelope_growth": UNCERTAIN["envelope_growth"]}
    )
    ens = run_ensemble("default", RELAX, s, keep_full=True)
    whole = run_ensemble("default", RELAX, {**s, "chunk": 60}, keep_full=True)
    np.testing.assert_array_equal(ens["allocation_draws"], whole["allocation_draws"])
    cube = ens["allocation_draws"].transpose("policy.max_growth", "draw", "year", "icb").values
    q = ens["quantile"].values
    np.testing.assert_array_equal(
        ens["allocation_q"].transpose("policy.max_growth", "quantile", "year", "icb"),
        np.quantile(cube, q, axis=1).transpose(1, 0, 2, 3),
    )
    np.testing.assert_array_equal(
        ens["allocation_central"].transpose("policy.max_growth", "year", "icb"), cube[:, 0]
    )
    for k, cap in enumerate(grid["policy.max_growth"]):  # each grid point is its own ensemble
        alone = run_ensemble(
            "default", RELAX + [f"policy.max_growth={cap}"], {**s, "grid": {}}, keep_full=True
        )
        np.testing.assert_array_equal(
            alone["allocation_draws"].values, ens["allocation_draws"].isel({"policy.max_growth": k})
        )


def test_summaries_read_blocks_within_the_memory_budget(monkeypatch):
    """Quantiles are taken a block of cells at a time, never the whole cube at once."""
    from alloc.uncertainty.draw_store import DrawStore

    sizes = []
    read = DrawStore.read

    def spy(self, name, g, cells):
        block = read(self, name, g, cells)
        sizes.append(block.nbytes)
        return block

    monkeypatch.setattr(DrawStore, "read", spy)
    s = spec(draws=400, chunk=5)
    ens = run_ensemble("default", RELAX, s)
    cells = ens.sizes["year"] * ens.sizes["icb"]
    budget = 5 * cells * 8  # one chunk of one variable
    assert sizes and max(sizes) <= budget < cells * 400 * 8
    assert len(sizes) > 2 * cells * 400 * 8 / budget - 2  # many blocks per variable


def test_cli_full_cube_and_quantile_table(tmp_path, monkeypatch):
    import pandas as pd
    import xarray as xr

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        ["ensemble", "left_shift_renal", "--draws", "5", "--chunk", "2", "--full", "--out", "e"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == [
        ".alloc-results",  # the marker: alloc wrote this folder (alloc.outputs.atomic)
        "ensemble.nc",
        "ensemble_full.nc",
        "ensemble_quantiles.csv",
    ]  # no spill left behind
    memory = run_ensemble("left_shift_renal", None, {"draws": 5, "chunk": 5}, keep_full=True)
    with xr.open_dataset(tmp_path / "e" / "ensemble_full.nc", engine="h5netcdf") as full:
        for name in ("allocation_draws", "dft_draws"):
            np.testing.assert_array_equal(full[name].transpose(*memory[name].dims), memory[name])
    table = pd.read_csv(tmp_path / "e" / "ensemble_quantiles.csv")
    for column in ("allocation_gbp", "dft", "net_position_gbp", "left_shift_saving_gbp"):
        assert table[column].notna().all(), column
    row = table.query("icb == 'QE1' and year == 2030 and quantile == 0.5")
    assert row["net_position_gbp"].item() == pytest.approx(
        float(memory["net_position_q"].sel(icb="QE1", year=2030, quantile=0.5)), rel=1e-12
    )


def test_spill_that_does_not_fit_on_disk_is_refused(tmp_path):
    from alloc.uncertainty.draw_store import DrawStore

    with pytest.raises(AllocError, match="temporary disk"):
        DrawStore(["allocation"], 1, 10**12, 462, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dist", ["normal80", "triangular", "pert", "uniform"])
def test_inverse_cdfs_match_scipy_stats(dist):
    """transform() uses scipy.special; scipy.stats' distributions are the reference."""
    from scipy import stats

    u = np.linspace(1e-6, 1 - 1e-6, 2001)
    spec_ = Uncertain(low=0.01, high=0.05, distribution=dist, central=0.02)
    lo, hi, mode = 0.01, 0.05, 0.02
    reference = {
        "normal80": lambda: stats.norm.ppf(u, loc=0.03, scale=0.04 / (2 * stats.norm.ppf(0.9))),
        "triangular": lambda: stats.triang.ppf(u, c=(mode - lo) / (hi - lo), loc=lo, scale=hi - lo),
        "pert": lambda: (
            lo
            + (hi - lo)
            * stats.beta.ppf(u, 1 + 4 * (mode - lo) / (hi - lo), 1 + 4 * (hi - mode) / (hi - lo))
        ),
        "uniform": lambda: stats.uniform.ppf(u, loc=lo, scale=hi - lo),
    }[dist]()
    np.testing.assert_allclose(transform(u, spec_), reference, rtol=1e-12, atol=1e-15)


def test_share_relaxed_counts_draws_whose_envelope_cannot_pay_the_floors():
    """Floors of 1.7% are unaffordable exactly when the drawn envelope grows by less."""
    s = {
        "draws": 200,
        "chunk": 37,
        "seed": 3,
        "uncertain": {"envelope_growth": {"low": 0.0, "high": 0.03, "distribution": "uniform"}},
    }
    ens = run_ensemble("default", RELAX, s, keep_full=True)
    totals = ens["allocation_draws"].sum("icb").transpose("draw", "year").values
    growth = totals[:, 1] / totals[:, 0] - 1
    expected = (growth < 0.017).mean()
    assert 0.2 < expected < 0.8  # the test separates relaxed from unrelaxed draws
    share = ens["share_relaxed"].values
    assert share[0] == 0.0  # the base year is not projected
    np.testing.assert_allclose(share[1:], expected, rtol=0, atol=1e-12)
    assert run_ensemble("default", RELAX, spec())["share_relaxed"].max() == 0.0


def test_sensitivity_says_grid_parameters_are_held_at_scenario_values():
    from alloc.uncertainty.sensitivity import sensitivity

    table = sensitivity("default", RELAX, spec(grid={"policy.max_growth": [0.05, 0.07]}))
    assert "policy.max_growth" in table.attrs["note"]
    assert sensitivity("default", RELAX, spec()).attrs["note"] == ""


@pytest.mark.parametrize(
    "name",
    [
        "floor_and_5pc_limit",
        "left_shift_critical_care",
        "left_shift_mental_health",
        "left_shift_combined",
    ],
)
def test_service_level_and_rebased_scenarios_draw_zero_equals_run(name):
    """Convergence on service lines, savings rebased or shared: draw 0 is the deterministic
    run, whatever the chunking."""
    ens = run_ensemble(name, None, {"draws": 5, "chunk": 3, "seed": 5})
    single = alloc.run(name)
    np.testing.assert_allclose(
        ens["allocation_central"].transpose("icb", "year"), single["allocation"], rtol=1e-12
    )
    if "net_position_central" in ens:
        np.testing.assert_allclose(
            ens["net_position_central"].transpose("icb", "year"),
            single["net_position"],
            rtol=0,
            atol=1e-3,
        )


def test_service_level_grid_point_equals_single_run():
    ens = run_ensemble(
        "floor_and_5pc_limit", None, {"draws": 1, "grid": {"envelope_growth": [0.03, 0.045]}}
    )
    for growth in (0.03, 0.045):
        single = alloc.run("floor_and_5pc_limit", [f"envelope_growth={growth}"])
        got = ens["allocation_central"].sel(envelope_growth=growth)
        np.testing.assert_allclose(got.transpose("icb", "year"), single["allocation"], rtol=1e-12)


def test_drawn_savings_move_allocations_only_when_rebased():
    """Retained savings leave allocations alone in every draw; rebased savings cut each draw's
    base by that draw's own savings, so allocations spread across draws."""

    def spread(overrides):
        ens = run_ensemble("left_shift_critical_care", overrides, {"draws": 30, "seed": 5})
        q = ens["allocation_q"].isel(year=-1)
        return float((q.sel(quantile=0.95) - q.sel(quantile=0.05)).max())

    assert spread(['savings.policy="retained"']) == 0.0
    assert spread(None) > 1e4  # GBP


def test_rebased_row_equals_run_with_that_pathway_value(tmp_path):
    """A non-central row of a rebased scenario (the outreach lever's uptake at its high) equals
    `alloc run` with that value written into a copy of the pathway file."""
    from alloc.resources import models_dir
    from alloc.uncertainty.sensitivity import sensitivity

    table = sensitivity("left_shift_critical_care", icb="QF7").set_index("parameter")
    name = "critical_care: levers.outreach.uptake"
    line = 'uptake = {{ value = {}, unit = "fraction", range = [0.25, 0.75]'
    text = (models_dir() / "pathways" / "critical_care.toml").read_text(encoding="utf-8")
    assert text.count(line.format(0.5)) == 1
    (tmp_path / "cc.toml").write_text(
        text.replace(line.format(0.5), line.format(0.75)), encoding="utf-8"
    )
    scenario = (models_dir() / "scenarios" / "left_shift_critical_care.toml").read_text(
        encoding="utf-8"
    )
    (tmp_path / "s.toml").write_text(
        scenario + '\n[pathways.files]\ncritical_care = "cc.toml"\n', encoding="utf-8"
    )
    single = float(alloc.run(tmp_path / "s.toml")["dft"].sel(icb="QF7").isel(year=-1))
    central = float(alloc.run("left_shift_critical_care")["dft"].sel(icb="QF7").isel(year=-1))
    assert table.loc[name, "output_high"] == pytest.approx(single, rel=1e-9, abs=1e-12)
    assert table.loc[name, "output_central"] == pytest.approx(central, rel=1e-9, abs=1e-12)
    # rebasing makes the uptake move QF7's DfT (by ~7e-6), far beyond the tolerance above
    assert abs(single - central) > 1e-6


def test_default_scenario_stores_only_what_varies(monkeypatch):
    """Without left-shift levers only allocation and DfT are stored; the net position is
    derived from the stored allocation (spend is the same in every draw) with numpy's exact
    quantiles of allocation - spend, and the saving is blank."""
    import alloc.uncertainty.ensemble as ensemble
    from alloc.uncertainty.draw_store import DrawStore

    stored = []
    init = DrawStore.__init__

    def spy(self, variables, *args, **kwargs):
        stored.append(list(variables))
        init(self, variables, *args, **kwargs)

    monkeypatch.setattr(DrawStore, "__init__", spy)
    ens = run_ensemble("default", RELAX, spec(), keep_full=True)
    assert stored == [["allocation", "dft"]]
    prep = ensemble.prepare("default", RELAX)
    spend = prep.spend["spend_without_left_shift"].transpose("year", "icb").values
    net = ens["allocation_draws"].transpose("draw", "year", "icb").values - spend
    q = ens["quantile"].values
    np.testing.assert_array_equal(
        ens["net_position_q"].transpose("quantile", "year", "icb"), np.quantile(net, q, axis=0)
    )
    np.testing.assert_array_equal(ens["net_position_central"].transpose("year", "icb"), net[0])
    assert ens["left_shift_saving_q"].isnull().all()
    assert ens["net_position_q"].attrs["units"] == "GBP"


def test_full_cube_is_written_without_dask(tmp_path):
    """`alloc ensemble --full` in a Python where `import dask` fails: the cube file equals the
    draws kept in memory."""
    import subprocess
    import sys

    code = f"""
import sys
sys.modules["dask"] = None  # import dask (and dask.array) now raises ImportError
sys.modules["distributed"] = None
import numpy as np, xarray as xr
from click.testing import CliRunner
from alloc.cli import main
from alloc.uncertainty.ensemble import run_ensemble
out = {str(tmp_path / "e")!r}
args = ["ensemble", "default", "--draws", "7", "--chunk", "3", "--full", "--out", out,
        "--set", "ensemble.uncertain.envelope_growth={{low = 0.02, high = 0.05}}"]
result = CliRunner().invoke(main, args)
assert result.exit_code == 0, result.output
uncertain = {{"envelope_growth": {{"low": 0.02, "high": 0.05}}}}
memory = run_ensemble("default", None, {{"draws": 7, "chunk": 7, "uncertain": uncertain}},
                      keep_full=True)
assert memory["allocation_draws"].std("draw").max() > 0  # the draws differ
with xr.open_dataset(out + "/ensemble_full.nc", engine="h5netcdf") as full:
    for name in ("allocation_draws", "dft_draws"):
        np.testing.assert_array_equal(full[name].transpose(*memory[name].dims), memory[name])
        assert full[name].attrs["units"] == memory[name].attrs["units"]
assert "dask" not in {{m.split(".")[0] for m, v in sys.modules.items() if v is not None}}
print("OK")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr[-3000:]
