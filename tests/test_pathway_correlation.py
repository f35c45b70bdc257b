"""Correlated uncertainty in pathway draws (``[[correlations]]``, Gaussian copula).

Checks: stated correlations show in the draws (Spearman within sampling error at 10,000 draws)
and unstated pairs stay near 0; the marginals are unchanged; the draws match an independent
reference built from ``scipy.stats``; draw 0 stays central; files without correlations draw
exactly as the code did before correlations existed (values saved from that code); bad
correlation inputs give one message naming file and field; ensembles with correlations do not
depend on chunking; Sobol joins groups that a correlation links; shipped correlations are valid
and listed in the docs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import alloc
from alloc.errors import AllocError
from alloc.inputs.pathway_spec import load_pathway_spec, quantity_at
from alloc.pathways.base import quantities, sample_from_uniforms, sample_parameters

ROOT = Path(__file__).resolve().parents[1]
N = 10_000
TOL = 4 / math.sqrt(N)  # the standard error of a Spearman correlation is below 1 / sqrt(N)

# A small pathway file with every kind of marginal: log-normal ratio, triangular fractions,
# rates and costs, a constant (low == high) and a value at the low end of its range.
FIXTURE = """
pathway = "renal"
title = "Test pathway for correlated draws"

[cohorts.c]
label = "Test cohort"
service_line = "renal"

[cohorts.c.parameters]
share = { value = 0.5, unit = "fraction", range = [0.3, 0.7], tag = "illustrative", illustrative = "test" }

[cohorts.c.states.a]
label = "A"
prevalence = { value = 0.001, unit = "persons per registered person", range = [0.0008, 0.0015], tag = "illustrative", illustrative = "test" }
costs = [
  { payer = "ICB_delegated_specialised", amount = { value = 30000.0, unit = "GBP per person-year", price_year = "2024/25", range = [20000.0, 45000.0], tag = "illustrative", illustrative = "test" } },
  { payer = "ICB_core", amount = { value = 1000.0, unit = "GBP per person-year", price_year = "2024/25", range = [1000.0, 1000.0], tag = "illustrative", illustrative = "test: a constant" } },
]

[cohorts.c.states.b]
label = "B"
costs = [ { payer = "ICB_delegated_specialised", amount = { value = 50000.0, unit = "GBP per person-year", price_year = "2024/25", range = [50000.0, 80000.0], tag = "illustrative", illustrative = "test: value at the low end" } } ]

[cohorts.c.transitions.a]
kind = "rate"
to.b = { value = 0.05, unit = "per person-year", range = [0.03, 0.08], tag = "illustrative", illustrative = "test" }

