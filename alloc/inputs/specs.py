"""Read a TOML spec file into a pydantic model, turning every problem into one AllocError."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from alloc.errors import AllocError

if TYPE_CHECKING:  # pydantic is imported when a spec is validated: `alloc list` reads TOML only
    from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound="BaseModel")


def read_toml(path: Path) -> dict:
    """Parse a TOML file, or raise AllocError naming it."""
    path = Path(path)
    if not path.is_file():
        raise AllocError(path, "file", "expected a TOML file; it does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AllocError(path, "file", f"expected valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise AllocError(path, "file", "expected a UTF-8 text file") from None


class FieldError(ValueError):
    """Raised by a model-level validator to name the field at fault (pydantic would name none)."""

    def __init__(self, field: str, problem: str):
        super().__init__(problem)
        self.field = field


def _field_path(err: dict, data) -> list[str]:
    """The parts of an error location that are keys of the input, in order.

    Drops the tags pydantic adds for union members and validators (``float``,
    ``dict[str,float]``, ``function-after[...]``); keeps a missing key at the end.
    """
    loc, parts, node = err["loc"], [], data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            parts.append(str(part))
            node = node[part]
        elif isinstance(part, int) or (err["type"] == "missing" and i == len(loc) - 1):
            parts.append(str(part))
    return parts


def validation_message(exc: ValidationError, data=None) -> tuple[str, str]:
    """The first pydantic error as (dotted field, what was expected and found).

    Of the errors a union gives for one field, the one reaching deepest into the input is the
    most specific (``envelope_growth.2026/27: expected a number`` rather than ``expected a
    table``).
    """
    errors = exc.errors()
    paths = [_field_path(e, data) for e in errors]
    first = paths[0][:1]
    err, path = max(
        ((e, p) for e, p in zip(errors, paths) if p[:1] == first), key=lambda ep: len(ep[1])
    )
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, FieldError):
        return ".".join(path + [cause.field]), str(cause)
    field = ".".join(path)
    kind = err["type"]
    found = err.get("input")
    if kind == "extra_forbidden":
        return field, "unknown key (check the spelling against the documented keys)"
    if kind == "missing":
        return field, "required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if found is None or "found" in message or not path:
        return field, message  # already says what was found, or `found` is the whole file
    return field, f"{message}; found {found!r}"


def validate(model: type[Model], data: dict, source: str | Path) -> Model:
    """Validate ``data`` against ``model``; raise AllocError naming ``source`` and the field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, problem = validation_message(exc, data)
        raise AllocError(source, field or "(top level)", problem) from None


def load_spec(model: type[Model], path: Path) -> Model:
    """Read and validate a TOML spec file."""
    return validate(model, read_toml(path), path)
