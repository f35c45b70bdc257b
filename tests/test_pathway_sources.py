"""Every number in ``models/pathways/*.toml`` carries a unit and a source tag; costs share one
stated price base; the sources section of the docs matches the files; secure repatriation saves
money when (and because) the in-area bed is the cheaper one.

The label check reads the raw TOML (not the pydantic schema, which ``tests/test_pathways.py``
exercises), so a number the schema would never see, or a new section the schema does not type
yet, is checked too. Mutation tests break a copy of a shipped file in each way the check must
catch and assert that it does.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from alloc.inputs.dataset import load_inputs
from alloc.inputs.pathway_spec import PathwaysSection
from alloc.pathways import load_common, project_left_shift
from alloc.targets.formula import project_population

REPO = Path(__file__).resolve().parents[1]
PATHWAY_DIR = REPO / "models" / "pathways"
FILES = sorted(PATHWAY_DIR.glob("*.toml"))
TAGS = ("S", "S-weak", "I", "illustrative")
# Integers that set the model's structure, not quantities with a unit and a source.
STRUCTURAL = {"substeps", "ramp_years"}
FY = re.compile(r"^(\d{4})/(\d{2})$")


# ------------------------------------------------------------------------------ the label check


def label_problems(data: dict, where: str) -> list[str]:
    """Every unlabelled number in a parsed pathway file, as ``"file: dotted.path: problem"``.

    A *labelled table* is a table with a ``tag``. Numbers may appear only inside one (its
    ``value``, ``range`` or, for a correlation, ``rho``) or under a :data:`STRUCTURAL` key. A
    labelled table with a ``value`` needs a non-empty ``unit``; every labelled table needs a
    ``tag`` from :data:`TAGS` and, by tag, a ``source`` address or an ``illustrative`` reason;
    money (unit starting ``GBP``) needs a ``price_year`` such as ``"2021/22"``.
    """
    problems = []

    def check_table(node: dict, path: str) -> None:
        tag = node.get("tag")
        if tag not in TAGS:
            problems.append(f"{where}: {path}: tag {tag!r} is not one of {', '.join(TAGS)}")
        if "value" in node and not (isinstance(node.get("unit"), str) and node["unit"].strip()):
            problems.append(f"{where}: {path}: number without a unit")
        if tag == "illustrative" and not str(node.get("illustrative", "")).strip():
            problems.append(f"{where}: {path}: illustrative value without the reason and how made")
        if tag in TAGS and tag != "illustrative" and not str(node.get("source", "")).strip():
            problems.append(f"{where}: {path}: tag {tag} without a source")
        if str(node.get("unit", "")).startswith("GBP"):
            year = node.get("price_year")
            m = FY.match(str(year)) if year is not None else None
            if m is None or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
                problems.append(f"{where}: {path}: money without a price_year like '2021/22'")

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            if "tag" in node:
                check_table(node, path)
                return
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            if path.rsplit(".", 1)[-1] not in STRUCTURAL:
                problems.append(f"{where}: {path}: bare number {node} without unit, tag or source")

    walk(data, "")
    return problems


def money_tables(node, path: str = ""):
    """``(path, table)`` of every money quantity under ``node``."""
    if isinstance(node, dict):
        if str(node.get("unit", "")).startswith("GBP") and "value" in node:
            yield path, node
            return
        for key, value in node.items():
            yield from money_tables(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from money_tables(item, f"{path}[{i}]")


def read(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_every_number_in_the_pathway_files_has_a_unit_and_a_source_tag():
    assert {p.stem for p in FILES} >= {"common", "renal", "critical_care", "mental_health", "liver"}
    problems = [msg for path in FILES for msg in label_problems(read(path), path.name)]
    assert not problems, "\n".join(problems)


RENAL = (PATHWAY_DIR / "renal.toml").read_text(encoding="utf-8")
BROKEN = {
    "no unit": ('unit = "persons per registered person", range = [0.008', "range = [0.008"),
    "no tag": ('tag = "S", source = "UKRR 11th', 'source = "UKRR 11th'),
    "no source": ('tag = "S", source = "UKRR 11th report: ', 'tag = "S", note2 = "'),
    "no reason": ('illustrative = "switch to PD; not sourced"', 'note = "switch"'),
    "no price year": ('price_year = "2009/10", ', ""),
    "bad price year": ('price_year = "2009/10"', 'price_year = "2009/11"'),
    "bare number": (
        'ramp_years = 3\ncost_basis = "per_treated_event"',
        "ramp_years = 3\nshare = 0.5",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_the_label_check_catches_each_kind_of_unlabelled_number(kind):
    old, new = BROKEN[kind]
    assert old in RENAL, old
    problems = label_problems(tomllib.loads(RENAL.replace(old, new, 1)), "renal.toml")
    assert len(problems) >= 1, kind
    assert all(p.startswith("renal.toml: ") for p in problems)
    assert not label_problems(tomllib.loads(RENAL), "renal.toml")


# ------------------------------------------------------------------------------ one price base


@lru_cache(maxsize=1)
def _inputs():
    return load_inputs()


def test_one_stated_price_base_and_no_cost_priced_after_it():
    base_year = int(_inputs().attrs["base_year"])
    label = f"{base_year}/{(base_year + 1) % 100:02d}"
    common = (PATHWAY_DIR / "common.toml").read_text(encoding="utf-8")
    assert f"{label} prices" in read(PATHWAY_DIR / "common.toml")["description"]
    assert "PRICE BASE" in common
    n = 0
    for path in FILES:
        for where, q in money_tables(read(path)):
            n += 1
            assert int(q["price_year"][:4]) <= base_year, (
                f"{path.name}: {where}: price year {q['price_year']} after the price base {label}"
            )
    assert n > 40


# ------------------------------------------------------------------------------ docs in sync


def _docs_module():
    spec = importlib.util.spec_from_file_location(
        "alloc_docs_pathway_sources", REPO / "docs" / "pathway_sources.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_sources_section_matches_the_pathway_files():
    docs = _docs_module()
    page = docs.PAGE.read_text(encoding="utf-8")
    base_year = int(_inputs().attrs["base_year"])
    assert docs.current_block(page) == docs.sources_section(base_year).strip("\n"), (
        "docs/methodology/pathways.md is out of date: run python docs/pathway_sources.py --write"
    )
    # Every money quantity of the four pathway files is in the tables, with its price year.
    for name in docs.ORDER:
        for where, q in money_tables(
            {
                k: v
                for k, v in read(PATHWAY_DIR / f"{name}.toml").items()
                if k in ("cohorts", "levers")
            }
        ):
            assert f"| `{where}` |" in page and q["price_year"] in page, where


def test_docs_table_shows_the_inflation_to_the_price_base():
    # An independent check of the generated "value in base-year prices" column: 100 GBP priced
    # 2015/16 is 100 x 1.025^10 = 128 GBP in 2025/26 prices at 2.5% a year.
    docs = _docs_module()
    data = {
        "levers": {
            "x": {
                "unit_cost": {
                    "value": 100.0,
                    "unit": "GBP per head per year",
                    "price_year": "2015/16",
                    "tag": "illustrative",
                    "illustrative": "test",
                }
            }
        }
    }
    table, counts = docs.pathway_table(data, 2025, 0.025)
    assert "| 2015/16 | 128 |" in table and counts["illustrative"] == 1


# ------------------------------------------------------------------------------ secure repatriation

YEARS = list(range(2025, 2031))
MEDIUM = "[cohorts.adult_secure.states.medium_secure]"
OUT = "[cohorts.adult_secure.states.medium_secure_out_of_area]"
OUT_ROW = "[cohorts.adult_secure.transitions.medium_secure_out_of_area]"


def _block(text: str, header: str) -> tuple[int, int]:
    start = text.index(header)
    nxt = text.find("\n[", start + len(header))
    return start, (len(text) if nxt < 0 else nxt)


def _sub_in_block(text: str, header: str, pattern: str, repl: str) -> str:
    start, end = _block(text, header)
    block, n = re.subn(pattern, repl, text[start:end])
    assert n >= 1, (header, pattern)
    return text[:start] + block + text[end:]


def _secure_file(tmp_path: Path, in_area: float, out_of_area: float) -> Path:
    """The shipped mental-health file with two day prices [GBP per person-year, 2025/26] and an
    out-of-area exit row whose non-repatriation split equals the in-area row's, so repatriation
    only moves where people spend the same time (both stays are exponential with one mean)."""
    text = (PATHWAY_DIR / "mental_health.toml").read_text(encoding="utf-8")
    cost = r'amount = \{ value = [0-9.e+]+, unit = "GBP per person-year", price_year = "[^"]+", range = \[[^\]]+\]'
    for header, price in ((MEDIUM, in_area), (OUT, out_of_area)):
        text = _sub_in_block(
            text,
            header,
            cost,
            f'amount = {{ value = {price}, unit = "GBP per person-year", price_year = "2025/26", '
            f"range = [{price}, {price}]",
        )
    medium_row = read(PATHWAY_DIR / "mental_health.toml")["cohorts"]["adult_secure"]["transitions"]
    los_in = medium_row["medium_secure"]["los"]["value"]
    assert medium_row["medium_secure_out_of_area"]["los"]["value"] == los_in
    split = {d: q["value"] for d, q in medium_row["medium_secure"]["to"].items()}
    back = medium_row["medium_secure_out_of_area"]["to"]["medium_secure"]["value"]
    assert split["medium_secure_out_of_area"] == 0.0
    for dest, share in split.items():
        if dest == "medium_secure_out_of_area":
            continue
        text = _sub_in_block(
            text,
            OUT_ROW,
            rf"to\.{dest} = \{{ value = [0-9.]+, unit = \"fraction\", range = \[[^\]]+\]",
            f'to.{dest} = {{ value = {share * (1 - back)!r}, unit = "fraction", range = [0.0, 1.0]',
        )
    path = tmp_path / "mental_health.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _secure_saving(files: dict, icbs=(0, 7)) -> tuple[float, float]:
    """(saving to the delegated specialised budget, lever cost) of secure_repatriation [GBP]."""
    inputs = _inputs()
    pop = project_population(inputs["gp_pop"], YEARS, 0.005).isel(icb=list(icbs))
    baseline = inputs["baseline"].isel(icb=list(icbs))
    section = PathwaysSection(
        files=files, levers=[{"pathway": "mental_health", "lever": "secure_repatriation"}]
    )
    ds = project_left_shift(section, baseline, pop, YEARS, 0.025, "test").isel(draw=0)
    line = ds["specialised_counterfactual"].sel(service="mental_health_secure") - ds[
        "specialised_scenario"
    ].sel(service="mental_health_secure")
    return float(line.sum()), float(ds["lever_cost"].sum())


@pytest.mark.parametrize("in_area,out_of_area", [(200_000.0, 300_000.0), (300_000.0, 200_000.0)])
def test_secure_repatriation_saves_money_when_in_area_is_cheaper(tmp_path, in_area, out_of_area):
    # The sign follows the price gap. Not at a zero gap: a repatriated person leaves the
    # out-of-area bed during a step and joins the in-area bed (an earlier state in the file) at
    # the start of the next, so about half a month per repatriation is costed nowhere; with equal
    # prices that alone shows a saving of about a fifth of the 100,000 GBP-gap saving.
    path = _secure_file(tmp_path, in_area, out_of_area)
    saving, _ = _secure_saving({"mental_health": str(path)})
    assert np.sign(saving) == np.sign(out_of_area - in_area), saving


def test_shipped_secure_prices_make_repatriation_save_money():
    # The sources (an independent-sector medium secure bed at GBP 540 a night in 2007/08 against
    # an NHS medium secure year at GBP 165,000 in 2011/12, both S-weak) say the out-of-area bed
    # is dearer in the price base; the lever then saves more than it costs.
    common, _ = load_common()
    rate = common.cost_inflation.value
    base_year = int(_inputs().attrs["base_year"])
    states = read(PATHWAY_DIR / "mental_health.toml")["cohorts"]["adult_secure"]["states"]

    def in_base_prices(state):
        (item,) = states[state]["costs"]
        q = item["amount"]
        return q["value"] * (1 + rate) ** (base_year - int(q["price_year"][:4]))

    assert in_base_prices("medium_secure_out_of_area") > in_base_prices("medium_secure")
    saving, lever_cost = _secure_saving({}, icbs=range(len(_inputs()["icb"])))
    assert saving > lever_cost > 0, (saving, lever_cost)