[levers.lev]
label = "Lever"
cohort = "c"
eligible_population = "everyone in A"
eligible = { value = 0.5, unit = "fraction", range = [0.3, 0.7], tag = "illustrative", illustrative = "test" }
uptake = { value = 0.4, unit = "fraction", range = [0.2, 0.6], tag = "illustrative", illustrative = "test" }
cost_basis = "per_person_year_treated"
unit_cost = { value = 500.0, unit = "GBP per person-year treated", price_year = "2024/25", range = [350.0, 700.0], tag = "illustrative", illustrative = "test" }
payer = "ICB_core"
effects = [ { type = "rate_ratio", value = { value = 0.7, unit = "ratio", range = [0.55, 0.9], tag = "illustrative", illustrative = "test" }, transitions = [["a", "b"]] } ]
"""

EFFECT, UPTAKE, ELIGIBLE = "levers.lev.effects.0.value", "levers.lev.uptake", "levers.lev.eligible"
COST_A, COST_B = "cohorts.c.states.a.costs.0.amount", "cohorts.c.states.b.costs.0.amount"
RATE, SHARE = "cohorts.c.transitions.a.to.b", "cohorts.c.parameters.share"


def correlation(a, b, rho, measure="spearman"):
    return (
        f'\n[[correlations]]\na = "{a}"\nb = "{b}"\nrho = {rho}\nmeasure = "{measure}"\n'
        'tag = "illustrative"\nillustrative = "test"\n'
    )


# Two blocks: {effect, uptake, rate} (a chain: effect-rate is not stated, so 0 in the copula)
# and {cost a, cost b}; the rate pair is stated as a Gaussian-copula correlation.
CORRELATED = (
    FIXTURE
    + correlation(EFFECT, UPTAKE, 0.5)
    + correlation(COST_A, COST_B, -0.7)
    + correlation(UPTAKE, RATE, 0.6, "gaussian")
)
STATED = {
    (EFFECT, UPTAKE): 0.5,
    (COST_A, COST_B): -0.7,
    (UPTAKE, RATE): 6 / math.pi * math.asin(0.3),
}
UNSTATED = [(EFFECT, RATE), (ELIGIBLE, UPTAKE), (SHARE, COST_A), (EFFECT, COST_B)]


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def correlated_spec(tmp_path_factory):
    return load_pathway_spec(write(tmp_path_factory.mktemp("corr"), CORRELATED))


@pytest.fixture(scope="module")
def draws(correlated_spec):
    """10,000 draws (plus the central draw 0) by both samplers."""
    by_rng = sample_parameters(correlated_spec, N + 1, np.random.default_rng(2026))
    u = np.random.default_rng(11).random((N + 1, len(quantities(correlated_spec))))
    by_u = sample_from_uniforms(correlated_spec, u, np.arange(N + 1) == 0)
    return {"generator": by_rng, "uniforms": by_u, "u": u}


@pytest.mark.parametrize("sampler", ["generator", "uniforms"])
def test_stated_correlations_show_and_others_stay_near_zero(draws, sampler):
    values = draws[sampler]
    for (a, b), rho_s in STATED.items():
        r = stats.spearmanr(values[a][1:], values[b][1:])[0]
        assert abs(r - rho_s) < TOL, (a, b, r, rho_s)
    for a, b in UNSTATED:
        r = stats.spearmanr(values[a][1:], values[b][1:])[0]
        assert abs(r) < TOL, (a, b, r)


@pytest.mark.parametrize("sampler", ["generator", "uniforms"])
def test_marginals_unchanged_and_draw_zero_central(correlated_spec, draws, sampler):
    values = draws[sampler]
    for path, q in quantities(correlated_spec).items():
        assert values[path][0] == q.value
        low, high = q.range
        assert ((values[path] >= low) & (values[path] <= high)).all()
    # a correlated triangular quantity keeps its triangular distribution (Kolmogorov-Smirnov)
    q = quantities(correlated_spec)[COST_A]
    low, high = q.range
    triangular = stats.triang(c=(q.value - low) / (high - low), loc=low, scale=high - low)
    assert stats.kstest(values[COST_A][1:], triangular.cdf).pvalue > 0.001
    # the log-normal ratio keeps its median (the clipping at [low, high] leaves it alone)
    assert abs(np.mean(values[EFFECT][1:] < quantities(correlated_spec)[EFFECT].value) - 0.5) < TOL


def test_uniform_draws_match_an_independent_reference(tmp_path, correlated_spec, draws):
    """Reference: the copula built from scipy.stats and a dense matrix product, then the
    marginals of the same file without correlations."""
    paths = list(quantities(correlated_spec))
    u = draws["u"][1:].copy()
    blocks = [[EFFECT, UPTAKE, RATE], [COST_A, COST_B]]
    gauss = {
        frozenset((EFFECT, UPTAKE)): 2 * math.sin(math.pi * 0.5 / 6),
        frozenset((COST_A, COST_B)): 2 * math.sin(math.pi * -0.7 / 6),
        frozenset((UPTAKE, RATE)): 0.6,
    }
    for block in blocks:
        block = sorted(block, key=paths.index)  # Cholesky in file order, as documented
        cols = [paths.index(p) for p in block]
        matrix = np.array(
            [[1.0 if a == b else gauss.get(frozenset((a, b)), 0.0) for b in block] for a in block]
        )
        z = stats.norm.ppf(u[:, cols]) @ np.linalg.cholesky(matrix).T
        u[:, cols] = stats.norm.cdf(z)
    independent = load_pathway_spec(write(tmp_path, FIXTURE))
    reference = sample_from_uniforms(independent, u, np.zeros(N, dtype=bool))
    for path in paths:
        np.testing.assert_allclose(draws["uniforms"][path][1:], reference[path], rtol=1e-9)


def test_rows_do_not_depend_on_the_other_rows(correlated_spec, draws):
    """Position addressing: any subset of rows gives bit-identical values (chunking)."""
    u = draws["u"]
    rows = np.array([0, 1, 2, 777, N])
    part = sample_from_uniforms(correlated_spec, u[rows], rows == 0)
    for path, values in part.items():
        np.testing.assert_array_equal(values, draws["uniforms"][path][rows])


# Values from the code before correlations existed (commit 815cbf2, the same fixture and seeds),
# as float.hex: without [[correlations]] the draws must not change by a single bit.
BEFORE_GENERATOR = {
    "cohorts.c.parameters.share": [
        "0x1.0000000000000p-1",
        "0x1.e54149b3709e1p-2",
        "0x1.a6eccebebf1e6p-2",
        "0x1.8346b8d34c3f3p-2",
        "0x1.2835116488380p-1",
    ],
    "cohorts.c.states.a.prevalence": [
        "0x1.0624dd2f1a9fcp-10",
        "0x1.0dfc050e78e5ep-10",
        "0x1.16fda5b82d731p-10",
        "0x1.ae9da127ac0f9p-11",
        "0x1.38a95e1793944p-10",
    ],
    "cohorts.c.states.a.costs.0.amount": [
        "0x1.d4c0000000000p+14",
        "0x1.f0b8f3949059cp+14",
        "0x1.e47414b495bc2p+14",
        "0x1.df8a4542775f0p+14",
        "0x1.174e98bf15905p+15",
    ],
    "cohorts.c.states.a.costs.1.amount": [
        "0x1.f400000000000p+9",
        "0x1.f400000000000p+9",
        "0x1.f400000000000p+9",
        "0x1.f400000000000p+9",
        "0x1.f400000000000p+9",
    ],
    "cohorts.c.states.b.costs.0.amount": [
        "0x1.86a0000000000p+15",
        "0x1.18c7e0d5a2d68p+16",
        "0x1.b38a487d57e54p+15",
        "0x1.0e292c673d935p+16",
        "0x1.da2f9414d3cc5p+15",
    ],
    "cohorts.c.transitions.a.to.b": [
        "0x1.999999999999ap-5",
        "0x1.305484da7b2abp-4",
        "0x1.5eff3a570e8bap-5",
        "0x1.f5cec3b15561ap-5",
        "0x1.078660a248d70p-4",
    ],
    "levers.lev.eligible": [
        "0x1.0000000000000p-1",
        "0x1.0dc9cd68f4b7ep-1",
        "0x1.33f25f56997f4p-1",
        "0x1.9a7a70346ccacp-2",
        "0x1.745540fd22f0bp-2",
    ],
    "levers.lev.uptake": [
        "0x1.999999999999ap-2",
        "0x1.c43254ed66f91p-2",
        "0x1.27c83a0c37d0dp-2",
        "0x1.66d469dc98f24p-2",
        "0x1.cec9464a5c40cp-2",
    ],
    "levers.lev.effects.0.value": [
        "0x1.6666666666666p-1",
        "0x1.8456f475e5b73p-1",
        "0x1.605f2024de207p-1",
        "0x1.76092115e186cp-1",
        "0x1.b8237b6732c27p-1",
    ],
    "levers.lev.unit_cost": [
        "0x1.f400000000000p+8",
        "0x1.2d7dcd1d38e4ep+9",
        "0x1.c396a3f3e951fp+8",
        "0x1.fd198a30636fep+8",
        "0x1.d893d9d6ecf74p+8",
    ],
}
BEFORE_UNIFORMS = {
    "cohorts.c.parameters.share": [
        "0x1.0000000000000p-1",
        "0x1.09b44d0d59cf9p-1",
        "0x1.37e6fcd9291e6p-1",
        "0x1.2f1a01986fe1cp-1",
        "0x1.bf19cc10c255ep-2",
    ],
    "cohorts.c.states.a.prevalence": [
        "0x1.0624dd2f1a9fcp-10",
        "0x1.757ecb9a3812ep-10",
        "0x1.1d8038d43e062p-10",
        "0x1.3178b8092d732p-10",
        "0x1.10599869bddbfp-10",
    ],
    "cohorts.c.states.a.costs.0.amount": [
        "0x1.d4c0000000000p+14",
        "0x1.0d676075be544p+15",
        "0x1.043652127046cp+15",
        "0x1.c5026a73318efp+14",
        "0x1.d83d3db47d32bp+14",
    ],
    "cohorts.c.states.a.costs.1.amount": [
        "0x1.f400000000000p+9",
        "0x1.f400000000000p+9",
        "0x1.f400000000000p+9",
        "0x1.f400000000000p+9",
        "0x1.f400000000000p+9",
    ],
    "cohorts.c.states.b.costs.0.amount": [
        "0x1.86a0000000000p+15",
        "0x1.bf2eac9225184p+15",
        "0x1.e8945e2c39f84p+15",
        "0x1.c2de1acc8e028p+15",
        "0x1.1eedb54cf41ffp+16",
    ],
    "cohorts.c.transitions.a.to.b": [
        "0x1.999999999999ap-5",
        "0x1.4932f191a65dfp-5",
        "0x1.3bd175e7a89ccp-4",
        "0x1.cde7d8a7812adp-5",
        "0x1.40ad6e0c19c46p-5",
    ],
    "levers.lev.eligible": [
        "0x1.0000000000000p-1",
        "0x1.cdc826b1494cbp-2",
        "0x1.084a9ce2cf8bdp-1",
        "0x1.1bbb6d9aba62ep-1",
        "0x1.4d6c640318f14p-1",
    ],
    "levers.lev.uptake": [
        "0x1.999999999999ap-2",
        "0x1.6c066d17a9c1ep-2",
        "0x1.39e550347f648p-2",
        "0x1.c04fb9269c477p-2",
        "0x1.e27e41147b934p-2",
    ],
    "levers.lev.effects.0.value": [
        "0x1.6666666666666p-1",
        "0x1.199999999999ap-1",
        "0x1.7dd24cd92da4dp-1",
        "0x1.71be9b372552bp-1",
        "0x1.4593cde5c163cp-1",
    ],
    "levers.lev.unit_cost": [
        "0x1.f400000000000p+8",
        "0x1.297eafd8d93b8p+9",
        "0x1.14673bdcaf57bp+9",
        "0x1.0ad3bb51c7fb8p+9",
        "0x1.e802eb7d27e4cp+8",
    ],
}


def test_without_correlations_draws_are_unchanged(tmp_path):
    spec = load_pathway_spec(write(tmp_path, FIXTURE))
    by_rng = sample_parameters(spec, 5, np.random.default_rng(20261202))
    u = np.random.default_rng(31).random((5, len(quantities(spec))))
    by_u = sample_from_uniforms(spec, u, np.arange(5) == 0)
    for got, saved in ((by_rng, BEFORE_GENERATOR), (by_u, BEFORE_UNIFORMS)):
        assert list(got) == list(saved)
        for path, values in got.items():
            assert [float(v).hex() for v in values] == saved[path], path


@pytest.mark.parametrize(
    "extra, field, expect",
    [
        (
            correlation("levers.lev.effect.value", UPTAKE, 0.3),
            "correlations.0.a",
            "no quantity 'levers.lev.effect.value'",
        ),
        (
            correlation(EFFECT, "cohorts.c.states.a.costs.1.amount", 0.3),
            "correlations.0.b",
            "is not uncertain (range [1000.0, 1000.0])",
        ),
        (correlation(EFFECT, UPTAKE, 1.0), "correlations.0.rho", "strictly between -1 and 1"),
        (correlation(EFFECT, UPTAKE, -1.5), "correlations.0.rho", "strictly between -1 and 1"),
        (correlation(EFFECT, EFFECT, 0.3), "correlations.0.b", "other than a"),
        (
            correlation(EFFECT, UPTAKE, 0.3) + correlation(UPTAKE, EFFECT, 0.2),
            "correlations.1",
            "already correlated in correlations.0",
        ),
        (
            correlation(EFFECT, UPTAKE, -0.6)
            + correlation(UPTAKE, RATE, -0.6)
            + correlation(EFFECT, RATE, -0.6),
            "correlations.2",
            "not positive definite (smallest eigenvalue -0.236",
        ),
        (
            correlation(EFFECT, UPTAKE, 0.3).replace('measure = "spearman"\n', ""),
            "correlations.0.measure",
            "",
        ),
        (
            correlation(EFFECT, UPTAKE, 0.3).replace('tag = "illustrative"', 'tag = "S"'),
            "correlations.0.source",
            "needs its source address",
        ),
    ],
)
def test_bad_correlations_give_one_clear_message(tmp_path, extra, field, expect):
    path = write(tmp_path, FIXTURE + extra)
    with pytest.raises(AllocError) as info:
        load_pathway_spec(path)
    message = str(info.value)
    assert str(path) in message and field in message and expect in message, message


def test_the_not_positive_definite_check_is_on_the_gaussian_matrix(tmp_path):
    """Spearman -0.6 is Gaussian -0.618: three such pairs give the smallest eigenvalue
    1 - 2 x 0.618 = -0.236, as the message says; three pairs at Spearman -0.45 (Gaussian
    -0.4669, eigenvalue 0.066) are valid."""
    bad = [correlation(EFFECT, UPTAKE, -0.6), correlation(UPTAKE, RATE, -0.6)]
    bad.append(correlation(EFFECT, RATE, -0.6))
    with pytest.raises(AllocError, match=r"correlations\.2: .*smallest eigenvalue -0\.236"):
        load_pathway_spec(write(tmp_path, FIXTURE + "".join(bad)))
    # three pairs at +0.8 are consistent, though two of them alone are not (the check is on
    # the whole matrix, not pair by pair in file order)
    chain = [correlation(EFFECT, UPTAKE, 0.8), correlation(UPTAKE, RATE, 0.8)]
    with pytest.raises(AllocError, match=r"correlations\.\d: .*not positive definite"):
        load_pathway_spec(write(tmp_path, FIXTURE + "".join(chain), "chain.toml"))
    chain.append(correlation(EFFECT, RATE, 0.8))
    assert (
        len(load_pathway_spec(write(tmp_path, FIXTURE + "".join(chain), "c.toml")).correlations)
        == 3
    )
    good = [c.replace("-0.6", "-0.45") for c in bad]
    spec = load_pathway_spec(write(tmp_path, FIXTURE + "".join(good), "good.toml"))
    assert [round(c.gaussian_rho, 4) for c in spec.correlations] == [-0.4669] * 3


# --------------------------------------------------------------------------- shipped files


@pytest.fixture(scope="module")
def shipped():
    return {
        name: load_pathway_spec(ROOT / "models" / "pathways" / f"{name}.toml")
        for name in ("renal", "critical_care", "mental_health", "liver")
    }


def test_quantity_paths_resolve_as_quantities_names_them(shipped):
    for spec in shipped.values():
        for path, q in quantities(spec).items():
            assert quantity_at(spec, path) is q


def test_shipped_correlations_are_documented(shipped):
    """Every default correlation is listed in docs/methodology/pathways.md with its rho."""
    doc = (ROOT / "docs" / "methodology" / "pathways.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Correlated uncertainty") :]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    stated = 0
    for name, spec in shipped.items():
        for corr in spec.correlations:
            stated += 1
            assert corr.tag == "illustrative" or corr.source
            assert any(
                f"`{corr.a}`" in r and f"`{corr.b}`" in r and f"{corr.rho:+.2f}" in r and name in r
                for r in rows
            ), (name, corr.a, corr.b)
    assert stated >= 3


# --------------------------------------------------------------------------- ensemble and Sobol


def _renal_scenario(tmp_path, extra: str):
    """A copy of the shipped renal file with ``extra`` appended, and a scenario using it."""
    models = alloc.resources.models_dir()
    text = (models / "pathways" / "renal.toml").read_text(encoding="utf-8")
    write(tmp_path, text + extra, "renal.toml")
    scenario = (models / "scenarios" / "left_shift_renal.toml").read_text(encoding="utf-8")
    return write(tmp_path, scenario + '\n[pathways.files]\nrenal = "renal.toml"\n', "s.toml")


# Both unit costs of levers the scenario switches on, in different Sobol groups.
CROSS_GROUP = correlation("levers.sglt2i.unit_cost", "levers.case_finding.unit_cost", 0.8)


def test_ensemble_with_correlations_does_not_depend_on_chunking(tmp_path, monkeypatch):
    """The ensemble's correlated pathway draws, and its outputs, are bit-identical whatever the
    chunking (the need drivers' powers are taken one draw at a time for that reason)."""
    import alloc.pathways.base as base
    from alloc.uncertainty.ensemble import run_ensemble

    drawn = []

    def recording(spec, u, central_rows):
        out = sample_from_uniforms(spec, u, central_rows)
        if spec.correlations:
            drawn.append(out)
        return out

    monkeypatch.setattr(base, "sample_from_uniforms", recording)
    path = _renal_scenario(tmp_path, CROSS_GROUP)
    runs = {}
    for chunk in (2, 5):
        drawn.clear()
        runs[chunk] = run_ensemble(
            str(path), None, {"draws": 5, "chunk": chunk, "seed": 5}, keep_full=True
        )
        runs[f"draws{chunk}"] = {p: np.concatenate([d[p] for d in drawn]) for p in drawn[0]}
    assert len(runs["draws2"]["levers.sglt2i.uptake"]) == 5  # three chunks of draws, in order
    for path_, values in runs["draws5"].items():
        np.testing.assert_array_equal(runs["draws2"][path_], values, err_msg=path_)
    for name in ("net_position_q", "left_shift_saving_q", "allocation_draws"):
        np.testing.assert_array_equal(runs[2][name], runs[5][name], err_msg=name)
    assert float(runs[2]["net_position_q"].std()) > 0  # the draws vary


def test_sobol_joins_groups_that_a_correlation_links(tmp_path):
    from alloc.uncertainty.sensitivity import _load

    setup = _load(str(_renal_scenario(tmp_path, CROSS_GROUP)), None, None, None, None)
    group = {f.path: f.group for f in setup.factors if f.pathway == "renal"}
    joined = "renal: levers.sglt2i + renal: levers.case_finding"
    assert group["levers.sglt2i.uptake"] == group["levers.case_finding.unit_cost"] == joined
    assert group["levers.home_dialysis_shift.uptake"] == "renal: levers.home_dialysis_shift"
