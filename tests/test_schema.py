"""The scenario JSON Schema (`alloc schema`): shipped scenarios satisfy it, bad ones do not."""

from __future__ import annotations

import json

import jsonschema
import pytest

from alloc.cli import main
from alloc.inputs.scenario import scenario_json_schema
from alloc.inputs.specs import read_toml
from alloc.resources import list_named, models_dir


@pytest.fixture(scope="module")
def validator():
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", list_named("scenarios"))
def test_shipped_scenarios_satisfy_the_schema(validator, name):
    errors = list(validator.iter_errors(read_toml(models_dir() / "scenarios" / f"{name}.toml")))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize(
    "edit",
    [
        {"convergence_level": "region"},
        {"end_year": "2030-31"},
        {"unknown_key": 1},
        {"envelope_growth": "fast"},
    ],
)
def test_bad_scenarios_break_the_schema(validator, edit):
    raw = read_toml(models_dir() / "scenarios" / "default.toml") | edit
    assert list(validator.iter_errors(raw))


def test_cli_writes_the_schema(tmp_path):
    from click.testing import CliRunner

    out = tmp_path / "scenario.schema.json"
    result = CliRunner().invoke(main, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == scenario_json_schema()
    again = CliRunner().invoke(main, ["schema", "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output
