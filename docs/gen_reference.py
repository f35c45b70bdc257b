"""Generate the reference pages of the documentation site from the repository itself.

Nothing in these pages is copied by hand: every table is rendered, at build time, from

- ``models/policy/*.toml``, ``models/formula/*.toml``, ``models/pathways/*.toml`` and
  ``models/scenarios/*.toml`` (parameters with value, unit, range, price year, tag and source);
- ``data/assumptions.toml``, ``data/README.md`` and the CSV headers in ``data/``;
- the click commands of ``alloc.cli.main`` (the CLI reference is their ``--help`` text);
- the modules of the ``alloc`` package (one API page each, filled by mkdocstrings).

``docs/hooks.py`` adds the pages to the mkdocs build (``mkdocs build`` / ``mkdocs serve``). To
look at them without mkdocs, write them to a folder::

    python docs/gen_reference.py /tmp/reference

Units of policy and formula fields are not stored in those TOML files; they are declared here
once per *field name* (:data:`POLICY_FIELDS`, :data:`FORMULA_FIELDS`). A field that appears in a
file without a declaration stops the build, so a new parameter cannot go undocumented.
"""

from __future__ import annotations

import csv
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
DATA = REPO / "data"

# Field name -> (unit, meaning). Values, sources and descriptions come from the files.
POLICY_FIELDS = {
    "kind": ("text", "the rule: historic_cost, immediate, common_dft, proportional or deadline"),
    "min_growth": (
        "fraction per year",
        "floor on growth over the previous year's allocation, measured on `growth_basis`",
    ),
    "max_growth": (
        "fraction per year",
        "cap on growth over the previous year's allocation, measured on `growth_basis`",
    ),
    "growth_basis": (
        "cash \\| real \\| per_head",
        "how floors and caps are measured: cash, cash "
        "less the GDP deflator, or per registered person",
    ),
    "max_below_target": (
        "fraction of target",
        "adds the floor target x (1 - x): no ICB ends a year more than x below target",
    ),
    "convergence_rate": (
        "fraction of the gap per year",
        "share of the gap between the uplifted allocation and the target closed each year",
    ),
    "deadline": (
        "financial year",
        "kind deadline: every ICB is within `band` of target in this year and every later year",
    ),
    "band": (
        "fraction of target",
        "kind deadline: largest permitted absolute distance from target from the deadline on; the "
        "common convergence rate is the smallest that meets it",
    ),
    "fallback": (
        "error \\| relax",
        "what happens when floors (caps) cannot all be met: stop, "
        "or relax them to uniform growth that year",
    ),
}
POLICY_TEXT = ("description", "values", "source", "name")

FORMULA_FIELDS = {
    "population_vintage": ("`projected` or a year", "population base of the targets"),
    "need_index_vintage": (
        "`latest` or a year",
        "which year's weighted populations set the need indices",
    ),
}
SERVICE_FIELDS = {
    "need_component": (
        "component name",
        "core weighted-population component whose need index the service line uses",
    ),
    "age_curve": ("curve name", "age-sex cost curve (acts only with age-sex populations)"),
    "age_standardise": ("curve name", "curve the component's need index is standardised by"),
    "mff_exponent": ("exponent (dimensionless)", "power of the cost index applied: 0 = none"),
    "health_inequalities_weight": ("fraction", "weight h of the health-inequalities blend"),
    "basis": ("text", "why this component (source or assumption)"),
}
FORMULA_TEXT = ("name", "description", "status", "services", "curves")

TAG_MEANING = {
    "S": "stated by the source",
    "S-weak": "stated by a weak or secondary source",
    "I": "inferred by the stated arithmetic from sourced numbers",
    "illustrative": "made up for the example (how: in the source column)",
}

API_SKIP = ("alloc.cli.",)  # the CLI reference covers the command modules


# ---------------------------------------------------------------------------------------------
# Small helpers


def esc(text) -> str:
    """Text safe inside a Markdown table cell (no pipes, no links, no HTML, no emphasis)."""
    text = " ".join(str(text).split())
    for ch in "\\|[]*`":
        text = text.replace(ch, "\\" + ch)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def fmt_value(value) -> str:
    """A parameter value as text; year-keyed tables as ``2026/27: 0.01; 2028/29: 0.02``."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {fmt_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(fmt_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rel(path: Path) -> str:
    """Path as written in the repository (``models/policy/common_dft.toml``)."""
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return path.as_posix()


def header_comment(path: Path) -> str:
    """The comment block at the top of a TOML file (its sources and method notes), unindented."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            lines.append(line[1:].removeprefix(" "))
        elif line.strip() or lines:
            break
    return "\n".join(lines).strip()


