"""Locate the shipped `models/` and `data/` folders, in a checkout or an installed wheel.

In a source checkout (or an editable install) they sit beside the `alloc/` package; a built wheel
bundles them as `alloc/_bundled/models` and `alloc/_bundled/data` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder of shipped resources ``name`` (``"models"`` or ``"data"``)."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"alloc is installed without its '{name}' folder")


def models_dir() -> Path:
    """Folder of declarative model specs (formula, policy, scenarios)."""
    return resource_dir("models")


def data_dir() -> Path:
    """Folder of the embedded default dataset."""
    return resource_dir("data")


def suggest(word: str, choices: list[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``choices`` to a mistyped ``word`` (or "")."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=2, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


#: The ``alloc list`` argument that shows each kind of shipped spec.
LIST_COMMAND = {
    "scenarios": "scenarios",
    "policy": "policies",
    "formula": "formulas",
    "pathways": "pathways",
}


def resolve_named(kind: str, name_or_path: str | Path, base: Path | None = None) -> Path:
    """Resolve a spec given by name (``models/<kind>/<name>.toml``) or by path.

    Relative paths are tried against ``base`` (the folder of the file that refers to them) and
    then the working directory. A name that is not shipped raises AllocError naming what was
    typed, the closest shipped names and the ``alloc list`` command that shows them.
    """
    from alloc.errors import AllocError

    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_absolute() and base is not None and (base / path).exists():
            return base / path
        if path.is_dir():
            raise AllocError(text, kind, "expected a TOML file, found a folder")
        return path
    if Path(text).is_dir():
        raise AllocError(
            text, kind, f"expected a {kind.rstrip('s')} name or a .toml file, found a folder"
        )
    path = models_dir() / kind / f"{text}.toml"
    if not path.is_file():
        names = list_named(kind)
        listing = LIST_COMMAND.get(kind, kind)
        raise AllocError(
            kind.rstrip("s"),
            text,
            f"no shipped {kind.rstrip('s')} is called '{text}'.{suggest(text, names)} "
            f"`alloc list {listing}` shows them ({', '.join(names)}); a file path must end in .toml",
        )
    return path


def list_named(kind: str) -> list[str]:
    """Names of the shipped specs of one kind (``formula``, ``policy``, ``scenarios``)."""
    return sorted(p.stem for p in (models_dir() / kind).glob("*.toml"))
