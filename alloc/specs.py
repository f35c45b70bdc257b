"""Read a TOML spec file into a pydantic model, turning every problem into one AllocError."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from alloc.errors import AllocError

Model = TypeVar("Model", bound=BaseModel)


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


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """The first pydantic error as (dotted field, what was expected and found)."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    kind = err["type"]
    found = err.get("input")
    if kind == "extra_forbidden":
        return field, "unknown key (check the spelling against the documented keys)"
    if kind == "missing":
        return field, "required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    return field, f"{message}; found {found!r}" if found is not None else message


def validate(model: type[Model], data: dict, source: str | Path) -> Model:
    """Validate ``data`` against ``model``; raise AllocError naming ``source`` and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, problem = validation_message(exc)
        raise AllocError(source, field or "(top level)", problem) from None


def load_spec(model: type[Model], path: Path) -> Model:
    """Read and validate a TOML spec file."""
    return validate(model, read_toml(path), path)