def comment_block(path: Path) -> str:
    text = header_comment(path)
    if not text:
        return ""
    return (
        f'??? note "Notes at the top of `{rel(path)}`"\n\n'
        + "\n".join(
            "    " + line if line else "" for line in ["```text", *text.splitlines(), "```"]
        )
        + "\n\n"
    )


def read(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


HIDE_TOC = "---\nhide:\n  - toc\n---\n\n"  # front matter: wide tables get the page's full width

GENERATED = (
    "<!-- Generated by docs/gen_reference.py from {src} at build time: edit the "
    "source files, not this page. -->\n\n"
)


# ---------------------------------------------------------------------------------------------
# Policies


def policy_page() -> str:
    files = sorted((MODELS / "policy").glob("*.toml"))
    out = [
        HIDE_TOC,
        GENERATED.format(src="models/policy/*.toml"),
        "# Policy parameters\n\n",
        "Every shipped pace-of-change policy (`models/policy/`), with each parameter's value "
        "and unit and the file's own description, values statement and source. A scenario "
        'picks one with `[policy] use = "<name>"` and may override any parameter (see '
        "[Choosing a policy](../../guide/policies.md)). A parameter left out takes the "
        'default of its kind: no floor or cap, `growth_basis = "cash"`, '
        '`fallback = "error"`.\n\n',
    ]
    rows = []
    for path in files:
        data = read(path)
        params = [
            f"`{k}` = {esc(fmt_value(v))}"
            for k, v in data.items()
            if k not in POLICY_TEXT and k != "kind"
        ]
        rows.append(
            [
                f"[`{path.stem}`](#{path.stem})",
                f"`{data['kind']}`",
                "<br>".join(params) or "none",
                esc(data.get("values", "")),
            ]
        )
    out.append(table(["policy", "kind", "parameters", "values it embodies"], rows))
    out.append("\n## Fields\n\n")
    out.append(
        table(
            ["field", "unit", "meaning"], [[f"`{k}`", u, m] for k, (u, m) in POLICY_FIELDS.items()]
        )
    )
    for path in files:
        data = read(path)
        unknown = set(data) - set(POLICY_FIELDS) - set(POLICY_TEXT)
        if unknown:
            raise ValueError(
                f"{rel(path)}: field(s) {sorted(unknown)} have no unit in "
                "docs/gen_reference.py POLICY_FIELDS"
            )
        out.append(f"\n## {path.stem}\n\n")
        out.append(f"File `{rel(path)}`.\n\n")
        out.append(f"**Rule.** {esc(data.get('description', ''))}\n\n")
        out.append(f"**Values.** {esc(data.get('values', ''))}\n\n")
        out.append(f"**Source.** {esc(data.get('source', ''))}\n\n")
        rows = [
            [f"`{k}`", esc(fmt_value(v)), POLICY_FIELDS[k][0], POLICY_FIELDS[k][1]]
            for k, v in data.items()
            if k in POLICY_FIELDS
        ]
        out.append(table(["parameter", "value", "unit", "meaning"], rows))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Formulas


def formula_page() -> str:
    files = sorted((MODELS / "formula").glob("*.toml"))
    out = [
        HIDE_TOC,
        GENERATED.format(src="models/formula/*.toml"),
        "# Formula parameters\n\n",
        "Every shipped target formula (`models/formula/`): per service line, the need "
        "component, age-sex curve, cost-index exponent and health-inequalities weight, with "
        "the basis the file gives; then the age-sex curves. The method is in "
        "[Needs formula](../../methodology/formula.md).\n\n",
    ]
    out.append(
        table(
            ["formula", "status", "description"],
            [
                [
                    f"[`{p.stem}`](#{p.stem})",
                    esc(read(p).get("status", "")),
                    esc(read(p).get("description", "")),
                ]
                for p in files
            ],
        )
    )
    out.append("\n## Fields\n\n")
    out.append(
        table(
            ["field", "unit", "meaning"],
            [[f"`{k}`", u, m] for k, (u, m) in {**FORMULA_FIELDS, **SERVICE_FIELDS}.items()],
        )
    )
    for path in files:
        data = read(path)
        unknown = set(data) - set(FORMULA_FIELDS) - set(FORMULA_TEXT)
        if unknown:
            raise ValueError(
                f"{rel(path)}: field(s) {sorted(unknown)} have no unit in "
                "docs/gen_reference.py FORMULA_FIELDS"
            )
        out.append(f"\n## {path.stem}\n\n")
        out.append(
            f"File `{rel(path)}`: {esc(data.get('description', ''))} "
            f"(status: {esc(data.get('status', ''))}).\n\n"
        )
        out.append(comment_block(path))
        top = [
            [f"`{k}`", esc(fmt_value(data[k])), FORMULA_FIELDS[k][0]]
            for k in FORMULA_FIELDS
            if k in data
        ]
        if top:
            out.append(table(["setting", "value", "unit"], top) + "\n")
        services = data.get("services", {})
        keys = [k for k in SERVICE_FIELDS if any(k in s for s in services.values())]
        for name, svc in services.items():
            unknown = set(svc) - set(SERVICE_FIELDS)
            if unknown:
                raise ValueError(
                    f"{rel(path)}: services.{name}: field(s) {sorted(unknown)} "
                    "have no unit in docs/gen_reference.py SERVICE_FIELDS"
                )
        header = ["service line"] + [f"`{k}` [{SERVICE_FIELDS[k][0]}]" for k in keys]
        rows = [
            [f"`{name}`"] + [esc(fmt_value(svc.get(k, ""))) for k in keys]
            for name, svc in services.items()
        ]
        out.append(table(header, rows))
        curves = data.get("curves", {})
        if curves:
            out.append(f"\n### Age-sex curves of `{path.stem}`\n\n")
            for cname, curve in curves.items():
                out.append(
                    f"**`{cname}`** ({esc(curve.get('status', ''))}; "
                    f"unit: {esc(curve.get('unit', ''))}). {esc(curve.get('method', ''))}"
                    "\n\n"
                )
                ages = curve.get("age_from", [])
                bands = [f"{a}-{b - 1}" for a, b in zip(ages, ages[1:])] + [f"{ages[-1]}+"]
                rows = [
                    [sex] + [fmt_value(v) for v in curve.get(sex, [])]
                    for sex in ("male", "female")
                    if sex in curve
                ]
                out.append(table(["sex"] + bands, rows) + "\n")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Pathways


def is_quantity(node) -> bool:
    return isinstance(node, dict) and "value" in node and "tag" in node


def quantities(node, path: str = "") -> list[tuple[str, dict]]:
    """Every quantity table under ``node`` by a readable dotted path."""
    found = []
    if is_quantity(node):
        return [(path, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found += quantities(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            label = str(i)
            if isinstance(item, dict):
                tag = item.get("payer") or item.get("type")
                if tag:
                    label = f"{i}:{tag}"
            found += quantities(item, f"{path}[{label}]")
    return found


def source_text(q: dict) -> str:
    parts = []
    if q.get("source"):
        parts.append(q["source"])
    if q.get("illustrative"):
        parts.append("illustrative: " + q["illustrative"])
    if q.get("note"):
        parts.append("note: " + q["note"])
    return esc("; ".join(parts))


def quantity_table(items: list[tuple[str, dict]]) -> str:
    rows = []
    for path, q in items:
        rng = q.get("range")
        rows.append(
            [
                f"`{path}`",
                fmt_value(q["value"]),
                esc(q.get("unit", "")),
                esc(fmt_value(rng)) if rng is not None else "",
                q.get("price_year", ""),
                q.get("tag", ""),
                source_text(q),
            ]
        )
    return table(
        ["parameter", "value", "unit", "[low, high]", "price year", "tag", "source / how made"],
        rows,
    )


def effect_targets(effect: dict) -> str:
    if "transitions" in effect:
        return ", ".join(f"{a} -> {b}" for a, b in effect["transitions"])
    for key in ("inflows", "states"):
        if key in effect:
            return f"{key}: " + ", ".join(effect[key])
    return ""


def pathway_page(path: Path) -> str:
    data = read(path)
    name = data.get("pathway", path.stem)
    out = [
        HIDE_TOC,
        GENERATED.format(src=rel(path)),
        f"# Pathway parameters: {name}\n\n",
        f"**{esc(data.get('title', name))}.** {esc(data.get('description', ''))}\n\n",
        f"**Status.** {esc(data.get('status', ''))}\n\n",
        f"File `{rel(path)}`, module `alloc/pathways/{name}.py`; structure and method in "
        "[Pathways](../../methodology/pathways.md). Tags: "
        + "; ".join(f"`{k}` {v}" for k, v in TAG_MEANING.items())
        + ".\n\n",
        comment_block(path),
    ]
    total = 0
    for cname, cohort in data.get("cohorts", {}).items():
        out.append(
            f"## Cohort `{cname}`\n\n{esc(cohort.get('label', ''))}; service line "
            f"`{cohort.get('service_line', '')}`; substeps per year: "
            f"{cohort.get('substeps', 1)}.\n\n"
        )
        for section, body in cohort.items():
            if not isinstance(body, dict):
                continue
            items = quantities(body)
            if not items:
                continue
            total += len(items)
            out.append(f"### {section.replace('_', ' ').capitalize()}\n\n")
            if section == "transitions":
                kinds = sorted({f"`{k}`: {v.get('kind', '')}" for k, v in body.items()})
                out.append("Row kind by origin state: " + ", ".join(kinds) + ".\n\n")
            out.append(quantity_table(items) + "\n")
    levers = data.get("levers", {})
    if levers:
        out.append("## Levers\n\n")
        out.append(
            table(
                [
                    "lever",
                    "label",
                    "cohort",
                    "payer",
                    "cost basis",
                    "ramp",
                    "ramp years",
                    "effects on",
                ],
                [
                    [
                        f"[`{k}`](#lever-{k.replace('_', '-')})",
                        esc(v.get("label", "")),
                        f"`{v.get('cohort', '')}`",
                        f"`{v.get('payer', '')}`",
                        f"`{v.get('cost_basis', '')}`",
                        f"`{v.get('ramp', '')}`",
                        v.get("ramp_years", ""),
                        esc(
                            "; ".join(
                                f"{e.get('type')}: {effect_targets(e)}"
                                for e in v.get("effects", [])
                            )
                        ),
                    ]
                    for k, v in levers.items()
                ],
            )
            + "\n"
        )
        for lname, lever in levers.items():
            items = quantities(lever)
            total += len(items)
            out.append(
                f"### Lever `{lname}` {{#lever-{lname.replace('_', '-')}}}\n\n"
                f"**{esc(lever.get('label', ''))}.** {esc(lever.get('description', ''))}"
                f" Eligible population: {esc(lever.get('eligible_population', ''))}.\n\n"
            )
            out.append(quantity_table(items) + "\n")
    for section, title, what in (  # need by ICB, published activity, bed capacity
        ("drivers", "Need drivers by ICB", "index"),
        ("calibration", "Calibration to published activity", "activity"),
        ("capacity", "Capacity checks", "activity"),
    ):
        for i, (key, entry) in enumerate(data.get(section, {}).items()):
            items = quantities(entry)
            total += len(items)
            if i == 0:
                out.append(f"## {title}\n\n")
            targets = ", ".join(
                f"{k} {', '.join(f'`{s}`' for s in entry[k])}"
                for k in ("states", "strata", "levers")
                if entry.get(k)
            )
            if entry.get("inflows"):
                targets += (", " if targets else "") + "all inflows"
            out.append(
                f"### `{section}.{key}`\n\n**{esc(entry.get('label', ''))}.** Cohort "
                f"`{entry.get('cohort', '')}`; {what} `{entry.get(what, '')}`"
                + (f"; acts on {esc(targets)}" if targets else "")
                + (f"; {esc(entry['area'])} {esc(entry['year'])}" if entry.get("area") else "")
                + (f". {esc(entry['mechanism'])}" if entry.get("mechanism") else "")
                + "\n\n"
            )
            out.append(quantity_table(items) + "\n")
    out.append(f"{total} quantities in this file.\n")
    return "".join(out)


def common_page(path: Path) -> str:
    data = read(path)
    items = quantities({k: v for k, v in data.items() if is_quantity(v)})
    return "".join(
        [
            HIDE_TOC,
            GENERATED.format(src=rel(path)),
            "# Pathway parameters: common assumptions\n\n",
            f"{esc(data.get('description', ''))} File `{rel(path)}`; a scenario may override the "
            "spend assumptions in `[spend]` and the discount rate in `[pathways]`.\n\n",
            comment_block(path),
            quantity_table(items),
        ]
    )


def pathway_files() -> list[Path]:
    return sorted(p for p in (MODELS / "pathways").glob("*.toml") if p.stem != "common")


# ---------------------------------------------------------------------------------------------
# Assumptions, scenarios and data


def assumptions_page() -> str:
    path = DATA / "assumptions.toml"
    data = read(path)
    rows = [
        [
            f"`{k}`",
            esc(fmt_value(v.get("value"))),
            esc(v.get("unit", "")),
            esc(v.get("status", "")),
            esc(v.get("basis", "")),
        ]
        for k, v in data.items()
    ]
    return "".join(
        [
            GENERATED.format(src=rel(path)),
            "# Data assumptions\n\n",
            "Used when a scenario does not set its own value (`data/assumptions.toml`; a dataset "
            "folder of your own carries its own copy). Override them in a scenario with the key of "
            "the same name, e.g. `envelope_growth = 0.03`.\n\n",
            table(["assumption", "value", "unit", "status", "basis"], rows),
            "\nThe spend-projection and discounting assumptions of the left-shift pathways are in "
            "[Pathway parameters: common](pathway_common.md).\n",
        ]
    )


def glossary_page() -> str:
    """The glossary of alloc.outputs.glossary: the text of `alloc glossary` and the Notes sheet."""
    if str(REPO) not in sys.path[:1]:
        sys.path.insert(0, str(REPO))
    from alloc.outputs.glossary import GLOSSARY

    out = [
        GENERATED.format(src="alloc/outputs/glossary.py"),
        "# Glossary\n\n",
        "The terms of alloc's outputs. The same text is printed by `alloc glossary [TERM]` and "
        "is on the Notes sheet of every results workbook.\n\n",
    ]
    out += [f"**{term}**\n:   {text}\n\n" for term, text in GLOSSARY]
    return "".join(out)


def scenarios_page() -> str:
    files = sorted((MODELS / "scenarios").glob("*.toml"))
    out = [
        GENERATED.format(src="models/scenarios/*.toml"),
        "# Shipped scenarios\n\n",
        "Run any of these by name (`alloc run <name>`), or copy one as the start of your "
        "own (`alloc run my_file.toml`). How to write one: "
        "[Writing scenarios](../scenarios.md).\n\n",
    ]
    rows = []
    for path in files:
        data = read(path)
        pol = data.get("policy", {})
        overrides = ", ".join(f"{k} = {fmt_value(v)}" for k, v in pol.items() if k != "use")
        levers = ", ".join(
            f"{lv['pathway']}.{lv['lever']}" for lv in data.get("pathways", {}).get("levers", [])
        )
        savings = data.get("savings", {}).get("policy", "")
        rows.append(
            [
                f"[`{path.stem}`](#{path.stem})",
                f"`{pol.get('use', '')}`" + (f" ({esc(overrides)})" if overrides else ""),
                f"{data.get('base_year', '')} to {data.get('end_year', '')}",
                data.get("convergence_level", "total"),
                esc(levers) or "none",
                savings or ("retained" if levers else ""),
            ]
        )
    out.append(
        table(["scenario", "policy", "years", "convergence", "left-shift levers", "savings"], rows)
    )
    for path in files:
        data = read(path)
        out.append(
            f"\n## {path.stem}\n\n{esc(data.get('description', ''))}\n\n"
            f"`{rel(path)}`:\n\n```toml\n{path.read_text(encoding='utf-8').rstrip()}\n"
            "```\n"
        )
    return "".join(out)


def data_page() -> str:
    text = (DATA / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"^# .*\n", "", text, count=1)
    out = [
        GENERATED.format(src="data/README.md and the CSV headers in data/"),
        "# Data: real, derived, assumed or illustrative\n\n",
        "This page is `data/README.md` as it is in the repository, followed by the columns of "
        "each CSV file. The numbers the default scenario prints are a worked example: the "
        "historic-cost baseline is **illustrative**.\n\n",
        text.strip(),
        "\n\n",
    ]
    out.append("## Columns of each file\n\n")
    rows = []
    for path in sorted(DATA.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            n = sum(1 for _ in reader)
        rows.append([f"`{path.name}`", n, ", ".join(f"`{c}`" for c in header)])
    out.append(table(["file", "rows", "columns"], rows))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# CLI and API


def _checkout_alloc():
    """Import ``alloc`` from this checkout, even if another copy is installed or imported."""
    import importlib

    if str(REPO) not in sys.path[:1]:
        sys.path.insert(0, str(REPO))
    loaded = sys.modules.get("alloc")
    if loaded is not None and not Path(loaded.__file__).resolve().is_relative_to(REPO):
        for name in [n for n in sys.modules if n == "alloc" or n.startswith("alloc.")]:
            del sys.modules[name]
    return importlib.import_module("alloc")


def cli_page() -> str:
    """Every ``alloc`` command's ``--help``, from the click objects."""
    import click

    _checkout_alloc()
    from alloc.cli import main

    out = [
        GENERATED.format(src="the click commands of alloc.cli.main"),
        "# Command-line reference\n\n",
        "The `--help` text of every `alloc` command (as `alloc COMMAND --help` prints it). "
        "Bad input always gives one line `error: <file>: <field>: <problem>` and exit "
        "status 2, with nothing written.\n\n",
    ]
    root = click.Context(main, info_name="alloc", terminal_width=100, max_content_width=100)
    out.append(f"```text\n{main.get_help(root)}\n```\n")
    for name in sorted(main.commands):
        cmd = main.commands[name]
        ctx = click.Context(
            cmd, info_name=name, parent=root, terminal_width=100, max_content_width=100
        )
        out.append(f"\n## alloc {name}\n\n```text\n{cmd.get_help(ctx)}\n```\n")
    return "".join(out)


def api_modules() -> list[str]:
    """Public modules of the ``alloc`` package (no ``_private`` ones), found on disk (nothing is
    imported, so an installed copy of alloc cannot stand in for this checkout)."""
    names = []
    for path in sorted((REPO / "alloc").rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if any(p.startswith("_") for p in parts) or name.startswith(API_SKIP):
            continue
        if not (path.parent / "__init__.py").exists():
            continue
        names.append(name)
    return sorted(names)


def api_page(module: str) -> str:
    return GENERATED.format(src=f"the docstrings of {module}") + f"# `{module}`\n\n::: {module}\n"


def api_index() -> str:
    out = [
        GENERATED.format(src="the alloc package"),
        "# API reference\n\n",
        "Generated from the numpydoc docstrings of every public module, grouped by layer "
        "([architecture](../../architecture.md)). Start with "
        "[`alloc.allocation.engine`](alloc.allocation.engine.md) (`run(scenario)` returns "
        "the result Dataset) and [`alloc.uncertainty.ensemble`](alloc.uncertainty.ensemble.md)."
        "\n\n",
    ]
    rows = []
    for module in api_modules():
        doc = _module_summary(module)
        rows.append([f"[`{module}`]({module}.md)", esc(doc)])
    out.append(table(["module", "summary"], rows))
    return "".join(out)


def _module_summary(module: str) -> str:
    import ast

    parts = module.split(".")
    base = REPO.joinpath(*parts)
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().split("\n\n")[0]


# ---------------------------------------------------------------------------------------------


def pages() -> dict[str, str]:
    """Every generated page: ``{path relative to docs/: Markdown}``."""
    out = {
        "reference/parameters/policies.md": policy_page(),
        "reference/parameters/formulas.md": formula_page(),
        "reference/parameters/assumptions.md": assumptions_page(),
        "reference/parameters/pathway_common.md": common_page(MODELS / "pathways" / "common.toml"),
        "reference/scenarios.md": scenarios_page(),
        "reference/data.md": data_page(),
        "reference/cli.md": cli_page(),
        "reference/glossary.md": glossary_page(),
        "reference/api/index.md": api_index(),
    }
    for path in pathway_files():
        out[f"reference/parameters/pathway_{path.stem}.md"] = pathway_page(path)
    for module in api_modules():
        out[f"reference/api/{module}.md"] = api_page(module)
    return out


def nav_pathways() -> list[dict]:
    return [{"Common assumptions": "reference/parameters/pathway_common.md"}] + [
        {p.stem.replace("_", " ").capitalize(): f"reference/parameters/pathway_{p.stem}.md"}
        for p in pathway_files()
    ]


def nav_api() -> list:
    return ["reference/api/index.md"] + [{m: f"reference/api/{m}.md"} for m in api_modules()]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/gen_reference.py OUTPUT_FOLDER")
    target = Path(sys.argv[1])
    for rel_path, text in pages().items():
        dest = target / rel_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
    print(f"wrote {len(pages())} pages under {target}")
