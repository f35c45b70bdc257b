"""Spend, net position and the savings policies, through the engine and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import alloc
from alloc.inputs.pathway_spec import SavingsPolicy
from alloc.pathways.spend import rebase_adjustment

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = [
    "left_shift_renal",
    "left_shift_critical_care",
    "left_shift_mental_health",
    "left_shift_liver",
    "left_shift_combined",
]
SPEC = "ICB_delegated_specialised"


@pytest.fixture(scope="module")
def default():
    return alloc.run("default")


@pytest.fixture(scope="module")
def rebased():
    return alloc.run("left_shift_critical_care")


def test_default_spend_is_baseline_times_growth_and_no_left_shift(default):
    years = default["year"].values
    pop = default["population"] / default["population"].sel(year=years[0])
    want = default["baseline"] * pop * 1.03 ** (default["year"] - years[0])
    np.testing.assert_allclose(default["spend"], want.transpose(*default["spend"].dims), rtol=1e-12)
    assert float(abs(default["left_shift_saving"]).max()) == 0.0
    assert float(abs(default["upstream_cost"]).max()) == 0.0
    np.testing.assert_allclose(default["net_position"].sel(year=years[0]), 0.0, atol=1e-3)


@pytest.mark.parametrize("name", ["default", "left_shift_critical_care", "left_shift_combined"])
def test_net_position_and_spend_identities(name, default, rebased):
    r = {"default": default, "left_shift_critical_care": rebased}.get(name) or alloc.run(name)
    np.testing.assert_array_equal(r["net_position"], r["allocation"] - r["spend"])
    np.testing.assert_allclose(
        r["spend"],
        r["spend_without_left_shift"]
        - r["left_shift_saving"]
        + r["upstream_cost"].sel(payer=SPEC, drop=True),
        rtol=1e-12,
    )
    np.testing.assert_allclose(r["spend"], r["spend_by_service"].sum("service"), rtol=1e-12)
    if "downstream_saving" in r:
        np.testing.assert_allclose(
            r["left_shift_saving"],
            r["downstream_saving"].sel(payer=SPEC, drop=True),
            rtol=1e-9,
            atol=1e-3,
        )
        np.testing.assert_allclose(r["roi"].sum("payer"), r["roi_total"], rtol=1e-9)
    for v in ("spend", "net_position", "left_shift_saving", "upstream_cost"):
        assert r[v].attrs["units"] == "GBP"


def test_rebased_savings_keep_the_envelope_and_move_money(rebased):
    r = rebased
    np.testing.assert_allclose(r["allocation"].sum("icb"), r["envelope"], rtol=1e-9)
    effect = r["savings_policy_effect"]
    np.testing.assert_allclose(effect.sum("icb"), 0.0, atol=1e-3)
    assert float(abs(effect).max()) > 1e4
    assert float(abs(effect.sel(year=2026)).max()) < 1e-3  # lag of one year: nothing yet
    # Historic cost shares the envelope in proportion to the (cut) bases: an ICB loses exactly
    # when its cut is a larger share of its base than the national average cut.
    cut = r["rebase_adjustment"].sum("year") / r["baseline"]
    assert float(effect.sum("year").sel(icb=cut.idxmax())) < 0
    assert float(effect.sum("year").sel(icb=cut.idxmin())) > 0


def test_needs_based_targets_protect_savings_from_rebasing():
    r = alloc.run("left_shift_critical_care", overrides=['policy.use="immediate"'])
    assert float(abs(r["rebase_adjustment"]).max()) > 0
    np.testing.assert_allclose(r["savings_policy_effect"], 0.0, atol=1e-3)


def test_rebase_adjustment_accumulates_to_the_lagged_saving():
    years = list(range(2025, 2032))
    s = xr.DataArray(
        np.array([[0.0, 1.0, 3.0, 6.0, 6.0, 8.0, 9.0]]),
        dims=("icb", "year"),
        coords={"icb": ["A"], "year": years},
    )
    for policy, phi in (
        (SavingsPolicy(policy="rebased", lag=2), 1.0),
        (SavingsPolicy(policy="shared", lag=1, retained_fraction=0.25), 0.75),
    ):
        adj = rebase_adjustment(s, policy, years)
        cumulative = adj.cumsum("year").values[0]
        lagged = np.concatenate([np.zeros(policy.lag), s.values[0, : -policy.lag]])
        np.testing.assert_allclose(cumulative, phi * lagged)
    assert float(abs(rebase_adjustment(s, SavingsPolicy(), years)).max()) == 0.0


def test_each_example_scenario_runs_through_the_cli(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    procs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alloc",
                "run",
                str(REPO / "models" / "scenarios" / f"{name}.toml"),
                "--out",
                str(tmp_path / name),
                "--quiet",
                "--no-plots",  # charts are tested elsewhere; here the scenarios and outputs
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in EXAMPLES
    }
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, out[-2000:], err[-3000:])
        with xr.open_dataset(tmp_path / name / "result.nc", engine="h5netcdf") as ds:
            np.testing.assert_allclose(ds["allocation"].sum("icb"), ds["envelope"], rtol=1e-9)
            np.testing.assert_allclose(
                ds["net_position"], ds["allocation"] - ds["spend"], rtol=1e-12, atol=1e-3
            )
            assert float(ds["left_shift_saving"].sum()) != 0.0
            assert "payer" in ds["upstream_cost"].dims
