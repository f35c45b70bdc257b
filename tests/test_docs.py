"""The documentation site builds in strict mode and its worked examples run.

1. ``mkdocs build --strict`` into a temporary folder: any warning (a broken link or anchor, a page
   missing from the build, a docstring mkdocstrings cannot render) fails the test.
2. The examples on the user pages (``docs/*.md`` and ``docs/guide/**/*.md``) are executed in a
   fresh temporary folder per page, in the order they appear:

   - every fenced ``python`` block runs (in one namespace per page, in process), unless the line
     before it (blank lines aside) is ``<!-- skip -->``;
   - a fenced ``bash`` block runs only when marked ``<!-- run -->`` (``bash -euo pipefail``, with
     ``alloc`` and ``python`` on the PATH being this checkout's);
   - a block marked ``<!-- file: NAME -->`` (any language) is written to ``NAME`` first, so a
     scenario shown on a page is the scenario the next command runs;
   - a ``text`` block marked ``<!-- output -->`` must match the output of the block run just
     before it: each of its lines (except lines ``...``) must appear in that output, where
     ``...`` inside a line stands for any text.

Generated pages (``docs/gen_reference.py``) are checked by the build and by the coverage tests at
the end of this file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MARKER = re.compile(r"^<!--\s*(run|skip|output|file:\s*(?P<file>\S+))\s*-->\s*$")
FENCE = re.compile(r"^(?P<fence>```+)\s*(?P<lang>[\w+-]*)")


@dataclass
class Block:
    page: str
    line: int
    lang: str
    code: str
    marker: str | None = None  # "run", "skip", "output" or "file"
    filename: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def user_pages() -> list[Path]:
    """Pages whose examples are executed: the top-level pages and the user guide."""
    pages = sorted(DOCS.glob("*.md")) + sorted((DOCS / "guide").glob("**/*.md"))
    return [p for p in pages if p.is_file()]


def extract_blocks(path: Path) -> list[Block]:
    """Fenced blocks at column 0 of a Markdown page, with the marker comment before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(REPO).as_posix()
    blocks, marker, filename, i = [], None, None, 0
    while i < len(lines):
        line = lines[i]
        m = MARKER.match(line.strip()) if not line.startswith(" ") else None
        fence = FENCE.match(line)
        if m:
            marker = "file" if m.group("file") else m.group(1)
            filename = m.group("file")
        elif fence:
            close = fence.group("fence")
            body, j = [], i + 1
            while j < len(lines) and not lines[j].startswith(close):
                body.append(lines[j])
                j += 1
            blocks.append(
                Block(
                    page,
                    i + 1,
                    fence.group("lang").lower(),
                    "\n".join(body) + "\n",
                    marker,
                    filename,
                )
            )
            marker, filename, i = None, None, j
        elif line.strip():
            marker, filename = None, None
        i += 1
    return blocks


def runnable(blocks: list[Block]) -> list[Block]:
    return [
        b
        for b in blocks
        if b.marker in ("run", "file", "output") or (b.lang == "python" and b.marker != "skip")
    ]


PAGES_WITH_EXAMPLES = [p for p in user_pages() if runnable(extract_blocks(p))]


# ---------------------------------------------------------------------------------------------
# 1. The site builds with no warning


def test_site_builds_strict(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    for page in (
        "index.html",
        "quickstart.html",
        "reference/parameters/policies.html",
        "reference/parameters/pathway_renal.html",
        "reference/data.html",
        "reference/cli.html",
        "reference/api/alloc.allocation.engine.html",
        "reference/api/alloc.kernels.pace.html",
    ):
        assert (site / page).is_file(), f"{page} missing from the built site"
    api = (site / "reference/api/alloc.allocation.engine.html").read_text(encoding="utf-8")
    assert "prepare" in api and "Parameters" in api, "API page has no rendered docstrings"
    assert not (site / "gen_reference.py").exists(), "build scripts must not be published"


def test_broken_links_fail_the_build(tmp_path):
    """The site's link checks, applied to a tiny site with a broken link and a broken anchor."""
    import yaml

    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n## Here\n\n[ok](#here) [page](other.md)\n")
    (docs / "other.md").write_text("# Other\n\n[gone](missing.md) [anchor](index.md#nowhere)\n")
    (tmp_path / "mkdocs.yml").write_text(
        yaml.safe_dump({"site_name": "t", "strict": True, "validation": config["validation"]})
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        timeout=120,
    )
    assert proc.returncode != 0
    assert "missing.md" in proc.stderr and "nowhere" in proc.stderr


# ---------------------------------------------------------------------------------------------
# 2. The examples run


@pytest.fixture
def example_env(tmp_path):
    """PATH with this checkout's ``alloc`` and ``python`` first; charts without a display."""
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    for name, args in (("alloc", "-m alloc"), ("python", "")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {args} "$@"\n')
        shim.chmod(0o755)
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        MPLBACKEND="Agg",
        COLUMNS="200",
    )
    return env


def _check_output(block: Block, output: str | None) -> None:
    assert output is not None, f"{block.where}: an output block must follow a block that runs"
    lines = [" ".join(line.split()) for line in output.splitlines()]
    for expected in block.code.splitlines():
        expected = " ".join(expected.split())
        if not expected or expected == "...":
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in expected.split("...")))
        assert any(pattern.search(line) for line in lines), (
            f"{block.where}: the page shows\n    {expected}\nbut the command printed:\n{output}"
        )


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_examples_run(page, tmp_path, monkeypatch, example_env):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    output: str | None = None
    for block in extract_blocks(page):
        if block.marker == "file":
            (work / block.filename).parent.mkdir(parents=True, exist_ok=True)
            (work / block.filename).write_text(block.code, encoding="utf-8")
        elif block.marker == "output":
            _check_output(block, output)
        elif block.lang == "python" and block.marker != "skip":
            buffer = io.StringIO()
            code = compile("\n" * block.line + block.code, block.where, "exec")
            with contextlib.redirect_stdout(buffer):
                try:
                    exec(code, namespace)  # noqa: S102 - the documented example itself
                except Exception as exc:
                    raise AssertionError(
                        f"{block.where}: the Python example failed: {exc!r}\n{buffer.getvalue()}"
                    ) from exc
            output = buffer.getvalue()
        elif block.marker == "run":
            assert block.lang in ("bash", "sh", "console", "shell"), (
                f"{block.where}: only bash blocks can be marked run"
            )
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block.code],
                cwd=work,
                env=example_env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            output = proc.stdout + proc.stderr
            assert proc.returncode == 0, (
                f"{block.where}: the command failed (exit "
                f"{proc.returncode}):\n{block.code}\n{output}"
            )


