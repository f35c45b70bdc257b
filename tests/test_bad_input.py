"""Bad input: one line ``error: <file>: <field>: <expectation>`` on stderr, exit 2, no traceback.

Each case copies the embedded dataset into ``tmp_path``, corrupts one thing (a data file, the
scenario, a policy or a ``--set``) and runs the CLI in this process (click's CliRunner; an
exception that escapes the command shows as its traceback on stderr, so it is still caught).
``test_a_sample_in_a_real_process`` runs one case of each kind in a subprocess, where a
traceback would really show. No results folder (nor its hidden temporary folder) may be left
behind.

Pure data problems go through ``alloc validate <folder>`` (no kernel run); scenario, policy and
a few data problems go through ``alloc run``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    EMBEDDED_DATA,
    message_lines,
    run_alloc_in_process,
    run_alloc_subprocess,
)

EXIT_BAD_INPUT = 2


# --- dataset edits: each returns a function that changes the copied data folder in place -------


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def _write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / name, index=False)


def cell(name: str, col: str, value: str, row: int = 0):
    """Set one cell of a CSV file."""

    def edit(folder):
        frame = _read(folder, name)
        frame.loc[row, col] = value
        _write(folder, name, frame)

    return edit


def drop_rows(name: str, **match):
    """Drop the rows whose columns equal every value in ``match``."""

    def edit(folder):
        frame = _read(folder, name)
        hit = pd.Series(True, index=frame.index)
        for col, value in match.items():
            hit &= frame[col] == value
        assert hit.any(), f"no row of {name} matches {match}"
        _write(folder, name, frame[~hit])

    return edit


def drop_column(name: str, col: str):
    def edit(folder):
        _write(folder, name, _read(folder, name).drop(columns=[col]))

    return edit


def duplicate_row(name: str, row: int = 0):
    def edit(folder):
        frame = _read(folder, name)
        _write(folder, name, pd.concat([frame, frame.iloc[[row]]], ignore_index=True))

    return edit


def replace_text(name: str, old: str, new: str):
    def edit(folder):
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"'{old}' not in {name}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    return edit


def append_text(name: str, text: str):
    def edit(folder):
        with open(folder / name, "a", encoding="utf-8") as fh:
            fh.write(text)

    return edit


def delete_file(name: str):
    return lambda folder: (folder / name).unlink()


def add_service(service: str):
    """A new service line in services.csv, baseline.csv and patients.csv (every ICB)."""

    def edit(folder):
        services = _read(folder, "services.csv")
        new = services.iloc[[0]].assign(service=service, service_name="New service line")
        _write(folder, "services.csv", pd.concat([services, new], ignore_index=True))
        for name, value in (("baseline.csv", "baseline_gbp"), ("patients.csv", "patients")):
            frame = _read(folder, name)
            rows = frame[frame["service"] == "cancer"].assign(service=service, **{value: "1000"})
            _write(folder, name, pd.concat([frame, rows], ignore_index=True))

    return edit


def chain(*edits):
    def edit(folder):
        for one in edits:
            one(folder)

    return edit


# --- scenario files -------------------------------------------------------------------------

SCENARIO_KEYS = {
    "name": '"bad-input"',
    "description": '"bad-input test"',
    "formula": '"default"',
    "base_year": '"2025/26"',
    "end_year": '"2028/29"',
    "convergence_level": '"total"',
}


def write_scenario(
    tmp_path: Path,
    data: Path,
    top: dict | None = None,
    policy: dict | None = None,
    text: str | None = None,
) -> Path:
    """Write ``tmp_path/scenario.toml``; ``top`` / ``policy`` map keys to TOML literals (None
    removes a key); ``text`` replaces the whole file."""
    keys = {**SCENARIO_KEYS, "data": f'"{data.as_posix()}"', **(top or {})}
    pol = {"use": '"common_dft"', **(policy or {})}
    lines = [f"{k} = {v}" for k, v in keys.items() if v is not None]
    lines += ["", "[policy]"] + [f"{k} = {v}" for k, v in pol.items() if v is not None]
    path = tmp_path / "scenario.toml"
    path.write_text(text if text is not None else "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def alloc_cli(tmp_path, monkeypatch):
    """``alloc ARGS`` in this process, cwd ``tmp_path`` (conftest.run_alloc_in_process)."""
    return lambda *args: run_alloc_in_process(tmp_path, monkeypatch, *args)


# --- the check every case shares ------------------------------------------------------------


def assert_bad_input(proc, tmp_path: Path, file: str, field: str, *, out_kept: bool = False):
    """Exit 2, one line ``error: <file>: <field>: <expectation>`` naming ``file`` and ``field``,
    no traceback, no results folder (unless it existed before: ``out_kept``) and no temp folder."""
    both = proc.stdout + proc.stderr
    assert proc.returncode == EXIT_BAD_INPUT, both
    assert "Traceback" not in both, both
    lines = message_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].strip(), f"expected one line on stderr, got:\n{proc.stderr}"
    line = lines[0]
    assert line.startswith("error: "), line
    parts = line.removeprefix("error: ").split(": ", 2)
    assert len(parts) == 3 and all(p.strip() for p in parts), (
        f"expected 'error: <file>: <field>: <expectation>', got: {line}"
    )
    source, named_field, problem = parts
    assert file in source, f"expected the file '{file}' in: {line}"
    assert field in named_field, f"expected the field '{field}' in: {line}"
    assert problem.count("found") <= 1, f"repeated 'found' in: {line}"
    assert (tmp_path / "out").exists() == out_kept
    assert not list(tmp_path.glob(".out.*")), "a temporary results folder was left behind"
    return line


# --- data problems through `alloc validate <folder>` --------------------------------------------

DATA_CASES = [
    # unknown / duplicate / missing ICB codes
    pytest.param(cell("baseline.csv", "code", "ZZZ"), "baseline.csv", "code", id="unknown-icb"),
    pytest.param(cell("icbs.csv", "code", "q e1"), "icbs.csv", "code", id="malformed-icb-code"),
    pytest.param(duplicate_row("icbs.csv"), "icbs.csv", "code", id="duplicate-icb"),
    pytest.param(
        duplicate_row("baseline.csv", row=7), "baseline.csv", "code", id="duplicate-icb-service-row"
    ),
    pytest.param(
        drop_rows("weighted_populations.csv", code="QE1"),
        "weighted_populations.csv",
        "code",
        id="icb-missing-populations",
    ),
    pytest.param(
        drop_rows("patients.csv", code="QF7"), "patients.csv", "code", id="icb-missing-patients"
    ),
    pytest.param(
        drop_rows("icbs.csv", code="QGH"),
        "weighted_populations.csv",
        "code",
        id="icb-missing-from-icbs",
    ),
    # money and population: NaN, blank, negative, non-numeric
    pytest.param(
        cell("baseline.csv", "baseline_gbp", "nan"),
        "baseline.csv",
        "baseline_gbp",
        id="baseline-nan",
    ),
    pytest.param(
        cell("baseline.csv", "baseline_gbp", "", row=3),
        "baseline.csv",
        "baseline_gbp",
        id="baseline-blank",
    ),
    pytest.param(
        cell("baseline.csv", "baseline_gbp", "-5000"),
        "baseline.csv",
        "baseline_gbp",
        id="baseline-negative",
    ),
    pytest.param(
        cell("baseline.csv", "baseline_gbp", "£1.2m"),
        "baseline.csv",
        "baseline_gbp",
        id="baseline-non-numeric",
    ),
    pytest.param(
        cell("weighted_populations.csv", "gp_pop", "NaN"),
        "weighted_populations.csv",
        "gp_pop",
        id="population-nan",
    ),
    pytest.param(
        cell("weighted_populations.csv", "gp_pop", "-1820286"),
        "weighted_populations.csv",
        "gp_pop",
        id="population-negative",
    ),
    pytest.param(
        cell("weighted_populations.csv", "wp_general_acute", "many"),
        "weighted_populations.csv",
        "wp_general_acute",
        id="population-non-numeric",
    ),
    pytest.param(
        cell("services.csv", "cost_per_patient_gbp", "0"),
        "services.csv",
        "cost_per_patient_gbp",
        id="cost-per-patient-zero",
    ),
    # years
    pytest.param(
        drop_rows("weighted_populations.csv", year="2024/25"),
        "weighted_populations.csv",
        "year",
        id="years-not-contiguous",
    ),
    pytest.param(
        drop_rows("weighted_populations.csv", code="QE1", year="2024/25"),
        "weighted_populations.csv",
        "year",
        id="year-missing-for-one-icb",
    ),
    pytest.param(
        cell("baseline.csv", "year", "2025-26"), "baseline.csv", "year", id="year-malformed"
    ),
    pytest.param(
        cell("baseline.csv", "year", "2024/25", row=4),
        "baseline.csv",
        "year",
        id="baseline-two-years",
    ),
    pytest.param(
        chain(
            replace_text("baseline.csv", "2025/26", "2040/41"),
            replace_text("patients.csv", "2025/26", "2040/41"),
        ),
        "baseline.csv",
        "year",
        id="base-year-outside-data",
    ),
    pytest.param(
        replace_text("patients.csv", "2025/26", "2024/25"),
        "patients.csv",
        "year",
        id="patients-year-not-base-year",
    ),
    # service lines
    pytest.param(
        cell("baseline.csv", "service", "gene_therapy"),
        "baseline.csv",
        "service",
        id="service-unknown-to-services-csv",
    ),
    pytest.param(
        drop_rows("baseline.csv", code="QE1", service="renal"),
        "baseline.csv",
        "service",
        id="service-row-missing",
    ),
    # file structure
    pytest.param(
        drop_column("baseline.csv", "baseline_gbp"),
        "baseline.csv",
        "baseline_gbp",
        id="column-missing",
    ),
    pytest.param(delete_file("patients.csv"), "patients.csv", "file", id="file-missing"),
    pytest.param(
        append_text("baseline.csv", "QE1,cancer,2025/26,1,extra\n"),
        "baseline.csv",
        "file",
        id="csv-ragged-row",
    ),
    pytest.param(
        append_text("assumptions.toml", "\nenvelope_growth = [\n"),
        "assumptions.toml",
        "file",
        id="assumptions-malformed-toml",
    ),
    pytest.param(
        replace_text("assumptions.toml", "value = 0.035", 'value = "fast"'),
        "assumptions.toml",
        "envelope_growth",
        id="assumption-wrong-type",
    ),
]


@pytest.mark.parametrize(("edit", "file", "field"), DATA_CASES)
def test_validate_bad_dataset(edit, file, field, data_copy, alloc_cli, tmp_path):
    edit(data_copy)
    assert_bad_input(alloc_cli("validate", data_copy), tmp_path, file, field)


def test_validate_good_dataset(data_copy, alloc_cli):
    for folder in (None, data_copy):  # the embedded data, and an untouched copy of it
        proc = alloc_cli("validate", *([folder] if folder else []))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.startswith("ok: dataset") and not proc.stderr


def test_validate_bad_scenario(data_copy, alloc_cli, tmp_path):
    scenario = write_scenario(tmp_path, data_copy, policy={"min_growth": "0.07"})
    assert_bad_input(
        alloc_cli("validate", scenario), tmp_path, "scenario.toml [policy]", "min_growth"
    )


# --- scenario, policy and data problems through `alloc run` -------------------------------------

RUN_CASES = [
    # (data edit, scenario top-level keys, [policy] keys, extra args, file, field)
    # data problems reach `run` too
    pytest.param(
        cell("baseline.csv", "code", "ZZZ"), {}, {}, [], "baseline.csv", "code", id="unknown-icb"
    ),
    pytest.param(
        cell("baseline.csv", "baseline_gbp", "NaN", row=11),
        {},
        {},
        [],
        "baseline.csv",
        "baseline_gbp",
        id="baseline-nan",
    ),
    pytest.param(
        add_service("gene_therapy"),
        {},
        {},
        [],
        "default.toml",
        "services.gene_therapy",
        id="service-unknown-to-formula",
    ),
    pytest.param(
        None,
        {"data": '"no_such_folder"'},
        {},
        [],
        "no_such_folder",
        "folder",
        id="data-folder-missing",
    ),
    # years
    pytest.param(
        None,
        {"base_year": '"2019/20"'},
        {},
        [],
        "scenario.toml",
        "base_year",
        id="base-year-outside-data",
    ),
    pytest.param(
        None,
        {"end_year": '"2024/25"'},
        {},
        [],
        "scenario.toml",
        "end_year",
        id="end-year-before-base-year",
    ),
    pytest.param(
        None,
        {"end_year": '"2030/32"'},
        {},
        [],
        "scenario.toml",
        "end_year",
        id="end-year-malformed",
    ),
    # unknown keys
    pytest.param(
        None, {"colour": '"red"'}, {}, [], "scenario.toml", "colour", id="scenario-key-unknown"
    ),
    pytest.param(
        None,
        {},
        {},
        ["--set", "envelope_grwth=0.03"],
        "--set envelope_grwth=0.03",  # a bad --set is blamed on --set
        "envelope_grwth",
        id="scenario-key-unknown-set",
    ),
    pytest.param(
        None,
        {},
        {"min_grwth": "0.02"},
        [],
        "scenario.toml [policy]",
        "min_grwth",
        id="policy-key-unknown",
    ),
    pytest.param(
        None, {"end_year": None}, {}, [], "scenario.toml", "end_year", id="scenario-key-missing"
    ),
    # wrong types
    pytest.param(
        None, {"end_year": "true"}, {}, [], "scenario.toml", "end_year", id="end-year-bool"
    ),
    pytest.param(
        None,
        {"population_growth": '"high"'},
        {},
        [],
        "scenario.toml",
        "population_growth",
        id="population-growth-text",
    ),
    pytest.param(
        None,
        {"envelope_growth": "true"},
        {},
        [],
        "scenario.toml",
        "envelope_growth",
        id="envelope-growth-bool",
    ),
    pytest.param(
        None,
        {"envelope_growth": '{"2026/27" = "fast"}'},
        {},
        [],
        "scenario.toml",
        "envelope_growth",
        id="envelope-growth-table-text",
    ),
    pytest.param(
        None,
        {"envelope_growth": '{"next year" = 0.03}'},
        {},
        [],
        "scenario.toml",
        "envelope_growth",
        id="envelope-growth-bad-year-key",
    ),
    pytest.param(
        None,
        {"convergence_level": "3"},
        {},
        [],
        "scenario.toml",
        "convergence_level",
        id="convergence-level-number",
    ),
    pytest.param(
        None,
        {},
        {},
        ["--set", "policy.min_growth=abc"],
        "--set policy.min_growth=abc",  # a bad --set is blamed on --set
        "min_growth",
        id="min-growth-text",
    ),
    pytest.param(
        None,
        {},
        {},
        ["--set", "policy.max_growth=true"],
        "--set policy.max_growth=true",  # a bad --set is blamed on --set
        "max_growth",
        id="max-growth-bool",
    ),
    # policy parameters out of range or inconsistent
    pytest.param(
        None,
        {},
        {},
        ["--set", "policy.min_growth=0.07"],
        "--set policy.min_growth=0.07",  # a bad --set is blamed on --set
        "min_growth",
        id="min-growth-above-max-growth",
    ),
    pytest.param(
        None,
        {},
        {},
        ["--set", "policy.min_growth=0.2"],
        "--set policy.min_growth=0.2",  # a bad --set is blamed on --set
        "min_growth",
        id="min-growth-0.2-above-max-growth",
    ),
    pytest.param(
        None,
        {},
        {"use": '"proportional"', "convergence_rate": "1.5"},
        [],
        "scenario.toml [policy]",
        "convergence_rate",
        id="convergence-rate-1.5",
    ),
    pytest.param(
        None,
        {},
        {"convergence_rate": "0.2"},
        [],
        "scenario.toml [policy]",
        "convergence_rate",
        id="convergence-rate-wrong-kind",
    ),
    pytest.param(
        None,
        {},
        {"use": '"immediate"', "min_growth": "0.01"},
        [],
        "scenario.toml [policy]",
        "min_growth",
        id="floor-on-immediate",
    ),
    pytest.param(
        None,
        {},
        {"max_below_target": "-0.1"},
        [],
        "scenario.toml [policy]",
        "max_below_target",
        id="max-below-target-negative",
    ),
    pytest.param(
        None,
        {},
        {"fallback": '"maybe"'},
        [],
        "scenario.toml [policy]",
        "fallback",
        id="fallback-unknown",
    ),
    pytest.param(
        None,
        {},
        {"use": '"no_such_policy"'},
        [],
        "policy",  # not a file: a shipped name that does not exist (with the shipped names)
        "no_such_policy",
        id="policy-unknown",
    ),
    # infeasible without fallback: floors above the 3.5% envelope growth
    # (the floor was set with --set, so --set is named)
    pytest.param(
        None,
        {},
        {},
        ["--set", "policy.min_growth=0.05"],
        "--set policy.min_growth=0.05",
        "min_growth",
        id="infeasible-floor",
    ),
    pytest.param(
        None,
        {},
        {},
        ["--set", "policy.min_growth=0.2", "--set", "policy.max_growth=0.3"],
        "--set policy.min_growth=0.2",
        "min_growth",
        id="infeasible-floor-0.2",
    ),
    # --set syntax
    pytest.param(
        None,
        {},
        {},
        ["--set", "policy.min_growth"],
        "--set",
        "policy.min_growth",
        id="set-without-equals",
    ),
    pytest.param(
        None, {}, {}, ["--set", "name.first=x"], "--set", "name.first=x", id="set-into-non-table"
    ),
]


@pytest.mark.parametrize(("edit", "top", "policy", "extra", "file", "field"), RUN_CASES)
def test_run_bad_input(edit, top, policy, extra, file, field, data_copy, alloc_cli, tmp_path):
    if edit is not None:
        edit(data_copy)
    scenario = write_scenario(tmp_path, data_copy, top, policy)
    proc = alloc_cli("run", scenario, "--out", tmp_path / "out", *extra)
    assert_bad_input(proc, tmp_path, file, field)


@pytest.mark.parametrize("which", ["scenario", "policy", "formula"])
def test_run_malformed_toml(which, data_copy, alloc_cli, tmp_path):
    bad = 'name = "broken\nend_year = \n'
    if which == "scenario":
        scenario = write_scenario(tmp_path, data_copy, text=bad)
        file = "scenario.toml"
    else:
        (tmp_path / f"bad_{which}.toml").write_text(bad, encoding="utf-8")
        top, policy = (
            ({}, {"use": '"bad_policy.toml"'})
            if which == "policy"
            else ({"formula": '"bad_formula.toml"'}, {})
        )
        scenario = write_scenario(tmp_path, data_copy, top, policy)
        file = f"bad_{which}.toml"
    proc = alloc_cli("run", scenario, "--out", tmp_path / "out")
    assert_bad_input(proc, tmp_path, file, "file")


def test_run_infeasible_policy_file_is_named(data_copy, alloc_cli, tmp_path):
    """A floor that comes from the policy file itself is reported against that file."""
    (tmp_path / "tight.toml").write_text(
        'kind = "common_dft"\nmin_growth = 0.05\n', encoding="utf-8"
    )
    scenario = write_scenario(tmp_path, data_copy, policy={"use": '"tight.toml"'})
    proc = alloc_cli("run", scenario, "--out", tmp_path / "out")
    assert_bad_input(proc, tmp_path, "tight.toml", "min_growth")
    assert "£" in proc.stderr and "2026/27" in proc.stderr


def test_run_missing_scenario_file(alloc_cli, tmp_path):
    proc = alloc_cli("run", tmp_path / "missing.toml", "--out", tmp_path / "out")
    assert_bad_input(proc, tmp_path, "missing.toml", "file")


def test_run_existing_results_folder(data_copy, alloc_cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results", encoding="utf-8")
    scenario = write_scenario(tmp_path, data_copy)
    proc = alloc_cli("run", scenario, "--out", out)
    assert_bad_input(proc, tmp_path, "out", "output folder", out_kept=True)
    assert (out / "keep.txt").read_text(encoding="utf-8") == "earlier results"


def test_infeasible_floor_names_only_the_bounds_the_policy_sets(data_copy, alloc_cli, tmp_path):
    """A floor from min_growth alone names min_growth, not max_below_target as well."""
    scenario = write_scenario(tmp_path, data_copy)
    proc = alloc_cli("run", scenario, "--out", tmp_path / "out", "--set", "policy.min_growth=0.05")
    assert_bad_input(proc, tmp_path, "--set policy.min_growth=0.05", "min_growth")
    assert "max_below_target" not in proc.stderr
    both = alloc_cli(
        "run",
        scenario,
        "--out",
        tmp_path / "out",
        "--set",
        "policy.min_growth=0.05",
        "--set",
        "policy.max_below_target=0.01",
    )
    assert "min_growth / max_below_target" in both.stderr


def test_a_sample_in_a_real_process(data_copy, tmp_path):
    """One dataset case, one scenario case and one --set case in a real ``python -m alloc``
    process: the same one line, exit 2, no traceback and nothing left behind."""
    edit, file, field = DATA_CASES[0].values
    edit(data_copy)
    assert_bad_input(run_alloc_subprocess(tmp_path, "validate", data_copy), tmp_path, file, field)
    scenario = write_scenario(tmp_path, EMBEDDED_DATA, policy={"min_growth": "0.07"})
    proc = run_alloc_subprocess(tmp_path, "run", scenario, "--out", tmp_path / "out")
    assert_bad_input(proc, tmp_path, "scenario.toml [policy]", "min_growth")
    scenario = write_scenario(tmp_path, EMBEDDED_DATA)
    proc = run_alloc_subprocess(
        tmp_path, "run", scenario, "--out", tmp_path / "out", "--set", "policy.min_growth"
    )
    assert_bad_input(proc, tmp_path, "--set", "policy.min_growth")


def test_closed_output_pipe_exits_quietly(tmp_path):
    """`alloc list policies | head -0`: no traceback and no misleading 'error:' line."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alloc", "list", "policies"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    proc.stdout.close()  # the reader goes away before anything is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "error:" not in stderr and "Broken pipe" not in stderr
