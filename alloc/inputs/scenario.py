"""Scenario files: schema, TOML loading, ``--set`` overrides and validation.

A scenario names its data, formula, policy, years, envelope and assumptions::

    name = "default"
    data = "embedded"            # or a dataset folder
    formula = "default"          # or a path to a formula TOML
    base_year = "2025/26"
    end_year = "2030/31"
    convergence_level = "total"  # or "service"
    envelope_growth = 0.035      # or {"2026/27" = 0.03, "2028/29" = 0.035}; default: data assumption
    [policy]
    use = "common_dft"           # a name in models/policy/ or a path
    min_growth = 0.02            # any policy parameter may be overridden here
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from alloc.errors import AllocError
from alloc.inputs.pathway_spec import PathwaysSection, SavingsPolicy, SpendAssumptions
from alloc.inputs.specs import read_toml, validate
from alloc.inputs.years import FinancialYear, Number, YearParam, coerce_year, year_keys_valid
from alloc.resources import resolve_named


class PolicyChoice(BaseModel):
    """Which policy a scenario uses, plus any parameter overrides (validated with the policy)."""

    model_config = ConfigDict(extra="allow")
    use: str = Field(description="policy name in models/policy/ or a path to a policy TOML")


#: A scenario's name is its results folder's name: at most this long, without these characters.
MAX_NAME_LENGTH = 100
NAME_FORBIDDEN = '/\\:*?"<>|'


class Scenario(BaseModel):
    """A validated scenario."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    data: str = "embedded"
    # Areas the scenario runs on: a shipped geography (data/geographies/), a folder or practice
    # mapping CSV (alloc.inputs.geography), or "as_data" for the dataset's own footprint.
    geography: str = Field("icb_2026", min_length=1)
    # Your own base-year baseline instead of the dataset's: a .csv or .xlsx by ICB x service or
    # by ICB only, relative to the scenario file (else to the current folder); see
    # alloc.inputs.user_baseline and docs/guide/your_data.md. None = the dataset's baseline.
    baseline: str | None = Field(None, min_length=1)
    formula: str = "default"
    base_year: FinancialYear | None = None
    end_year: FinancialYear
    convergence_level: Literal["total", "service"] = "total"
    envelope_growth: YearParam | None = None
    population_growth: Number | None = Field(None, gt=-0.5, lt=1.0)
    gdp_deflator_growth: Number | None = Field(None, gt=-0.5, lt=1.0)
    policy: PolicyChoice
    # Grids and Monte Carlo draws for `alloc ensemble`; validated by alloc.uncertainty.ensemble.EnsembleSpec.
    ensemble: dict | None = None
    # Left-shift pathway levers, what happens to the savings, spend-projection assumptions
    # (alloc.inputs.pathway_spec; docs/methodology/pathways.md). Absent = no levers, savings retained.
    pathways: PathwaysSection | None = None
    savings: SavingsPolicy | None = None
    spend: SpendAssumptions | None = None
    # The `--set KEY=VALUE` texts applied by load_scenario, so later checks (the policy's) can
    # blame a bad value on the --set argument that gave it (blame_overrides).
    _overrides: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        # The name becomes the results folder, results/<name>: a plain file name, nothing else.
        problem = (
            "is empty"
            if not value.strip()
            else f"is longer than {MAX_NAME_LENGTH} characters"
            if len(value) > MAX_NAME_LENGTH
            else "contains a path separator or a character not allowed in file names"
            if set(value) & set(NAME_FORBIDDEN)
            else "starts with '.' (hidden, or a path such as '..')"
            if value.startswith(".")
            else "starts or ends with a space"
            if value != value.strip()
            else "contains a control character"
            if not value.isprintable()
            else None
        )
        if problem is not None:
            shown = value if len(value) <= 60 else value[:57] + "..."
            raise ValueError(
                "expected a plain file name, as it names the results folder results/<name> "
                f'(e.g. name = "my_scenario"); {problem}, found {shown!r}'
            )
        return value

    @field_validator("base_year", "end_year", mode="before")
    @classmethod
    def _fy(cls, value):
        return coerce_year(value)

    @field_validator("envelope_growth")
    @classmethod
    def _envelope(cls, value):
        year_keys_valid(value)
        for v in (
            value.values() if isinstance(value, dict) else [value] if value is not None else []
        ):
            if not -0.5 < v < 1.0:
                raise ValueError(
                    f"expected a growth rate between -0.5 and 1 (fraction per year), found {v}"
                )
        return value