def test_examples_are_found():
    """The extractor sees the examples (a parser slip would otherwise skip them all quietly)."""
    found = {
        p.relative_to(DOCS).as_posix(): runnable(extract_blocks(p)) for p in PAGES_WITH_EXAMPLES
    }
    for page in (
        "quickstart.md",
        "scenarios.md",
        "ensembles.md",
        "guide/policies.md",
        "guide/left_shift.md",
        "guide/outputs.md",
        "guide/explain_icb.md",
    ):
        assert found.get(page), f"docs/{page} has no executed example"
    commands = " ".join(b.code for blocks in found.values() for b in blocks if b.marker == "run")
    for command in ("alloc run\n", "alloc ensemble", "alloc template", "left_shift_renal"):
        assert command in commands, f"no executed example runs `{command.strip()}`"


def test_extractor_markers(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(
        "text\n\n<!-- run -->\n\n```bash\nalloc run\n```\n\n```bash\nnot run\n```\n"
        "<!-- file: a.toml -->\n```toml\nx = 1\n```\n<!-- skip -->\n```python\n"
        "1/0\n```\n```python\nprint(1)\n```\n    ```python\nindented\n    ```\n",
        encoding="utf-8",
    )
    page = page.rename(REPO / "docs" / f".test_markers_{os.getpid()}.md")
    try:
        blocks = extract_blocks(page)
    finally:
        page.unlink()
    assert [(b.lang, b.marker) for b in blocks] == [
        ("bash", "run"),
        ("bash", None),
        ("toml", "file"),
        ("python", "skip"),
        ("python", None),
    ]
    assert blocks[2].filename == "a.toml" and blocks[2].code == "x = 1\n"
    assert [b.code for b in runnable(blocks)] == ["alloc run\n", "x = 1\n", "print(1)\n"]


# ---------------------------------------------------------------------------------------------
# 3. The generated reference covers every parameter


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pathway_reference_lists_every_quantity():
    """Each pathway page has one row per quantity the model itself reads from the file."""
    from alloc.inputs.pathway_spec import load_pathway_spec
    from alloc.pathways.base import quantities

    gen = _generator()
    for path in gen.pathway_files():
        spec = load_pathway_spec(path)
        page = gen.pathway_page(path)
        n_model = len(quantities(spec))
        assert f"\n{n_model} quantities in this file." in page, (
            f"{path.name}: the model reads {n_model} quantities; the page lists a different number"
        )
        for q in quantities(spec).values():
            assert f"| {gen.fmt_value(q.value)} | {gen.esc(q.unit)} |" in page


def test_policy_and_formula_reference_list_every_field():
    gen = _generator()
    policies = gen.policy_page()
    for path in sorted((REPO / "models" / "policy").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert f"## {path.stem}" in policies
        for key, value in data.items():
            if key in gen.POLICY_FIELDS:
                assert f"| `{key}` | {gen.esc(gen.fmt_value(value))} |" in policies, (path, key)
    formulas = gen.formula_page()
    for path in sorted((REPO / "models" / "formula").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for service in data["services"]:
            assert f"| `{service}` |" in formulas
    assumptions = gen.assumptions_page()
    for key in tomllib.loads((REPO / "data" / "assumptions.toml").read_text(encoding="utf-8")):
        assert f"| `{key}` |" in assumptions


def test_generator_refuses_undocumented_fields(tmp_path, monkeypatch):
    gen = _generator()
    models = tmp_path / "models"
    (models / "policy").mkdir(parents=True)
    (models / "policy" / "odd.toml").write_text('kind = "immediate"\nsurprise = 1\n')
    monkeypatch.setattr(gen, "MODELS", models)
    with pytest.raises(ValueError, match="surprise"):
        gen.policy_page()
