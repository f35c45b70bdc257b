"""The package's layers: imports run one way, there are no import circles, and nothing below the
CLI prints (docs/architecture.md).

Imports are read from the source with ``ast`` (module-level and inside functions alike; imports
under ``if TYPE_CHECKING:`` are for type hints only and are skipped).
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "alloc"

#: Layer of each top-level part of ``alloc`` (``base``: modules every layer may use).
LAYER_OF = {
    "errors": "base",
    "resources": "base",
    "rounding": "base",
    "_version": "base",
    "_compat": "api",
    "__init__": "api",
    "__main__": "api",
    "kernels": "kernels",
    "inputs": "inputs",
    "targets": "targets",
    "pathways": "pathways",
    "allocation": "allocation",
    "uncertainty": "uncertainty",
    "outputs": "outputs",
    "cli": "cli",
    "explore": "explore",
}
#: What each layer may import, besides itself (docs/architecture.md draws this).
MAY_IMPORT = {
    "base": {"base"},
    "kernels": set(),
    "inputs": {"base", "kernels"},
    "targets": {"base", "kernels", "inputs"},
    "pathways": {"base", "kernels", "inputs"},
    "allocation": {"base", "kernels", "inputs", "targets", "pathways"},
    "uncertainty": {"base", "kernels", "inputs", "targets", "pathways", "allocation", "outputs"},
    "outputs": {"base", "inputs"},
    "cli": {
        "base",
        "kernels",
        "inputs",
        "targets",
        "pathways",
        "allocation",
        "uncertainty",
        "outputs",
        "explore",
    },
    "explore": {
        "base",
        "kernels",
        "inputs",
        "targets",
        "pathways",
        "allocation",
        "uncertainty",
        "outputs",
    },
    "api": set(LAYER_OF.values()),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The ``alloc`` modules a file imports (a name imported from a package that is itself a
    module counts as that module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    found = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "alloc")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] == "alloc"
        ):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(files)) - {name} for name, path in files.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return LAYER_OF["__init__"] if len(parts) == 1 else LAYER_OF[parts[1]]


def test_every_part_of_the_package_has_a_layer(graph):
    unknown = sorted({m.split(".")[1] for m in graph if "." in m} - set(LAYER_OF))
    assert not unknown, f"add these to LAYER_OF and docs/architecture.md: {unknown}"


def test_imports_run_one_way(graph):
    wrong = [
        f"{m} ({_layer(m)}) imports {t} ({_layer(t)})"
        for m, targets in sorted(graph.items())
        for t in sorted(targets)
        if t in graph and _layer(t) != _layer(m) and _layer(t) not in MAY_IMPORT[_layer(m)]
    ]
    assert not wrong, "\n".join(wrong)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, found by depth-first search (a package's ``__init__`` importing
    its own submodules lazily is not a circle: Python has imported the package by then)."""

    def edges(m):
        return [t for t in graph.get(m, ()) if t in graph and not t.startswith(m + ".")]

    found, state = [], {}

    def visit(m, stack):
        state[m] = "open"
        stack.append(m)
        for t in edges(m):
            if state.get(t) == "open":
                found.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t, stack)
        stack.pop()
        state[m] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return found


def test_no_import_circles(graph):
    circles = _cycles(graph)
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_the_circle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"p.x": {"p.y"}, "p.y": {"p.x"}}) == [["p.x", "p.y", "p.x"]]
    assert _cycles({"p": {"p.x"}, "p.x": {"p"}}) == []  # a package and its own submodule


def test_nothing_below_the_cli_prints():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if _layer(_module_name(path)) in ("cli", "api"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ("print", "click.echo", "click.secho", "tqdm", "tqdm.tqdm"):
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    "old, new",
    [
        ("alloc.engine", "alloc.allocation.engine"),
        ("alloc.ensemble", "alloc.uncertainty.ensemble"),
        ("alloc.io.results", "alloc.outputs.results"),
    ],
)
def test_old_import_paths_work_with_a_warning(old, new):
    import importlib
    import sys

    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_old_inputs_names_work_with_a_warning():
    import alloc.inputs

    with pytest.warns(DeprecationWarning, match="alloc.inputs.dataset.load_inputs"):
        load_inputs = alloc.inputs.load_inputs
    from alloc.inputs.dataset import load_inputs as new

    assert load_inputs is new