def parse_override(text: str, source: str = "--set") -> tuple[list[str], object]:
    """Parse ``key.sub=value`` (value in TOML syntax, bare words taken as text)."""
    if "=" not in text:
        raise AllocError(
            source,
            text,
            "expected KEY=VALUE with no spaces around '=', e.g. --set policy.min_growth=0.02",
        )
    key, raw = (part.strip() for part in text.split("=", 1))
    if not key:
        raise AllocError(source, text, "expected KEY=VALUE with a non-empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``--set`` overrides to the raw scenario dictionary (returns a new dict)."""
    data = json.loads(json.dumps(raw))
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            if not isinstance(node.setdefault(part, {}), dict):
                raise AllocError("--set", text, f"'{part}' is not a table of keys")
            node = node[part]
        node[path[-1]] = value
    return data


def blame_overrides(
    exc: AllocError, overrides: Scenario | list[str] | tuple[str, ...], prefix: str = ""
) -> AllocError:
    """``exc`` re-addressed to ``--set KEY=VALUE`` when that override gave the field at fault.

    The field (``prefix`` + ``exc.field``, e.g. ``policy.`` + ``min_growth``) is matched against
    each override's key: equal, or one inside the other (``--set envelope_growth.2026/27=5``
    failing on ``envelope_growth``). The last matching override wins, as it does when applied.
    Without a match ``exc`` is returned unchanged.
    """
    if isinstance(overrides, Scenario):
        overrides = overrides._overrides
    field = (prefix + exc.field).split(".")
    for text in reversed(list(overrides)):
        try:
            key, _ = parse_override(text)
        except AllocError:
            continue
        n = min(len(key), len(field))
        if key[:n] == field[:n]:
            return AllocError(f"--set {text}", prefix + exc.field, exc.problem)
    return exc


def load_scenario(
    path_or_name: str | Path | None = None, overrides: list[str] | None = None
) -> tuple[Scenario, Path, dict]:
    """Load, override and validate a scenario.

    Parameters
    ----------
    path_or_name : path or str, optional
        A scenario TOML path, a scenario workbook (``.xlsx``, see
        :mod:`alloc.inputs.scenario_workbook`), or a name in ``models/scenarios/``; default ``default``.
    overrides : list of str
        ``KEY=VALUE`` overrides, e.g. ``policy.min_growth=0.02``.

    Returns
    -------
    (Scenario, Path, dict)
        The validated scenario, its file, and the raw dictionary after overrides (recorded in
        the result's provenance).
    """
    for text in overrides or []:  # a malformed --set is reported before the scenario is looked up
        parse_override(text)
    if str(path_or_name or "").lower().endswith(".xlsx"):  # a workbook from `alloc template`
        from alloc.inputs.scenario_workbook import read_scenario_workbook

        path = Path(path_or_name)
        raw = apply_overrides(read_scenario_workbook(path), overrides or [])
    else:
        path = resolve_named("scenarios", path_or_name or "default")
        raw = apply_overrides(read_toml(path), overrides or [])
    try:
        scenario = validate(Scenario, raw, path)
    except AllocError as exc:  # name the --set argument, not the file, when it gave the value
        raise blame_overrides(exc, overrides or []) from None
    scenario._overrides = tuple(overrides or ())
    return scenario, path, raw


def scenario_json_schema() -> dict:
    """JSON Schema (draft 2020-12) of a scenario file, for editors that validate TOML.

    Generated from :class:`Scenario` by pydantic; ``alloc schema`` writes it. Validation by
    ``alloc validate`` is stricter (policy parameters are checked against the chosen policy, and
    ensemble tables against :class:`alloc.uncertainty.ensemble.EnsembleSpec`).
    """
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "alloc scenario"
    schema["description"] = (
        "A scenario for alloc (models/scenarios/*.toml): data, formula, "
        "policy, years, envelope and assumptions."
    )
    return schema


def scenario_hash(raw: dict) -> str:
    """Stable short hash of a scenario dictionary (after overrides)."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]


def resolve_data_folder(scenario: Scenario, scenario_path: Path) -> Path | None:
    """Dataset folder of a scenario (None = embedded), relative paths from the scenario file."""
    if scenario.data == "embedded":
        return None
    folder = Path(scenario.data)
    if not folder.is_absolute():
        folder = scenario_path.parent / folder
    return folder


__all__ = [
    "Scenario",
    "PolicyChoice",
    "load_scenario",
    "apply_overrides",
    "blame_overrides",
    "parse_override",
    "scenario_json_schema",
    "scenario_hash",
    "resolve_data_folder",
    "resolve_named",
]
